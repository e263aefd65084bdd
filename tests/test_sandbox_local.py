from pathlib import Path

import pytest

from query_audit.connection import connect, parse_dsn
from query_audit.sandbox import start_sandbox
from query_audit.sandbox.local import local_server_binary


@pytest.mark.skipif(local_server_binary() is None, reason="no local server binary")
def test_local_sandbox_starts_a_private_server_and_removes_it_on_stop():
    sandbox = start_sandbox(prefer="local")
    try:
        settings = parse_dsn(sandbox.dsn)
        assert settings.port != 3306
        with connect(settings) as conn, conn.cursor() as cur:
            cur.execute("SELECT DATABASE(), @@general_log")
            assert cur.fetchone() == ("test", 0)
        directory = Path(sandbox.info.directory)
        assert directory.is_dir()
    finally:
        sandbox.stop()
    assert not directory.exists()


# ------------------------------------------------------------------------------------------------
# `sandbox down` with a planted or foreign record: nothing is killed, nothing deleted
# ------------------------------------------------------------------------------------------------


def _record(state: Path, **fields) -> Path:
    import json

    state.mkdir(mode=0o700, exist_ok=True)
    record = state / "sandbox.json"
    record.write_text(json.dumps({"kind": "local", "host": "127.0.0.1", "port": 43306, **fields}))
    record.chmod(0o600)
    return record


def _sandbox_down(state: Path):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "query_audit", "sandbox", "down"], capture_output=True, text=True,
                          env=dict(os.environ, QUERY_AUDIT_STATE_DIR=str(state)), timeout=60, check=False)


@pytest.fixture
def bystander():
    """A process that is not a sandbox server, and must outlive `sandbox down`."""
    import subprocess

    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait(10)


def test_sandbox_down_refuses_a_record_naming_a_directory_it_did_not_create(tmp_path, bystander):
    victim = tmp_path / "query-audit-sandbox-victim"  # the right name, but no marker: not ours
    victim.mkdir()
    (victim / "data.txt").write_text("keep me")
    _record(tmp_path / "state", pid=bystander.pid, directory=str(victim))
    done = _sandbox_down(tmp_path / "state")
    assert done.returncode == 2 and "not a sandbox directory of yours" in done.stderr
    assert (victim / "data.txt").read_text() == "keep me"
    assert bystander.poll() is None


def test_sandbox_down_never_signals_a_pid_that_is_not_the_sandbox_server(tmp_path, bystander):
    from query_audit.sandbox.local import MARKER

    own = tmp_path / "query-audit-sandbox-own"
    own.mkdir()
    (own / MARKER).write_text("")
    _record(tmp_path / "state", pid=bystander.pid, directory=str(own))  # a stale record: the pid was reused
    done = _sandbox_down(tmp_path / "state")
    assert done.returncode == 0, done.stderr
    assert bystander.poll() is None  # alive: it is not a mariadbd of that data directory
    assert not own.exists()


def test_sandbox_down_refuses_a_symlinked_record(tmp_path, bystander):
    state = tmp_path / "state"
    real = _record(tmp_path / "elsewhere", pid=bystander.pid, directory=str(tmp_path))
    state.mkdir(mode=0o700)
    (state / "sandbox.json").symlink_to(real)
    done = _sandbox_down(state)
    assert done.returncode == 2 and "symbolic link" in done.stderr
    assert bystander.poll() is None and tmp_path.exists()
