"""`capture --source performance-schema`: statements from events_statements_history_long, the consumers
switched on only where they were off and put back exactly, on every path out the general-log capture is
tested on (tests/test_capture_safety.py).

Against the private test server (performance_schema on). Every test checks that the general log was never
switched on: its file does not grow and general_log is OFF before and after.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from test_capture_safety import app_server, start_cli
from test_capture_timings import run_script

from query_audit.capture.control import Window
from query_audit.capture.log_settings import state_path
from query_audit.capture.ps_capture import Edge
from query_audit.capture.ps_events import HistoryEvent, events_to_statements
from query_audit.capture.replay import HttpRequest
from query_audit.capture.session import CapturePlan, run_capture
from query_audit.connection import ConnectionSettings, connect
from query_audit.errors import MissingPrivilege

REPO = Path(__file__).resolve().parent.parent
PS = "performance-schema"
ALL_ON = {"global_instrumentation": "YES", "thread_instrumentation": "YES", "events_statements_current": "YES",
          "events_statements_history_long": "YES"}
OFF = {**ALL_ON, "events_statements_current": "NO", "events_statements_history_long": "NO"}


def queries_of(result) -> list[str]:
    return [s.sql for s in statements_of(result)]


def statements_of(result) -> list:
    """The captured statements but transaction control (pymysql's SET AUTOCOMMIT), which is no query shape."""
    from query_audit.analyze.transactions import control_kind

    return [s for s in result.statements if control_kind(s.sql) is None]


def consumers(settings) -> dict[str, str]:
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT NAME, ENABLED FROM performance_schema.setup_consumers WHERE NAME IN %s", (tuple(ALL_ON),))
        return dict(cur.fetchall())


def set_consumers(settings, values: dict[str, str]) -> None:
    with connect(settings) as conn, conn.cursor() as cur:
        for name, enabled in values.items():
            cur.execute("UPDATE performance_schema.setup_consumers SET ENABLED = %s WHERE NAME = %s", (enabled, name))


def actors(settings) -> list[tuple]:
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT HOST, USER, ROLE, ENABLED, HISTORY FROM performance_schema.setup_actors")
        return sorted(cur.fetchall())


def general_log_state(settings) -> tuple:
    """general_log, and the size of its file: a capture that switched the log on would grow it."""
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@global.general_log, @@global.general_log_file, @@global.datadir")
        on, name, datadir = cur.fetchone()
    path = Path(name) if os.path.isabs(name) else Path(datadir) / name
    return int(on), path.stat().st_size if path.exists() else 0


@pytest.fixture
def shop(scratch_db, tmp_path, monkeypatch):
    """A small table, the general log OFF, a private state directory; the consumers back ON afterwards
    (the sandbox starts with them on, and other tests read the history)."""
    monkeypatch.setenv("QUERY_AUDIT_STATE_DIR", str(tmp_path / "state"))
    with connect(scratch_db) as conn, conn.cursor() as cur:
        cur.execute("SET GLOBAL general_log = 0")
        cur.execute("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20), price INT)")
        cur.execute("INSERT INTO items VALUES (1,'a',10),(2,'b',20),(3,'c',30)")
    before_actors = actors(scratch_db)
    log_before = general_log_state(scratch_db)
    yield scratch_db
    assert general_log_state(scratch_db) == log_before, "the general log was switched on"
    set_consumers(scratch_db, ALL_ON)
    assert actors(scratch_db) == before_actors


def plan(**fields) -> CapturePlan:
    return CapturePlan(source=PS, **fields)


# ------------------------------------------------------------------------------------------------
# What is captured
# ------------------------------------------------------------------------------------------------


def test_statements_come_from_the_history_with_their_request_connection_user_and_timings(shop):
    with app_server(shop) as base:
        result = run_capture(shop, plan(requests=(HttpRequest(base + "/items"), HttpRequest(base + "/boom"))))
    assert [(s.sql, s.request) for s in result.statements] == [
        ("SELECT id, name FROM items WHERE price > 5 ORDER BY id", 1),
        ("SELECT name FROM items WHERE id = 1", 1), ("SELECT name FROM items WHERE id = 2", 1),
        ("SELECT COUNT(*) FROM items", 2)]
    assert result.source.via == "performance_schema"
    # Each request's connection closes at once: its user is known only if the capture saw it open.
    assert [s.database for s in result.statements] == [shop.database] * 4
    assert all(s.query_time is not None and s.query_time > 0 for s in result.statements)
    scan = result.statements[0]
    assert (scan.rows_examined, scan.rows_sent) == (3, 3)
    assert "NO_INDEX_USED" in scan.server_flags
    assert result.statements[1].server_flags == ()
    # The tool's own statements (the clock readings, the history read) are never in the capture.
    assert not any("performance_schema" in s.sql for s in result.statements)
    assert any("already on: nothing was changed" in note for note in result.notes)
    assert result.noise_dropped >= 0 and consumers(shop) == ALL_ON


def test_consumers_that_were_off_are_switched_on_for_the_capture_and_put_back_exactly(shop):
    set_consumers(shop, OFF)
    with app_server(shop) as base:
        result = run_capture(shop, plan(requests=(HttpRequest(base + "/items"),)))
    assert len(result.statements) == 3
    assert consumers(shop) == OFF
    assert not state_path(shop).exists()
    assert any("switched on the performance_schema consumer(s) events_statements_current, "
               "events_statements_history_long" in note for note in result.notes)


def test_client_user_scopes_the_history_with_setup_actors_and_restores_actors_and_threads(shop, server, tmp_path):
    with server.cursor() as cur:
        cur.execute("DROP USER IF EXISTS 'qa_app'@'%'")
        cur.execute("CREATE USER 'qa_app'@'%'")
        cur.execute(f"GRANT SELECT ON `{shop.database}`.* TO 'qa_app'@'%'")
    app = replace(shop, user="qa_app", password="")
    # A connection of the app account opened before the capture (a pool's), and one of another account.
    pooled, other = connect(app), connect(shop)
    seen = tmp_path / "during.json"
    set_consumers(shop, OFF)
    try:
        with server.cursor() as cur:
            cur.execute("SELECT PROCESSLIST_ID, THREAD_ID FROM performance_schema.threads WHERE PROCESSLIST_ID IN "
                        "(%s, %s)", (pooled.thread_id(), other.thread_id()))
            ids = dict(cur.fetchall())
            pooled_thread, other_thread = ids[pooled.thread_id()], ids[other.thread_id()]
            # The pool's connection recorded no history before: the capture must switch it on, then back.
            cur.execute("UPDATE performance_schema.threads SET HISTORY = 'NO' WHERE THREAD_ID = %s", (pooled_thread,))
        command = run_script(shop, tmp_path, f"""
            import json, pymysql, time
            app = pymysql.connect(**dict(DSN, user="qa_app", password=""))
            root = pymysql.connect(**DSN)
            with app.cursor() as a, root.cursor() as r:
                a.execute("SELECT name FROM items WHERE id = 3")
                r.execute("SELECT name FROM items WHERE id = 1")
                r.execute("SELECT HOST, USER, ROLE, ENABLED, HISTORY FROM performance_schema.setup_actors")
                actors = sorted(r.fetchall())
                r.execute("SELECT THREAD_ID, HISTORY FROM performance_schema.threads WHERE THREAD_ID IN "
                          "({pooled_thread}, {other_thread})")
                open({str(seen)!r}, "w").write(json.dumps([actors, dict(r.fetchall())]))
            time.sleep(0.3)  # open long enough for the capture to see whose connections these are
        """)
        result = run_capture(shop, plan(command=command, client_user="qa_app"))
        assert queries_of(result) == ["SELECT name FROM items WHERE id = 3"]
        during_actors, during_threads = json.loads(seen.read_text())
        assert ["%", "qa_app", "%", "YES", "YES"] in during_actors
        assert ["%", "%", "%", "YES", "NO"] in during_actors
        assert during_threads == {str(pooled_thread): "YES", str(other_thread): "NO"}
        with server.cursor() as cur:
            cur.execute("SELECT THREAD_ID, HISTORY FROM performance_schema.threads WHERE THREAD_ID IN (%s, %s)",
                        (pooled_thread, other_thread))
            assert dict(cur.fetchall()) == {pooled_thread: "NO", other_thread: "YES"}
        assert actors(shop) == [("%", "%", "%", "YES", "YES")]
        assert consumers(shop) == OFF
    finally:
        pooled.close()
        other.close()
        with server.cursor() as cur:
            cur.execute("DROP USER 'qa_app'@'%'")


def test_prepared_statements_get_their_text_from_prepared_statements_instances(shop, tmp_path):
    command = run_script(shop, tmp_path, """
        import mysql.connector, time
        conn = mysql.connector.connect(**DSN)
        cur = conn.cursor(prepared=True)
        for item in (1, 2, 3):
            cur.execute("SELECT name FROM items WHERE id = ?", (item,))
            cur.fetchall()
        time.sleep(0.2)  # the text lives only while the statement is open: long enough to be read for sure
        cur.close()
        plain = conn.cursor()
        plain.execute("PREPARE by_price FROM 'SELECT id FROM items WHERE price > ?'")
        plain.execute("SET @price = 15")
        plain.execute("EXECUTE by_price USING @price")
        plain.fetchall()
        time.sleep(0.2)
        conn.close()
    """)
    result = run_capture(shop, plan(command=command))
    executed = [s for s in result.statements if s.command == "Execute"]
    assert [s.sql for s in executed] == ["SELECT name FROM items WHERE id = ?"] * 3 + [
        "SELECT id FROM items WHERE price > ?"]
    assert all(s.placeholders for s in executed)
    assert [s.rows_sent for s in executed] == [1, 1, 1, 2]
    assert not any(s.sql.upper().startswith(("PREPARE", "EXECUTE", "SET @")) for s in result.statements
                   if s.command == "Query" and "PREPARE" in s.sql.upper())


def test_stored_programs_keep_the_call_and_count_the_statements_inside(shop, tmp_path):
    with connect(shop) as conn, conn.cursor() as cur:
        cur.execute("CREATE PROCEDURE two() BEGIN SELECT COUNT(*) FROM items; SELECT MAX(price) FROM items; END")
    command = run_script(shop, tmp_path, """
        import pymysql
        conn = pymysql.connect(**DSN)
        with conn.cursor() as cur:
            cur.execute("CALL two()")
    """)
    result = run_capture(shop, plan(command=command))
    assert queries_of(result) == ["CALL two()"]
    assert any(note.startswith("2 statement(s) ran inside stored programs") for note in result.notes)


def test_a_statement_cut_at_the_text_limit_is_marked_and_never_explained(shop, tmp_path):
    from query_audit.pipeline import AnalysisOptions, analyze_stream

    long_select = "SELECT id FROM items WHERE name IN (" + ", ".join(f"'n{i}'" for i in range(300)) + ")"
    command = run_script(shop, tmp_path, f"""
        import pymysql
        conn = pymysql.connect(**DSN)
        with conn.cursor() as cur:
            cur.execute({long_select!r})
    """)
    result = run_capture(shop, plan(command=command))
    [statement] = statements_of(result)
    assert statement.truncated and len(statement.sql) < len(long_select)
    assert statement.query_time is not None
    assert any("cut at performance_schema_max_sql_text_length" in note for note in result.notes)
    report = analyze_stream(result, AnalysisOptions(settings=shop))
    [query] = report.queries
    assert query.plan is None and "cut its text" in query.error


def test_a_wrapped_history_says_how_many_statements_may_be_missing(shop, tmp_path):
    with connect(shop) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@global.performance_schema_events_statements_history_long_size")
        size = cur.fetchone()[0]
        # Statements inside a procedure fill the ring fast (they are history rows too).
        cur.execute(f"CREATE PROCEDURE spin() BEGIN DECLARE i INT DEFAULT 0; WHILE i < {size + 500} DO "
                    "SET i = i + 1; END WHILE; END")
    command = run_script(shop, tmp_path, """
        import pymysql
        conn = pymysql.connect(**DSN)
        with conn.cursor() as cur:
            cur.execute("SELECT name FROM items WHERE id = 1")
            cur.execute("CALL spin()")
    """)
    result = run_capture(shop, plan(command=command))
    [note] = [note for note in result.notes if "wrapped during the capture" in note]
    missing = int(note.split("up to ")[1].split()[0])
    assert missing >= 500


# ------------------------------------------------------------------------------------------------
# Faults: no privilege, a killed connection, signals, SIGKILL and restore
# ------------------------------------------------------------------------------------------------


def test_no_update_privilege_says_what_to_enable_and_changes_nothing(shop, server):
    set_consumers(shop, OFF)
    with server.cursor() as cur:
        cur.execute("DROP USER IF EXISTS 'qa_psreader'@'%'")
        cur.execute("CREATE USER 'qa_psreader'@'%' IDENTIFIED BY 'S3cret-pw'")
        cur.execute("GRANT SELECT ON *.* TO 'qa_psreader'@'%'")
    reader = replace(shop, user="qa_psreader", password="S3cret-pw")
    try:
        with pytest.raises(MissingPrivilege) as caught:
            run_capture(reader, plan(command="true"))
        message = str(caught.value)
        assert "UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME IN " \
               "('events_statements_current', 'events_statements_history_long')" in message
        assert "S3cret-pw" not in message and "\n" not in message
        assert consumers(shop) == OFF
        assert not state_path(reader).exists()
    finally:
        with server.cursor() as cur:
            cur.execute("DROP USER 'qa_psreader'@'%'")


def test_update_on_performance_schema_is_enough_without_super_and_actors_need_insert_and_delete(shop, server):
    set_consumers(shop, OFF)
    with server.cursor() as cur:
        cur.execute("DROP USER IF EXISTS 'qa_psupdate'@'%'")
        cur.execute("CREATE USER 'qa_psupdate'@'%'")
        cur.execute("GRANT SELECT ON *.* TO 'qa_psupdate'@'%'")
        cur.execute("GRANT UPDATE ON performance_schema.* TO 'qa_psupdate'@'%'")
    account = replace(shop, user="qa_psupdate", password="")
    try:
        with app_server(shop) as base:
            result = run_capture(account, plan(requests=(HttpRequest(base + "/boom"),)))
        assert queries_of(result) == ["SELECT COUNT(*) FROM items"]
        assert consumers(shop) == OFF
        with pytest.raises(MissingPrivilege, match="may not DELETE performance_schema.setup_actors"):
            run_capture(account, plan(command="true", client_user="app"))
        assert consumers(shop) == OFF and not state_path(account).exists()
    finally:
        with server.cursor() as cur:
            cur.execute("DROP USER 'qa_psupdate'@'%'")


def test_killed_connection_mid_capture_reconnects_and_puts_the_consumers_back(shop, tmp_path):
    set_consumers(shop, OFF)
    command = run_script(shop, tmp_path, """
        import pymysql
        conn = pymysql.connect(**DSN)
        cur = conn.cursor()
        cur.execute("SELECT name FROM items WHERE id = 3")
        cur.execute("SELECT id FROM information_schema.PROCESSLIST WHERE id <> CONNECTION_ID() "
                    "AND user = CURRENT_USER() AND command <> 'Daemon'")
        for (thread,) in cur.fetchall():
            try: cur.execute(f"KILL {thread}")
            except pymysql.MySQLError: pass
    """)
    result = run_capture(shop, plan(command=command))
    assert consumers(shop) == OFF
    assert "SELECT name FROM items WHERE id = 3" in [s.sql for s in result.statements]


@pytest.fixture
def cli_env(shop, tmp_path):
    env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(tmp_path / "state"), NO_COLOR="1")
    env.pop("QUERY_AUDIT_DSN", None)
    return env


def wait_for_history_on(settings, timeout=20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if consumers(settings)["events_statements_history_long"] == "YES":
            return
        time.sleep(0.05)
    raise AssertionError("the capture never switched the history on")


@contextmanager
def capture_child(shop, cli_env, *extra):
    set_consumers(shop, OFF)
    child = start_cli(["capture", "--source", PS, "--dsn", shop.to_dsn(), "--run", "sleep 30", *extra], cli_env)
    try:
        wait_for_history_on(shop)
        yield child
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_capture_puts_the_consumers_back_and_exits_2(shop, cli_env, signum):
    with capture_child(shop, cli_env) as child:
        time.sleep(0.3)
        child.send_signal(signum)
        out, err = child.communicate(timeout=30)
    assert child.returncode == 2, err
    assert "restored" in err and "Traceback" not in err
    assert consumers(shop) == OFF
    assert not state_path(shop).exists()


def test_sigkill_leaves_a_state_file_that_restore_uses(shop, server, cli_env):
    with server.cursor() as cur:
        cur.execute("DROP USER IF EXISTS 'qa_app'@'%'")
        cur.execute("CREATE USER 'qa_app'@'%'")
    try:
        with capture_child(shop, cli_env, "--client-user", "qa_app") as child:
            child.kill()
            child.wait(10)
        assert consumers(shop)["events_statements_history_long"] == "YES"  # nothing ran after SIGKILL
        assert ("%", "qa_app", "%", "YES", "YES") in actors(shop)
        path = state_path(shop, cli_env)
        saved = json.loads(path.read_text())
        assert saved["previous"] is None
        assert saved["performance_schema"]["consumers"]["events_statements_history_long"] is False
        assert saved["performance_schema"]["actors"] == [["%", "%", "%", "YES", "YES"]]

        done = subprocess.run([sys.executable, "-m", "query_audit", "restore", "--dsn", shop.to_dsn()], cwd=REPO,
                              env=cli_env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert "events_statements_history_long=NO" in done.stderr and "setup_actors" in done.stderr
        assert consumers(shop) == OFF
        assert actors(shop) == [("%", "%", "%", "YES", "YES")]
        assert not path.exists()
    finally:
        with server.cursor() as cur:
            cur.execute("DROP USER 'qa_app'@'%'")


def test_a_later_capture_restores_a_stale_performance_schema_state_first(shop, cli_env, monkeypatch):
    with capture_child(shop, cli_env) as child:
        child.kill()
        child.wait(10)
    monkeypatch.setenv("QUERY_AUDIT_STATE_DIR", cli_env["QUERY_AUDIT_STATE_DIR"])
    result = run_capture(shop, plan(command="true"))
    assert any("interrupted capture" in note and "performance_schema consumers" in note for note in result.notes)
    assert consumers(shop) == OFF
    assert not state_path(shop).exists()


def test_cli_without_privilege_is_one_line_exit_2(shop, server, cli_env):
    set_consumers(shop, OFF)
    with server.cursor() as cur:
        cur.execute("DROP USER IF EXISTS 'qa_psreader'@'%'")
        cur.execute("CREATE USER 'qa_psreader'@'%'")
        cur.execute("GRANT SELECT ON *.* TO 'qa_psreader'@'%'")
    try:
        dsn = replace(shop, user="qa_psreader", password="").to_dsn()
        done = subprocess.run([sys.executable, "-m", "query_audit", "capture", "--source", PS, "--dsn", dsn,
                               "--run", "true"], cwd=REPO, env=cli_env, capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1 and "setup_consumers" in done.stderr
        assert consumers(shop) == OFF
    finally:
        with server.cursor() as cur:
            cur.execute("DROP USER 'qa_psreader'@'%'")


# ------------------------------------------------------------------------------------------------
# Events to statements, as a pure function
# ------------------------------------------------------------------------------------------------


def event(event_id, name, sql=None, thread=7, nested=False):
    """An event of the history; it started event_id microseconds (in picoseconds) after the capture."""
    return HistoryEvent(thread_id=thread, connection_id=40 + thread, user="app", host="h", event_id=event_id,
                        name=name, sql_text=sql, schema="shop", timer_start=event_id * 1_000_000,
                        timer_wait=500, lock_time=0, rows_examined=1, rows_sent=1, no_index_used=False,
                        no_good_index_used=False, nested=nested)


def test_events_become_the_statements_a_general_log_capture_gives():
    start = datetime(2026, 11, 30, 10, 0, 0)
    windows = [Window(1, Edge(start, 0), Edge(start, 50_000_000))]
    cached = {(7, 1): (None, "SELECT a FROM t WHERE id = ?"), (8, 2): (None, "SELECT b FROM t WHERE id = ?"),
              (9, 1): (None, "")}  # read while it was being prepared: no text yet
    # Thread 7's statement was prepared before the capture (a driver's cache): the history starts later.
    events = [
        event(3, "statement/com/Execute"),
        event(4, "statement/sql/call_procedure", "CALL p()"),
        event(5, "statement/sp/stmt", "SELECT 1 FROM t", nested=True),
        event(6, "statement/sql/select", "SELECT c FROM t WHERE x = 'cut" + "y" * 1000 + "..."),
        event(7, "statement/com/Ping"),
        event(60, "statement/sql/select", "SELECT late FROM t"),  # after the window
        event(3, "statement/com/Execute", thread=8),
        event(4, "statement/com/Execute", thread=9),  # its text is unknown
    ]
    plan = CapturePlan(source=PS)
    settings = ConnectionSettings(database="shop")
    result = events_to_statements(events, windows, set(), cached, plan, settings, sql_text_limit=1024)
    assert [(s.sql[:20], s.command, s.thread_id) for s in result.statements] == [
        ("SELECT a FROM t WHER", "Execute", 47), ("CALL p()", "Query", 47), ("SELECT c FROM t WHER", "Query", 47),
        ("SELECT b FROM t WHER", "Execute", 48)]
    assert [s.truncated for s in result.statements] == [False, False, True, False]
    assert result.statements[0].placeholders and result.statements[0].time == "2026-11-30T10:00:00.000003Z"
    assert (result.nested, result.outside, result.no_text) == (1, 1, 1)


def test_a_state_file_can_only_switch_statement_consumers_off():
    from query_audit.capture.ps_settings import CONSUMERS, PsSettings, reduced

    planted = PsSettings(tuple((name, True) for name in CONSUMERS), actors=(("%", "%", "%", "YES", "YES"),))
    assert reduced(planted) is None  # asks for nothing off: a capture never writes that, nothing is applied
    saved = PsSettings((("events_statements_history_long", False), ("events_statements_current", True),
                        ("not_a_consumer_of_ours", False)), actors=None)
    assert reduced(saved) == PsSettings((("events_statements_history_long", False),), None)
