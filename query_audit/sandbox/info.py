"""The record of a running sandbox and the wait for it to answer: what every engine shares.

The engines (`local`, `docker_engine`) import this module, and `base` imports the engines to choose and stop
one; keeping the shared pieces here, apart from the choice, is what keeps the imports free of a circle.
"""

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
