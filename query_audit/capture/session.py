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

from dataclasses import replace
from datetime import datetime

import pymysql

from query_audit.capture.control import ControlConnection, Window, opened_capture, replay_in_windows
from query_audit.capture.general_log_table import read_log_rows
from query_audit.capture.log_settings import (
    LogSettings,
    apply_log_settings,
    check_can_capture,
    connect_with_retry,
    read_log_settings,
    write_state,
)
from query_audit.capture.plan import CapturePlan, CaptureResult
from query_audit.capture.statements import StatementExtractor
from query_audit.capture.timings import attach_timings, read_statement_history
from query_audit.connection import ConnectionSettings
from query_audit.driver import error_code, error_text
from query_audit.errors import QueryAuditError
from query_audit.interrupts import signals_blocked, signals_raise_interrupted
from query_audit.model import Statement


def run_capture(settings: ConnectionSettings, plan: CapturePlan, progress=None) -> CaptureResult:
    if plan.source == "performance-schema":
        from query_audit.capture.ps_capture import run_ps_capture

        return run_ps_capture(settings, plan, progress)
    progress = progress or (lambda stage, done, total: None)
    with opened_capture(settings) as opened:  # closing the control connection frees the capture lock
        control, server, path, notes = opened.control, opened.server, opened.state_file, opened.notes
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
                windows, outcomes = replay_in_windows(control, plan, progress)
                rows, history = _read_what_was_logged(control, windows[0].start)
            finally:
                if changed:
                    with signals_blocked():
                        restore_log_settings(settings, previous)
                        path.unlink(missing_ok=True)

    statements, noise_dropped, outside = statements_in_windows(rows, windows, control.thread_ids, plan, settings)
    statements, timings_note = attach_timings(statements, history)
    notes.append(timings_note)
    if outside:
        notes.append(f"{outside} statements of other connections ran outside the request windows and were left out")
    source = plan.source_info(windows[0].start, windows[-1].end, len(windows), via="general_log")
    return CaptureResult(tuple(statements), source, server, noise_dropped, tuple(outcomes), tuple(notes))


def _read_what_was_logged(control: ControlConnection, since: datetime) -> tuple[list, object]:
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


def restore_log_settings(settings: ConnectionSettings, previous: LogSettings) -> None:
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


def statements_in_windows(rows, windows: list[Window], own_threads: set[int], plan: CapturePlan,
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
