"""`capture --source performance-schema`: what endpoints send, read from performance_schema's statement
history instead of the general log (which needs SUPER, and costs every client a write per statement).

The order is session.py's safety argument, with the consumers in place of the log settings:
1. read the consumers (and, with --client-user, setup_actors and the open connections' flags) and
   prove we may change them; nothing is changed if not (exit 2, saying what to enable);
2. write the state file, then switch the history on (only what is off);
3. replay; each window edge is the server's own statement timer (`TIMER_START` of the tool's reading in
   events_statements_current, picoseconds, the unit of the history), read together with NOW(6) for
   the report's times. Meanwhile a second connection keeps reading prepared_statements_instances: on
   MariaDB 10.11 an execution of a server-side prepared statement has SQL_TEXT NULL, and the text lives
   only there, and only until the client closes the statement;
4. read the history once: events per THREAD_ID in EVENT_ID order, joined with `threads` for the
   processlist id and user, the tool's own threads dropped, each event kept in the window that holds it;
5. put the consumers back and delete the state file, on every path out of step 2.

The events become the same Statement records the general log gives (`ps_events.py`), so every rule works
unchanged; they carry their timings, rows and NO_INDEX_USED flags too.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import NamedTuple

import pymysql

from query_audit.capture.control import ControlConnection, opened_capture, replay_in_windows
from query_audit.capture.general_log_table import as_text
from query_audit.capture.log_settings import connect_with_retry, write_state
from query_audit.capture.plan import CapturePlan, CaptureResult
from query_audit.capture.ps_events import HistoryEvent, events_to_statements, read_history, with_known_threads
from query_audit.capture.ps_settings import (
    PsSettings,
    apply_ps_settings,
    check_can_change,
    plan_change,
    read_ps_settings,
    restored_matches,
    state_to_save,
)
from query_audit.connection import ConnectionSettings, connect
from query_audit.driver import error_code
from query_audit.errors import QueryAuditError
from query_audit.interrupts import signals_blocked, signals_raise_interrupted

SOURCE_NAME = "performance-schema"
CLOCK_QUERY = ("SELECT NOW(6), s.TIMER_START FROM performance_schema.events_statements_current AS s "
               "JOIN performance_schema.threads AS t ON t.THREAD_ID = s.THREAD_ID "
               "WHERE t.PROCESSLIST_ID = CONNECTION_ID()")
PREPARED_QUERY = ("SELECT OWNER_THREAD_ID, OWNER_EVENT_ID, STATEMENT_NAME, SQL_TEXT "
                  "FROM performance_schema.prepared_statements_instances WHERE OWNER_OBJECT_TYPE IS NULL")
THREADS_QUERY = ("SELECT THREAD_ID, PROCESSLIST_ID, PROCESSLIST_USER, PROCESSLIST_HOST FROM performance_schema.threads "
                 "WHERE TYPE = 'FOREGROUND' AND PROCESSLIST_ID IS NOT NULL")
STATEMENTS_SO_FAR = "SELECT SUM(COUNT_STAR) FROM performance_schema.events_statements_summary_global_by_event_name"


class Edge(NamedTuple):
    """One reading of the server's clocks: wall time (UTC) and the statement timer (picoseconds)."""

    wall: datetime
    timer: int

    def wall_at(self, timer: int) -> datetime:
        return self.wall + timedelta(microseconds=(timer - self.timer) / 1e6)


class _TimerControl(ControlConnection):
    """The control connection, whose `now()` is an Edge; it remembers its performance_schema THREAD_IDs
    (a killed connection's events stay in the history with no processlist id)."""

    def __init__(self, settings: ConnectionSettings):
        self.ps_threads: set[int] = set()
        super().__init__(settings)

    def _open(self) -> None:
        super()._open()
        with self.conn.cursor() as cur:
            cur.execute("SELECT THREAD_ID FROM performance_schema.threads WHERE PROCESSLIST_ID = CONNECTION_ID()")
            row = cur.fetchone()
            if row:
                self.ps_threads.add(int(row[0]))

    def now(self) -> Edge:
        return self.run(_read_clock)


def _read_clock(conn) -> Edge:
    with conn.cursor() as cur:
        cur.execute(CLOCK_QUERY)
        row = cur.fetchone()
        if row is None or row[1] is None:
            # This connection is not instrumented (setup_actors): instrument it, it is our own.
            cur.execute("UPDATE performance_schema.threads SET INSTRUMENTED = 'YES' "
                        "WHERE PROCESSLIST_ID = CONNECTION_ID()")
            cur.execute(CLOCK_QUERY)
            row = cur.fetchone()
        if row is None or row[1] is None:
            raise QueryAuditError("cannot read the server's statement timer: this account's connection is not "
                                  "instrumented (performance_schema.setup_actors) and may not be")
    return Edge(row[0], int(row[1]))


class _Watcher:
    """Keeps reading, on its own connection while the replay runs, what performance_schema forgets:

    texts[(THREAD_ID, OWNER_EVENT_ID)] = (STATEMENT_NAME, SQL_TEXT) from prepared_statements_instances
    (OWNER_EVENT_ID is the EVENT_ID of the statement that prepared it), and threads[THREAD_ID] =
    (PROCESSLIST_ID, USER, HOST), gone from `threads` once a connection closes. A statement prepared and
    closed (or a connection opened and closed) between two readings is missed.
    """

    def __init__(self, settings: ConnectionSettings):
        self.texts: dict[tuple[int, int], tuple[str | None, str]] = {}
        self.threads: dict[int, tuple[int, str | None, str | None]] = {}
        self.failed: str | None = None
        self.connection_ids: set[int] = set()
        self.ps_threads: set[int] = set()
        self._conn = connect(settings)
        with self._conn.cursor() as cur:
            cur.execute("SELECT CONNECTION_ID(), (SELECT THREAD_ID FROM performance_schema.threads "
                        "WHERE PROCESSLIST_ID = CONNECTION_ID())")
            connection_id, thread_id = cur.fetchone()
        self.connection_ids.add(int(connection_id))
        if thread_id is not None:
            self.ps_threads.add(int(thread_id))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="query-audit-prepared-texts", daemon=True)

    def __enter__(self) -> _Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)
        if self.failed is None:
            self._read_once()  # statements still open at the end (a driver's statement cache)
        try:
            self._conn.close()
        except Exception:  # a killed connection may fail to close; nothing is left to do with it
            pass

    def _loop(self) -> None:
        # As often as the round trips allow: a driver that prepares, executes and closes a statement
        # keeps it for a millisecond or two. Connections live longer: every 8th reading is enough.
        readings = 0
        while not self._stop.is_set() and self.failed is None:
            self._read_once(with_threads=readings % 8 == 0)
            readings += 1

    def _read_once(self, with_threads: bool = True) -> None:
        try:
            with self._conn.cursor() as cur:
                cur.execute(PREPARED_QUERY)
                for thread_id, event_id, name, text in cur.fetchall():
                    if as_text(text).strip():  # a statement still being prepared shows an empty text
                        self.texts[(int(thread_id), int(event_id))] = (as_text(name) if name else None,
                                                                       as_text(text))
                if not with_threads:
                    return
                cur.execute(THREADS_QUERY)
                for thread_id, connection_id, user, host in cur.fetchall():
                    self.threads[int(thread_id)] = (int(connection_id), as_text(user) or None, as_text(host) or None)
        except pymysql.err.MySQLError as exc:
            code = error_code(exc)
            self.failed = f"watching prepared statements and connections stopped ({exc if code is None else code})"


def run_ps_capture(settings: ConnectionSettings, plan: CapturePlan, progress=None) -> CaptureResult:
    progress = progress or (lambda stage, done, total: None)
    with opened_capture(settings, _TimerControl) as opened:  # closing the control connection frees the lock
        control, server, notes = opened.control, opened.server, opened.notes
        current = read_ps_settings(control.conn, plan.client_user)
        target = plan_change(current, plan.client_user, control.conn)
        if target is not None:
            check_can_change(control.conn, current, plan.client_user)
        history, texts, windows, outcomes, counts = _capture(control, settings, plan, current, target,
                                                             opened.state_file, progress, notes)
    own = control.ps_threads | texts.ps_threads
    events = with_known_threads(history.events, texts.threads)
    conversion = events_to_statements(events, windows, own, texts.texts, plan, settings,
                                      history.sql_text_limit)
    notes.extend(conversion.notes)
    notes.extend(_ring_notes(history, counts))
    if texts.failed:
        notes.append(texts.failed)
    source = plan.source_info(windows[0].start.wall, windows[-1].end.wall, len(windows), via="performance_schema")
    return CaptureResult(tuple(conversion.statements), source, server, conversion.noise_dropped, tuple(outcomes),
                         tuple(notes))


def _capture(control, settings, plan, current: PsSettings, target: PsSettings | None, path, progress, notes):
    """Steps 2 to 5: change, replay, read, restore. Returns what the conversion needs."""
    with signals_raise_interrupted("the performance_schema consumers were restored"):
        changed = False
        try:
            if target is not None:
                saved = state_to_save(current, target)
                write_state(path, settings, None, performance_schema=saved.to_dict())
                changed = True
                apply_ps_settings(control.conn, target)
                notes.append(f"switched on the performance_schema consumer(s) {', '.join(current.disabled)}"
                             + (f", history scoped to {plan.client_user} (setup_actors)" if target.actors else "")
                             + " for the capture; put back afterwards")
            else:
                notes.append("the performance_schema statement history was already on: nothing was changed")
            before = control.run(_statements_so_far)
            with _Watcher(settings) as texts:
                windows, outcomes = replay_in_windows(control, plan, progress)
            control.thread_ids |= texts.connection_ids
            after = control.run(_statements_so_far)
            history = control.run(lambda conn: read_history(conn, windows[0].start.timer))
        finally:
            if changed:
                with signals_blocked():
                    _restore(control, saved)
                    path.unlink(missing_ok=True)
    return history, texts, windows, outcomes, (before, after)


def _statements_so_far(conn) -> int:
    with conn.cursor() as cur:
        cur.execute(STATEMENTS_SO_FAR)
        return int(cur.fetchone()[0] or 0)


def _restore(control, previous: PsSettings) -> None:
    """On a new connection, as session.restore_log_settings does: the control connection may be out of
    step or killed."""
    conn = connect_with_retry(control.settings)
    try:
        apply_ps_settings(conn, previous)
        restored = restored_matches(conn, previous)
    finally:
        conn.close()
    if not restored:
        raise QueryAuditError(f"could not restore the performance_schema consumers on {control.settings.describe()}; "
                              "run `query-audit restore`")


def _ring_notes(history, counts: tuple[int, int]) -> list[str]:
    """The history is a ring of history_long_size rows: say so when it no longer reaches back to the
    capture's start, and how many statements may be missing (every statement the server ran in the
    capture, all accounts, against what the ring still holds)."""
    if not history.wrapped:
        return []
    ran = counts[1] - counts[0]
    missing = max(ran - history.kept, 0)
    return [f"events_statements_history_long ({history.size} rows) wrapped during the capture: its oldest event is "
            f"after the capture's start, so up to {missing} statement(s) may be missing ({ran} ran on the server, "
            f"{history.kept} are still in the history); raise performance_schema_events_statements_history_long_size "
            "(a start option) or capture fewer requests at once"]


__all__ = ["SOURCE_NAME", "Edge", "HistoryEvent", "run_ps_capture"]
