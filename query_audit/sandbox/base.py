"""Which sandbox this machine can start, starting and stopping it; the `Sandbox` handle.

The record `sandbox up` keeps on disk (`SandboxInfo`) and the readiness wait live in `info`, which the
engines import; they are re-exported here, where callers have always found them.
"""

from __future__ import annotations

from query_audit.errors import SandboxError
from query_audit.sandbox import docker_engine, local
from query_audit.sandbox.info import SandboxInfo, wait_until_ready

__all__ = ["Sandbox", "SandboxInfo", "start_sandbox", "stop_sandbox", "wait_until_ready", "which_engine"]


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


def which_engine(prefer: str = "auto") -> str:
    """'docker' when a Docker engine answers, else 'local' when server binaries exist.

    `prefer` is auto, docker or local. Raises SandboxError with the way to get one when neither is here.
    """
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
    engine = which_engine(prefer)
    info = docker_engine.start_docker() if engine == "docker" else local.start_local(base_dir)
    return Sandbox(info)


def stop_sandbox(info: SandboxInfo) -> None:
    if info.kind == "docker":
        docker_engine.stop_docker(info)
    else:
        local.stop_local(info)
