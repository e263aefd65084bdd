"""What causes the statements: HTTP requests to endpoints, or a command (a test suite, a script).

An HTTP error status is still a capture (a 500 often is the interesting one); a refused connection or a
timeout means nothing was exercised, and is an EndpointFailed.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from query_audit.errors import EndpointFailed, QueryAuditError
from query_audit.interrupts import signals_deferred


@dataclass(frozen=True)
class HttpRequest:
    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None

    def describe(self) -> str:
        return f"{self.method} {self.url}"


@dataclass(frozen=True)
class Outcome:
    """What one replay returned: an HTTP status, or a command's exit code."""

    what: str
    status: int
    seconds: float


def parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise QueryAuditError(f"invalid header {text!r}; expected 'Name: value'")
    return name.strip(), value.strip()


def read_data(data: str | None) -> bytes | None:
    """--data TEXT, or --data @file as curl reads it."""
    if data is None:
        return None
    if data.startswith("@"):
        path = Path(data[1:])
        try:
            return path.read_bytes()
        except OSError as exc:
            raise QueryAuditError(f"cannot read --data file {path}: {exc.strerror}") from None
    return data.encode()


def build_requests(endpoints: tuple[str, ...], method: str | None, headers: tuple[str, ...],
                   data: str | None) -> list[HttpRequest]:
    body = read_data(data)
    parsed_headers = tuple(parse_header(h) for h in headers)
    if body is not None and not any(name.lower() == "content-type" for name, _ in parsed_headers):
        stripped = body.lstrip()[:1]
        kind = "application/json" if stripped in (b"{", b"[") else "application/x-www-form-urlencoded"
        parsed_headers += (("Content-Type", kind),)
    requests = []
    for url in endpoints:
        if not url.startswith(("http://", "https://")):
            raise QueryAuditError(f"invalid endpoint {url!r}; expected an http:// or https:// URL")
        requests.append(HttpRequest(url, (method or ("POST" if body is not None else "GET")).upper(),
                                    parsed_headers, body))
    return requests


def send(request: HttpRequest, timeout: float) -> Outcome:
    started = time.monotonic()
    http_request = urllib.request.Request(request.url, data=request.body, method=request.method,
                                          headers=dict(request.headers))
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:  # an error status is an answer: the statements ran
        exc.read()
        status = exc.code
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise EndpointFailed(f"{request.describe()}: no answer within {timeout:g} s") from None
        raise EndpointFailed(f"{request.describe()}: {reason}") from None
    return Outcome(request.describe(), status, time.monotonic() - started)


def run_command(command: str, timeout: float | None) -> Outcome:
    """Run a command through the shell, its output passed through to our stderr (stdout is the report's).

    The command runs in a process group of its own, which is ended with it: when it finishes, times
    out, or the capture is interrupted (SIGINT, SIGTERM: the capture's handler raises in `wait`), so
    neither the shell's children nor a server it left in the background outlive the capture.
    """
    started = time.monotonic()
    process = None
    try:
        # Held while the child starts: a signal inside Popen (after the fork) would leave a command running
        # that this function never learnt of, holding our output pipes open. Deferred, not blocked: the
        # command would inherit the blocked mask and ignore the SIGTERM that _end_group sends it.
        with signals_deferred():
            process = subprocess.Popen(command, shell=True, stdout=_stderr_fd(), stdin=subprocess.DEVNULL,
                                       start_new_session=True, env=child_environment())
        returncode = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise EndpointFailed(f"command did not finish within {timeout:g} s: {shlex.quote(command)}") from None
    finally:
        if process is not None:
            _end_group(process)
    return Outcome(command, returncode, time.monotonic() - started)


def _end_group(process: subprocess.Popen, grace: float = 2.0) -> None:
    """SIGTERM to the command's process group; once the shell has ended (or after `grace` s), SIGKILL to
    whatever of the group is left; the shell is collected. (Not waiting for the group to be empty: an
    ended child stays a member, as a zombie, until init collects it.)"""
    if not hasattr(os, "killpg"):  # Windows: no process groups to signal
        if process.poll() is None:
            process.kill()
        process.wait()
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        process.wait()
        return  # the group is gone: the command ended and left nothing behind
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def child_environment(environ=None) -> dict:
    """Our environment minus QUERY_AUDIT_DSN: the command under capture has no business with our password."""
    from query_audit.connection import DSN_ENV

    environ = os.environ if environ is None else environ
    return {name: value for name, value in environ.items() if name != DSN_ENV}


def command_failure(outcome: Outcome) -> str | None:
    """Why a --run command counts as failed (a gate must not pass on it), or None when it exited 0."""
    status = outcome.status
    if status == 0:
        return None
    if status < 0:
        return f"the --run command was killed by signal {-status}"
    if status in (126, 127):  # the shell's answers for "not executable" and "not found"
        return f"the --run command could not start (the shell answered {status}: " \
               f"{'not executable' if status == 126 else 'command not found'})"
    return f"the --run command failed (exit status {status})"


def _stderr_fd() -> int | None:
    try:
        return sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):  # a captured stderr (tests) has no descriptor
        return subprocess.DEVNULL
