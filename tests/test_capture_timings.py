"""Per-statement timings of a live capture come from performance_schema's statement history.

Against the private test server (started with performance_schema and the history consumers on, see
query_audit/sandbox/local.py): what gets timed, that rows_examined is the server's own count, that
prepared statements and closed connections are matched, and that a server without the consumers still
captures and says why there are no timings.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import threading
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from query_audit.capture.replay import HttpRequest
from query_audit.capture.session import CapturePlan, run_capture
from query_audit.capture.timings import read_statement_history
from query_audit.connection import connect

REPO = Path(__file__).resolve().parent.parent
SCAN_ROWS = 3000
LONG_SELECT = "SELECT " + ", ".join(f"'value {i}' AS c{i}" for i in range(150))  # > 1024 chars, SQL_TEXT is cut


@pytest.fixture
def shop(scratch_db, tmp_path, monkeypatch):
    """A table of known size, the general log OFF, and a private state directory."""
    monkeypatch.setenv("QUERY_AUDIT_STATE_DIR", str(tmp_path / "state"))
    with connect(scratch_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE items (id INT PRIMARY KEY, colour INT)")
        cur.execute(f"INSERT INTO items SELECT seq, seq % 7 FROM seq_1_to_{SCAN_ROWS}")
        cur.execute("SET GLOBAL general_log = 0")
    return scratch_db


def run_script(settings, tmp_path, body: str) -> str:
    """A --run command: a Python script given `DSN` (host, port, user, database) as keyword arguments."""
    script = tmp_path / "client.py"
    dsn = dict(host=settings.host, port=settings.port, user=settings.user, password=settings.password,
               database=settings.database)
    script.write_text(f"DSN = {dsn!r}\n" + textwrap.dedent(body))
    return f"{sys.executable} {script}"


def by_sql(statements) -> dict:
    return {statement.sql: statement for statement in statements}


@contextmanager
def consumer_disabled(settings, name: str):
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("UPDATE performance_schema.setup_consumers SET ENABLED = 'NO' WHERE NAME = %s", (name,))
    try:
        yield
    finally:
        with connect(settings) as conn, conn.cursor() as cur:
            cur.execute("UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME = %s", (name,))


def consumer_enabled(settings, name: str) -> str:
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT ENABLED FROM performance_schema.setup_consumers WHERE NAME = %s", (name,))
        return cur.fetchone()[0]


# ------------------------------------------------------------------------------------------------
# What is timed
# ------------------------------------------------------------------------------------------------


def test_every_statement_of_a_run_gets_its_time_and_the_server_counts_of_rows(shop, tmp_path):
    command = run_script(shop, tmp_path, f"""
        import pymysql
        conn = pymysql.connect(autocommit=True, **DSN)
        with conn.cursor() as cur:
            cur.execute("SELECT SLEEP(0.2)")
            cur.execute("SELECT COUNT(*) FROM items WHERE colour = 3")
            cur.execute("SELECT colour FROM items WHERE id = 5")
            cur.execute({LONG_SELECT!r})
        conn.close()
    """)
    result = run_capture(shop, CapturePlan(command=command))

    statements = by_sql(result.statements)
    assert len(statements) == 4
    assert all(s.query_time is not None for s in result.statements)
    assert statements["SELECT SLEEP(0.2)"].query_time >= 0.2
    scan = statements["SELECT COUNT(*) FROM items WHERE colour = 3"]
    assert (scan.rows_examined, scan.rows_sent) == (SCAN_ROWS, 1)
    assert scan.query_time < 0.2
    lookup = statements["SELECT colour FROM items WHERE id = 5"]
    assert (lookup.rows_examined, lookup.rows_sent) == (1, 1)
    # SQL_TEXT is cut at performance_schema_max_sql_text_length: matched by its prefix.
    assert statements[LONG_SELECT].rows_sent == 1
    assert "per-statement timings from performance_schema: 4 of 4 timed" in result.notes


def test_prepared_statements_are_matched_to_their_execute_events(shop, tmp_path):
    # mysql-connector's prepared cursor uses COM_STMT_EXECUTE (MariaDB records SQL_TEXT NULL for it);
    # a SQL-level EXECUTE is statement/sql/execute_sql, and the log shows it as an Execute row too.
    command = run_script(shop, tmp_path, """
        import mysql.connector
        conn = mysql.connector.connect(**DSN)
        cur = conn.cursor(prepared=True)
        cur.execute("SELECT COUNT(*) FROM items WHERE colour = ?", (3,))
        cur.fetchall()
        cur.execute("SELECT colour FROM items WHERE id = ?", (5,))
        cur.fetchall()
        plain = conn.cursor()
        plain.execute("PREPARE by_colour FROM 'SELECT id FROM items WHERE colour = ? ORDER BY id LIMIT 4'")
        plain.execute("SET @colour = 2")
        plain.execute("EXECUTE by_colour USING @colour")
        plain.fetchall()
        conn.close()
    """)
    result = run_capture(shop, CapturePlan(command=command))

    executed = [s for s in result.statements if s.command == "Execute"]
    assert [s.sql for s in executed] == ["SELECT COUNT(*) FROM items WHERE colour = 3",
                                         "SELECT colour FROM items WHERE id = 5",
                                         "SELECT id FROM items WHERE colour = 2 ORDER BY id LIMIT 4"]
    assert [(s.rows_examined, s.rows_sent) for s in executed[:2]] == [(SCAN_ROWS, 1), (1, 1)]
    assert executed[2].rows_sent == 4
    assert all(s.query_time is not None for s in result.statements)


def test_closed_connections_running_the_same_statements_pair_up_in_connection_order(shop, tmp_path):
    command = run_script(shop, tmp_path, """
        import pymysql
        for seconds in (0.05, 0.3):
            conn = pymysql.connect(autocommit=True, **DSN)
            with conn.cursor() as cur:
                cur.execute(f"SELECT SLEEP({seconds})")
            conn.close()
    """)
    result = run_capture(shop, CapturePlan(command=command))

    first, second = sorted(result.statements, key=lambda s: s.thread_id)
    assert first.sql == "SELECT SLEEP(0.05)" and 0.05 <= first.query_time < 0.3
    assert second.sql == "SELECT SLEEP(0.3)" and second.query_time >= 0.3


def test_statements_inside_a_procedure_are_not_taken_for_the_clients_next_ones(shop, tmp_path):
    with connect(shop) as conn, conn.cursor() as cur:
        cur.execute("CREATE PROCEDURE first_colour() SELECT colour FROM items WHERE id = 1")
    command = run_script(shop, tmp_path, """
        import pymysql
        conn = pymysql.connect(autocommit=True, **DSN)
        with conn.cursor() as cur:
            cur.execute("CALL first_colour()")
            cur.execute("SELECT colour FROM items WHERE id = 999999")
        conn.close()
    """)
    result = run_capture(shop, CapturePlan(command=command))

    statements = by_sql(result.statements)
    assert statements["CALL first_colour()"].query_time is not None
    # Its own event (no row), not the procedure's SELECT of the same shape (one row).
    assert statements["SELECT colour FROM items WHERE id = 999999"].rows_sent == 0


@contextmanager
def pooled_app(settings):
    """An endpoint on one connection opened before the capture (a pool), which already ran the same
    statement shape with a longer sleep: that earlier event must not be taken for the capture's."""
    conn = connect(settings)
    with conn.cursor() as cur:
        cur.execute("SELECT SLEEP(0.3)")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            with lock, conn.cursor() as cur:
                cur.execute("SELECT SLEEP(0.05)")
                cur.execute("SELECT COUNT(*) FROM items WHERE colour = 1")
            self.send_response(200)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        conn.close()


def test_pooled_connection_gets_only_the_events_after_the_capture_started(shop):
    with pooled_app(shop) as url:
        result = run_capture(shop, CapturePlan(requests=(HttpRequest(url),), repeat=2))

    sleeps = [s for s in result.statements if s.sql.startswith("SELECT SLEEP")]
    assert [s.request for s in sleeps] == [1, 2]
    assert all(0.05 <= s.query_time < 0.3 for s in sleeps)
    scans = [s for s in result.statements if s.sql.startswith("SELECT COUNT")]
    assert [s.rows_examined for s in scans] == [SCAN_ROWS, SCAN_ROWS]


# ------------------------------------------------------------------------------------------------
# When there are no timings, the capture still works and says why
# ------------------------------------------------------------------------------------------------


def test_with_the_history_consumer_disabled_the_capture_works_and_the_note_says_how_to_get_timings(shop, tmp_path):
    command = run_script(shop, tmp_path, """
        import pymysql
        conn = pymysql.connect(autocommit=True, **DSN)
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM items WHERE colour = 3")
        conn.close()
    """)
    with consumer_disabled(shop, "events_statements_history_long"):
        result = run_capture(shop, CapturePlan(command=command))
        # Reading never switches a consumer on: that is the server owner's decision.
        assert consumer_enabled(shop, "events_statements_history_long") == "NO"

    assert [s.sql for s in result.statements] == ["SELECT COUNT(*) FROM items WHERE colour = 3"]
    assert result.statements[0].query_time is None and result.statements[0].rows_examined is None
    note = next(n for n in result.notes if n.startswith("no per-statement timings"))
    assert "events_statements_history_long are disabled" in note
    assert "SET ENABLED='YES'" in note and "--performance-schema-consumer-events-statements-history-long=ON" in note


def test_without_privileges_on_performance_schema_the_capture_still_works(shop, tmp_path):
    user, password = "qa_no_ps", "secret-pw-123"
    with connect(shop) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT SUPER ON *.* TO '{user}'@'%'")
        cur.execute(f"GRANT SELECT ON mysql.general_log TO '{user}'@'%'")
        cur.execute(f"GRANT ALL ON `{shop.database}`.* TO '{user}'@'%'")
    limited = replace(shop, user=user, password=password)
    command = run_script(limited, tmp_path, """
        import pymysql
        conn = pymysql.connect(autocommit=True, **DSN)
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM items")
        conn.close()
    """)
    try:
        result = run_capture(limited, CapturePlan(command=command))
    finally:
        with connect(shop) as conn, conn.cursor() as cur:
            cur.execute(f"DROP USER '{user}'@'%'")

    assert [s.sql for s in result.statements] == ["SELECT COUNT(*) FROM items"]
    assert result.statements[0].query_time is None
    note = next(n for n in result.notes if n.startswith("no per-statement timings"))
    assert "cannot read performance_schema (error 1142" in note
    assert password not in note


def test_history_without_the_captures_start_gives_no_timings_rather_than_wrong_ones(server):
    # This connection never ran the capture's `SELECT NOW(6)`: as when the ring buffer has overwritten it.
    with server.cursor() as cur:
        cur.execute("SELECT CONNECTION_ID()")
        own = cur.fetchone()[0]
    history = read_statement_history(server, {own})
    assert history.events == ()
    assert "no longer holds the start of the capture" in history.unavailable
    assert "performance_schema_events_statements_history_long_size" in history.unavailable


# ------------------------------------------------------------------------------------------------
# The report: database time per request and the pool estimate
# ------------------------------------------------------------------------------------------------


def test_text_report_shows_database_time_per_request_and_the_pool_estimate(shop, tmp_path):
    command = run_script(shop, tmp_path, """
        import pymysql
        conn = pymysql.connect(autocommit=True, **DSN)
        with conn.cursor() as cur:
            cur.execute("SELECT SLEEP(0.2)")
        conn.close()
    """)
    env = dict(os.environ, NO_COLOR="1", QUERY_AUDIT_STATE_DIR=str(tmp_path / "state"))
    env.pop("QUERY_AUDIT_DSN", None)
    done = subprocess.run([sys.executable, "-m", "query_audit", "capture", "--dsn", shop.to_dsn(with_password=True),
                           "--run", command, "--format", "text"], check=False, cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    report = " ".join(done.stdout.split())  # the text renderer wraps long lines
    milliseconds = float(report.split("database time per request: ")[1].split(" ms")[0])
    assert 200 <= milliseconds < 400  # one request: the sleep, and nothing else of note
    # Little's law at the stated 100 requests per second: 100 x 0.2xx s = 20.x busy, rounded up to 21.
    connections = int(report.split("pool size estimate: ")[1].split(" connection(s) busy at 100 requests/s")[0])
    # The printed milliseconds are rounded to 0.1 ms; the estimate is the ceiling of the exact value.
    assert math.ceil(100 * (milliseconds - 0.05) / 1000) <= connections <= math.ceil(100 * (milliseconds + 0.05) / 1000)
    assert f"(100 x {milliseconds:g} ms)" in report or f"(100 x {milliseconds:.1f} ms)" in report
