"""A private server from the binaries installed on this machine: mariadbd (or MySQL's mysqld).

It gets its own data directory and a free port on 127.0.0.1, so it never touches a server that is
already running; root has no password and listens on loopback only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from query_audit.errors import SandboxError
from query_audit.sandbox.info import SandboxInfo, wait_until_ready

SERVER_BINARIES = ("mariadbd", "mysqld")
# Per-statement timings of a capture come from performance_schema (query_audit/capture/timings.py).
# MariaDB has it off unless enabled at start; the history_long consumer is off by default on both
# servers, and it records nothing unless events_statements_current (off on MariaDB) is on too.
# 10,000 rows hold a request of a few thousand statements; MySQL 8's mysqld takes the same options.
PERFORMANCE_SCHEMA_OPTIONS = (
    "--performance-schema=ON",
    "--performance-schema-consumer-events-statements-current=ON",
    "--performance-schema-consumer-events-statements-history-long=ON",
    "--performance-schema-events-statements-history-long-size=10000",
)
DIRECTORY_PREFIX = "query-audit-sandbox-"
MARKER = ".query-audit-sandbox"  # written into each sandbox directory: `down` deletes only what has it
# Debian puts server binaries in /usr/sbin, which is not on every user's PATH.
EXTRA_PATHS = ("/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin")


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in EXTRA_PATHS:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def local_server_binary() -> str | None:
    for name in SERVER_BINARIES:
        path = find_binary(name)
        if path:
            return path
    return None


def is_mariadb(server_binary: str) -> bool:
    if Path(server_binary).name == "mariadbd":
        return True
    try:
        out = subprocess.run([server_binary, "--version"], check=False, capture_output=True, text=True,
                             timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "mariadb" in out.lower()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _initialize(server_binary: str, datadir: Path, log: Path) -> None:
    # A private tmpdir: bootstraps running at once (a replica pair, other test sessions) otherwise share
    # /tmp and remove each other's temporary tables (seen here: ERROR 1051 Unknown table 'mysql.tmp_...').
    tmpdir = datadir.parent / "tmp"
    tmpdir.mkdir(exist_ok=True)
    if is_mariadb(server_binary):
        install = find_binary("mariadb-install-db") or find_binary("mysql_install_db")
        if not install:
            raise SandboxError("mariadbd is installed but mariadb-install-db is not; install mariadb-server")
        command = [install, "--no-defaults", f"--datadir={datadir}", f"--tmpdir={tmpdir}",
                   "--auth-root-authentication-method=normal",
                   "--skip-test-db", "--skip-name-resolve"]
    else:
        command = [server_binary, "--no-defaults", "--initialize-insecure", f"--datadir={datadir}",
                   f"--tmpdir={tmpdir}"]
    if os.geteuid() == 0:
        command.append("--user=root")
    with open(log, "ab") as out:
        result = subprocess.run(command, check=False, stdout=out, stderr=subprocess.STDOUT, timeout=300)
    if result.returncode != 0:
        raise SandboxError(f"initializing the sandbox data directory failed; see {log}")


def start_local(base_dir: str | None = None, port: int | None = None,
                server_options: tuple[str, ...] = ("--skip-log-bin",)) -> SandboxInfo:
    """Initialize a data directory, start the server on a free port, wait until it answers.

    `server_options` replace the default `--skip-log-bin` (a replication primary needs its binlog)."""
    server_binary = local_server_binary()
    if not server_binary:
        raise SandboxError("no local server binary (mariadbd or mysqld) found")
    root = Path(tempfile.mkdtemp(prefix=DIRECTORY_PREFIX, dir=base_dir))  # 0700
    (root / MARKER).write_text("a query-audit sandbox: `query-audit sandbox down` deletes this directory\n")
    datadir = root / "data"
    log = root / "server.log"
    sock = root / "mysqld.sock"
    port = port or free_port()
    try:
        _initialize(server_binary, datadir, log)
        command = [
            server_binary, "--no-defaults", f"--datadir={datadir}", f"--port={port}", "--bind-address=127.0.0.1",
            f"--socket={sock}", f"--pid-file={root / 'mysqld.pid'}", f"--log-error={log}", f"--tmpdir={root / 'tmp'}",
            *server_options, "--innodb-buffer-pool-size=128M", "--max-connections=200",
            # Tests and the demo toggle these; start from the server defaults the users have.
            "--general-log=0", "--log-output=FILE", f"--general-log-file={root / 'general.log'}",
            *PERFORMANCE_SCHEMA_OPTIONS,
        ]
        if os.geteuid() == 0:
            command.append("--user=root")
        with open(os.devnull, "rb") as devnull:
            process = subprocess.Popen(command, stdin=devnull, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True)
        info = SandboxInfo(kind="local", host="127.0.0.1", port=port, user="root", pid=process.pid,
                           directory=str(root), flavor="mariadb" if is_mariadb(server_binary) else "mysql")
        wait_until_ready(info, alive=lambda: process.poll() is None, log=log)
        return info
    except BaseException:
        _kill(locals().get("process"))
        shutil.rmtree(root, ignore_errors=True)
        raise


def _kill(process) -> None:
    if process is not None and process.poll() is None:
        process.kill()
        process.wait(10)


def stop_local(info: SandboxInfo, timeout: float = 30) -> None:
    """Stop the server (TERM, then KILL) and remove its directory.

    A record may have been planted or be stale, so only a directory this code created (its name, the
    marker file, the user's own, not a link) is deleted, and only a server of that data directory is
    signalled: never whatever process now has the pid.
    """
    root = sandbox_directory(info)
    if info.pid and is_server_of(info.pid, root):
        try:
            os.kill(info.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and _alive(info.pid):
                time.sleep(0.05)
            if _alive(info.pid):
                os.kill(info.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(root, ignore_errors=True)


def sandbox_directory(info: SandboxInfo) -> Path:
    """The record's directory if it is a sandbox directory of this user's; SandboxError otherwise."""
    import stat

    root = Path(info.directory or "")
    try:
        own = os.lstat(root)
        marker = os.lstat(root / MARKER)
    except (OSError, ValueError):
        own = marker = None
    if (not info.directory or own is None or not root.name.startswith(DIRECTORY_PREFIX)
            or not stat.S_ISDIR(own.st_mode) or own.st_uid != os.geteuid()
            or not stat.S_ISREG(marker.st_mode) or marker.st_uid != os.geteuid()):
        raise SandboxError(f"{info.directory!r} is not a sandbox directory of yours (no {MARKER} marker, or not "
                           "owned by you): refusing to stop a process or delete anything; remove the record")
    return root


def is_server_of(pid: int, root: Path) -> bool:
    """True if `pid` is a mariadbd/mysqld serving `root`'s data directory (read from /proc)."""
    try:
        args = Path(f"/proc/{int(pid)}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return False
    binary = os.fsdecode(args[0]).rsplit("/", 1)[-1] if args and args[0] else ""
    return binary in SERVER_BINARIES and os.fsencode(f"--datadir={root / 'data'}") in args


def _alive(pid: int) -> bool:
    try:
        # Reap it if it is our child, so a zombie does not look alive.
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
