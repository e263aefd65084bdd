"""n_plus_one: one SELECT shape run again and again with different values inside one request (a loop).

- **Detects**: one SELECT shape run at least `n_plus_one` times with at least 2 different values within
  one unit (a replayed request, or a connection in a log file).
- **Why**: one round trip per key; latency adds up linearly with the loop.
- **Fix**: real SQL built from the captured samples with sqlglot: the `col = literal` predicate becomes
  `col IN (v1, v2, ...)`, the key column joins the SELECT list (to map rows back) and a LIMIT is removed
  (it would cap all keys together; the suggestion says the loop's LIMIT was per key). An aggregate loop
  (`SELECT COUNT(*) ... WHERE post_id = ?`) is grouped by the key (valid under ONLY_FULL_GROUP_BY), and the
  suggestion says that a key with no rows is missing from the grouped answer where the loop got 0. The
  samples hold at most 5 distinct statements: when the loop had more values, the suggestion says how many
  the printed SQL lists ("fetch all 12 values in one query; with the 5 kept as samples: ...").
  When another query of the same unit reads the table the keys point to, or the rows that point to them
  (paired by the FOREIGN KEYs of the schema with `--dsn`, else by name: `order_id` and `orders`), a JOIN is
  suggested too. Where that query ran once in the unit and both read one table each, it is one whole
  statement (evidence `join_sql`): the loop's columns from the parent's rows joined to the loop's table under
  the parent's WHERE, the parent read as a derived table when it has a LIMIT (so the same parent rows are
  joined); it returns every row of every run of the loop. Otherwise (an aggregate or LIMITed loop, a parent
  that ran several times) the join is named in words.
- **True counts**: "at least N different values" where the Digest stopped counting; where it dropped
  connections from the evidence to bound memory, the message adds how many more ran the shape twice or more
  (evidence `more_units_pruned`) beside the `units` kept.
- **Proven**: tests/test_rewrites_proven.py and tests/test_cms_app.py run each printed IN list, grouped
  query and JOIN on the sample apps' data and compare its rows with the loop's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from query_audit.advise.context import AnalysisContext
from query_audit.advise.plan_facts import bare_name, schema_for
from query_audit.advise.rewrite import as_in_list, join_rewrite, loop_is_aggregate, loop_key
from query_audit.advise.rule import Rule
from query_audit.advise.rules import query_finding
from query_audit.advise.rules._loops import (
    loop_evidence,
    loop_severity,
    looping,
    samples_of,
    units_phrase,
    values_phrase,
)
from query_audit.model import AnalyzedQuery, Finding, Kind, SchemaMap, Severity, TableSchema


def _singular(name: str) -> str:
    for ending in ("ies", "es", "s"):
        if name.endswith(ending) and len(name) > len(ending) + 1:
            return name[: -len(ending)] + ("y" if ending == "ies" else "")
    return name


@lru_cache(maxsize=4096)
def _key_names(table: str) -> tuple[str, ...]:
    """The names a key pointing to `table` goes by: `<name>_id`, `<singular name>_id`. Asked once per table
    and unit where a loop's JOIN hint looks (16,641 times for the 1M bench log's 552 loops): cached by name."""
    parent = bare_name(table)
    return tuple(dict.fromkeys((f"{parent}_id", f"{_singular(parent)}_id")))


def _selects_by_unit(queries) -> dict[str, list[AnalyzedQuery]]:
    """The SELECTs that ran in each unit (the one that fetched the keys usually ran once), in query order:
    built once, not once per loop (a big log has thousands of queries and hundreds of loops)."""
    by_unit: dict[str, list[AnalyzedQuery]] = {}
    for query in queries:
        if query.group.kind is Kind.SELECT:
            units = query.group.units or tuple(rep.unit for rep in query.group.repetitions)
            for unit in dict.fromkeys(units):
                by_unit.setdefault(unit, []).append(query)
    return by_unit


class _Neighbours:
    """The other SELECTs of each unit, indexed for the JOIN hint once per unit (and per reference column)
    instead of scanned once per loop: a connection of a big log runs a thousand shapes.

    Each index lists `(query, table)` in the order the scan would meet them, so the first entry that is
    not the loop's own query is the one the scan would have found."""

    def __init__(self, queries, schemas: SchemaMap):
        self._by_unit = _selects_by_unit(queries)
        self._schemas = schemas
        self._indexes: dict[tuple[str, str], dict] = {}  # (index name, unit) -> key -> entries

    def _index(self, name: str, unit: str, entries_of) -> dict:
        """One index of the unit's tables, built on first use: `entries_of(query, table)` gives the
        `(key, entry)` pairs each table read there contributes."""
        index = self._indexes.get((name, unit))
        if index is None:
            index = self._indexes[(name, unit)] = {}
            for other in self._by_unit.get(unit, ()):
                for other_table in other.model.tables:
                    for key, entry in entries_of(other, other_table):
                        index.setdefault(key, []).append(entry)
        return index

    def reading(self, unit: str, table: str) -> list[tuple[AnalyzedQuery, str]]:
        """The tables read in `unit` named `table` (bare, lower case), as each query wrote them."""
        return self._index("reading", unit, lambda other, other_table: [
            (bare_name(other_table), (other, other_table))]).get(table, [])

    def foreign_keys_to(self, unit: str, table: str, column: str) -> list[tuple[AnalyzedQuery, str, str]]:
        """`(query, table, its column)` for the tables read in `unit` with a foreign key to `table`.`column`
        (both bare, lower case)."""
        def entries(other, other_table):
            schema = schema_for(other, other_table, self._schemas)
            return [((key.referenced_table.lower(), key.referenced_columns[0].lower()),
                     (other, other_table, key.columns[0]))
                    for key in (schema.foreign_keys if schema is not None else ()) if len(key.columns) == 1]
        return self._index("foreign keys to", unit, entries).get((table, column), [])

    def parents(self, unit: str, key_name: str) -> list[tuple[AnalyzedQuery, str]]:
        """The tables read in `unit` whose `<name>_id` or `<singular name>_id` is `key_name` (lower case)."""
        return self._index("parents", unit, lambda other, other_table: [
            (name, (other, other_table)) for name in _key_names(other_table)]).get(key_name, [])

    def referencing(self, unit: str, reference: str) -> list[tuple[AnalyzedQuery, str]]:
        """The tables read in `unit` whose known schema has the column `reference`."""
        def entries(other, other_table):
            schema = schema_for(other, other_table, self._schemas)
            return [(column.name.lower(), (other, other_table)) for column in (schema.columns if schema else ())]
        return self._index("columns", unit, entries).get(reference.lower(), [])


@dataclass(frozen=True)
class _KeySource:
    """Another SELECT of the unit that read the loop's keys: `other_table`.`column` holds them."""

    why: str
    other: AnalyzedQuery
    other_table: str
    column: str


def _join_hint(query: AnalyzedQuery, key_name: str, unit: str, neighbours: _Neighbours,
               schemas: SchemaMap) -> _KeySource | None:
    """Where the loop's keys came from, when another SELECT of the same unit reads the table they point to
    (or from)."""
    if not query.model.tables:
        return None
    table = query.model.tables[0]
    schema = schema_for(query, table, schemas)
    loop_by_primary_key = schema is not None and [c.lower() for c in schema.primary_key] == [key_name.lower()]
    declared = _foreign_key_hint(query, table, schema, key_name, loop_by_primary_key, unit, neighbours)
    if declared is not None:
        return declared
    if not loop_by_primary_key:
        for other, other_table in neighbours.parents(unit, key_name.lower()):
            if other is not query:
                return _KeySource(f"the keys come from query {other.group.id} on `{other_table}`", other,
                                  other_table, "id")
        return None
    reference = f"{_singular(bare_name(table))}_id"
    for other, other_table in neighbours.referencing(unit, reference):
        if other is not query:
            return _KeySource(f"the keys come from `{other_table}`.{reference} (query {other.group.id})", other,
                              other_table, reference)
    return None


def _foreign_key_hint(query: AnalyzedQuery, table: str, schema: TableSchema | None, key_name: str,
                      loop_by_primary_key: bool, unit: str, neighbours: _Neighbours) -> _KeySource | None:
    """The JOIN a FOREIGN KEY declares: the loop's keys point to rows another SELECT of the unit read, or
    (a loop by primary key) another SELECT of the unit read the rows that point to them."""
    if schema is None:
        return None
    key = schema.foreign_key_of(key_name)
    if key is not None:
        parent_column = key.referenced_columns[0]
        for other, other_table in neighbours.reading(unit, key.referenced_table.lower()):
            if other is not query:
                return _KeySource(f"the keys come from query {other.group.id} on `{other_table}` (foreign key "
                                  f"{table}.{key_name} -> {key.referenced_table}.{parent_column})", other,
                                  other_table, parent_column)
    if loop_by_primary_key:
        for other, other_table, column in neighbours.foreign_keys_to(unit, bare_name(table), key_name.lower()):
            if other is not query:
                return _KeySource(f"the keys come from `{other_table}`.{column} (query {other.group.id}, a foreign "
                                  f"key to {table})", other, other_table, column)
    return None


def _sample_is_the_run(group, unit: str) -> bool:
    """Whether the group's sample is the one statement it ran in `unit`: only then does a JOIN built from the
    sample stand for the keys the loop went over."""
    sample = group.sample
    if unit not in (f"request {sample.request}", f"thread {sample.thread_id}"):
        return False
    return not any(rep.unit == unit for rep in group.repetitions)


def _join_text(query: AnalyzedQuery, source: _KeySource, join_sql: str | None, key) -> str:
    """The JOIN of the loop with the query its keys came from: the whole statement where it returns the loop's
    rows, else the join condition in words."""
    if join_sql:
        return f"{source.why}: read both at once with one query: {join_sql}"
    table = query.model.tables[0]
    return (f"{source.why}: read both at once by joining them (`{source.other_table} JOIN {table} ON "
            f"{table}.{key.name} = {source.other_table}.{source.column}`)")


def _in_list_suggestion(worst, key, rewritten: str | None, samples) -> str:
    """The IN-list rewrite, said truly: how many values the loop had and how many the printed SQL lists, and
    what differs from the loop's answers (an aggregate's empty keys, a LIMIT per key)."""
    if not rewritten:
        return "fetch the rows for all keys in one query (`WHERE key IN (...)`) instead of one per key"
    shown = len(key.values)
    if worst.values_capped:
        text = (f"fetch all the values (at least {worst.distinct_values}) in one query; with the {shown} values "
                f"kept as samples: {rewritten}")
    elif shown < worst.distinct_values:
        text = f"fetch all {worst.distinct_values} values in one query; with the {shown} kept as samples: {rewritten}"
    else:
        text = f"fetch all {shown} values in one query: {rewritten}"
    if loop_is_aggregate(samples):
        text += (f" (grouped by {key.name}: a {key.name} with no rows is missing from the answer, where the loop "
                 "got 0 or NULL for it: treat a missing key as that)")
    elif "LIMIT" in samples[0].upper() and "LIMIT" not in rewritten.upper():
        text += " (the loop's LIMIT applied per key: this returns every row of each key; keep the first ones per key)"
    return text


def find(context: AnalysisContext, queries) -> list[Finding]:
    findings = []
    neighbours = None
    for query, found in looping(queries, context.thresholds.n_plus_one, distinct=True):
        worst = found[0]
        samples = samples_of(query.group, worst)
        key = loop_key(samples)
        rewritten = as_in_list(samples, key) if key else None
        hint = None
        if key:
            neighbours = _Neighbours(context.queries, context.schemas) if neighbours is None else neighbours
            hint = _join_hint(query, key.name, worst.unit, neighbours, context.schemas)
        suggestion = _in_list_suggestion(worst, key, rewritten, samples)
        join_sql = join_rewrite(hint.other.group.sample.sql, hint.other_table, hint.column, samples, key) \
            if hint and _sample_is_the_run(hint.other.group, worst.unit) else None
        if hint:
            suggestion += f"; or {_join_text(query, hint, join_sql, key)}"
        evidence = loop_evidence(found, query.group)
        evidence.update({"loop_column": key.column if key else None, "rewritten_sql": rewritten,
                         "join_sql": join_sql})
        findings.append(query_finding(query,
            rule=RULE.id,
            severity=loop_severity(worst, context.thresholds.n_plus_one, usual=Severity.MEDIUM, many=Severity.HIGH),
            message=(f"the same SELECT ran {worst.count} times with {values_phrase(worst)} in "
                     f"{worst.unit}" + (f" (looping over {key.column})" if key else "") +
                     f": {worst.count} round trips where one would do" + units_phrase(found, query.group)),
            table=query.model.tables[0] if query.model.tables else None,
            columns=(key.name,) if key else (),
            suggestion=suggestion,
            evidence=evidence,
        ))
    return findings


RULE = Rule(
    id="n_plus_one",
    severity=Severity.MEDIUM,
    kinds=frozenset({Kind.SELECT}),
    description="The same SELECT runs once per key inside one request (an N+1 loop).",
    help=("Anti-pattern: a query inside a loop over the results of another. Best practice: one query with "
          "WHERE key IN (...), or a JOIN."),
    severity_policy="`medium`, `high` from 10 x `n_plus_one` runs",
    details=__doc__,
    find=find,
)
