"""Copy the tables a capture touched into a shadow server: schema, data (bounded), statistics.

The user's server is only read: `SHOW CREATE TABLE`, and one `SELECT` per table under a time limit per
statement (`SET STATEMENT max_statement_time=S FOR` on MariaDB, `/*+ MAX_EXECUTION_TIME(ms) */` on
MySQL) and a row cap. A table under the cap is copied whole; above it, a deterministic sample (every
k-th row of an integer primary key, else the first rows in primary-key order). The copy is then
ANALYZEd, with `PERSISTENT FOR ALL` on MariaDB where the user's server holds engine-independent
statistics for it, so the shadow's optimizer sees what the user's sees.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pymysql
import pymysql.cursors

from query_audit.driver import error_text
from query_audit.identifiers import quote_identifier as _quote
from query_audit.model import TableSchema
from query_audit.options import CopyLimits

INSERT_BATCH = 2000
# MySQL 8's default collation is unknown to MariaDB; the nearest it has keeps the plans alike.
_MYSQL_ONLY_COLLATIONS = re.compile(r"utf8mb4_0900_\w+", re.IGNORECASE)


@dataclass(frozen=True)
class CopiedTable:
    """One table in the shadow: how many rows came over, whether that was a sample, and what it cost."""

    database: str
    name: str
    rows: int
    source_rows: int
    sampled: bool
    seconds: float
    error: str | None = None


def _qualified(schema: TableSchema) -> str:
    return f"{_quote(schema.database)}.{_quote(schema.name)}"


def _one_line(exc: Exception) -> str:
    return error_text(exc)[:200]


def read_sql(schema: TableSchema, flavor: str, limits: CopyLimits) -> str:
    """The bounded SELECT that reads a table's rows (all of them, or the deterministic sample)."""
    hint = f"/*+ MAX_EXECUTION_TIME({int(limits.statement_seconds * 1000)}) */ " if flavor != "mariadb" else ""
    sql = f"SELECT {hint}* FROM {_qualified(schema)}"
    primary = schema.primary_key
    order = " ORDER BY " + ", ".join(_quote(c) for c in primary) if primary else ""
    if schema.rows > limits.copy_rows:
        key = schema.column(primary[0]) if len(primary) == 1 else None
        if key is not None and key.data_type in ("tinyint", "smallint", "mediumint", "int", "bigint"):
            step = max(2, -(-schema.rows // limits.copy_rows))
            sql += f" WHERE {_quote(key.name)} % {step} = 0"
        sql += f"{order} LIMIT {limits.copy_rows}"
    else:
        sql += order
    if flavor == "mariadb":
        sql = f"SET STATEMENT max_statement_time={limits.statement_seconds:g} FOR {sql}"
    return sql


def create_table_sql(source_conn, schema: TableSchema, shadow_flavor: str) -> str:
    with source_conn.cursor() as cur:
        cur.execute(f"SHOW CREATE TABLE {_qualified(schema)}")
        create = cur.fetchone()[1]
    if shadow_flavor == "mariadb":
        create = _MYSQL_ONLY_COLLATIONS.sub("utf8mb4_general_ci", create)
    return create


def copy_table(source_conn, shadow_conn, schema: TableSchema, flavor: str, shadow_flavor: str,
               limits: CopyLimits, has_column_stats: bool) -> CopiedTable:
    """Create `schema`'s table in the shadow (its database must exist) and fill it; never raises for a
    server error: the CopiedTable says what went wrong."""
    started = time.monotonic()

    def failed(reason: str) -> CopiedTable:
        return CopiedTable(schema.database, schema.name, 0, schema.rows, False, time.monotonic() - started, reason)

    if schema.rows > limits.max_table_rows:
        return failed(f"~{schema.rows} rows is above the shadow's cap of {limits.max_table_rows}")
    try:
        create = create_table_sql(source_conn, schema, shadow_flavor)
        with shadow_conn.cursor() as cur:
            cur.execute(f"USE {_quote(schema.database)}")
            cur.execute(create)
    except pymysql.err.MySQLError as exc:
        return failed(f"could not create the table in the shadow: {_one_line(exc)}")
    try:
        copied = _copy_rows(source_conn, shadow_conn, schema, flavor, limits)
    except pymysql.err.MySQLError as exc:
        return failed(f"could not copy its rows: {_one_line(exc)}")
    with shadow_conn.cursor() as cur:
        persistent = " PERSISTENT FOR ALL" if has_column_stats and shadow_flavor == "mariadb" else ""
        cur.execute(f"ANALYZE TABLE {_qualified(schema)}{persistent}")
        cur.fetchall()
    return CopiedTable(schema.database, schema.name, copied, schema.rows, schema.rows > limits.copy_rows,
                       time.monotonic() - started)


def _copy_rows(source_conn, shadow_conn, schema: TableSchema, flavor: str, limits: CopyLimits) -> int:
    copied = 0
    with source_conn.cursor(pymysql.cursors.SSCursor) as reader:
        reader.execute(read_sql(schema, flavor, limits))
        names = [column[0] for column in reader.description]
        insert = (f"INSERT INTO {_qualified(schema)} ({', '.join(_quote(n) for n in names)}) VALUES "
                  f"({', '.join(['%s'] * len(names))})")
        with shadow_conn.cursor() as writer:
            writer.execute("SET SESSION foreign_key_checks = 0, unique_checks = 0")
            while True:
                batch = reader.fetchmany(INSERT_BATCH)
                if not batch:
                    break
                writer.executemany(insert, batch)
                copied += len(batch)
    return copied
