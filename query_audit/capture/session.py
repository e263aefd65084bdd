"""One capture, start to end: switch the general log on, replay, read what it logged, put it back.

The order is the safety argument:
1. read the current settings and prove we may change them (nothing changed yet if not);
2. write the state file, then change the settings (a kill after this leaves what `restore` needs);
3. replay, reading the server's clock (NOW(6), UTC) around each request: those are the windows;
4. read the log once, dropping the tool's own connections and whatever fell outside the windows, and
   performance_schema's statement history once, for each statement's timings (`timings.py`);
5. put the settings back and delete the state file, on every path out of step 2, signals included.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

import pymysql
from pymysql.constants import CR

from query_audit.capture.general_log_table import read_log_rows, utc_iso
from query_audit.capture.log_settings import (
    LogSettings,
    apply_log_settings,
    check_can_capture,
    connect_with_retry,
    read_log_settings,
    restore_from_state,
    state_path,
    write_state,
)
from query_audit.capture.noise import NoiseFilter
from query_audit.capture.replay import HttpRequest, Outcome, command_failure, run_command, send
from query_audit.capture.statements import StatementExtractor
from query_audit.capture.timings import attach_timings, read_statement_history
from query_audit.connection import ConnectionSettings, connect, detect_server
from query_audit.driver import CONNECTION_KILLED, NO_CODE, error_code, error_text
from query_audit.errors import EndpointFailed, QueryAuditError
from query_audit.interrupts import Interrupted, signals_blocked, signals_raise_interrupted  # noqa: F401
from query_audit.model import ServerInfo, SourceInfo, Statement

# Worth one reconnect: gone away / lost during a query / killed (MariaDB), or no code at all (PyMySQL's
# InterfaceError on a closed socket). Narrower than driver.SERVER_LOST (no 2055) on purpose: unchanged.
LOST_CONNECTION = {NO_CODE, CR.CR_SERVER_GONE_ERROR, CR.CR_SERVER_LOST, CONNECTION_KILLED}
CAPTURE_LOCK = "query_audit_capture"  # a server-wide advisory lock (GET_LOCK): one capture per server


class CaptureBusy(QueryAuditError):
    """Another capture holds the server's capture lock; nothing was changed."""


@dataclass(frozen=True)
class CapturePlan:
    """What to replay and what to keep. Either `requests` (repeated `repeat` times) or `command`."""

    requests: tuple[HttpRequest, ...] = ()
    command: str | None = None
    repeat: int = 1
    timeout: float = 30.0
    client_user: str | None = None
    keep_noise: bool = False
    noise: NoiseFilter | None = None
    source: str = "general-log"  # or "performance-schema" (capture/ps_capture.py)


@dataclass(frozen=True)
class CaptureResult:
    statements: tuple[Statement, ...]
    source: SourceInfo
    server: ServerInfo
    noise_dropped: int
    outcomes: tuple[Outcome, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    skipped_lines: int = 0  # log rows are never malformed in a table; kept for the pipeline's stream shape

    def digest_into(self, digest, progress=None) -> None:
        for statement in self.statements:
            digest.add(statement)


@dataclass
class _Window:
    request: int | None  # None for a --run command: its connections are the units
    start: datetime
    end: datetime | None = None


class _ControlConnection:
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
            # settings: the lock, held by this connection, lets one run at a time (the server frees it if
            # the process dies).
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


def run_capture(settings: ConnectionSettings, plan: CapturePlan, progress=None) -> CaptureResult:
    if plan.source == "performance-schema":
        from query_audit.capture.ps_capture import run_ps_capture

        return run_ps_capture(settings, plan, progress)
    progress = progress or (lambda stage, done, total: None)
    notes: list[str] = []
    path = state_path(settings)
    control = _ControlConnection(settings)
    try:
        server = detect_server(control.conn)
        notes.extend(restore_stale_state(settings, path))
        previous = read_log_settings(control.conn)
        check_can_capture(control.conn, server.flavor, previous)
        with signals_raise_interrupted():
            changed = False
            try:
                if not previous.logs_to_table:
                    write_state(path, settings, previous)
                    changed = True
                    apply_log_settings(control.conn, previous.with_table_output())
                else:
                    notes.append("the general log was already on with TABLE output: nothing was changed")
                windows, outcomes = _replay(control, plan, progress)
                rows, history = _read_what_was_logged(control, windows[0].start)
            finally:
                if changed:
                    with signals_blocked():
                        _restore(settings, previous)
                        path.unlink(missing_ok=True)
    finally:
        control.close()  # only now: closing it frees the capture lock

    statements, noise_dropped, outside = _statements_in_windows(rows, windows, control.thread_ids, plan, settings)
    statements, timings_note = attach_timings(statements, history)
    notes.append(timings_note)
    if outside:
        notes.append(f"{outside} statements of other connections ran outside the request windows and were left out")
    source = SourceInfo(
        kind="capture",
        endpoints=tuple(request.describe() for request in plan.requests),
        command=plan.command,
        window_start=utc_iso(windows[0].start),
        window_end=utc_iso(windows[-1].end),
        requests=len(windows) if plan.command is None else 1,
        via="general_log",
    )
    return CaptureResult(tuple(statements), source, server, noise_dropped, tuple(outcomes), tuple(notes))


def restore_stale_state(settings: ConnectionSettings, path) -> list[str]:
    """Put back what an interrupted capture left changed, before anything else; a note saying so."""
    stale = restore_from_state(settings, path)  # the values really put back: never more logging
    if stale is None:
        return []
    return [f"a state file from an interrupted capture (pid {stale.pid}, {stale.started_at}) was found; "
            f"{stale.describe()} were restored first"]


def _replay(control: _ControlConnection, plan: CapturePlan, progress) -> tuple[list[_Window], list[Outcome]]:
    windows: list[_Window] = []
    outcomes: list[Outcome] = []
    if plan.command is not None:
        window = _Window(None, control.now())
        outcomes.append(run_command(plan.command, plan.timeout))
        failure = command_failure(outcomes[-1])
        if failure:  # its statements may be half of what it sends: no report, and never a passing gate
            raise EndpointFailed(f"{failure}: {plan.command}; nothing was analyzed")
        window.end = control.now()
        return [window], outcomes
    total = plan.repeat * len(plan.requests)
    for _ in range(plan.repeat):
        for request in plan.requests:
            window = _Window(len(windows) + 1, control.now())
            outcomes.append(send(request, plan.timeout))
            window.end = control.now()
            windows.append(window)
            progress("replaying requests", len(windows), total)
    return windows, outcomes


def _read_what_was_logged(control: _ControlConnection, since: datetime) -> tuple[list, object]:
    """The log rows and the statement history, once each; a refused or killed read is one line (the
    settings are restored by the caller before it surfaces)."""
    try:
        rows = control.run(lambda conn: list(read_log_rows(conn, since)))
        # Only reads; the control connection must still be open, its first NOW(6) marks the start.
        history = control.run(lambda conn: read_statement_history(conn, control.thread_ids))
    except pymysql.err.MySQLError as exc:
        code = error_code(exc)
        detail = error_text(exc) or type(exc).__name__
        raise QueryAuditError(f"reading what the server logged failed (error {code}: {detail}); the log "
                              "settings were restored") from None
    return rows, history


def _restore(settings: ConnectionSettings, previous: LogSettings) -> None:
    """Put the settings back on a new connection: the control connection may be out of step (a signal
    inside one of its reads) or killed, and restoring must not depend on it."""
    conn = connect_with_retry(settings)
    try:
        apply_log_settings(conn, previous)
        restored = read_log_settings(conn)
    finally:
        conn.close()
    if restored != previous:
        raise QueryAuditError(f"could not restore general_log/log_output on {settings.describe()}; "
                              "run `query-audit restore`")


def _statements_in_windows(rows, windows: list[_Window], own_threads: set[int], plan: CapturePlan,
                           settings: ConnectionSettings) -> tuple[list[Statement], int, int]:
    """Log rows to statements; each keeps the request whose window holds it. Rows of other connections
    between or after the windows are someone else's traffic: counted, then left out."""
    extractor = StatementExtractor(noise=plan.noise, keep_noise=plan.keep_noise, exclude_threads=own_threads,
                                   users=[plan.client_user] if plan.client_user else None)
    statements: list[Statement] = []
    outside = 0
    for event_time, row in rows:
        # Every row goes through the extractor, so Connect/Init DB rows keep each thread's database right.
        statement = extractor.feed(row)
        if statement is None:
            continue
        window = next((w for w in windows if w.start <= event_time <= w.end), None)
        if window is None:
            outside += 1
            continue
        if statement.database is None and settings.database:
            # A pooled connection opened before the log was on: its database is the DSN's, most likely.
            statement = replace(statement, database=settings.database)
        statements.append(replace(statement, request=window.request))
    return statements, extractor.noise_dropped, outside
