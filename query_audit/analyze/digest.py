"""Group statements by fingerprint, streaming: memory stays flat however many statements come in.

Per group it keeps counts, the first statement as a sample, a capped set of literal-value keys,
the databases seen and timing totals. Per unit of work inside a group (a replayed request in a
capture, a connection in a log file) it keeps how often the shape ran there, with how many
different values, and a few sample texts: the evidence of an N+1 or a write loop.

Value keys are 8-byte integers in arrays, their repeats dropped whenever an array has doubled (a set
of int objects took 4-5x the memory). Bounds (for a 1M-line log): a group stores at most `max_values`
different value keys (the count then is a lower bound); when a group has too many connection units
they are pruned to the busiest and the most recent ones (request units of a capture are few and all
kept); a unit keeps `max_unit_values` value keys and `max_samples` distinct texts; the "has this unit
written yet" memory forgets the oldest units. So memory grows with the number of shapes, not with the
number of statements.

Connections are split into `SHARDS` shards by thread id, and everything that depends on the order
of several connections (pruning, the written-units memory) is done within one shard. So a big log
can be read by one process per shard, each adding only its shard's connections to its own Digest,
and `merge` then gives exactly the Digest one process would have built: every statement carries
its position in the input, which orders groups, samples and units the same way in both cases.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from typing import NamedTuple

from query_audit.analyze.fingerprint import (
    fingerprint_and_values,
    forget_shapes,
    query_id,
    statement_kind,
)
from query_audit.analyze.transactions import TransactionTracker, control_kind
from query_audit.model import Kind, QueryGroup, Repetition, Statement

_WRITES = frozenset({Kind.INSERT, Kind.UPDATE, Kind.DELETE, Kind.REPLACE})
_SELECT = Kind.SELECT
_FIRST_VALUES_LIMIT = 64  # a group's value keys are first deduplicated when it holds this many
SHARDS = 2  # the one place that says how many: readers ask `shard_of`


def fresh_copy(text: str) -> str:
    """An equal string in new memory. What outlives the reading is copied when the reading is over: the
    originals sit one or two to a pool among the reading's freed lines, and keep those pools from being
    used again (for sqlglot's trees, the report) while they live."""
    return text[:1] + text[1:]


def shard_of(thread_id: int | None) -> int:
    """The shard of a connection (request units of a capture are all in shard 0)."""
    return thread_id % SHARDS if thread_id else 0


class StatementFields(NamedTuple):
    """A statement as a log file's reader hands it to the Digest: a Statement's first eight fields, in
    its order (`Statement(*fields)` is the statement), without building a Statement for every entry."""

    sql: str
    thread_id: int | None
    database: str | None
    time: str | None
    command: str
    request: int | None
    user: str | None
    placeholders: bool


# NamedTuple's own constructor is a Python function (0.2-0.3 µs an entry, a tenth of reading one); a log
# reader builds its records with this instead, in C: `new_statement_fields((sql, thread_id, ...))`.
new_statement_fields = partial(tuple.__new__, StatementFields)


class _Unit:
    __slots__ = ("count", "first", "in_transaction", "last_transaction", "samples", "transactions", "values")

    def __init__(self, first: int):
        self.first = first  # the position of the unit's first statement: units are listed in that order
        self.count = 0
        # Value keys as 8-byte integers, repeats dropped when it holds 2 * max_unit_values: a list of int
        # objects took twice that (tens of thousands of units at 1M statements: ~6 MB), a set 4x.
        self.values: array | None = array("q")  # None once max_unit_values are distinct: only the count is read
        self.samples: tuple[str, ...] = ()  # a tuple: at most max_samples, and half a list's bytes
        self.in_transaction = 0  # runs inside an explicit or implicit transaction
        self.transactions = 0  # how many different transactions those runs were in
        self.last_transaction = 0

    def ran_in(self, transaction: int) -> None:
        """One more run inside transaction number `transaction` (runs come in order, so a change is a new one)."""
        self.in_transaction += 1
        if transaction != self.last_transaction:
            self.transactions += 1
            self.last_transaction = transaction


class _Group:
    __slots__ = (
        "after_write",
        "count",
        "databases",
        "fingerprint",
        "first",
        "kind",
        "max_query_time",
        "pruned_repeated",
        "query_time",
        "rows_examined",
        "rows_sent",
        "sample",
        "server_flags",
        "units",
        "values",
        "values_limit",
    )

    def __init__(self, fingerprint: str, kind: Kind, first: int):
        self.fingerprint = fingerprint
        self.kind = kind
        self.first = first  # the position of the first statement, the sample: groups are listed in that order
        self.count = 0
        self.sample: Statement | None = None  # the first statement
        # The value keys as 8-byte integers, appended as they come and deduplicated whenever the array
        # reaches `values_limit`: a set of them took 4-5x the memory (~16 MB at 1M statements).
        self.values: array | None = array("q")  # None once max_values are distinct: only the count is read
        self.values_limit = _FIRST_VALUES_LIMIT
        self.databases: dict[str, int] = {}  # an ordered set: the position where each was first seen
        self.units: tuple[dict[str, _Unit], ...] = tuple({} for _ in range(SHARDS))
        self.after_write = 0
        self.pruned_repeated = 0  # dropped units where the shape had run twice or more
        # In whole nanoseconds: integer sums do not depend on the order of the additions, so the two
        # readers' merged total is the one of a single reader (float sums differ in the last digit).
        self.query_time: int | None = None
        self.max_query_time: float | None = None
        self.rows_examined: int | None = None
        self.rows_sent: int | None = None
        self.server_flags: dict[str, int] | None = None  # executions per flag, where the source gives them


class Digest:
    """Add statements one by one, then read the groups (in order of first appearance).

    `position` is where the next statement stands in the input; `add` counts it up by one, and a log
    file's reader passes each entry's position to `add_fields` (so that readers of different shards
    of one file agree on it).
    """

    def __init__(self, *, max_values: int = 256, max_thread_units: int = 4, max_unit_values: int = 16,
                 max_samples: int = 5, max_writer_units: int = 100_000):
        self.max_values = max_values
        self.max_thread_units = max_thread_units
        self.max_unit_values = max_unit_values
        self._unit_values_limit = 2 * max_unit_values
        self.max_samples = max_samples  # the advisor reads at most 5 distinct samples of a loop
        self.max_writer_units = max_writer_units
        self.statements = 0
        self.position = 0
        self._groups: dict[str, _Group] = {}
        self._writers: tuple[dict[str, None], ...] = tuple({} for _ in range(SHARDS))  # oldest first, per shard
        self._thread_units: dict[int | None, tuple[str, int]] = {}  # `thread 12` and its shard, per connection
        self.transactions = TransactionTracker()  # BEGIN/COMMIT/... are counted there, not grouped
        self._control_shapes: dict[str, bool] = {}  # per shape not grouped yet: is it transaction control?

    def empty_like(self) -> Digest:
        """A new, empty Digest with the same bounds, starting at this one's position."""
        other = Digest(max_values=self.max_values, max_thread_units=self.max_thread_units,
                       max_unit_values=self.max_unit_values, max_samples=self.max_samples,
                       max_writer_units=self.max_writer_units)
        other.position = self.position
        return other

    def forget_caches(self) -> None:
        """Drop what is kept only to go faster (before sending the Digest to another process)."""
        self._thread_units.clear()

    def add(self, statement: Statement) -> None:
        fields = StatementFields(statement.sql, statement.thread_id, statement.database, statement.time,
                                 statement.command, statement.request, statement.user, statement.placeholders)
        group = self.add_fields(fields, sample=statement)
        if group is None:  # transaction control: counted by the tracker, no shape
            return
        if statement.query_time is not None or statement.rows_examined is not None:
            self._add_timings(group, statement.query_time, statement.rows_examined, statement.rows_sent)
        if statement.server_flags:
            self._add_flags(group, statement.server_flags)

    def add_timed_fields(self, fields: StatementFields, position: int, query_time: float | None,
                         lock_time: float | None, rows_sent: int | None, rows_examined: int | None,
                         flags: tuple[str, ...] = ()) -> None:
        """`add_fields` for a slow log's entry, with its timings (a Statement's fields of those names, and
        its `server_flags`): the same as `add` of its Statement."""
        group = self.add_fields(fields, position)
        if group is None:
            return
        if group.count == 1 and group.first == position:  # a new shape: its sample carries the timings too
            group.sample = Statement(*fields, query_time, lock_time, rows_sent, rows_examined, server_flags=flags)
        if query_time is not None or rows_examined is not None:
            self._add_timings(group, query_time, rows_examined, rows_sent)
        if flags:
            self._add_flags(group, flags)

    @staticmethod
    def _add_flags(group: _Group, flags: tuple[str, ...]) -> None:
        counts = group.server_flags if group.server_flags is not None else {}
        for flag in flags:
            counts[flag] = counts.get(flag, 0) + 1
        group.server_flags = counts

    def add_fields(self, fields: StatementFields, position: int | None = None,
                   sample: Statement | None = None) -> _Group | None:
        """Count one statement given as its fields: `add(Statement(*fields))`, the fast path of a log file,
        where a Statement is built only for each shape's first statement (the group's sample), unless
        `sample` is that Statement. `position` is the statement's place in the input (by default the next
        one; a log file's reader passes its entry's and sets `self.position` once the file is read).
        Transaction control is not grouped: it updates its connection's state, and None is returned.
        """
        sql, thread_id, database, _, _, request, _, placeholders = fields
        if position is None:
            position = self.position
            self.position += 1
        self.statements += 1
        shape, values = fingerprint_and_values(sql)
        group = self._groups.get(shape)
        if group is None:
            group = self._new_group(shape, fields, position, sample)
            if group is None:
                return None
        group.count += 1
        # The values of a prepared statement logged with its `?` are unknown: count each run as
        # different (its position is unique), since a loop of executions is a loop of round trips either way.
        key = hash(("?", position)) if placeholders else hash(values)
        group_values = group.values
        if group_values is not None:
            group_values.append(key)
            if len(group_values) >= group.values_limit:
                self._deduplicate_values(group)
        if database is not None:
            databases = group.databases
            if database not in databases and len(databases) < 100:
                databases[database] = position
        if request is None:
            unit_name, shard = self._thread_units.get(thread_id) or self._thread_unit(thread_id)
        else:
            unit_name, shard = f"request {request}", 0
        unit = group.units[shard].get(unit_name) or self._new_unit(group, shard, unit_name, position, request)
        unit.count += 1
        unit_values = unit.values
        if unit_values is not None:
            unit_values.append(key)
            if len(unit_values) >= self._unit_values_limit:
                distinct = set(unit_values)
                unit.values = None if len(distinct) >= self.max_unit_values else array("q", distinct)
        samples = unit.samples
        if len(samples) < self.max_samples and sql not in samples:
            unit.samples = (*samples, sql)
        # Asked only while some connection has a transaction open or autocommit off.
        if self.transactions.active and (transaction := self.transactions.inside(thread_id)):
            unit.ran_in(transaction)
        kind = group.kind
        if kind is _SELECT:
            if unit_name in self._writers[shard]:
                group.after_write += 1
        elif kind in _WRITES and unit_name not in self._writers[shard]:
            self._mark_writer(shard, unit_name)
        return group

    def _new_group(self, shape: str, fields: StatementFields, position: int, sample: Statement | None) -> _Group | None:
        """The group of a shape seen for the first time, or None for transaction control (never grouped)."""
        sql = fields.sql
        if self._transaction_control(shape, sql, fields.thread_id):
            return None
        group = self._groups[shape] = _Group(shape, statement_kind(sql), position)
        group.sample = sample if sample is not None else Statement(*fields)
        return group

    def _new_unit(self, group: _Group, shard: int, unit_name: str, position: int, request: int | None) -> _Unit:
        """A unit the group has not seen (yet, or since it was pruned), pruning the shard first when full."""
        units = group.units[shard]
        if request is None and len(units) >= 4 * self._kept_per_shard():
            self._prune_units(group, shard)
        unit = units[unit_name] = _Unit(position)
        return unit

    def _transaction_control(self, shape: str, sql: str, thread_id: int | None) -> bool:
        """For a shape not grouped yet: True (and the connection's state updated) when it is transaction
        control, which is never grouped. Asked once per other shape, so known groups pay nothing for it."""
        is_control = self._control_shapes.get(shape)
        if is_control is None:
            is_control = self._control_shapes[shape] = control_kind(sql) is not None
        control = control_kind(sql) if is_control else None
        if control is None:
            return False
        self.transactions.control(thread_id, *control)
        return True

    def _thread_unit(self, thread_id: int | None) -> tuple[str, int]:
        """`thread 12` and its shard, made once per connection."""
        if len(self._thread_units) >= 100_000:  # thread ids of a long log; names are cheap to redo
            self._thread_units.clear()
        named = self._thread_units[thread_id] = (f"thread {thread_id}", shard_of(thread_id))
        return named

    def merge(self, other: Digest) -> None:
        """Add what `other` digested: the statements of other connection shards of the same input.

        Exact (the result is what one Digest given every statement in order would hold) when the two
        hold no unit of the same shard and agree on positions; a shard in both is a ValueError.
        """
        self.statements += other.statements
        self.position = max(self.position, other.position)
        self.transactions.merge(other.transactions)
        for shape, theirs in other._groups.items():
            ours = self._groups.get(shape)
            if ours is None:
                self._groups[shape] = theirs
                continue
            if theirs.first < ours.first:
                ours.first, ours.sample = theirs.first, theirs.sample
            ours.count += theirs.count
            ours.after_write += theirs.after_write
            ours.pruned_repeated += theirs.pruned_repeated
            # A side that is full makes the merge full; otherwise both hold every key, so the count of
            # their union (all that is read of them) is exact.
            if ours.values is not None:
                if theirs.values is None:
                    ours.values = None
                else:
                    ours.values.extend(theirs.values)
                    self._deduplicate_values(ours)
            databases = dict(ours.databases)
            for name, position in theirs.databases.items():
                if position < databases.get(name, position + 1):
                    databases[name] = position
            ours.databases = dict(sorted(databases.items(), key=lambda item: item[1])[:100])
            for shard, units in enumerate(theirs.units):
                if units:
                    if ours.units[shard]:
                        raise ValueError(f"both digests hold units of shard {shard}")
                    ours.units[shard].update(units)
            for name in ("query_time", "rows_examined", "rows_sent"):
                mine, their = getattr(ours, name), getattr(theirs, name)
                if their is not None:
                    setattr(ours, name, their if mine is None else mine + their)
            if theirs.max_query_time is not None and (ours.max_query_time is None
                                                      or theirs.max_query_time > ours.max_query_time):
                ours.max_query_time = theirs.max_query_time
            for flag, count in (theirs.server_flags or {}).items():
                ours.server_flags = ours.server_flags or {}
                ours.server_flags[flag] = ours.server_flags.get(flag, 0) + count
        for shard, writers in enumerate(other._writers):
            if writers:
                if self._writers[shard]:
                    raise ValueError(f"both digests hold units of shard {shard}")
                self._writers[shard].update(writers)

    def groups(self) -> list[QueryGroup]:
        ordered = sorted(self._groups.values(), key=lambda group: group.first)
        return [self._query_group(group) for group in ordered]

    def take_groups(self) -> Iterator[QueryGroup]:
        """The groups as `groups` lists them, emptying the Digest as it goes: each group's value keys
        and units are given back once it is converted, not kept until the last one is."""
        ordered = sorted(self._groups.values(), key=lambda group: group.first, reverse=True)
        self._groups.clear()
        forget_shapes()
        while ordered:
            yield self._query_group(ordered.pop())

    def _query_group(self, group: _Group) -> QueryGroup:
        units = sorted(((name, unit) for shard in group.units for name, unit in shard.items()),
                       key=lambda item: item[1].first)
        repetitions = tuple(
            Repetition(name, unit.count, distinct, unit.samples, unit.in_transaction, unit.transactions,
                       distinct >= self.max_unit_values)
            for name, unit in units if unit.count >= 2
            for distinct in (self._unit_distinct(unit),)
        )
        sample = group.sample
        return QueryGroup(
            id=query_id(group.fingerprint), fingerprint=fresh_copy(group.fingerprint), kind=group.kind,
            count=group.count, sample=replace(sample, sql=fresh_copy(sample.sql)), databases=tuple(group.databases),
            distinct_values=self._distinct_values(group),
            repetitions=repetitions, after_write_count=group.after_write,
            total_query_time=None if group.query_time is None else group.query_time / 1e9,
            max_query_time=group.max_query_time,
            total_rows_examined=group.rows_examined, total_rows_sent=group.rows_sent,
            units=tuple(name for name, _ in units), pruned_repeated_units=group.pruned_repeated,
            server_flags=tuple(sorted((group.server_flags or {}).items())),
        )

    @staticmethod
    def _add_timings(group: _Group, query_time: float | None, rows_examined: int | None,
                     rows_sent: int | None) -> None:
        if query_time is not None:
            group.query_time = (group.query_time or 0) + round(query_time * 1e9)
            if group.max_query_time is None or query_time > group.max_query_time:
                group.max_query_time = query_time
        if rows_examined is not None:
            group.rows_examined = (group.rows_examined or 0) + rows_examined
        if rows_sent is not None:
            group.rows_sent = (group.rows_sent or 0) + rows_sent

    def _deduplicate_values(self, group: _Group) -> None:
        """Drop the repeated keys of a group, or all of them once max_values are distinct (a busy shape's
        keys go: the count is all that is read). The next deduplication waits until the array has doubled."""
        distinct = set(group.values)
        if len(distinct) >= self.max_values:
            group.values = None
        else:
            group.values = array("q", distinct)
            group.values_limit = max(_FIRST_VALUES_LIMIT, 2 * len(distinct))

    def _distinct_values(self, group: _Group) -> int:
        """How many different value keys the group saw (max_values: that many or more)."""
        if group.values is None:
            return self.max_values
        return min(self.max_values, len(set(group.values)))

    def _unit_distinct(self, unit: _Unit) -> int:
        """How many different value keys the unit saw (max_unit_values: that many or more)."""
        if unit.values is None:
            return self.max_unit_values
        return min(self.max_unit_values, len(set(unit.values)))

    def _kept_per_shard(self) -> int:
        return max(1, self.max_thread_units // SHARDS)

    def _prune_units(self, group: _Group, shard: int) -> None:
        """Keep the busiest and the newest connection units of one shard of a group (in their order).

        The newest may still be running their loop; the busiest are the evidence worth showing.
        """
        units = group.units[shard]
        kept = self._kept_per_shard()
        names = list(units)
        busiest = sorted(names, key=lambda name: units[name].count, reverse=True)
        keep = set(busiest[:kept]) | set(names[-kept:])
        pruned = {}
        for name, unit in units.items():
            if name in keep:
                pruned[name] = unit
            elif unit.count >= 2:
                group.pruned_repeated += 1
        units.clear()  # in place: the shard's dict is the one the caller holds
        units.update(pruned)

    def _mark_writer(self, shard: int, unit_name: str) -> None:
        writers = self._writers[shard]
        if unit_name in writers:
            return
        if len(writers) >= max(1, self.max_writer_units // SHARDS):
            for name in list(writers)[: len(writers) // 2]:
                del writers[name]
        writers[unit_name] = None
