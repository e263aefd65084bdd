"""What every sandbox is, which one this machine can start, and the record `sandbox up` keeps on disk."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from query_audit.errors import ConnectionFailed, SandboxError
from query_audit.identifiers import quote_identifier


@dataclass(frozen=True)
class SandboxInfo:
    """A running throwaway server. Root has no password; it listens on 127.0.0.1 only."""

    kind: str  # local | docker
    host: str
    port: int
    user: str = "root"
    database: str = "test"
    pid: int | None = None  # local server process
    container_id: str | None = None  # docker container
    directory: str | None = None  # local data directory (removed on stop)
    flavor: str = "mariadb"

    @property
    def dsn(self) -> str:
        return f"mysql://{self.user}@{self.host}:{self.port}/{self.database}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SandboxInfo:
        try:
            data = json.loads(text)
            info = cls(**data)
        except (ValueError, TypeError) as exc:
            raise SandboxError(f"the sandbox record is unreadable ({type(exc).__name__}); remove it") from None
        if not isinstance(info.port, int) or not (info.pid is None or isinstance(info.pid, int)):
            raise SandboxError("the sandbox record is unreadable (port and pid must be numbers); remove it")
        return info


class Sandbox:
    """A started sandbox: use as a context manager, or call stop(); stop() is idempotent."""

    def __init__(self, info: SandboxInfo):
        self.info = info
        self._stopped = False

    @property
    def dsn(self) -> str:
        return self.info.dsn

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        stop_sandbox(self.info)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_until_ready(info: SandboxInfo, alive: Callable[[], bool], log: Path | None = None,
                     timeout: float = 120) -> None:
    """Poll until the server accepts a login, then create the `test` database."""
    from query_audit.connection import ConnectionSettings, connect

    settings = ConnectionSettings(host=info.host, port=info.port, user=info.user, database="")
    deadline = time.monotonic() + timeout
    while True:
        if not alive():
            where = f"; see {log}" if log else ""
            raise SandboxError(f"the sandbox server exited during start-up{where}")
        try:
            conn = connect(settings, database="", read_timeout=10)
        except ConnectionFailed:
            if time.monotonic() > deadline:
                raise SandboxError(f"the sandbox server did not answer within {timeout:.0f} s") from None
            time.sleep(0.2)
            continue
        with conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(info.database)}")
        return


def which_engine(prefer: str = "auto") -> str:
    """'docker' when a Docker engine answers, else 'local' when server binaries exist.

    `prefer` is auto, docker or local. Raises SandboxError with the way to get one when neither is here.
    """
    from query_audit.sandbox import docker_engine, local

    if prefer in ("auto", "docker") and docker_engine.engine_available():
        return "docker"
    if prefer == "docker":
        if not docker_engine.sdk_installed():
            raise SandboxError(docker_engine.INSTALL_HINT)
        raise SandboxError("no Docker engine answers (is the daemon running, and DOCKER_HOST right?)")
    if local.local_server_binary():
        return "local"
    raise SandboxError(
        "no way to start a sandbox: neither a Docker engine nor local server binaries "
        "(install them with: apt-get install mariadb-server)"
    )


def start_sandbox(prefer: str = "auto", base_dir: str | None = None) -> Sandbox:
    from query_audit.sandbox import docker_engine, local

    engine = which_engine(prefer)
    info = docker_engine.start_docker() if engine == "docker" else local.start_local(base_dir)
    return Sandbox(info)


def stop_sandbox(info: SandboxInfo) -> None:
    from query_audit.sandbox import docker_engine, local

    if info.kind == "docker":
        docker_engine.stop_docker(info)
    else:
        local.stop_local(info)
