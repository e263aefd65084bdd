"""performance_schema's statement events -> the Statements a general-log capture gives.

`read_history` reads events_statements_history_long once (joined with `threads`), with what the ring
detection needs. `events_to_statements` is a pure function of the events, the request windows (in the
server's timer units), the tool's own threads and the prepared statements' texts:

- per THREAD_ID, in EVENT_ID order; a connection still open is named by its processlist id (what the
  general log calls thread_id), a closed one by -THREAD_ID (its processlist id is gone with it);
- `statement/sql/*` events with their SQL_TEXT are Query statements; `statement/com/Execute` (a
  binary-protocol execution, SQL_TEXT NULL on MariaDB 10.11) takes the text of the statement the
  connection prepared last, and `statement/sql/execute_sql` (EXECUTE s) the text of `s`: both are
  Execute statements, with `?` placeholders like MariaDB's general log writes them;
- `statement/com/*` others (Ping, Prepare, Close stmt, Reset stmt, Quit, Init DB) are not statements;
- statements inside stored programs (NESTING_EVENT_TYPE = 'STATEMENT') are not kept: their CALL is
  (as in the general log), and a note counts them;
- a SQL_TEXT cut at performance_schema_max_sql_text_length keeps its fingerprint and timing, and is
  marked `truncated` (never EXPLAINed).
Noise and --client-user go through the same StatementExtractor as the general log's rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from query_audit.capture.general_log_table import as_text, utc_iso
from query_audit.capture.statements import StatementExtractor
from query_audit.capture.timings import PICOSECONDS_PER_SECOND, TRUNCATION_MARK
from query_audit.model import Statement

HISTORY_QUERY = (
    "SELECT h.THREAD_ID, t.PROCESSLIST_ID, t.PROCESSLIST_USER, t.PROCESSLIST_HOST, h.EVENT_ID, h.EVENT_NAME, "
    "h.SQL_TEXT, h.CURRENT_SCHEMA, h.TIMER_START, h.TIMER_WAIT, h.LOCK_TIME, h.ROWS_EXAMINED, h.ROWS_SENT, "
    "h.NO_INDEX_USED, h.NO_GOOD_INDEX_USED, h.NESTING_EVENT_TYPE "
    "FROM performance_schema.events_statements_history_long AS h "
    "LEFT JOIN performance_schema.threads AS t ON t.THREAD_ID = h.THREAD_ID "
    "WHERE h.TIMER_START >= %s ORDER BY h.THREAD_ID, h.EVENT_ID"
)
RING_QUERY = ("SELECT COUNT(*), MIN(TIMER_START), @@global.performance_schema_events_statements_history_long_size, "
              "@@global.performance_schema_max_sql_text_length "
              "FROM performance_schema.events_statements_history_long")
EXECUTIONS = {"statement/com/Execute", "statement/sql/execute_sql"}
NOT_STATEMENTS = {"statement/sql/prepare_sql", "statement/sql/deallocate_sql"}
_EXECUTE_NAME = re.compile(r"\s*EXECUTE\s+`?(\w+)`?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    thread_id: int  # performance_schema's THREAD_ID
    connection_id: int | None  # threads.PROCESSLIST_ID; None once the connection has closed
    user: str | None
    host: str | None
    event_id: int
    name: str
    sql_text: str | None
    schema: str | None
    timer_start: int
    timer_wait: int
    lock_time: int
    rows_examined: int
    rows_sent: int
    no_index_used: bool
    no_good_index_used: bool
    nested: bool


@dataclass(frozen=True)
class History:
    events: tuple[HistoryEvent, ...]
    size: int  # performance_schema_events_statements_history_long_size
    sql_text_limit: int
    wrapped: bool  # the ring no longer reaches back to the capture's start
    kept: int  # events since the start still in the ring


def read_history(conn, start_timer: int) -> History:
    with conn.cursor() as cur:
        cur.execute(RING_QUERY)
        rows_now, oldest, size, text_limit = cur.fetchone()
        cur.execute(HISTORY_QUERY, (start_timer,))
        rows = cur.fetchall()
    events = tuple(_event(row) for row in rows)
    # Full and starting after us: older events, ours among them, were overwritten.
    wrapped = oldest is not None and int(oldest) > start_timer and int(rows_now) >= int(size)
    return History(events, int(size), int(text_limit or 1024), wrapped, len(events))


def _event(row) -> HistoryEvent:
    (thread_id, connection_id, user, host, event_id, name, sql_text, schema, timer_start, timer_wait, lock_time,
     examined, sent, no_index, no_good_index, nesting_type) = row
    return HistoryEvent(
        thread_id=int(thread_id), connection_id=int(connection_id) if connection_id is not None else None,
        user=as_text(user) or None, host=as_text(host) or None, event_id=int(event_id), name=as_text(name),
        sql_text=as_text(sql_text) if sql_text is not None else None, schema=as_text(schema) or None,
        timer_start=int(timer_start), timer_wait=int(timer_wait or 0), lock_time=int(lock_time or 0),
        rows_examined=int(examined or 0), rows_sent=int(sent or 0), no_index_used=bool(no_index),
        no_good_index_used=bool(no_good_index), nested=as_text(nesting_type).upper() == "STATEMENT",
    )


def with_known_threads(events: Iterable[HistoryEvent],
                       threads: dict[int, tuple[int, str | None, str | None]]) -> tuple[HistoryEvent, ...]:
    """Events of connections closed before the history was read, with the processlist id and user the
    capture saw while they were open."""
    return tuple(replace(event, connection_id=threads[event.thread_id][0], user=threads[event.thread_id][1],
                         host=threads[event.thread_id][2])
                 if event.connection_id is None and event.thread_id in threads else event for event in events)


@dataclass
class Conversion:
    statements: list[Statement] = field(default_factory=list)
    noise_dropped: int = 0
    notes: list[str] = field(default_factory=list)
    nested: int = 0
    outside: int = 0
    no_text: int = 0
    truncated: int = 0
    unknown_user: int = 0


def events_to_statements(events: Iterable[HistoryEvent], windows, own_threads: set[int],
                         texts: dict[tuple[int, int], tuple[str | None, str]], plan, settings,
                         sql_text_limit: int = 1024) -> Conversion:
    """The Statements of the events inside the windows (each window's `start`/`end` has `.timer` and
    `.wall_at(timer)`), with the request that holds each."""
    extractor = StatementExtractor(noise=plan.noise, keep_noise=plan.keep_noise,
                                   users=[plan.client_user] if plan.client_user else None)
    result = Conversion()
    prepared: dict[int, str | None] = {}  # the text each thread prepared last
    for event in events:
        if event.thread_id in own_threads:
            continue
        if event.nested:
            result.nested += 1
            continue
        window = next((w for w in windows if w.start.timer <= event.timer_start <= w.end.timer), None)
        if event.name == "statement/com/Prepare":
            found = texts.get((event.thread_id, event.event_id))
            prepared[event.thread_id] = found[1] if found else None
            continue
        sql, command = _text_of(event, prepared, texts)
        if not sql or not sql.strip():
            result.no_text += window is not None and event.name in EXECUTIONS
            continue
        if window is None:
            result.outside += 1
            continue
        if plan.client_user and event.user is None:
            result.unknown_user += 1  # a connection that came and went between two looks at `threads`
            continue
        statement = _statement(extractor, event, sql, command, window, sql_text_limit, settings)
        if statement is not None:
            result.truncated += statement.truncated
            result.statements.append(statement)
    result.noise_dropped = extractor.noise_dropped
    result.notes = _notes(result)
    return result


def _text_of(event: HistoryEvent, prepared: dict[int, str | None],
             texts: dict[tuple[int, int], tuple[str | None, str]]) -> tuple[str | None, str]:
    if event.name == "statement/com/Execute":
        if event.thread_id in prepared:
            return prepared[event.thread_id], "Execute"
        # Prepared before the capture (a driver's statement cache): known only if it is the one open.
        open_ones = [text for (thread, owner), (_, text) in texts.items()
                     if thread == event.thread_id and owner < event.event_id]
        return (open_ones[0] if len(open_ones) == 1 else None), "Execute"
    if event.name == "statement/sql/execute_sql":
        name = _EXECUTE_NAME.match(event.sql_text or "")
        if not name:
            return None, "Execute"
        candidates = [(owner, text) for (thread, owner), (stmt_name, text) in texts.items()
                      if thread == event.thread_id and owner < event.event_id
                      and (stmt_name or "").lower() == name.group(1).lower()]
        return (max(candidates)[1] if candidates else None), "Execute"
    if event.name in NOT_STATEMENTS or not event.name.startswith(("statement/sql/", "statement/com/Query")):
        return None, "Query"
    return event.sql_text or None, "Query"


def _statement(extractor: StatementExtractor, event: HistoryEvent, sql: str, command: str, window,
               sql_text_limit: int, settings) -> Statement | None:
    connection = event.connection_id if event.connection_id is not None else -event.thread_id
    user_host = f"{event.user}[{event.user}] @ {event.host or ''} []" if event.user else ""
    fields = extractor.statement_fields(connection, command, sql, utc_iso(window.start.wall_at(event.timer_start)),
                                        user_host, window.request)
    if fields is None:
        return None
    statement = Statement(*fields)
    flags = tuple(name for name, on in (("NO_INDEX_USED", event.no_index_used),
                                        ("NO_GOOD_INDEX_USED", event.no_good_index_used)) if on)
    return replace(statement, database=event.schema or statement.database or settings.database,
                   query_time=event.timer_wait / PICOSECONDS_PER_SECOND,
                   lock_time=event.lock_time / PICOSECONDS_PER_SECOND, rows_examined=event.rows_examined,
                   rows_sent=event.rows_sent, server_flags=flags,
                   truncated=command == "Query" and is_truncated(sql, sql_text_limit))


def is_truncated(text: str, limit: int) -> bool:
    """performance_schema cuts SQL_TEXT at `limit` bytes (MariaDB ends the cut text with `...`)."""
    size = len(text.encode("utf-8", errors="replace"))
    return size >= limit or (text.endswith(TRUNCATION_MARK) and size >= limit - len(TRUNCATION_MARK))


def _notes(result: Conversion) -> list[str]:
    notes = []
    if result.nested:
        notes.append(f"{result.nested} statement(s) ran inside stored programs: their CALLs are kept, the statements "
                     "inside are not analyzed one by one")
    if result.no_text:
        notes.append(f"{result.no_text} prepared statement execution(s) have no text: the client closed the statement "
                     "before prepared_statements_instances could be read (performance_schema keeps no text of an "
                     "execution on MariaDB); they are left out")
    if result.truncated:
        notes.append(f"{result.truncated} statement(s) were cut at performance_schema_max_sql_text_length: counted and "
                     "timed by their fingerprint, never EXPLAINed (raise the limit, a start option, to see them)")
    if result.unknown_user:
        notes.append(f"{result.unknown_user} statement(s) of connections that closed before their account could be "
                     "read were left out (--client-user keeps only that account's)")
    if result.outside:
        notes.append(f"{result.outside} statements of other connections ran outside the request windows and were "
                     "left out")
    return notes
