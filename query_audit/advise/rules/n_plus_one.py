"""n_plus_one: one SELECT shape run again and again with different values inside one request (a loop).

The fix is one query: the sample rewritten to `WHERE key IN (...)` from the values the loop sent, or a
JOIN when the keys came from another query of the same request.
"""

from __future__ import annotations

from query_audit.advise.plan_facts import bare_name, schema_for
from query_audit.advise.rewrite import as_in_list, loop_key
from query_audit.advise.rules import query_finding
from query_audit.advise.rules._loops import loop_evidence, loops, samples_of
from query_audit.model import (
    AnalyzedQuery,
    Finding,
    Kind,
    SchemaMap,
    Severity,
    Thresholds,
)

RULE = "n_plus_one"


def _singular(name: str) -> str:
    for ending in ("ies", "es", "s"):
        if name.endswith(ending) and len(name) > len(ending) + 1:
            return name[: -len(ending)] + ("y" if ending == "ies" else "")
    return name


def _selects_by_unit(queries) -> dict[str, list[AnalyzedQuery]]:
    """The SELECTs that repeated in each unit, in query order: built once, not once per loop (a big log
    has thousands of queries and hundreds of loops)."""
    by_unit: dict[str, list[AnalyzedQuery]] = {}
    for query in queries:
        if query.group.kind is Kind.SELECT:
            for unit in dict.fromkeys(rep.unit for rep in query.group.repetitions):
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
        self._parents: dict[str, dict[str, list[tuple[AnalyzedQuery, str]]]] = {}
        self._referencing: dict[tuple[str, str], list[tuple[AnalyzedQuery, str]]] = {}

    def parents(self, unit: str, key_name: str) -> list[tuple[AnalyzedQuery, str]]:
        """The tables read in `unit` whose `<name>_id` or `<singular name>_id` is `key_name` (lower case)."""
        index = self._parents.get(unit)
        if index is None:
            index = self._parents[unit] = {}
            for other in self._by_unit.get(unit, ()):
                for other_table in other.model.tables:
                    parent = bare_name(other_table)
                    for name in dict.fromkeys((f"{parent}_id", f"{_singular(parent)}_id")):
                        index.setdefault(name, []).append((other, other_table))
        return index.get(key_name, [])

    def referencing(self, unit: str, reference: str) -> list[tuple[AnalyzedQuery, str]]:
        """The tables read in `unit` whose known schema has the column `reference`."""
        found = self._referencing.get((unit, reference))
        if found is None:
            found = self._referencing[(unit, reference)] = [
                (other, other_table) for other in self._by_unit.get(unit, ()) for other_table in other.model.tables
                if (schema := schema_for(other, other_table, self._schemas)) is not None and schema.column(reference)]
        return found


def _join_hint(query: AnalyzedQuery, key_name: str, unit: str, neighbours: _Neighbours,
               schemas: SchemaMap) -> str | None:
    """A JOIN, when another SELECT of the same unit reads the table the loop's keys point to (or from)."""
    if not query.model.tables:
        return None
    table = query.model.tables[0]
    schema = schema_for(query, table, schemas)
    loop_by_primary_key = schema is not None and [c.lower() for c in schema.primary_key] == [key_name.lower()]
    if not loop_by_primary_key:
        for other, other_table in neighbours.parents(unit, key_name.lower()):
            if other is not query:
                return (f"the keys come from query {other.group.id} on `{other_table}`: read both at once with "
                        f"`... FROM {other_table} JOIN {table} ON {table}.{key_name} = {other_table}.id`")
        return None
    reference = f"{_singular(bare_name(table))}_id"
    for other, other_table in neighbours.referencing(unit, reference):
        if other is not query:
            return (f"the keys come from `{other_table}`.{reference} (query {other.group.id}): read both at "
                    f"once with `... FROM {other_table} JOIN {table} ON {table}.{key_name} = "
                    f"{other_table}.{reference}`")
    return None


def check(queries, schemas: SchemaMap, thresholds: Thresholds) -> list[Finding]:
    findings = []
    neighbours = None
    for query in queries:
        if query.group.kind is not Kind.SELECT:
            continue
        found = loops(query.group, thresholds.n_plus_one, distinct=True)
        if not found:
            continue
        worst = found[0]
        samples = samples_of(query.group, worst)
        key = loop_key(samples)
        rewritten = as_in_list(samples, key) if key else None
        hint = None
        if key:
            neighbours = _Neighbours(queries, schemas) if neighbours is None else neighbours
            hint = _join_hint(query, key.name, worst.unit, neighbours, schemas)
        if rewritten:
            suggestion = f"fetch all {worst.distinct_values} values in one query: {rewritten}"
        else:
            suggestion = "fetch the rows for all keys in one query (`WHERE key IN (...)`) instead of one per key"
        if hint:
            suggestion += f"; or {hint}"
        evidence = loop_evidence(found)
        evidence.update({"loop_column": key.column if key else None, "rewritten_sql": rewritten})
        findings.append(query_finding(query,
            rule=RULE,
            severity=Severity.HIGH if worst.count >= 10 * thresholds.n_plus_one else Severity.MEDIUM,
            message=(f"the same SELECT ran {worst.count} times with {worst.distinct_values} different values in "
                     f"{worst.unit}" + (f" (looping over {key.column})" if key else "") +
                     f": {worst.count} round trips where one would do"),
            table=query.model.tables[0] if query.model.tables else None,
            columns=(key.name,) if key else (),
            suggestion=suggestion,
            evidence=evidence,
        ))
    return findings
