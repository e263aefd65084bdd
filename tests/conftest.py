"""Shared fixtures. Tests that talk to a server get a private one, started by the project's own sandbox
code (local mariadbd/mysqld on a free port, temporary data directory), or the server named by
QUERY_AUDIT_TEST_DSN. The shared server on :3306 is never changed by a test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from query_audit.connection import ConnectionSettings, connect, parse_dsn
from query_audit.sandbox import start_sandbox


def cache_bytecode_in_the_venv() -> None:
    """PYTHONDONTWRITEBYTECODE (set by some sandboxes to keep source trees clean) makes each of the few
    hundred CLI children of a run compile the package anew (~0.1 s of CPU each) and each worker rewrite
    every test module again. In a virtualenv the bytecode goes into it instead (`make clean` removes it);
    the xdist workers and the CLI children inherit the setting."""
    if not sys.flags.dont_write_bytecode or sys.prefix == sys.base_prefix:
        return
    prefix = str(Path(sys.prefix) / "pycache")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    sys.dont_write_bytecode = False
    sys.pycache_prefix = prefix


cache_bytecode_in_the_venv()

# Shadow verification starts a sandbox server per CLI run unless told otherwise; the tests that are about
# it turn it on and point it at the session's shadow server (`shadow_settings`), the others run without.
os.environ.setdefault("QUERY_AUDIT_SHADOW", "off")

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
# Recorded MySQL 8 outputs, copied into the repository (fixtures/mysql8/SOURCES.md) so a fresh clone runs
# every test: MySQL 8 cannot be installed here.
REFERENCE = FIXTURES / "mysql8"


# ---------------------------------------------------------------------------------------------
# The session's private servers (one set per pytest-xdist worker)
# ---------------------------------------------------------------------------------------------

MAX_WORKERS = 8  # each starts its own servers; past this, the longest test files decide the time anyway


@pytest.hookimpl(optionalhook=True)  # plain pytest without xdist runs too
def pytest_xdist_auto_num_workers(config) -> int:
    """`make test`'s `-n auto`: two workers a core. A worker spends about half of its time waiting (on its
    server, a child process, a signal test's pause), which the other worker of its core fills."""
    if os.environ.get("QUERY_AUDIT_TEST_DSN"):
        return 1  # one server for all: the tests that switch its logs on must take turns
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(2 * cores, MAX_WORKERS)


# A tmpfs under the servers' data directories when it has room: their fsyncs (every commit, every DDL)
# then cost nothing. Below this much free space (a container's 64 MB /dev/shm) they stay in the temp dir.
MEMORY_DIRECTORY = Path("/dev/shm")
MEMORY_DIRECTORY_ROOM = 2 * 1024**3


def server_base_dir() -> str | None:
    """Where the session's servers keep their data directories; None is the system's temp dir."""
    try:
        room = os.statvfs(MEMORY_DIRECTORY)
    except OSError:
        return None
    if room.f_bavail * room.f_frsize < MEMORY_DIRECTORY_ROOM or not os.access(MEMORY_DIRECTORY, os.W_OK):
        return None
    return str(MEMORY_DIRECTORY)


def keep_temporary_files_in_memory() -> None:
    """The tests' temporary files (tmp_path, the CLI children's reports and state files) go to the tmpfs too,
    when it has room. On a disk mounted with `discard`, as this project's CI machine is, truncating or
    removing a written file waits ~3 ms for the device; the fuzz tests alone rewrite a file 8,000 times."""
    base = server_base_dir()
    if base is None:
        return
    folder = Path(base) / f"query-audit-tests-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.environ["TMPDIR"] = str(folder)  # the xdist workers and the CLI children inherit it
    tempfile.tempdir = None  # computed again from TMPDIR on the next call


keep_temporary_files_in_memory()


@pytest.fixture(scope="session")
def data_directory_template():
    """Data directories copied from one initialized once per session, as MariaDB's own test runner does:
    mariadb-install-db (seconds, mostly fsyncs) runs once, not once per server.

    Yields a context manager; local sandboxes started inside it get a copy. The sandbox tests
    (test_sandbox_local, `sandbox up` in test_cli) start outside it and still run the real initialization."""
    from query_audit.sandbox import local

    real_initialize = local._initialize
    folder = Path(tempfile.mkdtemp(prefix="query-audit-template-", dir=server_base_dir()))
    template = folder / "data"
    lock = threading.Lock()  # the replica pair starts its two servers at once

    def copy_of_template(server_binary: str, datadir: Path, log: Path) -> None:
        with lock:
            if not (folder / "initialized").exists():
                shutil.rmtree(template, ignore_errors=True)  # what a failed attempt left
                real_initialize(server_binary, template, folder / "install.log")
                (folder / "initialized").touch()
        shutil.copytree(template, datadir, symlinks=True)
        (datadir.parent / "tmp").mkdir(exist_ok=True)  # the server's --tmpdir, as _initialize makes it

    @contextmanager
    def templated():
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(local, "_initialize", copy_of_template)
            yield

    yield templated
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def server_settings(data_directory_template) -> ConnectionSettings:
    """Connection settings of a server the tests may change (root, database `test`)."""
    dsn = os.environ.get("QUERY_AUDIT_TEST_DSN")
    if dsn:
        yield parse_dsn(dsn)
        return
    with data_directory_template():
        sandbox = start_sandbox(prefer="local", base_dir=server_base_dir())
    with sandbox:
        yield parse_dsn(sandbox.dsn)


@pytest.fixture(scope="session")
def shadow_settings(data_directory_template) -> ConnectionSettings:
    """A second private server, started once per session: the shadow that judges suggested indexes."""
    with data_directory_template():
        sandbox = start_sandbox(prefer="local", base_dir=server_base_dir())
    with sandbox:
        yield parse_dsn(sandbox.dsn)


@pytest.fixture
def server(server_settings):
    """An open root connection to the test server, closed after the test."""
    conn = connect(server_settings)
    yield conn
    conn.close()


@pytest.fixture
def scratch_db(server_settings):
    """A fresh database for one test, dropped afterwards; yields its settings."""
    import uuid
    from dataclasses import replace

    name = "qa_" + uuid.uuid4().hex[:10]
    with connect(server_settings, database="") as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    try:
        yield replace(server_settings, database=name)
    finally:
        # A new connection: a test may have killed every connection it found.
        with connect(server_settings, database="") as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def reference_file(name: str) -> Path:
    """A recorded MySQL 8 output from fixtures/mysql8 (see its SOURCES.md). A missing one is a failure,
    not a skip: the files ship with the repository."""
    path = REFERENCE / name
    assert path.exists(), f"recorded MySQL 8 output {path} is missing from the repository"
    return path


@pytest.fixture(scope="session")
def replica_pair(data_directory_template):
    """A private primary and its GTID replica (two local servers, loopback only), once per session.

    Tests that change data wait for the replica with `replica_pair.wait_for_replica()`."""
    from query_audit.sandbox.replication import start_replica_pair

    with data_directory_template():
        pair = start_replica_pair(base_dir=server_base_dir())
    with pair:
        yield pair


# ---------------------------------------------------------------------------------------------
# Helpers for tests that play an application: an endpoint, a general log file, the command line
# ---------------------------------------------------------------------------------------------


@contextmanager
def endpoint(run: Callable[[], None], path: str = "/"):
    """A tiny HTTP server whose every GET calls `run()` (an application's database work), then answers
    200; yields the URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            run()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        server.shutdown()
        server.server_close()


def write_general_log(path: Path, database: str, user: str, statements: list[str]) -> None:
    """A MariaDB general log file in which one connection of `user` on `database` sent `statements`."""
    lines = ["/usr/sbin/mariadbd, Version: 10.11.19-MariaDB (Debian). started with:",
             "Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock",
             "Time\t\t    Id Command\tArgument",
             f"261130 10:00:00\t     5 Connect\t{user}@localhost on {database} using TCP/IP"]
    lines += [f"\t\t     5 Query\t{sql}" for sql in statements]
    lines.append("\t\t     5 Quit\t")
    path.write_text("\n".join(lines) + "\n")


def run_cli(*args, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real command line in a child process, without the caller's QUERY_AUDIT_DSN and colours."""
    env = dict(env or os.environ, NO_COLOR="1")
    env.pop("QUERY_AUDIT_DSN", None)
    return subprocess.run([sys.executable, "-m", "query_audit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
