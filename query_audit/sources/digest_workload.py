"""`analyze --digests`: read the digest table once, save or subtract a snapshot, then run the pipeline
on its statement shapes (`digest_table.py` turns rows into QueryGroups)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from query_audit.capture.general_log_table import utc_iso
from query_audit.connection import ConnectionSettings, connect, detect_server
from query_audit.model import Report, SourceInfo
from query_audit.sources.digest_table import (
    DigestSource,
    load_snapshot,
    query_groups,
    read_digests,
    save_snapshot,
    subtract,
)

# Monitoring and the tool's own reads (schema, EXPLAIN, performance_schema) are not the application's.
# (DIGEST_TEXT quotes every name: `performance_schema` . `threads`.)
_NOT_THE_APPLICATION = re.compile(
    r"\s*(EXPLAIN\b|SHOW\b|SELECT\b.*\b`?(performance_schema|information_schema)`?\s*\.)",
    re.IGNORECASE | re.DOTALL)


def digest_report(settings: ConnectionSettings, config, *, snapshot: str | None, since: str | None, top: int,
                  verify: bool, noise) -> tuple[Report | None, str]:
    from query_audit.pipeline import AnalysisOptions, analyze_groups

    conn = connect(settings)
    try:
        server = detect_server(conn)
        rows, samples, text_limit = read_digests(conn)
    finally:
        conn.close()
    if snapshot:
        save_snapshot(snapshot, rows, settings.describe())
        return None, f"snapshot of {len(rows)} statement digests of {settings.describe()} written to {snapshot}"
    notes = []
    window_start = None
    if since:
        before, where, window_start = load_snapshot(since)
        if where != settings.describe():
            notes.append(f"the snapshot {since} was taken on {where}, not on {settings.describe()}")
        rows = subtract(rows, before)
    groups, dropped = [], 0
    for group in query_groups(rows, samples, text_limit):
        if _NOT_THE_APPLICATION.match(group.sample.sql) or (noise is not None and noise.is_noise(group.sample.sql)):
            dropped += group.count
        else:
            groups.append(group)
    notes += _notes(len(groups), top, since, window_start)
    source = SourceInfo(kind="digests", window_start=window_start,
                        window_end=utc_iso(datetime.now(UTC).replace(tzinfo=None)))
    options = AnalysisOptions(settings=settings, thresholds=config.thresholds, verify=verify)
    report = analyze_groups(groups[:top], DigestSource(source, server, noise_dropped=dropped), options, tuple(notes))
    return report, ""


def _notes(shapes: int, top: int, since: str | None, window_start: str | None) -> list[str]:
    notes = ["source: performance_schema.events_statements_summary_by_digest, every client of the server "
             + (f"since the snapshot {since} ({window_start})" if since else "since it started or the table was reset")
             + "; digests hold no requests or connections, so loops (N+1, bulk inserts) are found by a capture"]
    if shapes > top:
        notes.append(f"{shapes} statement shapes ran; the busiest {top} by total time are analyzed (--top)")
    return notes
