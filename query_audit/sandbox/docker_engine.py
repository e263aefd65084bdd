"""A throwaway MySQL 8 in a container, through the Docker SDK, where a Docker engine runs.

`container_spec()` decides everything the container gets (image, port binding on loopback only, the
empty root password, tmpfs data, labels) and is tested on its own; `start_docker()` hands it to the SDK.
"""

from __future__ import annotations

import time

from query_audit.errors import SandboxError
from query_audit.sandbox.info import SandboxInfo, wait_until_ready
from query_audit.sandbox.local import free_port

DEFAULT_IMAGE = "mysql:8.0"
LABEL = "query-audit.sandbox"


def container_spec(image: str = DEFAULT_IMAGE, host_port: int | None = None) -> dict:
    """Keyword arguments for `docker.containers.run`.

    Loopback-only port binding: an empty root password is safe only where nothing else can reach it.
    tmpfs data: the sandbox holds nothing worth keeping and starts faster without a volume.
    """
    return {
        "image": image,
        "detach": True,
        "auto_remove": False,
        "environment": {"MYSQL_ALLOW_EMPTY_PASSWORD": "yes", "MYSQL_DATABASE": "test"},
        "ports": {"3306/tcp": ("127.0.0.1", host_port or free_port())},
        "tmpfs": {"/var/lib/mysql": "rw"},
        "labels": {LABEL: "1"},
        "command": ["--skip-log-bin", "--general-log=0", "--log-output=FILE"],
    }


INSTALL_HINT = "the Docker SDK is not installed: pip install 'query-audit[docker]' (or: pip install docker)"


def sdk_installed() -> bool:
    try:
        import docker  # noqa: F401
    except ImportError:
        return False
    return True


def _docker():
    """The Docker SDK, imported only when a container is wanted (it is the optional `docker` extra)."""
    try:
        import docker
    except ImportError:
        raise SandboxError(INSTALL_HINT) from None
    return docker


def engine_available() -> bool:
    """True when the Docker SDK is importable and an engine answers a ping."""
    try:
        import docker
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:  # noqa: BLE001 (any failure to reach the engine means: no engine here)
        return False


def start_docker(image: str = DEFAULT_IMAGE, timeout: float = 180) -> SandboxInfo:
    docker = _docker()

    try:
        client = docker.from_env()
        spec = container_spec(image)
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            client.images.pull(image)
        container = client.containers.run(**spec)
    except docker.errors.DockerException as exc:
        raise SandboxError(f"starting the {image} container failed: {exc}") from None
    host, port = spec["ports"]["3306/tcp"]
    info = SandboxInfo(kind="docker", host=host, port=port, container_id=container.id,
                       flavor="mariadb" if image.startswith("mariadb") else "mysql")

    def alive() -> bool:
        try:
            container.reload()
        except docker.errors.NotFound:  # removed under us (docker rm): as dead as an exited one
            return False
        return container.status in ("created", "running")

    try:
        # The official image restarts mysqld once after initializing; wait for the final one.
        time.sleep(2)
        wait_until_ready(info, alive=alive, timeout=timeout)
    except BaseException:
        stop_docker(info)
        raise
    return info


def stop_docker(info: SandboxInfo) -> None:
    docker = _docker()

    if not info.container_id:  # a record without a container: nothing to remove
        return
    try:
        container = docker.from_env().containers.get(info.container_id)
        if container.labels.get(LABEL) != "1":  # a record naming someone else's container: never remove it
            raise SandboxError(f"container {info.container_id[:12]} is not a query-audit sandbox (no {LABEL} "
                               "label): refusing to remove it")
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.DockerException as exc:
        raise SandboxError(f"removing container {info.container_id[:12]} failed: {exc}") from None
