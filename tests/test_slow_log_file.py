"""Slow log files: a real MariaDB one from the private server, MySQL 8's recorded one, Percona's variant."""

from __future__ import annotations

import io
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import reference_file

from query_audit.connection import connect
from query_audit.sources import detect_format, open_sources
from query_audit.sources.slow_log_file import iter_slow_log


@pytest.fixture(scope="module")
def mariadb_slow_log(server_settings, tmp_path_factory) -> Path:
    """A slow log written by the private MariaDB with long_query_time=0 (every statement is logged)."""
    log = tmp_path_factory.mktemp("slowlog") / "slow.log"
    name = "qa_slowlog"
    with connect(server_settings, database="") as admin, admin.cursor() as cur:
        cur.execute("SELECT @@global.slow_query_log, @@global.long_query_time, @@global.log_output, "
                    "@@global.slow_query_log_file")
        before = cur.fetchone()
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute("SET GLOBAL log_output = 'FILE'")
        cur.execute("SET GLOBAL slow_query_log_file = %s", (str(log),))
        cur.execute("SET GLOBAL long_query_time = 0")  # reaches connections opened from now on
        cur.execute("SET GLOBAL slow_query_log = 1")
        # MariaDB writes `# Time:` only when the second differs from its last entry's, in any file: an
        # earlier test's entry in this same second would leave this file's first entries without one.
        time.sleep(1.02 - time.time() % 1)
        try:
            with connect(replace(server_settings, database=name)) as app, app.cursor() as sql:
                sql.execute("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))")
                sql.execute("INSERT INTO t VALUES (1,'a'),(2,'b'),(3,'c')")
                sql.execute("SELECT * FROM t WHERE name = 'b'")
                sql.execute("SELECT id,\n  name\nFROM t\nWHERE id > 1")
                sql.execute("USE mysql")
                sql.execute("SELECT COUNT(*) FROM db")
        finally:
            cur.execute("SET GLOBAL slow_query_log = 0")
            cur.execute("SET GLOBAL long_query_time = %s", (before[1],))
            cur.execute("SET GLOBAL slow_query_log_file = %s", (before[3],))
            cur.execute("SET GLOBAL log_output = %s", (before[2],))
            cur.execute("SET GLOBAL slow_query_log = %s", (before[0],))
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    return log


def test_mariadb_slow_log_statements_carry_timings_thread_and_schema(mariadb_slow_log):
    statements = list(iter_slow_log(mariadb_slow_log))
    by_sql = {s.sql: s for s in statements}
    select = by_sql["SELECT * FROM t WHERE name = 'b'"]
    assert select.database == "qa_slowlog"
    assert select.rows_sent == 1 and select.rows_examined == 3
    assert select.query_time is not None and select.query_time >= 0
    assert select.lock_time is not None
    assert select.thread_id is not None and select.user == "root"
    assert select.time is not None and select.time.startswith("20")
    assert by_sql["SELECT COUNT(*) FROM db"].database == "mysql"  # `# Schema:` followed the USE


def test_mariadb_slow_log_keeps_multi_line_statements_and_drops_set_timestamp(mariadb_slow_log):
    sqls = [s.sql for s in iter_slow_log(mariadb_slow_log)]
    assert "SELECT id,\n  name\nFROM t\nWHERE id > 1" in sqls
    assert not any(sql.lower().startswith("set timestamp") for sql in sqls)
    assert not any(sql.endswith(";") for sql in sqls)
    assert "USE mysql" in sqls  # the statement itself, not the server's `use` header line


def test_mariadb_slow_log_is_detected_by_content(mariadb_slow_log, tmp_path):
    disguised = tmp_path / "general.log"
    disguised.write_bytes(mariadb_slow_log.read_bytes())
    assert detect_format(disguised) == "slow_log"


def test_mysql8_slow_log_with_and_without_log_slow_extra():
    reader = iter_slow_log(reference_file("slow_log_file_mysql8.0.36_excerpt.log"))
    statements = list(reader)
    assert [(s.sql, s.thread_id, s.user) for s in statements] == [("select * from t", 12, "msandbox")] * 2
    assert [s.query_time for s in statements] == [0.000237, 0.000244]
    assert [s.time for s in statements] == ["2024-05-10T17:44:36.400424Z", "2024-05-10T17:45:09.474988Z"]
    assert statements[1].lock_time == 0.000003
    assert reader.skipped_lines == 0


PERCONA = """\
/usr/sbin/mysqld, Version: 8.0.36-28 (Percona Server (GPL), Release 28, Revision 47601f19). started with:
Tcp port: 3306  Unix socket: /var/lib/mysql/mysql.sock
Time                 Id Command    Argument
# Time: 2026-11-26T10:00:00.000100Z
# User@Host: app[app] @ web1 [10.0.0.5]  Id:    31
# Schema: shop  Last_errno: 0  Killed: 0
# Query_time: 1.500000  Lock_time: 0.000100  Rows_sent: 10  Rows_examined: 250000  Rows_affected: 0
# Bytes_sent: 1234  Tmp_tables: 0  Tmp_disk_tables: 0  Tmp_table_sizes: 0
# QC_Hit: No  Full_scan: Yes  Full_join: No  Tmp_table: No  Tmp_table_on_disk: No
# Filesort: Yes  Filesort_on_disk: No  Merge_passes: 0
SET timestamp=1795687200;
SELECT * FROM orders ORDER BY created_at DESC LIMIT 10;
# Time: 2026-11-26T10:00:01.000100Z
# User@Host: app[app] @ web1 [10.0.0.5]  Id:    31
# Query_time: 0.000010  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0
SET timestamp=1795687201;
# administrator command: Quit;
# Time: 2026-11-26T10:00:02.000100Z
# User@Host: app[app] @ web1 [10.0.0.5]  Id:    32
# Query_time: 0.200000  Lock_time: 0.000000  Rows_sent: 1  Rows_examined: 1
use billing;
SET last_insert_id=5,insert_id=6,timestamp=1795687202;
SELECT * FROM invoices WHERE id = 5;
# User@Host: app[app] @ web1 [10.0.0.5]  Id:    31
# Query_time: 0.100000  Lock_time: 0.000000  Rows_sent: 1  Rows_examined: 1
SET timestamp=1795687202;
SELECT * FROM orders WHERE id = 1;
"""


def test_percona_variant_and_administrator_commands():
    statements = list(iter_slow_log(io.StringIO(PERCONA)))
    assert [(s.sql, s.thread_id, s.database) for s in statements] == [
        ("SELECT * FROM orders ORDER BY created_at DESC LIMIT 10", 31, "shop"),
        ("SELECT * FROM invoices WHERE id = 5", 32, "billing"),
        ("SELECT * FROM orders WHERE id = 1", 31, "shop"),  # MySQL repeats `use` only on a change
    ]
    first = statements[0]
    assert (first.query_time, first.rows_sent, first.rows_examined) == (1.5, 10, 250000)
    assert statements[2].time == "2026-11-26T10:00:02.000100Z"  # no `# Time:`: the last one


def test_mariadb_empty_schema_is_no_database():
    text = ("# Time: 261126 10:00:00\n# User@Host: root[root] @ localhost []\n"
            "# Thread_id: 8  Schema:   QC_hit: No\n"
            "# Query_time: 0.000100  Lock_time: 0.000000  Rows_sent: 1  Rows_examined: 0\n"
            "# Rows_affected: 0  Bytes_sent: 60\nSET timestamp=1795687200;\nSELECT 2 + 2;\n")
    statement, = iter_slow_log(io.StringIO(text))
    assert (statement.sql, statement.thread_id, statement.database, statement.time) == (
        "SELECT 2 + 2", 8, None, "2026-11-26T10:00:00")


def test_text_before_the_first_entry_is_counted_as_skipped():
    reader = iter_slow_log(io.StringIO("junk\n# User@Host: a[a] @ h []  Id: 1\n"
                                       "# Query_time: 0.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSELECT 7;\n"))
    assert [s.sql for s in reader] == ["SELECT 7"]
    assert reader.skipped_lines == 1


def test_open_sources_drops_slow_log_noise_and_counts_it(mariadb_slow_log):
    stream = open_sources([str(mariadb_slow_log)])
    sqls = [s.sql for s in stream.statements]
    assert "SET NAMES utf8mb4" not in sqls
    assert stream.noise_dropped >= 1
    assert stream.source.kind == "slow_log"
    kept = [s.sql for s in open_sources([str(mariadb_slow_log)], keep_noise=True).statements]
    assert "SET NAMES utf8mb4" in kept
