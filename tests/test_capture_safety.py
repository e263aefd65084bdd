"""A capture must leave the server's general_log/log_output exactly as it found them, on every path out.

These tests run against the private test server and toggle its global settings; each starts from a
known state (general_log OFF, log_output FILE) and checks the values afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_run_command import gone

from query_audit.capture.control import CAPTURE_LOCK
from query_audit.capture.log_settings import state_path
from query_audit.capture.replay import HttpRequest
from query_audit.capture.session import CapturePlan, run_capture
from query_audit.connection import connect
from query_audit.errors import EndpointFailed, MissingPrivilege

REPO = Path(__file__).resolve().parent.parent


def log_settings(settings) -> tuple:
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@global.general_log, @@global.log_output")
        return cur.fetchone()


def set_log_settings(settings, general_log: int, log_output: str) -> None:
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SET GLOBAL general_log = 0")
        cur.execute("SET GLOBAL log_output = %s", (log_output,))
        cur.execute("SET GLOBAL general_log = %s", (general_log,))


@pytest.fixture
def shop(scratch_db, tmp_path, monkeypatch):
    """A small database, the log OFF/FILE, and a private state directory for this test."""
    monkeypatch.setenv("QUERY_AUDIT_STATE_DIR", str(tmp_path / "state"))
    with connect(scratch_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20), price INT)")
        cur.execute("INSERT INTO items VALUES (1,'a',10),(2,'b',20),(3,'c',30)")
    set_log_settings(scratch_db, 0, "FILE")
    yield scratch_db
    set_log_settings(scratch_db, 0, "FILE")


@contextmanager
def app_server(settings):
    """A tiny endpoint server with its own connection, like an application: /items runs 3 statements,
    /boom runs one and answers 500, /slow sleeps past the client's timeout."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            with connect(settings) as conn, conn.cursor() as cur:
                if self.path == "/items":
                    cur.execute("SELECT id, name FROM items WHERE price > 5 ORDER BY id")
                    for item_id in (1, 2):
                        cur.execute(f"SELECT name FROM items WHERE id = {item_id}")
                    status = 200
                elif self.path == "/boom":
                    cur.execute("SELECT COUNT(*) FROM items")
                    status = 500
                else:
                    time.sleep(2)
                    status = 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_normal_capture_restores_settings_and_lists_only_the_endpoints_statements(shop):
    with app_server(shop) as base:
        result = run_capture(shop, CapturePlan(requests=(HttpRequest(base + "/items"),)))
    assert log_settings(shop) == (0, "FILE")
    assert not state_path(shop).exists()
    sqls = [s.sql for s in result.statements]
    assert sqls == ["SELECT id, name FROM items WHERE price > 5 ORDER BY id",
                    "SELECT name FROM items WHERE id = 1", "SELECT name FROM items WHERE id = 2"]
    assert {s.request for s in result.statements} == {1}
    assert all(s.database == shop.database for s in result.statements)
    # The tool's own statements (SET GLOBAL, NOW(6), the read of the log) are never in the capture.
    assert not any("general_log" in s.sql or "NOW(6)" in s.sql for s in result.statements)


def test_http_500_is_still_a_capture_and_settings_are_restored(shop):
    with app_server(shop) as base:
        result = run_capture(shop, CapturePlan(requests=(HttpRequest(base + "/boom"),)))
    assert [o.status for o in result.outcomes] == [500]
    assert [s.sql for s in result.statements] == ["SELECT COUNT(*) FROM items"]
    assert log_settings(shop) == (0, "FILE")


def test_refused_endpoint_is_an_error_and_settings_are_restored(shop):
    with pytest.raises(EndpointFailed, match="refused"):
        run_capture(shop, CapturePlan(requests=(HttpRequest("http://127.0.0.1:9/nothing"),)))
    assert log_settings(shop) == (0, "FILE")
    assert not state_path(shop).exists()


def test_endpoint_timeout_is_an_error_and_settings_are_restored(shop):
    with app_server(shop) as base, pytest.raises(EndpointFailed, match="no answer within"):
        run_capture(shop, CapturePlan(requests=(HttpRequest(base + "/slow"),), timeout=0.5))
    assert log_settings(shop) == (0, "FILE")


def test_repeat_numbers_each_request(shop):
    with app_server(shop) as base:
        result = run_capture(shop, CapturePlan(requests=(HttpRequest(base + "/boom"),), repeat=3))
    assert [s.request for s in result.statements] == [1, 2, 3]


def test_log_already_on_with_table_output_is_left_alone_and_not_emptied(shop):
    set_log_settings(shop, 1, "FILE,TABLE")
    with connect(shop) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM mysql.general_log")
        rows_before = cur.fetchone()[0]
    with app_server(shop) as base:
        result = run_capture(shop, CapturePlan(requests=(HttpRequest(base + "/boom"),)))
    assert log_settings(shop) == (1, "FILE,TABLE")
    assert any("already on" in note for note in result.notes)
    with connect(shop) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM mysql.general_log")
        assert cur.fetchone()[0] > rows_before  # nothing was truncated
    set_log_settings(shop, 0, "FILE")
    with connect(shop) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE mysql.general_log")


def test_log_on_to_file_only_gets_table_added_then_exactly_put_back(shop):
    set_log_settings(shop, 1, "FILE")
    with app_server(shop) as base:
        result = run_capture(shop, CapturePlan(requests=(HttpRequest(base + "/boom"),)))
    assert [s.sql for s in result.statements] == ["SELECT COUNT(*) FROM items"]
    assert log_settings(shop) == (1, "FILE")


def test_user_without_the_privilege_gets_a_clear_error_and_nothing_changes(shop, server):
    with server.cursor() as cur:
        cur.execute("DROP USER IF EXISTS 'qa_reader'@'%'")
        cur.execute("CREATE USER 'qa_reader'@'%' IDENTIFIED BY 'S3cret-pw'")
        cur.execute("GRANT SELECT ON *.* TO 'qa_reader'@'%'")
    reader = replace(shop, user="qa_reader", password="S3cret-pw")
    try:
        with pytest.raises(MissingPrivilege, match="SUPER") as caught:
            run_capture(reader, CapturePlan(requests=(HttpRequest("http://127.0.0.1:9/"),)))
        assert "S3cret-pw" not in str(caught.value)
        assert log_settings(shop) == (0, "FILE")
        assert not state_path(reader).exists()
    finally:
        with server.cursor() as cur:
            cur.execute("DROP USER 'qa_reader'@'%'")


def test_killed_database_connection_mid_capture_reconnects_and_restores(shop, tmp_path):
    # The --run command kills every other connection of this user: the tool's own among them.
    killer = tmp_path / "kill_others.py"
    killer.write_text(
        "import pymysql, sys\n"
        f"c = pymysql.connect(host={shop.host!r}, port={shop.port}, user={shop.user!r}, database={shop.database!r})\n"
        "cur = c.cursor()\n"
        "cur.execute('SELECT name FROM items WHERE id = 3')\n"
        "cur.execute('SELECT id FROM information_schema.PROCESSLIST WHERE id <> CONNECTION_ID() "
        "AND user = CURRENT_USER() AND command <> \"Daemon\"')\n"
        "for (thread,) in cur.fetchall():\n"
        "    try: cur.execute(f'KILL {thread}')\n"
        "    except pymysql.MySQLError: pass\n"
    )
    result = run_capture(shop, CapturePlan(command=f"{sys.executable} {killer}"))
    assert log_settings(shop) == (0, "FILE")
    assert "SELECT name FROM items WHERE id = 3" in [s.sql for s in result.statements]


# ------------------------------------------------------------------------------------------------
# Signals and `restore`: through the real command line, in a child process
# ------------------------------------------------------------------------------------------------


def start_cli(args, env):
    return subprocess.Popen([sys.executable, "-m", "query_audit", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_log_on(settings, timeout=20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log_settings(settings)[0] == 1:
            return
        time.sleep(0.05)
    raise AssertionError("the capture never switched the general log on")


def killed(child, settings, timeout=20.0) -> None:
    """SIGKILL a capture and wait until the server has seen its connections close: the capture lock
    (GET_LOCK) goes with them, and on a loaded machine the server's thread may notice a moment later
    than the process is gone. A later capture started before that would rightly say another is running."""
    child.kill()
    child.wait(10)
    deadline = time.monotonic() + timeout
    with connect(settings) as conn, conn.cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute("SELECT IS_FREE_LOCK(%s)", (CAPTURE_LOCK,))
            if cur.fetchone()[0] == 1:
                return
            time.sleep(0.05)
    raise AssertionError("the killed capture's lock was never released")


@pytest.fixture
def cli_env(shop, tmp_path):
    env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(tmp_path / "state"), NO_COLOR="1")
    env.pop("QUERY_AUDIT_DSN", None)
    return env


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
def test_signal_during_capture_restores_settings_and_exits_2(shop, cli_env, signum, tmp_path):
    pid_file = tmp_path / "pid"
    child = start_cli(["capture", "--dsn", shop.to_dsn(), "--run", f"sleep 30 & echo $! > {pid_file}; wait"], cli_env)
    wait_for_log_on(shop)
    time.sleep(0.3)
    child.send_signal(signum)
    out, err = child.communicate(timeout=15)  # the `--run` command and its child end with the capture
    assert child.returncode == 2, err
    assert gone(int(pid_file.read_text()))
    assert "restored" in err and "Traceback" not in err
    assert log_settings(shop) == (0, "FILE")
    assert not state_path(shop).exists()


def test_sigkill_leaves_a_state_file_that_restore_uses(shop, cli_env):
    child = start_cli(["capture", "--dsn", shop.to_dsn(), "--run", "sleep 30"], cli_env)
    wait_for_log_on(shop)
    killed(child, shop)
    assert log_settings(shop)[0] == 1  # left changed: nothing could run after SIGKILL
    path = state_path(shop, cli_env)
    saved = json.loads(path.read_text())
    assert saved["previous"] == {"general_log": False, "log_output": "FILE"}
    assert "password" not in path.read_text().lower()

    done = subprocess.run([sys.executable, "-m", "query_audit", "restore", "--dsn", shop.to_dsn()], cwd=REPO,
                          env=cli_env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "restored general_log=OFF and log_output=FILE" in done.stderr
    assert log_settings(shop) == (0, "FILE")
    assert not path.exists()


def test_a_later_capture_restores_a_stale_state_file_first(shop, cli_env, monkeypatch):
    child = start_cli(["capture", "--dsn", shop.to_dsn(), "--run", "sleep 30"], cli_env)
    wait_for_log_on(shop)
    killed(child, shop)
    monkeypatch.setenv("QUERY_AUDIT_STATE_DIR", cli_env["QUERY_AUDIT_STATE_DIR"])
    result = run_capture(shop, CapturePlan(command="true"))
    assert any("interrupted capture" in note for note in result.notes)
    assert log_settings(shop) == (0, "FILE")
    assert not state_path(shop).exists()


def test_restore_without_a_state_file_changes_nothing(shop, cli_env):
    done = subprocess.run([sys.executable, "-m", "query_audit", "restore", "--dsn", shop.to_dsn()], cwd=REPO,
                          env=cli_env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    assert "nothing to restore" in done.stderr
    assert log_settings(shop) == (0, "FILE")


def test_unreachable_server_and_bad_password_are_one_line_exit_2(shop, cli_env):
    for dsn in ("mysql://root@127.0.0.1:9/test", f"mysql://root:Wr0ng-pw@{shop.host}:{shop.port}/test"):
        done = subprocess.run([sys.executable, "-m", "query_audit", "capture", "--dsn", dsn, "--run", "true"],
                              cwd=REPO, env=cli_env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Wr0ng-pw" not in done.stderr and "Traceback" not in done.stderr


def test_privilege_message_names_the_privilege_and_the_parameter_group_route():
    from query_audit.capture.log_settings import privilege_hint

    assert "SUPER" in privilege_hint("mariadb", None)
    mysql = privilege_hint("mysql", None)
    assert "SYSTEM_VARIABLES_ADMIN" in mysql and "parameter group" not in mysql
    aurora = privilege_hint("aurora-mysql", "Aurora")
    assert "DB parameter group" in aurora and "log_output=TABLE" in aurora


def test_table_output_is_added_to_what_is_there_and_none_is_dropped():
    from query_audit.capture.log_settings import LogSettings

    assert LogSettings(False, "FILE").with_table_output() == LogSettings(True, "FILE,TABLE")
    assert LogSettings(False, "NONE").with_table_output() == LogSettings(True, "TABLE")
    assert LogSettings(True, "TABLE,NONE").logs_to_table is False
    assert LogSettings(True, "FILE,TABLE").logs_to_table is True


def test_restoring_only_ever_reduces_logging():
    from query_audit.capture.log_settings import LogSettings, reduced_to
    from query_audit.errors import QueryAuditError

    path = Path("state.json")
    # What a capture leaves -> what restoring sets: the log off, TABLE out, NONE back.
    assert reduced_to(LogSettings(True, "FILE,TABLE"), LogSettings(False, "FILE"), path) == LogSettings(False, "FILE")
    assert reduced_to(LogSettings(True, "FILE,TABLE"), LogSettings(True, "FILE"), path) == LogSettings(True, "FILE")
    assert reduced_to(LogSettings(True, "TABLE"), LogSettings(False, "NONE"), path) == LogSettings(False, "NONE")
    assert reduced_to(LogSettings(True, "FILE,TABLE"), LogSettings(False, "FILE,NONE"), path) == \
        LogSettings(False, "FILE,NONE")
    # A planted file: ON stays OFF; an output the server does not write to now is refused.
    assert reduced_to(LogSettings(False, "FILE"), LogSettings(True, "FILE"), path) == LogSettings(False, "FILE")
    for planted in ("TABLE", "FILE,TABLE", "", "SYSLOG"):
        with pytest.raises(QueryAuditError, match="never leaves that"):
            reduced_to(LogSettings(True, "FILE"), LogSettings(False, planted), path)
