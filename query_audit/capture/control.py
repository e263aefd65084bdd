"""What every live capture does the same way, whatever it reads the statements from afterwards:

- the tool's own control connection: one capture per server (an advisory lock), a reconnect when it is
  killed, and every thread id it had (the server records the tool's own statements too);
- the first step, putting back what an interrupted capture left changed;
- the replay, each request (or the command) between two readings of the server's clock: the windows.

`session.py` (general log), `ps_capture.py` (performance_schema, whose clock is the statement timer) and
`replicated.py` (one control connection per server) build on these; none of them imports another.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pymysql
from pymysql.constants import CR

from query_audit.capture.log_settings import connect_with_retry, restore_from_state, state_path
from query_audit.capture.plan import CapturePlan
from query_audit.capture.replay import Outcome, command_failure, run_command, send
from query_audit.connection import ConnectionSettings, connect, detect_server
from query_audit.driver import CONNECTION_KILLED, NO_CODE, error_code
from query_audit.errors import EndpointFailed, QueryAuditError
from query_audit.model import ServerInfo

# Worth one reconnect: gone away / lost during a query / killed (MariaDB), or no code at all (PyMySQL's
# InterfaceError on a closed socket). Narrower than driver.SERVER_LOST (no 2055) on purpose: unchanged.
LOST_CONNECTION = {NO_CODE, CR.CR_SERVER_GONE_ERROR, CR.CR_SERVER_LOST, CONNECTION_KILLED}
CAPTURE_LOCK = "query_audit_capture"  # a server-wide advisory lock (GET_LOCK): one capture per server


class CaptureBusy(QueryAuditError):
    """Another capture holds the server's capture lock; nothing was changed."""


@dataclass
class Window:
    """One request's span on the server's clock (a datetime, or ps_capture's Edge)."""

    request: int | None  # None for a --run command: its connections are the units
    start: datetime
    end: datetime | None = None


class ControlConnection:
    """The tool's own connection. If it is killed mid-capture it reconnects, and remembers every
    thread id it had, because the server logs the tool's own statements too."""

    def __init__(self, settings: ConnectionSettings):
        self.settings = settings
        self.thread_ids: set[int] = set()
        self.conn = None
        self._open()

    def _open(self) -> None:
        self.conn = connect_with_retry(self.settings) if self.thread_ids else connect(self.settings)
        with self.conn.cursor() as cur:
            # event_time comes back in the session time zone; the windows must be in the same one.
            cur.execute("SET time_zone = '+00:00'")
            cur.execute("SELECT CONNECTION_ID()")
            self.thread_ids.add(int(cur.fetchone()[0]))
            # Two captures of one server would each read the other's statements and restore each other's
            # settings: the lock, held by this connection, lets one run at a time (the server frees it when
            # it sees the connection of a dead process close: a moment after the kill, not at once).
            cur.execute("SELECT GET_LOCK(%s, 0)", (CAPTURE_LOCK,))
            if cur.fetchone()[0] != 1:
                self.close()
                raise CaptureBusy(f"another query-audit capture is running on {self.settings.address} (it holds "
                                  f"the lock {CAPTURE_LOCK!r}); wait for it to end and try again")

    def run(self, action):
        """Run `action(conn)`, reconnecting once if the connection was lost or killed."""
        try:
            return action(self.conn)
        except (pymysql.err.OperationalError, pymysql.err.InterfaceError) as exc:
            if (error_code(exc) or NO_CODE) not in LOST_CONNECTION:
                raise
            self.close()
            self._open()
            return action(self.conn)

    def now(self) -> datetime:
        def query(conn):
            with conn.cursor() as cur:
                cur.execute("SELECT NOW(6)")
                return cur.fetchone()[0]

        return self.run(query)

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # closing a dead connection may fail; there is nothing left to do with it
            pass


@dataclass(frozen=True)
class Opened:
    """A capture's first step done: its control connection (holding the lock), the server it talks to, its
    state file, and the notes so far (an interrupted capture's leftovers put back)."""

    control: ControlConnection
    server: ServerInfo
    state_file: Path
    notes: list[str] = field(default_factory=list)


@contextmanager
def opened_capture(settings: ConnectionSettings, control_type: type[ControlConnection] = ControlConnection,
                   ) -> Iterator[Opened]:
    """Open the control connection, name the server, restore what an interrupted capture left; the
    connection closes (freeing the capture lock) when the block ends, whichever way."""
    control = control_type(settings)
    try:
        path = state_path(settings)
        server = detect_server(control.conn)
        yield Opened(control, server, path, restore_stale_state(settings, path))
    finally:
        control.close()


def restore_stale_state(settings: ConnectionSettings, path) -> list[str]:
    """Put back what an interrupted capture left changed, before anything else; a note saying so."""
    stale = restore_from_state(settings, path)  # the values really put back: never more logging
    if stale is None:
        return []
    return [f"a state file from an interrupted capture (pid {stale.pid}, {stale.started_at}) was found; "
            f"{stale.describe()} were restored first"]


def replay_in_windows(control: ControlConnection, plan: CapturePlan, progress) -> tuple[list[Window], list[Outcome]]:
    """Send the plan's requests (or run its command), each between two readings of `control.now()`."""
    windows: list[Window] = []
    outcomes: list[Outcome] = []
    if plan.command is not None:
        window = Window(None, control.now())
        outcomes.append(run_command(plan.command, plan.timeout))
        failure = command_failure(outcomes[-1])
        if failure:  # its statements may be half of what it sends: no report, and never a passing gate
            raise EndpointFailed(f"{failure}: {plan.command}; nothing was analyzed")
        window.end = control.now()
        return [window], outcomes
    total = plan.repeat * len(plan.requests)
    for _ in range(plan.repeat):
        for request in plan.requests:
            window = Window(len(windows) + 1, control.now())
            outcomes.append(send(request, plan.timeout))
            window.end = control.now()
            windows.append(window)
            progress("replaying requests", len(windows), total)
    return windows, outcomes
