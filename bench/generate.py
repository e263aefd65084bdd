"""Write a realistic general or slow query log of N statements, in MariaDB's or MySQL 8's file format.

The traffic imitates a web application with a connection pool: requests run on a few pooled
connections (plus short-lived ones that Connect, Init DB and Quit), with many statement shapes
over many tables, N+1 loops, multi-row INSERTs, multi-line report queries, transactions,
prepared statements (Prepare / Execute / Close stmt) and driver noise (SET NAMES, SELECT 1).

    python bench/generate.py --statements 100000 --format mariadb bench/out/general-100k-mariadb.log
    python bench/generate.py --statements 100000 --format mysql8 --slow bench/out/slow-100k-mysql8.log

A slow log (long_query_time=0: every statement) carries the same traffic: each Query/Execute is one
entry with its timings, `use db;` where a connection's database changed (Init DB), and MariaDB's
`# Time:` line only when the second changes, as the servers write them.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

FORMATS = ("mariadb", "mysql8")
TABLES = [f"{name}" for name in (
    "users", "orders", "order_items", "products", "categories", "carts", "cart_items", "payments",
    "invoices", "shipments", "addresses", "reviews", "coupons", "inventory", "warehouses", "suppliers",
    "sessions", "audit_events", "notifications", "messages", "tags", "product_tags", "wishlists",
    "refunds", "subscriptions", "plans", "tickets", "ticket_comments", "stores", "employees",
    "orders_2024", "orders_2025",  # digits inside identifiers: two shapes, not one
)]
COLUMNS = ("status", "created_at", "customer_id", "store_id", "email", "total", "sku", "kind")
HEADER_MARIADB = (
    "/usr/sbin/mariadbd, Version: 10.11.6-MariaDB-0+deb12u1-log (Debian 12). started with:\n"
    "Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\n"
    "Time\t\t    Id Command\tArgument\n"
)
HEADER_MYSQL8 = (
    "/usr/sbin/mysqld, Version: 8.0.40 (MySQL Community Server - GPL). started with:\n"
    "Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock\n"
    "Time                 Id Command    Argument\n"
)


class Traffic:
    """Statements of one request after another, as (thread id, command, argument) entries."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.pool = list(range(10, 26))  # pooled connections, open for the whole log
        self.next_thread = 1000

    def requests(self) -> Iterator[list[tuple[int, str, str]]]:
        rng = self.rng
        while True:
            if rng.random() < 0.05:
                yield self.short_lived_connection()
            else:
                yield self.pooled_request(rng.choice(self.pool))

    def pooled_request(self, thread: int) -> list[tuple[int, str, str]]:
        rng = self.rng
        table = rng.choice(TABLES)
        column = rng.choice(COLUMNS)
        entries = []
        query = lambda sql: entries.append((thread, "Query", sql))
        if rng.random() < 0.3:
            query("SELECT 1")
        query(f"SELECT * FROM {table} WHERE id = {rng.randint(1, 500_000)}")
        shape = rng.random()
        if shape < 0.25:  # an N+1: one SELECT per parent row
            for _ in range(rng.randint(3, 15)):
                query(f"SELECT id, {column} FROM order_items WHERE order_id = {rng.randint(1, 900_000)}")
        elif shape < 0.40:  # a bulk insert in a transaction, and row by row
            query("START TRANSACTION")
            rows = ", ".join(f"({rng.randint(1, 9999)}, '{rng.choice(COLUMNS)}-{rng.randint(1, 99)}', NOW())"
                             for _ in range(rng.randint(2, 20)))
            query(f"INSERT INTO {table} (customer_id, {column}, created_at) VALUES {rows}")
            for _ in range(rng.randint(1, 4)):
                query(f"INSERT INTO audit_events (kind, ref_id) VALUES ('{table}', {rng.randint(1, 10**6)})")
            query("COMMIT")
        elif shape < 0.55:
            query(f"UPDATE {table} SET {column} = '{rng.choice(('new', 'paid', 'sent'))}', "
                  f"updated_at = NOW() WHERE id = {rng.randint(1, 500_000)}")
            query(f"SELECT COUNT(*) FROM {table} WHERE {column} = '{rng.randint(1, 50)}'")
        elif shape < 0.65:  # a report, written over several lines
            query(f"SELECT o.store_id, SUM(o.total) AS revenue\n  FROM {table} o\n"
                  f"  JOIN stores s ON s.id = o.store_id\n WHERE o.created_at >= '2026-{rng.randint(1, 12):02d}-01'\n"
                  f"   AND o.{column} IN ({', '.join(str(rng.randint(1, 99)) for _ in range(rng.randint(1, 6)))})\n"
                  f" GROUP BY o.store_id\n ORDER BY revenue DESC\n LIMIT {rng.randint(5, 50)}")
        elif shape < 0.75:  # a prepared statement through the binary protocol
            template = f"SELECT * FROM {table} WHERE {column} = ? AND id > ?"
            entries.append((thread, "Prepare", template))
            for _ in range(rng.randint(1, 4)):
                executed = template.replace("?", f"'{rng.randint(1, 99)}'", 1).replace("?", str(rng.randint(1, 10**5)))
                entries.append((thread, "Execute", executed))
            entries.append((thread, "Close stmt", ""))
        elif shape < 0.85:
            query(f"DELETE FROM {table} WHERE {column} < '2025-{rng.randint(1, 12):02d}-01' LIMIT 1000")
        else:
            query(f"SELECT /* {table}.list */ * FROM `{table}` WHERE `{column}` LIKE '{rng.choice('abcdef')}%' "
                  f"ORDER BY created_at DESC LIMIT {rng.randint(0, 100)}, 20")
        return entries

    def short_lived_connection(self) -> list[tuple[int, str, str]]:
        thread = self.next_thread
        self.next_thread += 1
        entries = [(thread, "Connect", "app@10.0.0.7 on shop using TCP/IP"),
                   (thread, "Query", "SET NAMES utf8mb4"),
                   (thread, "Init DB", "shop")]
        entries += self.pooled_request(thread)[1:]
        entries.append((thread, "Quit", ""))
        return entries


def timed_requests(seed: int) -> Iterator[list[tuple[datetime, int, str, str]]]:
    """The traffic's requests, each entry with its time (350 µs apart)."""
    clock = datetime(2026, 11, 26, 9, 0, 0, tzinfo=UTC)
    step = timedelta(microseconds=350)
    for request in Traffic(seed).requests():
        timed = []
        for entry in request:
            clock += step
            timed.append((clock, *entry))
        yield timed


def write_log(path: str | Path, statements: int, fmt: str = "mariadb", seed: int = 7) -> int:
    """Write the log; returns how many Query/Execute entries it holds (exactly `statements`)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    written = 0
    last_second = None
    next_reopen = 400_000
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER_MARIADB if fmt == "mariadb" else HEADER_MYSQL8)
        for request in timed_requests(seed):
            for clock, thread, command, argument in request:
                if fmt == "mysql8":
                    prefix = clock.strftime("%Y-%m-%dT%H:%M:%S.%fZ") + f"\t{thread:5d} "
                else:
                    second = clock.strftime("%y%m%d %H:%M:%S")
                    prefix = (second + "\t" if second != last_second else "\t\t") + f"{thread:6d} "
                    last_second = second
                out.write(f"{prefix}{command}\t{argument}\n")
                if command in ("Query", "Execute"):
                    written += 1
                    if written >= statements:
                        return written
            if written >= next_reopen:  # FLUSH LOGS: the header again
                next_reopen += 400_000
                out.write(HEADER_MARIADB if fmt == "mariadb" else HEADER_MYSQL8)
    return written


def write_slow_log(path: str | Path, statements: int, fmt: str = "mariadb", seed: int = 7) -> int:
    """Write a slow log of the same traffic; returns how many statement entries it holds (`statements`)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    timings = random.Random(seed + 1)  # apart from the traffic's: the same statements as the general log
    databases: dict[int, str] = {}  # what each connection last had written as `use`
    written = 0
    last_second = None
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER_MARIADB if fmt == "mariadb" else HEADER_MYSQL8)
        for request in timed_requests(seed):
            for clock, thread, command, argument in request:
                if command == "Init DB":
                    databases[thread] = argument
                if command not in ("Query", "Execute"):
                    continue
                database = databases.setdefault(thread, "shop")
                use = "" if database == databases.get(-thread) else f"use {database};\n"
                databases[-thread] = database
                if fmt == "mysql8":
                    head = (f"# Time: {clock.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}\n"
                            f"# User@Host: app[app] @ web1 [10.0.0.5]  Id: {thread:5d}\n")
                else:
                    second = f"{clock:%y%m%d} {clock.hour:2d}:{clock:%M:%S}"
                    head = ("" if second == last_second else f"# Time: {second}\n")
                    head += (f"# User@Host: app[app] @ web1 [10.0.0.5]\n"
                             f"# Thread_id: {thread}  Schema: {database}  QC_hit: No\n")
                    last_second = second
                rows = timings.randint(0, 200)
                head += (f"# Query_time: {timings.expovariate(2000):.6f}  Lock_time: {timings.random() / 1e4:.6f}"
                         f" Rows_sent: {rows}  Rows_examined: {rows * timings.randint(1, 50)}\n")
                if fmt == "mariadb":
                    head += f"# Rows_affected: 0  Bytes_sent: {rows * 40 + 60}\n"
                out.write(f"{head}{use}SET timestamp={int(clock.timestamp())};\n{argument};\n")
                written += 1
                if written >= statements:
                    return written
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("--statements", type=int, default=100_000)
    parser.add_argument("--format", choices=FORMATS, default="mariadb")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--slow", action="store_true", help="a slow log (long_query_time=0) instead")
    args = parser.parse_args()
    count = (write_slow_log if args.slow else write_log)(args.output, args.statements, args.format, args.seed)
    print(f"wrote {count} statements to {args.output}")


if __name__ == "__main__":
    main()
