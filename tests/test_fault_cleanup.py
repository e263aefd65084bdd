"""Every fault cleaned up, against the private test server: signals at several stages of a capture and of
--verify, SIGKILL then `restore`, planted state files, two captures at once, and a gate that never
passes when what it wraps failed.

Each test starts from general_log OFF / log_output FILE (the `shop` fixture) and checks the server after.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import test_capture_safety as safety
from test_capture_safety import REPO, log_settings, start_cli, wait_for_log_on

from query_audit.capture.control import CaptureBusy
from query_audit.capture.log_settings import state_path
from query_audit.capture.session import CapturePlan, run_capture
from query_audit.connection import connect
from query_audit.errors import QueryAuditError
from query_audit.private_files import UnsafeFile

shop, cli_env = safety.shop, safety.cli_env  # the fixtures: a scratch database, log OFF/FILE; a CLI environment
ROWS = 6000
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT]


def run_cli(args, env, timeout=120):
    return subprocess.run([sys.executable, "-m", "query_audit", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


# ------------------------------------------------------------------------------------------------
# --verify: signals and SIGKILL while the index is being created
# ------------------------------------------------------------------------------------------------


def scanned_table(settings, directory: Path, table: str = "events") -> Path:
    """A 6000-row `table` with an unindexed account_id, and a saved capture of one query that scans it."""
    quoted = "`" + table + "`"
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {quoted} (id INT AUTO_INCREMENT PRIMARY KEY, account_id INT NOT NULL, "
                    "payload VARCHAR(50)) ENGINE=InnoDB")
        cur.execute(f"INSERT INTO {quoted} (account_id, payload) VALUES "
                    + ", ".join(f"({i % 600}, 'p{i}')" for i in range(ROWS)))
        cur.execute(f"ANALYZE TABLE {quoted}")
        cur.fetchall()
    capture = directory / "capture.json"
    capture.write_text(json.dumps({"format": "query-audit-capture", "version": 1, "statements": [
        {"sql": f"SELECT * FROM {quoted} WHERE account_id = 42", "database": settings.database}]}))
    return capture


@pytest.fixture
def events(shop, tmp_path):
    return scanned_table(shop, tmp_path)


def events_indexes(settings) -> set[str]:
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
                    "AND TABLE_NAME = 'events'", (settings.database,))
        return {row[0] for row in cur.fetchall()}


def blocking_reader(settings):
    """A transaction that has read `events`: its metadata lock makes --verify's ALTER wait."""
    conn = connect(settings, autocommit=False)
    with conn.cursor() as cur:
        cur.execute("START TRANSACTION")
        cur.execute("SELECT id FROM events LIMIT 1")
        cur.fetchall()
    return conn


def wait_for_alter(settings, timeout=60.0) -> int:
    """The id of the connection whose ADD INDEX is waiting for the lock."""
    deadline = time.monotonic() + timeout
    with connect(settings) as conn, conn.cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'ALTER TABLE%ADD INDEX%'")
            row = cur.fetchone()
            if row:
                return int(row[0])
            time.sleep(0.05)
    raise AssertionError("--verify never started its ALTER TABLE")


def verify_cli(events, shop, env):
    return start_cli(["analyze", str(events), "--dsn", shop.to_dsn(), "--verify",
                      "--i-understand-this-creates-indexes", "--format", "json"], env)


@pytest.mark.parametrize("signum", SIGNALS)
def test_signal_during_verify_create_index_drops_it_and_exits_2(events, shop, cli_env, signum):
    blocker = blocking_reader(shop)
    try:
        child = verify_cli(events, shop, cli_env)
        wait_for_alter(shop)
        child.send_signal(signum)
        out, err = child.communicate(timeout=60)
    finally:
        blocker.rollback()
        blocker.close()
    assert child.returncode == 2, err
    assert "indexes --verify created were dropped" in err and "Traceback" not in err
    time.sleep(0.5)  # a CREATE that was not stopped would finish now that the lock is free
    assert events_indexes(shop) == {"PRIMARY"}
    assert not state_path(shop, cli_env, kind="verify").exists()


def test_sigkill_during_verify_leaves_a_journal_that_restore_uses_to_drop_the_index(events, shop, cli_env):
    blocker = blocking_reader(shop)
    try:
        child = verify_cli(events, shop, cli_env)
        alter = wait_for_alter(shop)
        child.kill()
        child.wait(10)
    finally:
        blocker.rollback()
        blocker.close()
    journal = state_path(shop, cli_env, kind="verify")
    [entry] = json.loads(journal.read_text())["indexes"]
    assert (entry["table"], entry["thread_id"]) == ("events", alter)
    assert oct(journal.stat().st_mode & 0o777) == "0o600"
    # The server finishes the dead client's ALTER: the index is there, and only the journal knows why.
    deadline = time.monotonic() + 30
    while entry["index"] not in events_indexes(shop) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert entry["index"] in events_indexes(shop)

    done = run_cli(["restore", "--dsn", shop.to_dsn()], cli_env)
    assert done.returncode == 0, done.stderr
    assert f"dropped index {entry['index']}" in done.stderr
    assert events_indexes(shop) == {"PRIMARY"}
    assert not journal.exists()


def test_a_killed_verify_connection_is_a_finding_not_verified_and_nothing_is_left(events, shop, cli_env):
    blocker = blocking_reader(shop)
    try:
        child = verify_cli(events, shop, cli_env)
        alter = wait_for_alter(shop)
        with connect(shop) as conn, conn.cursor() as cur:
            cur.execute(f"KILL {alter}")
        out, err = child.communicate(timeout=60)
    finally:
        blocker.rollback()
        blocker.close()
    assert child.returncode == 0, err
    [finding] = [f for f in json.loads(out)["findings"] if f["rule"] == "missing_index"]
    assert finding["verified"] is False and "could not create it" in finding["evidence"]["verify"]["reason"]
    time.sleep(0.5)
    assert events_indexes(shop) == {"PRIMARY"}
    assert not state_path(shop, cli_env, kind="verify").exists()


def test_verify_quotes_a_hostile_table_name(shop, tmp_path, cli_env):
    """A table named `x ADD INDEX y` is one identifier in the CREATE and in the DROP."""
    capture = scanned_table(shop, tmp_path, "x ADD INDEX y")
    done = run_cli(["analyze", str(capture), "--dsn", shop.to_dsn(), "--verify",
                    "--i-understand-this-creates-indexes", "--format", "json"], cli_env)
    assert done.returncode == 0, done.stderr
    [finding] = [f for f in json.loads(done.stdout)["findings"] if f["rule"] == "missing_index"]
    assert finding["verified"] is True
    with connect(shop) as conn, conn.cursor() as cur:
        cur.execute("SHOW INDEX FROM `x ADD INDEX y`")
        assert {row[2] for row in cur.fetchall()} == {"PRIMARY"}


# ------------------------------------------------------------------------------------------------
# State files: planted links, other users' files, values that would switch logging on
# ------------------------------------------------------------------------------------------------


def test_a_symlink_planted_as_the_state_file_is_refused_and_its_target_untouched(shop, tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("do not overwrite\n")
    path = state_path(shop)
    path.parent.mkdir(parents=True, mode=0o700)
    path.symlink_to(target)
    with pytest.raises(UnsafeFile, match="symbolic link"):
        run_capture(shop, CapturePlan(command="true"))
    assert target.read_text() == "do not overwrite\n"
    assert log_settings(shop) == (0, "FILE")


def test_a_state_file_owned_by_another_user_is_refused(shop):
    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another user")
    path = state_path(shop)
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_text(json.dumps({"server": "x", "previous": {"general_log": False, "log_output": "FILE"},
                                "pid": 1, "host": "elsewhere", "started_at": "2026-01-01T00:00:00+00:00"}))
    os.chown(path, 65534, 65534)
    with pytest.raises(UnsafeFile, match="owned by uid 65534"):
        run_capture(shop, CapturePlan(command="true"))
    assert log_settings(shop) == (0, "FILE")


def plant_state(shop, general_log: bool, log_output: str) -> Path:
    path = state_path(shop)
    path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    path.write_text(json.dumps({"server": "x", "previous": {"general_log": general_log, "log_output": log_output},
                                "pid": 1, "host": "elsewhere", "started_at": "2026-01-01T00:00:00+00:00"}))
    path.chmod(0o600)
    return path


def test_a_planted_state_file_can_never_switch_the_general_log_on(shop, cli_env):
    path = plant_state(shop, True, "FILE")
    done = run_cli(["restore", "--dsn", shop.to_dsn()], cli_env)
    assert done.returncode == 0, done.stderr
    assert "restored general_log=OFF and log_output=FILE" in done.stderr
    assert log_settings(shop) == (0, "FILE") and not path.exists()

    plant_state(shop, True, "FILE")
    result = run_capture(shop, CapturePlan(command="true"))  # the next capture "restores" it first
    assert any("general_log=OFF" in note for note in result.notes)
    assert log_settings(shop) == (0, "FILE")


def test_a_planted_state_file_asking_for_a_new_log_output_is_refused(shop, cli_env):
    plant_state(shop, False, "TABLE")  # the server writes to FILE: no capture leaves that behind
    done = run_cli(["restore", "--dsn", shop.to_dsn()], cli_env)
    assert done.returncode == 2 and "never leaves that" in done.stderr
    assert log_settings(shop) == (0, "FILE")


def test_state_files_are_0600_in_a_0700_directory(shop, cli_env):
    child = start_cli(["capture", "--dsn", shop.to_dsn(), "--run", "sleep 30"], cli_env)
    try:
        wait_for_log_on(shop)
        path = state_path(shop, cli_env)
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    finally:
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=30)
    assert log_settings(shop) == (0, "FILE")


# ------------------------------------------------------------------------------------------------
# One capture per server
# ------------------------------------------------------------------------------------------------


def test_a_second_capture_of_the_same_server_is_refused_and_the_first_goes_on(shop, cli_env, tmp_path,
                                                                                monkeypatch):
    # The first capture's command runs until the test says so: a fixed sleep ended under load before the
    # second capture was refused, and the check that the settings are still on then saw them restored.
    go_on = tmp_path / "go-on"
    first = start_cli(["capture", "--dsn", shop.to_dsn(), "--run", f"while [ ! -e {go_on} ]; do sleep 0.05; done",
                       "--format", "json"], cli_env)
    try:
        wait_for_log_on(shop)
        # Another state directory: the lock on the server refuses it, not a local file.
        monkeypatch.setenv("QUERY_AUDIT_STATE_DIR", str(tmp_path / "other-state"))
        with pytest.raises(CaptureBusy, match="another query-audit capture is running"):
            run_capture(shop, CapturePlan(command="true"))
        second = run_cli(["capture", "--dsn", shop.to_dsn(), "--run", "true"],
                         dict(cli_env, QUERY_AUDIT_STATE_DIR=str(tmp_path / "other-state")))
        assert second.returncode == 2 and "another query-audit capture" in second.stderr
        assert log_settings(shop)[0] == 1  # the refused ones changed nothing, restored nothing
    finally:
        go_on.touch()
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert log_settings(shop) == (0, "FILE")
    assert json.loads(out)["server"]["address"] == f"{shop.host}:{shop.port}"  # the report names the server


# ------------------------------------------------------------------------------------------------
# A failed read of the log, and the --run child's environment
# ------------------------------------------------------------------------------------------------


def test_a_refused_log_read_is_one_line_and_the_settings_are_restored(shop, server, tmp_path):
    """The --run command takes SELECT on the log away from the capturing account mid-capture."""
    with server.cursor() as cur:
        cur.execute("DROP USER IF EXISTS 'qa_capturer'@'%'")
        cur.execute("CREATE USER 'qa_capturer'@'%' IDENTIFIED BY 'Capt-pw-9'")
        cur.execute("GRANT SUPER ON *.* TO 'qa_capturer'@'%'")
        cur.execute("GRANT SELECT ON mysql.general_log TO 'qa_capturer'@'%'")
        cur.execute(f"GRANT SELECT ON `{shop.database}`.* TO 'qa_capturer'@'%'")
    revoke = tmp_path / "revoke.py"
    revoke.write_text("import pymysql\n"
                      f"c = pymysql.connect(host={shop.host!r}, port={shop.port}, user='root')\n"
                      "c.cursor().execute(\"REVOKE SELECT ON mysql.general_log FROM 'qa_capturer'@'%'\")\n")
    capturer = replace(shop, user="qa_capturer", password="Capt-pw-9")
    try:
        with pytest.raises(QueryAuditError, match="reading what the server logged failed") as caught:
            run_capture(capturer, CapturePlan(command=f"{sys.executable} {revoke}"))
        assert "Capt-pw-9" not in str(caught.value)
        assert log_settings(shop) == (0, "FILE")
        assert not state_path(capturer).exists()
    finally:
        with server.cursor() as cur:
            cur.execute("DROP USER 'qa_capturer'@'%'")


def test_the_run_command_never_sees_the_dsn_password(shop, tmp_path, monkeypatch):
    seen = tmp_path / "env.txt"
    monkeypatch.setenv("QUERY_AUDIT_DSN", shop.to_dsn(with_password=True).replace("root@", "root:Pw-seen-9@"))
    run_capture(shop, CapturePlan(command=f"env > {seen}"))
    assert "QUERY_AUDIT_DSN" not in seen.read_text() and "Pw-seen-9" not in seen.read_text()
    assert "PATH=" in seen.read_text()


# ------------------------------------------------------------------------------------------------
# A gate that never lies
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "says"), [("exit 3", "failed (exit status 3)"),
                                               ("/no/such/command", "could not start"),
                                               ("kill -9 $$", "killed by signal 9")])
def test_check_and_capture_exit_2_when_the_run_command_fails(shop, cli_env, tmp_path, command, says):
    baseline = tmp_path / "baseline.json"
    made = run_cli(["baseline", "create", "--baseline", str(baseline), "--dsn", shop.to_dsn(), "--run", "true"],
                   cli_env)
    assert made.returncode == 0, made.stderr
    for args in (["check", "--baseline", str(baseline)], ["capture"]):
        done = run_cli([*args, "--dsn", shop.to_dsn(), "--run", command], cli_env)
        assert done.returncode == 2, (args, done.stderr)
        assert says in done.stderr and "Traceback" not in done.stderr
        assert done.stdout == ""  # no report: nothing that looks like a pass
    assert log_settings(shop) == (0, "FILE")


def test_no_server_given_is_exit_2_and_nothing_is_touched(shop, cli_env, tmp_path):
    env = dict(cli_env, HOME=str(tmp_path))  # no ~/.my.cnf, no QUERY_AUDIT_DSN, no --dsn
    for args in (["capture", "--run", "true"], ["check", "--run", "true"], ["restore"]):
        done = run_cli(args, env)
        assert done.returncode == 2, (args, done.stderr)
        assert "no server given" in done.stderr and "Traceback" not in done.stderr


def test_a_crash_of_the_tool_is_exit_2_with_one_line(monkeypatch, capsys):
    from query_audit import cli, workflow

    def broken(*args, **kwargs):
        raise RuntimeError("something the tool did not expect")

    monkeypatch.setattr(workflow, "restore", broken)
    with pytest.raises(SystemExit) as caught:
        cli.main(["restore", "--dsn", "mysql://u@h:1/d"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "internal error (RuntimeError: something the tool did not expect)" in err
    assert len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------------
# Signals at random points of a whole capture --verify (replay, log read, EXPLAIN, CREATE/DROP INDEX)
# ------------------------------------------------------------------------------------------------


def at_most(child: subprocess.Popen, seconds: float) -> None:
    """Wait `seconds`, or less if the child ends first: a signal after its end changes nothing."""
    try:
        child.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


def test_signals_at_random_points_of_a_capture_with_verify_always_leave_the_server_as_it_was(shop, cli_env,
                                                                                          tmp_path):
    import random

    scanned_table(shop, tmp_path)
    app = tmp_path / "app.py"
    app.write_text("import pymysql\n"
                   f"c = pymysql.connect(host={shop.host!r}, port={shop.port}, user={shop.user!r}, "
                   f"database={shop.database!r})\n"
                   "c.cursor().execute('SELECT * FROM events WHERE account_id = 42')\n")
    rng = random.Random(20261130)
    outcomes = []

    def interrupted_run(run, signum, script, wait):
        child = start_cli(["capture", "--dsn", shop.to_dsn(), "--run", f"{sys.executable} {script}", "--verify",
                           "--i-understand-this-creates-indexes", "--format", "json"], cli_env)
        wait(child)
        child.send_signal(signum)
        out, err = child.communicate(timeout=90)
        outcomes.append(child.returncode)
        # Finished before the signal (0), interrupted while the server was changed and cleaned up (2), or
        # ended by the signal's default action where nothing on the server was changed (start-up, EXPLAIN).
        assert child.returncode in (0, 2, -signum), err
        assert "Traceback" not in err
        assert log_settings(shop) == (0, "FILE"), (run, signum, err)
        assert events_indexes(shop) == {"PRIMARY"}, (run, signum, err)
        assert not state_path(shop, cli_env).exists() and not state_path(shop, cli_env, kind="verify").exists()

    for run in range(8):
        interrupted_run(run, SIGNALS[run % len(SIGNALS)], app, lambda child: at_most(child, rng.uniform(0.3, 4.0)))
    if 2 not in outcomes:  # every random point missed the changed window (a slow start on a loaded machine)
        slow = tmp_path / "slow_app.py"
        slow.write_text(app.read_text() + "import time\ntime.sleep(20)\n")
        interrupted_run(8, signal.SIGTERM, slow, lambda child: wait_for_log_on(shop))
    assert 2 in outcomes  # at least one run was really interrupted while the server was changed

