"""Candidate indexes: one per (query, table) from the statement model, merged per table across the capture.

Column order follows the usual rule: equality columns, then the ORDER BY/GROUP BY columns (when they can
be read in index order), then at most one range column, which ends the usable prefix. A candidate is only
kept when the plan shows the table read without a useful key and an existing index does not already start
with the same columns.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import NamedTuple

from query_audit.advise.estimates import equality_values, low_selectivity, rows_matching
from query_audit.advise.index_shape import (
    PREFIX_REQUIRED,
    key_parts,
    link_table_reverse,
    with_primary_key,
    without_auto_increment,
)
from query_audit.advise.plan_facts import (
    bare_name,
    is_full_scan,
    is_implicit_conversion,
    plan_row_evidence,
    plan_rows_for,
    qualified,
    quote_identifier,
    schema_for,
    table_rows,
)
from query_audit.model import (
    AnalyzedQuery,
    PlanRow,
    SchemaMap,
    TableSchema,
    Thresholds,
)

EQUALITY_ROLES = ("eq", "is_null")
RANGE_ROLES = ("range", "like_prefix")
# A key this many times worse than the candidate's estimate is not a useful key; with a measured
# estimate (a count of the captured values) halving the rows is worth suggesting: the shadow judges it.
MUCH_WORSE = 10
MUCH_WORSE_MEASURED = 2
# Guessed selectivity when no statistics exist: each equality column keeps 1/10, a range 1/3.
GUESS_EQUALITY = 10
GUESS_RANGE = 3
MAX_IDENTIFIER = 64


@dataclass(frozen=True)
class QueryCandidate:
    """The index one query wants on one table, and the columns no index can help with (and why)."""

    query_id: str
    table: str
    equality: tuple[str, ...]
    sort: tuple[str, ...]
    range_column: str | None
    unusable: tuple[tuple[str, str], ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.equality + self.sort + ((self.range_column,) if self.range_column else ())


@dataclass(frozen=True)
class Estimate:
    rows: int
    basis: str
    estimated: bool  # True when no statistics backed it (a guess)
    source: str = "guessed"  # measured | statistics | guessed


@dataclass(frozen=True)
class IndexSuggestion:
    """One index for one table, serving every query in `query_ids`."""

    schema: TableSchema
    table: str  # as the statements name it
    columns: tuple[str, ...]
    name: str
    ddl: str
    query_ids: tuple[str, ...]
    candidates: tuple[QueryCandidate, ...]
    rows_before: int
    after: Estimate
    plans: tuple[dict, ...]  # per served query: its plan row before


def _unique(names) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.lower(), name)
    return tuple(seen.values())


def _is_driving_table(query: AnalyzedQuery, table: str) -> bool:
    """True when the plan reads this table first in its SELECT: its join columns have nothing to seek by."""
    if query.plan is None:
        return False
    own = plan_rows_for(query, table)
    if not own:
        return False
    select_id = own[0].select_id
    same_select = [row for row in query.plan.rows if row.select_id == select_id and row.table]
    return len(same_select) > 1 and same_select[0] is own[0]


def _sort_columns(query: AnalyzedQuery, table: str, scope: int) -> tuple[str, ...]:
    """GROUP BY columns, else ORDER BY columns, when all are from this table and go one direction."""
    model = query.model
    for role in ("group", "order"):
        uses = [use for use in model.columns if use.role == role and use.scope == scope]
        if not uses:
            continue
        if any(bare_name(use.table) != bare_name(table) or use.reason for use in uses):
            return ()  # another table's column, or an expression (a reason): no index returns that order
        if role == "order" and len({(use.detail or "asc").lower() for use in uses}) > 1:
            return ()
        return _unique(use.column for use in uses)
    return ()


def query_candidates(query: AnalyzedQuery, table: str, schema: TableSchema | None) -> list[QueryCandidate]:
    """The index each SELECT scope of `query` wants on `table` (scopes without a usable column give none)."""
    model = query.model
    uses = model.uses(table)
    driving = _is_driving_table(query, table)
    candidates = []
    for scope in sorted({use.scope for use in uses}):
        equality, ranges, unusable = [], [], []
        for use in (use for use in uses if use.scope == scope):
            if use.role == "not_sargable":
                unusable.append((use.column, use.reason or "cannot use an index"))
            elif use.role in ("eq", "in", "range", "like_prefix") and is_implicit_conversion(
                    use.detail, schema, use.column):
                unusable.append((use.column, "string column compared with a number (implicit conversion)"))
            # sql_model records a one-value IN as eq, so every `in` here is a list: a range for the index.
            elif use.role in EQUALITY_ROLES or (use.role == "join" and not driving):
                equality.append(use.column)
            elif use.role in RANGE_ROLES or use.role == "in":
                ranges.append(use.column)
        equality = _unique(equality)
        taken = {name.lower() for name in equality}
        sort = tuple(name for name in _sort_columns(query, table, scope) if name.lower() not in taken)
        range_column = next((name for name in ranges if name.lower() not in taken | {s.lower() for s in sort}), None)
        if sort and not equality and not range_column and model.limit is None:
            sort = ()  # reading the whole table in index order is no cheaper than sorting it
        if equality or sort or range_column or unusable:
            candidates.append(QueryCandidate(query.group.id, table, equality, sort, range_column,
                                             tuple(unusable)))
    return candidates


def drop_trailing_primary_key(columns: tuple[str, ...], schema: TableSchema) -> tuple[str, ...]:
    """InnoDB appends the primary key to every secondary index: a trailing PK prefix adds nothing."""
    primary = tuple(name.lower() for name in schema.primary_key)
    lowered = tuple(name.lower() for name in columns)
    for size in range(len(primary), 0, -1):
        if len(columns) > size and lowered[-size:] == primary[:size]:
            return columns[:-size]
    return columns


def _without_trailing_primary_key(candidate: QueryCandidate, schema: TableSchema) -> QueryCandidate:
    keep = len(drop_trailing_primary_key(candidate.columns, schema))
    if keep == len(candidate.columns):
        return candidate
    return replace(candidate, equality=candidate.equality[:keep],
                   sort=candidate.sort[:max(0, keep - len(candidate.equality))], range_column=None)


def covering_index(schema: TableSchema, columns: tuple[str, ...]):
    """An existing index whose leftmost columns (with InnoDB's primary-key suffix) are `columns`, or None."""
    wanted = tuple(name.lower() for name in columns)
    for index in schema.indexes:
        if tuple(name.lower() for name in with_primary_key(schema, index)[:len(wanted)]) == wanted:
            return index
    return None


def estimate_rows_after(schema: TableSchema, candidate: QueryCandidate, row: PlanRow | None,
                        limit: int | None = None, values: dict[str, str] | None = None) -> Estimate:
    """Rows one execution would read with the candidate index, and what the figure rests on.

    Measured (a bounded count of the captured values), then the server's statistics, then the
    optimizer's `filtered`, then a guess; `Estimate.source` names which.
    """
    size = max(table_rows(schema, row), 1)
    if candidate.equality:
        found = rows_matching(schema, candidate.equality, values or {}, size)
        if found:
            rows, basis, source = found  # the equality's rows: at most what a range after it leaves
            return Estimate(max(1, rows), basis, False, source)
    if row is not None and row.filtered is not None and 0 < row.filtered < 100 and (candidate.equality or
                                                                                      candidate.range_column):
        return Estimate(max(1, math.ceil(size * row.filtered / 100)),
                        "statistics: the optimizer's filtered estimate", False, "statistics")
    if not candidate.equality and not candidate.range_column and limit is not None:
        return Estimate(min(limit, size), "statistics: the LIMIT, read in index order", False, "statistics")
    guess = size / (GUESS_EQUALITY ** len(candidate.equality)) / (GUESS_RANGE if candidate.range_column else 1)
    guessed_on = ", ".join(candidate.equality + ((candidate.range_column,) if candidate.range_column else ()))
    basis = f"a guess: no statistics for {guessed_on or 'these columns'}; --verify measures it"
    return Estimate(max(1, math.ceil(guess)), basis, True, "guessed")


def needs_index(row: PlanRow | None, schema: TableSchema, after: Estimate, thresholds: Thresholds) -> bool:
    """Whether the plan reads the table without a useful key, on a table that is not tiny."""
    if row is None or table_rows(schema, row) < thresholds.full_scan_rows:
        return False
    if is_full_scan(row):
        return True
    examined = row.rows or 0
    factor = MUCH_WORSE_MEASURED if after.source == "measured" else MUCH_WORSE
    return examined >= thresholds.full_scan_rows and examined >= factor * after.rows


def index_name(schema: TableSchema, columns: tuple[str, ...]) -> str:
    base = "_".join(["idx", schema.name, *columns]).lower()
    base = re.sub(r"[^0-9a-z_]", "_", base)[:MAX_IDENTIFIER]
    taken = {index.name.lower() for index in schema.indexes}
    name, number = base, 2
    while name in taken:
        suffix = f"_{number}"
        name, number = base[:MAX_IDENTIFIER - len(suffix)] + suffix, number + 1
    return name


def add_index_ddl(schema: TableSchema, name: str, columns: tuple[str, ...]) -> str:
    parts = [quote_identifier(column) + (f"({prefix})" if prefix else "")
             for column, prefix in key_parts(schema, columns)]
    return f"ALTER TABLE {qualified(schema)} ADD INDEX {quote_identifier(name)} ({', '.join(parts)})"


def drop_index_ddl(schema: TableSchema, name: str) -> str:
    return f"ALTER TABLE {qualified(schema)} DROP INDEX {quote_identifier(name)}"


@dataclass(frozen=True)
class _Need:
    query: AnalyzedQuery
    candidate: QueryCandidate
    row: PlanRow
    after: Estimate


def _order_equality_by_use(needs: list[_Need], schema: TableSchema) -> list[_Need]:
    """Put equality columns many queries share first, so one index can serve them all; among equals, a
    column indexed whole before a TEXT/BLOB prefix, and the more selective first where the statistics or a
    count say so: (post_id, meta_key) and (meta_key, meta_value(32)), as an expert writes them."""
    counts = Counter(name.lower() for need in needs for name in need.candidate.equality)
    reordered = []
    for need in needs:
        values = equality_values(need.query, need.candidate.table)
        size = table_rows(schema, need.row)

        def order(position: int, name: str, values=values, size=size) -> tuple:
            column = schema.column(name)
            prefixed = column is not None and column.data_type in PREFIX_REQUIRED
            # Only a compared value has a selectivity (a link table's appended key column stays last).
            found = rows_matching(schema, (name,), values, size) if name.lower() in values else None
            return -counts[name.lower()], prefixed, found[0] if found else math.inf, position

        ranked = sorted(enumerate(need.candidate.equality), key=lambda item: order(*item))
        equality = tuple(name for _position, name in ranked)
        reordered.append(replace(need, candidate=replace(need.candidate, equality=equality)))
    return reordered


def _lower(columns) -> tuple[str, ...]:
    return tuple(name.lower() for name in columns)


def shared_prefix(candidate: QueryCandidate, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The leftmost columns of `columns` the candidate's query can use (its own leading columns)."""
    used = []
    for mine, theirs in zip(_lower(candidate.columns), _lower(columns)):
        if mine != theirs:
            break
        used.append(theirs)
    return tuple(used)


def _merge(needs: list[_Need]) -> list[tuple[tuple[str, ...], list[_Need]]]:
    """Group candidates so one index serves as many queries as possible.

    First, shorter candidates that are leftmost prefixes of a longer one join it: (a) and (a, b) give
    (a, b). Then a group whose index starts with the same equality column as a bigger group's joins that
    one: its queries seek on the shared prefix, which beats adding one more index every write pays for.
    """
    groups: list[tuple[tuple[str, ...], list[_Need]]] = []
    for need in sorted(needs, key=lambda n: -len(n.candidate.columns)):
        wanted = _lower(need.candidate.columns)
        for columns, members in groups:
            if _lower(columns[:len(wanted)]) == wanted:
                members.append(need)
                break
        else:
            groups.append((need.candidate.columns, [need]))
    merged: list[tuple[tuple[str, ...], list[_Need]]] = []
    for columns, members in sorted(groups, key=lambda g: -len(g[1])):
        for target_columns, target_members in merged:
            first = target_columns[0].lower()
            if all(need.candidate.equality and need.candidate.equality[0].lower() == first
                   for need in members + target_members):
                target_members.extend(members)
                break
        else:
            merged.append((columns, members))
    return merged


def _served_estimate(schema: TableSchema, need: _Need, columns: tuple[str, ...]) -> Estimate:
    """The estimate for a query served by only a prefix of the merged index."""
    used = set(shared_prefix(need.candidate, columns))
    if used == set(_lower(need.candidate.columns)):
        return need.after
    partial = replace(need.candidate, equality=tuple(c for c in need.candidate.equality if c.lower() in used),
                      sort=(), range_column=None)
    return estimate_rows_after(schema, partial, need.row, need.query.model.limit,
                               equality_values(need.query, need.candidate.table))


class TableNeed(NamedTuple):
    """The index one query wants on one table, what its plan reads there, and whether one is missing."""

    query: AnalyzedQuery
    table: str
    schema: TableSchema
    candidate: QueryCandidate
    row: PlanRow  # the plan row reading the most rows of the table
    after: Estimate  # rows one execution would read with the candidate index
    needed: bool  # False: an existing index covers it, the plan uses a good key, or the value is too common


def unmet_needs(queries, schemas: SchemaMap, thresholds: Thresholds):
    """Per query and table: a `TableNeed` for each candidate index (AnalysisContext.needs keeps them)."""
    for query in queries:
        if query.plan is None or not query.model.parsed:
            continue
        for table in query.model.tables:
            schema = schema_for(query, table, schemas)
            rows = plan_rows_for(query, table)
            if schema is None or not rows:
                continue
            row = max(rows, key=lambda r: r.rows or 0)
            values = equality_values(query, table)
            for candidate in query_candidates(query, table, schema):
                # Estimated on the query's own columns: a link table's added key column filters nothing.
                candidate = without_auto_increment(_without_trailing_primary_key(candidate, schema), schema)
                after = estimate_rows_after(schema, candidate, row, query.model.limit, values)
                candidate = link_table_reverse(candidate, schema)
                needed = bool(candidate.columns) and covering_index(schema, candidate.columns) is None \
                    and needs_index(row, schema, after, thresholds) \
                    and too_common_alone(schema, candidate, values, row) is None
                yield TableNeed(query, table, schema, candidate, row, after, needed)


def too_common_alone(schema: TableSchema, candidate: QueryCandidate, values: dict[str, str],
                     row: PlanRow | None) -> tuple[str, float, str] | None:
    """(column, share, basis) when the candidate is one equality column that matches so large a share of
    the table (from the statistics or a measurement) that the optimizer would scan anyway."""
    if len(candidate.equality) != 1 or candidate.sort or candidate.range_column:
        return None
    column = candidate.equality[0]
    found = low_selectivity(schema, column, values, table_rows(schema, row))
    return (column, *found) if found else None


def suggest_indexes(queries, schemas: SchemaMap, thresholds: Thresholds,
                    needs: tuple[TableNeed, ...] | None = None) -> list[IndexSuggestion]:
    """Every index worth adding, merged per table across all queries that would use it. `needs`: the
    queries' unmet_needs when the caller has them already (AnalysisContext does)."""
    per_table: dict[tuple[str, str], list[_Need]] = {}
    schema_of: dict[tuple[str, str], tuple[TableSchema, str]] = {}
    if needs is None:
        needs = unmet_needs(queries, schemas, thresholds)
    for query, table, schema, candidate, row, after, needed in needs:
        if needed:
            key = (schema.database, schema.name)
            per_table.setdefault(key, []).append(_Need(query, candidate, row, after))
            schema_of.setdefault(key, (schema, table))
    suggestions = []
    for key, needs in per_table.items():
        schema, table = schema_of[key]
        for columns, members in _merge(_order_equality_by_use(needs, schema)):
            if covering_index(schema, columns) is not None:
                continue
            worst = max(members, key=lambda need: (need.row.rows or 0, -len(shared_prefix(need.candidate, columns))))
            name = index_name(schema, columns)
            query_ids = tuple(dict.fromkeys(need.query.group.id for need in members))
            plans = tuple({"query_id": need.query.group.id,
                           "uses_columns": list(shared_prefix(need.candidate, columns)),
                           **plan_row_evidence(need.row)} for need in members)
            suggestions.append(IndexSuggestion(
                schema=schema, table=table, columns=columns, name=name, ddl=add_index_ddl(schema, name, columns),
                query_ids=query_ids, candidates=tuple(need.candidate for need in members),
                rows_before=worst.row.rows if worst.row.rows is not None else table_rows(schema, worst.row),
                after=_served_estimate(schema, worst, columns), plans=plans))
    return suggestions
