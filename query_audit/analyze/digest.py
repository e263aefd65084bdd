"""Group statements by fingerprint, streaming: memory stays flat however many statements come in.

Per group it keeps counts, the first statement as a sample, a capped set of literal-value keys,
the databases seen and timing totals. Per unit of work inside a group (a replayed request in a
capture, a connection in a log file) it keeps how often the shape ran there, with how many
different values, and a few sample texts: the evidence of an N+1 or a write loop.

Bounds (for a 1M-line log): a group stores at most `max_values` value keys (the count then is a
lower bound); when a group has too many connection units they are pruned to the busiest and the
most recent ones (request units of a capture are few and all kept); a unit keeps `max_unit_values`
value keys and `max_samples` distinct texts; the "has this unit written yet" memory forgets the
oldest units. So memory grows with the number of shapes, not with the number of statements.
"""

from __future__ import annotations

from query_audit.analyze.fingerprint import (
    fingerprint_and_values,
    query_id,
    statement_kind,
)
from query_audit.model import Kind, QueryGroup, Repetition, Statement

_WRITES = frozenset({Kind.INSERT, Kind.UPDATE, Kind.DELETE, Kind.REPLACE})


class _Unit:
    __slots__ = ("count", "samples", "values")

    def __init__(self):
        self.count = 0
        self.values: set[int] = set()
        self.samples: list[str] = []


class _Group:
    __slots__ = (
        "after_write",
        "count",
        "databases",
        "fingerprint",
        "kind",
        "max_query_time",
        "query_time",
        "rows_examined",
        "rows_sent",
        "sample",
        "units",
        "values",
    )

    def __init__(self, fingerprint: str, kind: Kind):
        self.fingerprint = fingerprint
        self.kind = kind
        self.count = 0
        self.sample: Statement | None = None  # the first statement; set by the caller of `Digest._add`
        self.values: set[int] = set()
        self.databases: dict[str, None] = {}  # an ordered set
        self.units: dict[str, _Unit] = {}
        self.after_write = 0
        self.query_time: float | None = None
        self.max_query_time: float | None = None
        self.rows_examined: int | None = None
        self.rows_sent: int | None = None


class Digest:
    """Add statements one by one, then read the groups (in order of first appearance)."""

    def __init__(self, *, max_values: int = 256, max_thread_units: int = 4, max_unit_values: int = 16,
                 max_samples: int = 10, max_writer_units: int = 100_000):
        self.max_values = max_values
        self.max_thread_units = max_thread_units
        self.max_unit_values = max_unit_values
        self.max_samples = max_samples
        self.max_writer_units = max_writer_units
        self.statements = 0
        self._groups: dict[str, _Group] = {}
        self._writers: dict[str, None] = {}  # units that have written, oldest first
        self._unknown_values = 0
        self._thread_names: dict[int | None, str] = {}  # `thread 12`, formatted once per connection

    def add(self, statement: Statement) -> None:
        group = self._add(statement.sql, statement.thread_id, statement.request, statement.database,
                          statement.placeholders)
        if group.sample is None:
            group.sample = statement
        if statement.query_time is not None or statement.rows_examined is not None:
            self._add_timings(group, statement)

    def add_fields(self, sql: str, thread_id: int | None, database: str | None = None, time: str | None = None,
                   command: str = "Query", user: str | None = None, placeholders: bool = False) -> None:
        """`add(Statement(sql, thread_id, database, time, command, None, user, placeholders))`, for a log
        file's fast path: the Statement is built only for the first statement of each shape (its sample)."""
        group = self._add(sql, thread_id, None, database, placeholders)
        if group.sample is None:
            group.sample = Statement(sql, thread_id, database, time, command, None, user, placeholders)

    def _add(self, sql: str, thread_id: int | None, request: int | None, database: str | None,
             placeholders: bool) -> _Group:
        """Count one statement; the caller sets the sample of a new group and adds timings."""
        self.statements += 1
        shape, values = fingerprint_and_values(sql)
        group = self._groups.get(shape)
        if group is None:
            group = self._groups[shape] = _Group(shape, statement_kind(sql))
        group.count += 1

        if placeholders:
            # The values of a prepared statement logged with its `?` are unknown: count each run
            # as different, since a loop of executions is a loop of round trips either way.
            self._unknown_values += 1
            key = hash(("?", self._unknown_values))
        else:
            key = hash(values)
        group_values = group.values
        if len(group_values) < self.max_values:
            group_values.add(key)
        if database is not None:
            databases = group.databases
            if database not in databases and len(databases) < 100:
                databases[database] = None

        if request is None:
            unit_name = self._thread_names.get(thread_id)
            if unit_name is None:
                if len(self._thread_names) >= 100_000:  # thread ids of a long log; names are cheap to redo
                    self._thread_names.clear()
                unit_name = self._thread_names[thread_id] = f"thread {thread_id}"
        else:
            unit_name = f"request {request}"
        units = group.units
        unit = units.get(unit_name)
        if unit is None:
            if request is None and len(units) >= 4 * self.max_thread_units:
                self._prune_units(group)
            unit = group.units[unit_name] = _Unit()
        unit.count += 1
        unit_values = unit.values
        if len(unit_values) < self.max_unit_values:
            unit_values.add(key)
        samples = unit.samples
        if len(samples) < self.max_samples and sql not in samples:
            samples.append(sql)

        kind = group.kind
        if kind is Kind.SELECT:
            if unit_name in self._writers:
                group.after_write += 1
        elif kind in _WRITES:
            self._mark_writer(unit_name)
        return group

    def groups(self) -> list[QueryGroup]:
        return [self._query_group(group) for group in self._groups.values()]

    def _query_group(self, group: _Group) -> QueryGroup:
        repetitions = tuple(
            Repetition(name, unit.count, len(unit.values), tuple(unit.samples))
            for name, unit in group.units.items() if unit.count >= 2
        )
        return QueryGroup(
            id=query_id(group.fingerprint), fingerprint=group.fingerprint, kind=group.kind, count=group.count,
            sample=group.sample, distinct_values=len(group.values), databases=tuple(group.databases),
            repetitions=repetitions, after_write_count=group.after_write,
            total_query_time=group.query_time, max_query_time=group.max_query_time,
            total_rows_examined=group.rows_examined, total_rows_sent=group.rows_sent,
        )

    @staticmethod
    def _add_timings(group: _Group, statement: Statement) -> None:
        query_time = statement.query_time
        if query_time is not None:
            group.query_time = (group.query_time or 0.0) + query_time
            if group.max_query_time is None or query_time > group.max_query_time:
                group.max_query_time = query_time
        if statement.rows_examined is not None:
            group.rows_examined = (group.rows_examined or 0) + statement.rows_examined
        if statement.rows_sent is not None:
            group.rows_sent = (group.rows_sent or 0) + statement.rows_sent

    def _prune_units(self, group: _Group) -> None:
        """Keep the busiest and the newest connection units of a group (in their order), drop the rest.

        The newest may still be running their loop; the busiest are the evidence worth showing.
        """
        names = list(group.units)
        busiest = sorted(names, key=lambda name: group.units[name].count, reverse=True)
        keep = set(busiest[: self.max_thread_units]) | set(names[-self.max_thread_units:])
        group.units = {name: unit for name, unit in group.units.items() if name in keep}

    def _mark_writer(self, unit_name: str) -> None:
        writers = self._writers
        if unit_name in writers:
            return
        if len(writers) >= self.max_writer_units:
            for name in list(writers)[: len(writers) // 2]:
                del writers[name]
        writers[unit_name] = None
