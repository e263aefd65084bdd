"""General log files: a real MariaDB file written by the private server, MySQL 8's recorded files,
and the corner cases of the older format."""

from __future__ import annotations

import io
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import reference_file

from query_audit.connection import connect
from query_audit.model import LogRow
from query_audit.sources.general_log_file import iter_general_log

MULTI_LINE_SELECT = "SELECT u.name,\n       COUNT(*) AS orders\n  FROM users u JOIN orders o ON o.user_id = u.id\n GROUP BY u.name"


def record_general_log(settings, directory: Path) -> Path:
    """Run a small application-like session against the server with general_log to FILE; return the file.

    The mix: multi-row INSERTs, an N+1 loop, UPDATE/DELETE by key, a multi-line SELECT, USE, noise,
    server-side prepared statements (binary protocol: Prepare/Execute/Close stmt), a SQL-level
    PREPARE/EXECUTE, and a FLUSH LOGS in the middle (the header is written again).
    """
    import mysql.connector

    log = directory / "general.log"
    with connect(settings) as admin, admin.cursor() as cur:
        cur.execute("SELECT @@global.log_output, @@global.general_log_file")
        before_output, before_file = cur.fetchone()
        cur.execute("SET GLOBAL general_log = 0")
        cur.execute("SET GLOBAL log_output = 'FILE'")
        cur.execute("SET GLOBAL general_log_file = %s", (str(log),))
        cur.execute("SET GLOBAL general_log = 1")
        # MariaDB writes a timestamp only when the second differs from its last entry's, in any file: an
        # earlier test's entry in this same second would leave this file's first entries without one.
        time.sleep(1.02 - time.time() % 1)
        try:
            with connect(settings) as app, app.cursor() as sql:
                sql.execute("CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(40), email VARCHAR(80))")
                sql.execute("CREATE TABLE orders (id INT PRIMARY KEY, user_id INT, total DECIMAL(8,2), note TEXT)")
                sql.execute("INSERT INTO users (id, name, email) VALUES (1,'ann','a@x'),(2,'bob','b@x'),(3,'cy','c@x')")
                for order in range(1, 7):
                    sql.execute(f"INSERT INTO orders (id, user_id, total, note) VALUES ({order}, {order % 3 + 1}, "
                                f"{order * 10}.50, 'n{order}')")
                sql.execute("SELECT id, user_id FROM orders WHERE total > 20 ORDER BY id")
                for user_id in (1, 2, 3, 1):
                    sql.execute(f"SELECT name, email FROM users WHERE id = {user_id}")
                time.sleep(1.1)  # a new second: the classic format writes its timestamp again
                sql.execute("UPDATE orders SET total = total + 1 WHERE id = 2")
                sql.execute("UPDATE orders SET total = total + 1 WHERE id = 3")
                sql.execute("DELETE FROM orders WHERE id = 6")
                sql.execute(MULTI_LINE_SELECT)
                sql.execute("SELECT 1")
                sql.execute("SELECT note FROM orders WHERE note = 'line one\nline two'")
                cur.execute("FLUSH LOGS")
                sql.execute("PREPARE s FROM 'SELECT total FROM orders WHERE id = ?'")
                sql.execute("SET @x = 4")
                sql.execute("EXECUTE s USING @x")
                sql.execute("DEALLOCATE PREPARE s")
                sql.execute("USE mysql")
                sql.execute(f"USE `{settings.database}`")
                sql.execute("SELECT COUNT(*) FROM users")
            prepared = mysql.connector.connect(host=settings.host, port=settings.port, user=settings.user,
                                               password=settings.password, database=settings.database)
            try:
                pcur = prepared.cursor(prepared=True)
                for order in (1, 2, 3):
                    pcur.execute("SELECT total FROM orders WHERE id = ? AND user_id > ?", (order, 0))
                    pcur.fetchall()
                pcur.close()
            finally:
                prepared.close()
        finally:
            cur.execute("SET GLOBAL general_log = 0")
            cur.execute("SET GLOBAL general_log_file = %s", (before_file,))
            cur.execute("SET GLOBAL log_output = %s", (before_output,))
    return log


@pytest.fixture(scope="module")
def mariadb_log(server_settings, tmp_path_factory) -> Path:
    """A general log file written by the private MariaDB for the workload above, in a fresh database."""
    name = "qa_genlog"
    with connect(server_settings, database="") as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}`")
    try:
        yield record_general_log(replace(server_settings, database=name), tmp_path_factory.mktemp("genlog"))
    finally:
        with connect(server_settings, database="") as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def read_all(source) -> tuple[list[LogRow], int]:
    reader = iter_general_log(source)
    rows = list(reader)
    return rows, reader.skipped_lines


def test_mariadb_file_gives_every_entry_with_its_command(mariadb_log):
    rows, skipped = read_all(mariadb_log)
    commands = {row.command for row in rows}
    assert {"Connect", "Query", "Prepare", "Execute", "Close stmt", "Quit"} <= commands
    assert skipped == 0
    assert all(row.thread_id > 0 for row in rows)


def test_mariadb_multi_line_statement_comes_back_whole(mariadb_log):
    rows, _ = read_all(mariadb_log)
    arguments = [row.argument for row in rows]
    assert MULTI_LINE_SELECT in arguments
    assert "SELECT note FROM orders WHERE note = 'line one\nline two'" in arguments


def test_mariadb_repeated_header_after_flush_logs_is_not_a_statement(mariadb_log):
    text = mariadb_log.read_text()
    assert text.count("started with:") >= 2  # the server did write the header again
    rows, skipped = read_all(mariadb_log)
    assert skipped == 0
    assert not any("started with:" in row.argument or "Command" in row.argument for row in rows)
    assert any(row.argument.startswith("PREPARE s FROM") for row in rows)  # the entries after it are read


def test_mariadb_entries_without_a_timestamp_take_the_last_one(mariadb_log):
    rows, _ = read_all(mariadb_log)
    times = [row.time for row in rows]
    assert all(t is not None and len(t) == 19 and t[10] == "T" for t in times)
    assert times == sorted(times)
    assert len(set(times)) >= 2  # the workload slept across a second


def test_mariadb_execute_rows_carry_the_substituted_values(mariadb_log):
    rows, _ = read_all(mariadb_log)
    executes = [row.argument for row in rows if row.command == "Execute"]
    assert "SELECT total FROM orders WHERE id = 4" in executes  # SQL-level EXECUTE s USING @x
    assert sum("AND user_id > 0" in sql for sql in executes) == 3  # binary protocol


def test_mysql8_file_with_iso_timestamps_and_multi_line_create_table():
    rows, skipped = read_all(reference_file("general_log_file_mysql8.0.19_windows.log"))
    assert skipped == 0
    assert [row.command for row in rows].count("Init DB") == 1
    assert rows[0] == LogRow(12, "Query", "drop database if exists roaster", "2020-06-28T21:36:03.848982Z")
    create = next(row for row in rows if row.argument.startswith("create table farma"))
    assert create.argument.splitlines()[0:3] == ["create table farma", "(", "\tnazwa char(40) not null,"]
    assert create.argument.endswith("default character set utf8 collate utf8_unicode_ci")
    assert rows[-1].argument == "set global general_log='off'"
    assert len(rows) == 12


def test_mysql8_file_with_two_interleaved_threads():
    rows, _ = read_all(reference_file("general_log_file_mysql8.0.41_windows_excerpt.log"))
    assert len(rows) == 15
    assert {row.thread_id for row in rows} == {9, 10}


def test_classic_format_with_a_space_padded_hour_and_a_time_zone_offset_format():
    text = (
        "/usr/sbin/mysqld, Version: 5.6.51-log (MySQL Community Server (GPL)). started with:\n"
        "Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock\n"
        "Time                 Id Command    Argument\n"
        "130218  9:30:01\t    7 Connect\tapp@localhost on shop\n"
        "\t\t    7 Query\tSELECT 1\n"
        "2026-11-26T10:00:00.123456+01:00\t   8 Query\tSELECT 2\n"
    )
    rows, skipped = read_all(io.StringIO(text))
    assert [(row.thread_id, row.command, row.argument, row.time) for row in rows] == [
        (7, "Connect", "app@localhost on shop", "2013-02-18T09:30:01"),
        (7, "Query", "SELECT 1", "2013-02-18T09:30:01"),
        (8, "Query", "SELECT 2", "2026-11-26T10:00:00.123456+01:00"),
    ]
    assert skipped == 0


def test_crlf_line_ends_blank_lines_and_empty_arguments():
    text = ("2026-11-26T10:00:00.000001Z\t   5 Query\tSELECT a\r\n"
            "FROM t\r\n"
            "\r\n"
            "2026-11-26T10:00:00.000002Z\t   5 Quit\t\r\n"
            "\r\n")
    rows, skipped = read_all(io.StringIO(text, newline=""))
    assert [(row.command, row.argument) for row in rows] == [("Query", "SELECT a\nFROM t"), ("Quit", "")]
    assert skipped == 0


def test_lines_before_the_first_entry_are_counted_as_skipped():
    text = "garbage from a truncated copy\nmore of it\n\t\t   5 Query\tSELECT 1\n"
    rows, skipped = read_all(io.StringIO(text))
    assert [row.argument for row in rows] == ["SELECT 1"]
    assert skipped == 2


def test_reading_is_lazy():
    lines_read = []

    def lines():
        for number in range(1_000_000):
            lines_read.append(number)
            yield f"\t\t   5 Query\tSELECT {number}\n"

    reader = iter_general_log(lines())
    first = next(iter(reader))
    assert first.argument == "SELECT 0"
    assert len(lines_read) == 2  # the second line told it the first entry was complete
