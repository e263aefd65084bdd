"""A capture's statements in the order they ran, per request: what the HTML report draws as a waterfall.

Only captures keep their statements in memory (a few hundred per request); a log file is streamed and
may hold millions, so it has no timeline. Bounded all the same: the first MAX_ENTRIES statements.
"""

from __future__ import annotations

from collections.abc import Iterable

from query_audit.analyze.fingerprint import fingerprint, query_id
from query_audit.model import Statement, TimelineEntry

MAX_ENTRIES = 5000


def build_timeline(statements: Iterable[Statement]) -> tuple[TimelineEntry, ...]:
    """One entry per statement, in input order, named by its unit as the Digest names units."""
    entries = []
    ids: dict[str, str] = {}  # the same text is fingerprinted once
    for position, statement in enumerate(statements):
        if position >= MAX_ENTRIES:
            break
        if statement.sql not in ids:
            ids[statement.sql] = query_id(fingerprint(statement.sql))
        unit = f"request {statement.request}" if statement.request is not None else f"thread {statement.thread_id}"
        entries.append(TimelineEntry(query_id=ids[statement.sql], unit=unit, position=position,
                                     time=statement.time, query_time=statement.query_time,
                                     rows_examined=statement.rows_examined))
    return tuple(entries)
