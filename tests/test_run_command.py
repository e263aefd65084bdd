"""`capture --run CMD`: the command runs in a process group of its own, ended with it, so that nothing
it started outlives the capture (a background server, the shell's children on a timeout)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from query_audit.capture.replay import run_command
from query_audit.errors import EndpointFailed

pytestmark = pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX")


def gone(pid: int, within: float = 5.0) -> bool:
    """Whether the process has ended (a zombie not yet collected by init counts as ended)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.02)
    return False


def background_pid(path: Path) -> int:
    deadline = time.monotonic() + 5
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, "the command never wrote its child's pid"
        time.sleep(0.01)
    return int(path.read_text())


def test_a_command_that_times_out_is_ended_with_its_children(tmp_path):
    pid_file = tmp_path / "pid"
    started = time.monotonic()
    with pytest.raises(EndpointFailed, match="did not finish within 0.5 s"):
        run_command(f"sleep 30 & echo $! > {pid_file}; wait", timeout=0.5)
    assert time.monotonic() - started < 10
    assert gone(background_pid(pid_file))


def test_the_command_gets_a_sigterm_it_can_act_on_before_any_sigkill(tmp_path):
    """The command starts with no signal blocked: its own trap runs on the capture's SIGTERM, at once, not
    after the grace period's SIGKILL."""
    said = tmp_path / "said"
    started = time.monotonic()
    with pytest.raises(EndpointFailed, match="did not finish within 0.5 s"):
        run_command(f"trap 'echo cleaned up > {said}; exit 0' TERM; sleep 30 & wait", timeout=0.5)
    assert said.read_text() == "cleaned up\n"
    assert time.monotonic() - started < 1.5  # the grace period (2 s) was not needed


def test_what_a_finished_command_left_running_is_ended(tmp_path):
    pid_file = tmp_path / "pid"
    outcome = run_command(f"sleep 30 & echo $! > {pid_file}; exit 3", timeout=None)
    assert outcome.status == 3
    assert gone(background_pid(pid_file))


def test_an_interrupt_while_waiting_ends_the_command(tmp_path):
    """A signal whose handler raises (as the capture's SIGINT/SIGTERM handler does) ends the group."""
    pid_file = tmp_path / "pid"

    def interrupt(*_):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(KeyboardInterrupt):
            run_command(f"sleep 30 & echo $! > {pid_file}; wait", timeout=60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert gone(background_pid(pid_file))


def test_a_signal_while_the_command_starts_still_ends_it(monkeypatch):
    """A Ctrl-C or SIGTERM that lands inside Popen, after the fork, must not leave a command running that
    run_command never learnt of (it would hold the capture's output pipes open)."""
    import subprocess

    from query_audit.capture import replay
    from query_audit.interrupts import Interrupted, signals_raise_interrupted

    real, started = subprocess.Popen, []

    def popen_then_signal(*args, **kwargs):
        process = real(*args, **kwargs)
        started.append(process)
        os.kill(os.getpid(), signal.SIGTERM)  # arrives before Popen has returned the process
        return process

    monkeypatch.setattr(replay.subprocess, "Popen", popen_then_signal)
    with pytest.raises(Interrupted), signals_raise_interrupted():
        run_command("sleep 30", timeout=60)
    [process] = started
    assert process.poll() is not None and gone(process.pid)
