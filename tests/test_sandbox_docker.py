"""The Docker sandbox path, without a Docker engine: what it asks Docker for, and what it decides.

No fake engine: the container spec is checked as data and as the Docker SDK turns it into the create
request; "no engine" is this machine's real state (or a DOCKER_HOST where nothing listens).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from query_audit.errors import SandboxError
from query_audit.sandbox import docker_engine
from query_audit.sandbox.base import SandboxInfo, which_engine
from query_audit.sandbox.local import free_port, local_server_binary

# docker-py reads DOCKER_HOST or else this socket (it ignores docker contexts).
NO_ENGINE_HERE = not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists()
needs_no_engine = pytest.mark.skipif(not NO_ENGINE_HERE, reason="a Docker engine may be configured here")


def create_request(spec: dict) -> dict:
    """The create-container payload the Docker SDK builds from `containers.run(**spec)` (no engine needed)."""
    from docker.models.containers import _create_container_args

    kwargs = {key: value for key, value in spec.items() if key != "detach"}  # run() consumes detach itself
    return _create_container_args(dict(kwargs, version="1.43"))


def test_container_spec_publishes_the_server_port_on_loopback_only():
    spec = docker_engine.container_spec(host_port=43306)
    assert spec["ports"] == {"3306/tcp": ("127.0.0.1", 43306)}
    assert create_request(spec)["host_config"]["PortBindings"] == {
        "3306/tcp": [{"HostIp": "127.0.0.1", "HostPort": "43306"}]}


def test_container_spec_picks_a_free_loopback_port_when_none_is_given():
    host, port = docker_engine.container_spec()["ports"]["3306/tcp"]
    assert host == "127.0.0.1" and port != 3306
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # free: nothing else holds it


def test_container_spec_gives_root_an_empty_password_and_sets_no_password_anywhere():
    environment = docker_engine.container_spec(host_port=43306)["environment"]
    assert environment == {"MYSQL_ALLOW_EMPTY_PASSWORD": "yes", "MYSQL_DATABASE": "test"}
    assert "MYSQL_ROOT_PASSWORD" not in environment and "MYSQL_RANDOM_ROOT_PASSWORD" not in environment


def test_container_spec_keeps_the_data_in_tmpfs_and_labels_the_container():
    spec = docker_engine.container_spec(host_port=43306)
    request = create_request(spec)
    assert request["host_config"]["Tmpfs"] == {"/var/lib/mysql": "rw"}
    assert "Binds" not in request["host_config"]  # no volume: nothing survives the sandbox
    assert request["labels"] == {"query-audit.sandbox": "1"} == {docker_engine.LABEL: "1"}


def test_container_spec_runs_mysql_8_detached_with_the_general_log_off_by_default():
    spec = docker_engine.container_spec(host_port=43306)
    assert (spec["image"], spec["detach"]) == ("mysql:8.0", True)
    assert {"--general-log=0", "--log-output=FILE", "--skip-log-bin"} <= set(spec["command"])
    assert docker_engine.container_spec("mysql:8.4", host_port=43306)["image"] == "mysql:8.4"


@needs_no_engine
def test_engine_available_is_false_on_this_machine_which_has_no_docker_engine():
    assert docker_engine.engine_available() is False


def test_engine_available_is_false_when_docker_host_names_a_port_where_nothing_listens(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    assert docker_engine.engine_available() is False


def test_engine_available_is_false_without_the_docker_sdk(monkeypatch):
    monkeypatch.setitem(sys.modules, "docker", None)  # makes `import docker` raise ImportError
    assert docker_engine.engine_available() is False


def test_without_the_docker_extra_a_docker_sandbox_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "docker", None)  # makes `import docker` raise ImportError
    with pytest.raises(SandboxError, match=r"pip install 'query-audit\[docker\]'"):
        which_engine("docker")
    with pytest.raises(SandboxError, match=r"pip install 'query-audit\[docker\]'"):
        docker_engine.start_docker()


def test_the_cli_says_how_to_install_the_docker_extra_in_one_line(monkeypatch, tmp_path, capsys):
    from query_audit.cli import main

    monkeypatch.setitem(sys.modules, "docker", None)
    monkeypatch.setenv("QUERY_AUDIT_STATE_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exited:
        main(["sandbox", "up", "--engine", "docker"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == ("query-audit: the Docker SDK is not installed: pip install "
                                       "'query-audit[docker]' (or: pip install docker)\n")


@needs_no_engine
def test_which_engine_docker_without_an_engine_raises_a_sandbox_error_that_says_what_to_check():
    with pytest.raises(SandboxError, match=r"no Docker engine answers \(is the daemon running, and DOCKER_HOST"):
        which_engine("docker")


@needs_no_engine
@pytest.mark.skipif(local_server_binary() is None, reason="no local server binary")
def test_which_engine_auto_falls_back_to_the_local_server_binaries():
    assert which_engine("auto") == "local"


def test_stop_docker_without_a_reachable_engine_raises_one_line_naming_the_container(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    info = SandboxInfo(kind="docker", host="127.0.0.1", port=43306, container_id="0123456789abcdef" * 4)
    with pytest.raises(SandboxError, match=r"^removing container 0123456789ab failed: ") as raised:
        docker_engine.stop_docker(info)
    assert "\n" not in str(raised.value)


def test_stop_docker_of_a_record_without_a_container_does_nothing(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    docker_engine.stop_docker(SandboxInfo(kind="docker", host="127.0.0.1", port=43306))
