"""Per-statement timings of a live capture, read from performance_schema after the replay.

The general log says what ran, not how long it took; the slow log with long_query_time=0 is no help
either, because pooled connections keep the session value they had when they connected. The server's
`performance_schema.events_statements_history_long` holds every recent statement of every connection
with TIMER_WAIT (picoseconds), ROWS_EXAMINED and ROWS_SENT, whatever the session settings.

Two steps, so the one that talks to the server stays small and the matching is a pure function:

- `read_statement_history(conn, own_connections)` checks that performance_schema is on and that the
  history consumers are enabled (it never enables them: that is the server owner's call), then reads
  the history table once, joined with `threads` to learn each live connection's PROCESSLIST_ID. The
  capture's start is the TIMER_START of the tool's first `SELECT NOW(6)` on its own connection: that
  query took the first window's start time, so every event of the replay starts after it.
- `attach_timings(statements, history)` matches events to the captured statements, per connection, in
  order, by fingerprint; statements without a matching event keep None.

Connections that closed before the read are gone from `threads`, so their events carry no
PROCESSLIST_ID. Each such connection of the capture is paired with the closed performance_schema
thread whose events match most of its statements (ties go to the lowest THREAD_ID: both numberings
grow in connection order, so identical connections pair up in order).

Prepared statements (COM_STMT_EXECUTE): MariaDB 10.11 records them as `statement/com/Execute` with
SQL_TEXT NULL, and a SQL-level `EXECUTE s USING @a` as `statement/sql/execute_sql`; an `Execute`
statement of the log matches either, in order. Where a server records the statement text instead, the
fingerprint matches it, placeholders or values alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import pymysql

from query_audit.analyze.fingerprint import fingerprint
from query_audit.capture.general_log_table import as_text
from query_audit.driver import error_code, error_text
from query_audit.model import Statement

PICOSECONDS_PER_SECOND = 1e12
# history_long stays empty unless every consumer above it in the hierarchy is on too.
REQUIRED_CONSUMERS = ("global_instrumentation", "thread_instrumentation", "events_statements_current",
                      "events_statements_history_long")
EXECUTE_EVENTS = frozenset({"statement/com/Execute", "statement/sql/execute_sql"})
WINDOW_START_SQL = "SELECT NOW(6)"  # what control.py's ControlConnection.now() runs to open the first window
TRUNCATION_MARK = "..."  # MariaDB cuts SQL_TEXT at performance_schema_max_sql_text_length and adds this

_HISTORY = (
    "SELECT h.THREAD_ID, t.PROCESSLIST_ID, h.EVENT_ID, h.EVENT_NAME, h.SQL_TEXT, h.TIMER_START, h.TIMER_WAIT, "
    "h.ROWS_EXAMINED, h.ROWS_SENT, h.NESTING_EVENT_ID, h.NESTING_EVENT_TYPE "
    "FROM performance_schema.events_statements_history_long AS h "
    "LEFT JOIN performance_schema.threads AS t ON t.THREAD_ID = h.THREAD_ID "
)
HISTORY_QUERY = _HISTORY + "ORDER BY h.THREAD_ID, h.EVENT_ID"
# The history since the capture's start only: the table holds up to 10,000 rows of every connection (the
# whole read took 66 ms against 11 ms with this filter); the rows before the start are never used.
HISTORY_SINCE_QUERY = _HISTORY + "WHERE h.TIMER_START >= %s ORDER BY h.THREAD_ID, h.EVENT_ID"
# The capture's start (see the module's docstring): the earliest top-level `SELECT NOW(6)` of our own.
START_QUERY = (
    "SELECT MIN(h.TIMER_START) FROM performance_schema.events_statements_history_long AS h "
    "JOIN performance_schema.threads AS t ON t.THREAD_ID = h.THREAD_ID "
    "WHERE t.PROCESSLIST_ID IN ({own}) AND UPPER(TRIM(h.SQL_TEXT)) = %s "
    "AND (h.NESTING_EVENT_TYPE IS NULL OR h.NESTING_EVENT_TYPE <> 'STATEMENT')"
)
NO_TIMINGS = "no per-statement timings: "
HOW_TO_ENABLE = ("start the server with --performance-schema=ON "
                 "--performance-schema-consumer-events-statements-current=ON "
                 "--performance-schema-consumer-events-statements-history-long=ON")


@dataclass(frozen=True, slots=True)
class StatementEvent:
    """One finished top-level statement of performance_schema's history."""

    thread_id: int  # performance_schema's THREAD_ID, never reused
    connection_id: int | None  # threads.PROCESSLIST_ID, None once the connection has closed
    event_id: int
    name: str  # EVENT_NAME, e.g. statement/sql/select, statement/com/Execute
    sql_text: str | None
    timer_start: int  # picoseconds since the server started
    timer_wait: int  # picoseconds
    rows_examined: int
    rows_sent: int


@dataclass(frozen=True)
class EventHistory:
    """The events of the capture's connections since the capture began, or the reason there are none."""

    events: tuple[StatementEvent, ...] = ()
    sql_text_limit: int = 1024  # performance_schema_max_sql_text_length
    unavailable: str | None = None  # a note saying why there are no timings and how to get them


def read_statement_history(conn, own_connections: Iterable[int]) -> EventHistory:
    """Read the statement history once. Never raises for the server's sake: a server without
    performance_schema, disabled consumers or a missing privilege give an EventHistory with a note."""
    own = set(own_connections)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@global.performance_schema, @@global.performance_schema_max_sql_text_length")
            enabled, text_limit = cur.fetchone()
            if not int(enabled):
                return EventHistory(unavailable=NO_TIMINGS + "performance_schema is OFF on this server; "
                                    + HOW_TO_ENABLE)
            cur.execute("SELECT NAME, ENABLED FROM performance_schema.setup_consumers")
            consumers = {as_text(name): as_text(state).upper() == "YES" for name, state in cur.fetchall()}
            disabled = [name for name in REQUIRED_CONSUMERS if not consumers.get(name, False)]
            if disabled:
                return EventHistory(unavailable=_consumers_note(disabled))
            rows = _history_rows(cur, own)
    except pymysql.err.MySQLError as exc:
        return EventHistory(unavailable=NO_TIMINGS + f"cannot read performance_schema ({_error_line(exc)})")
    events = [_event(row) for row in rows if _is_top_level_and_timed(row)]
    return _since_capture_start(events, own, int(text_limit or 0))


def _history_rows(cur, own: set[int]) -> tuple:
    """The history's rows since the capture's start, or all of them when the start is not there (the
    ring lost it: the note then counts what the table holds)."""
    start = None
    if own:
        cur.execute(START_QUERY.format(own=", ".join(["%s"] * len(own))), (*sorted(own), WINDOW_START_SQL))
        start = cur.fetchone()[0]
    if start is None:
        cur.execute(HISTORY_QUERY)
    else:
        cur.execute(HISTORY_SINCE_QUERY, (int(start),))
    return cur.fetchall()


def attach_timings(statements: Sequence[Statement], history: EventHistory) -> tuple[list[Statement], str]:
    """The statements with query_time, rows_examined and rows_sent from their events, and a note
    saying how many got them (or why none did)."""
    statements = list(statements)
    if history.unavailable:
        return statements, history.unavailable
    by_connection: dict[int, list[int]] = defaultdict(list)
    for index, statement in enumerate(statements):
        if statement.thread_id is not None:
            by_connection[statement.thread_id].append(index)
    matcher = _Matcher(history.sql_text_limit)
    timed = 0
    for connection, events in _pair_connections(by_connection, statements, history.events, matcher).items():
        indexes = by_connection[connection]
        for index, event in zip(indexes, matcher.match_in_order([statements[i] for i in indexes], events)):
            if event is not None:
                statements[index] = with_timing(statements[index], event)
                timed += 1
    return statements, _result_note(timed, len(statements))


def with_timing(statement: Statement, event: StatementEvent) -> Statement:
    return replace(statement, query_time=event.timer_wait / PICOSECONDS_PER_SECOND,
                   rows_examined=event.rows_examined, rows_sent=event.rows_sent)


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------


def _is_top_level_and_timed(row) -> bool:
    # Statements inside a stored program nest under their CALL, which is what the general log shows.
    # A statement nested in a TRANSACTION event (MySQL 8) is still top level.
    nesting_type, timer_start = row[10], row[5]
    return as_text(nesting_type).upper() != "STATEMENT" and timer_start is not None


def _event(row) -> StatementEvent:
    thread_id, connection_id, event_id, name, sql_text, timer_start, timer_wait, examined, sent = row[:9]
    return StatementEvent(
        thread_id=int(thread_id),
        connection_id=int(connection_id) if connection_id is not None else None,
        event_id=int(event_id),
        name=as_text(name),
        sql_text=as_text(sql_text) if sql_text is not None else None,
        timer_start=int(timer_start),
        timer_wait=int(timer_wait or 0),
        rows_examined=int(examined or 0),
        rows_sent=int(sent or 0),
    )


def _since_capture_start(events: list[StatementEvent], own: set[int], text_limit: int) -> EventHistory:
    starts = [event.timer_start for event in events
              if event.connection_id in own and (event.sql_text or "").strip().upper() == WINDOW_START_SQL]
    if not starts:
        # The table is a ring: losing our own first statement means it lost the replay's first ones too.
        return EventHistory(unavailable=NO_TIMINGS + f"events_statements_history_long ({len(events)} rows) no "
                            "longer holds the start of the capture; raise "
                            "performance_schema_events_statements_history_long_size (server start option)")
    start = min(starts)
    kept = tuple(event for event in events if event.timer_start >= start and event.connection_id not in own)
    return EventHistory(kept, text_limit or 1024)


def _consumers_note(disabled: list[str]) -> str:
    names = ", ".join(disabled)
    quoted = ", ".join(f"'{name}'" for name in disabled)
    return (NO_TIMINGS + f"the performance_schema consumer(s) {names} are disabled and query-audit does not "
            f"change them; enable with UPDATE performance_schema.setup_consumers SET ENABLED='YES' WHERE NAME IN "
            f"({quoted}), or {HOW_TO_ENABLE}")


def _error_line(exc: Exception) -> str:
    code = error_code(exc)
    detail = error_text(exc) or "error"
    return f"error {code}: {detail}" if code else detail


def _result_note(timed: int, total: int) -> str:
    note = f"per-statement timings from performance_schema: {timed} of {total} timed"
    if timed < total:
        note += "; the others had no matching event (database time per request counts only the timed ones)"
    return note


# ------------------------------------------------------------------------------------------------
# Matching
# ------------------------------------------------------------------------------------------------


class _Matcher:
    """Decides whether an event is a statement's, with each text fingerprinted once."""

    def __init__(self, sql_text_limit: int):
        self.sql_text_limit = sql_text_limit
        self._fingerprints: dict[str, str] = {}

    def fingerprint(self, sql: str) -> str:
        found = self._fingerprints.get(sql)
        if found is None:
            found = self._fingerprints[sql] = fingerprint(sql)
        return found

    def same(self, statement: Statement, event: StatementEvent) -> bool:
        if statement.command == "Execute" and event.name in EXECUTE_EVENTS:
            return True
        text = event.sql_text
        if not text:
            return False
        if len(text) >= self.sql_text_limit:
            # Cut at the limit: the fingerprint of half a literal means nothing, the raw prefix does.
            return statement.sql.startswith(text.removesuffix(TRUNCATION_MARK))
        return self.fingerprint(text) == self.fingerprint(statement.sql)

    def match_in_order(self, statements: Sequence[Statement],
                       events: Sequence[StatementEvent]) -> list[StatementEvent | None]:
        """Each statement's event: the next matching one after the previous match. Events in between
        are statements the capture left out (noise, Prepare, Ping); an unmatched statement consumes none."""
        matched: list[StatementEvent | None] = []
        position = 0
        for statement in statements:
            found = next((i for i in range(position, len(events)) if self.same(statement, events[i])), None)
            if found is None:
                matched.append(None)
            else:
                matched.append(events[found])
                position = found + 1
        return matched

    def score(self, statements: Sequence[Statement], events: Sequence[StatementEvent]) -> int:
        return sum(event is not None for event in self.match_in_order(statements, events))


def _pair_connections(by_connection: dict[int, list[int]], statements: Sequence[Statement],
                      events: Iterable[StatementEvent], matcher: _Matcher) -> dict[int, list[StatementEvent]]:
    """Each captured connection's events: by PROCESSLIST_ID while it is open, else by content."""
    by_thread: dict[int, list[StatementEvent]] = defaultdict(list)
    open_threads: dict[int, int] = {}
    for event in events:
        by_thread[event.thread_id].append(event)
        if event.connection_id is not None:
            open_threads[event.connection_id] = event.thread_id
    paired = {connection: by_thread[open_threads[connection]]
              for connection in by_connection if connection in open_threads}
    closed = [thread for thread, thread_events in sorted(by_thread.items()) if thread_events[0].connection_id is None]
    for connection in sorted(set(by_connection) - set(paired)):
        own = [statements[i] for i in by_connection[connection]]
        best, best_score = None, 0
        for thread in closed:
            score = matcher.score(own, by_thread[thread])
            if score > best_score:
                best, best_score = thread, score
                if score == len(own):  # the lowest thread that matches every statement: look no further
                    break
        if best is not None:
            closed.remove(best)
            paired[connection] = by_thread[best]
    return paired
