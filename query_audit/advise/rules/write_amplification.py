"""write_amplification: how many index entries one request's writes must maintain, per table.

- **Detects**: per unit and table, the secondary index entries the writes maintain: every INSERT, REPLACE
  and DELETE row touches every secondary index; an UPDATE only those containing a column it sets (all when
  it changes the primary key). Also counted: UPDATEs that change indexed columns, and the entries the
  suggested indexes would add. Reported only where writes make real index work: at least `bulk_insert` row
  writes in one unit, an UPDATE that changes an indexed column, or a suggested index that adds cost to a
  table that is written; then for the worst such unit. A single INSERT maintaining its table's indexes
  raises nothing.
- **Fix**: batch the writes, drop redundant indexes, avoid updating unchanged indexed columns, queue writes
  that can wait.
"""

from __future__ import annotations

from dataclasses import dataclass

from query_audit.advise.context import AnalysisContext
from query_audit.advise.rule import Rule
from query_audit.advise.rules import written_table
from query_audit.model import AnalyzedQuery, Finding, Kind, Severity, TableSchema, Thresholds


def touched_indexes(query: AnalyzedQuery, table: str, schema: TableSchema,
                    extra: tuple[tuple[str, ...], ...] = ()) -> tuple[int, int]:
    """(secondary indexes this write maintains, of them the suggested `extra` ones) for one execution."""
    indexes = [index.column_names for index in schema.secondary_indexes] + list(extra)
    if query.group.kind is not Kind.UPDATE:
        return len(indexes), len(extra)
    changed = {use.column.lower() for use in query.model.uses(table, "set")}
    if changed & {name.lower() for name in schema.primary_key}:
        return len(indexes), len(extra)
    hit = [columns for columns in indexes if changed & {name.lower() for name in columns}]
    return len(hit), sum(1 for columns in hit if columns in extra)


@dataclass
class _Tally:
    table: str
    schema: TableSchema
    writes: int = 0
    index_writes: int = 0
    added_by_suggestions: int = 0
    indexed_updates: int = 0
    query_ids: tuple = ()


def makes_index_work(tally: _Tally, thresholds: Thresholds) -> bool:
    """Whether a unit's writes to one table are worth a finding, not the cost any single write has.

    One INSERT maintaining one index is how tables work. It becomes advice when rows are written in bulk
    (`thresholds.bulk_insert` row writes in one unit), when UPDATEs rewrite indexed columns, or when the
    indexes the advisor suggests would add to a table that is written.
    """
    if not tally.index_writes:
        return False
    return tally.writes >= thresholds.bulk_insert or tally.indexed_updates > 0 or tally.added_by_suggestions > 0


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"


def _units(query: AnalyzedQuery) -> list[tuple[str, int]]:
    if query.group.repetitions:
        return [(rep.unit, rep.count) for rep in query.group.repetitions]
    return [("the whole capture", query.group.count)]


def _suggested_columns(context: AnalysisContext) -> dict[tuple[str, str], tuple[tuple[str, ...], ...]]:
    """The columns of each index the advisor suggests, by (database, table)."""
    suggested: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {}
    for suggestion in context.suggestions:
        key = (suggestion.schema.database, suggestion.schema.name)
        suggested[key] = suggested.get(key, ()) + (suggestion.columns,)
    return suggested


def _tallies(context: AnalysisContext, writes) -> dict[tuple[str, str, str], _Tally]:
    """Per (unit, database, table): what the writes there cost the table's indexes."""
    suggested = _suggested_columns(context)
    tallies: dict[tuple[str, str, str], _Tally] = {}
    for query in writes:
        table = written_table(query)
        schema = context.schema(query, table) if table else None
        if schema is None:
            continue
        key = (schema.database, schema.name)
        maintained, added = touched_indexes(query, table, schema, suggested.get(key, ()))
        for unit, runs in _units(query):
            tally = tallies.setdefault((unit, *key), _Tally(table, schema))
            rows = max(query.model.insert_rows, 1) * runs
            tally.writes += rows
            tally.index_writes += rows * maintained
            tally.added_by_suggestions += rows * added
            if query.group.kind is Kind.UPDATE and maintained - added > 0:
                tally.indexed_updates += runs
            tally.query_ids = tuple(dict.fromkeys(tally.query_ids + (query.group.id,)))
    return tallies


def find(context: AnalysisContext, queries) -> list[Finding]:
    thresholds = context.thresholds
    worst: dict[tuple[str, str], tuple[str, _Tally]] = {}
    for (unit, database, name), tally in _tallies(context, queries).items():
        key = (database, name)
        if makes_index_work(tally, thresholds) and (key not in worst or
                                                    tally.index_writes > worst[key][1].index_writes):
            worst[key] = (unit, tally)
    return [_finding(unit, tally, thresholds) for unit, tally in worst.values()]


def _finding(unit: str, tally: _Tally, thresholds: Thresholds) -> Finding:
    severity = (Severity.INFO if tally.index_writes < thresholds.index_writes_low else
                Severity.LOW if tally.index_writes < thresholds.index_writes_medium else Severity.MEDIUM)
    secondary = len(tally.schema.secondary_indexes)
    message = (f"{_count(tally.writes, 'row write')} to `{tally.table}` in {unit} maintain "
               f"{_count(tally.index_writes, 'secondary index entry', 'secondary index entries')} "
               f"(the table has {_count(secondary, 'secondary index', 'secondary indexes')})")
    if tally.indexed_updates:
        message += f"; {_count(tally.indexed_updates, 'UPDATE')} change indexed columns"
    if tally.added_by_suggestions:
        message += f"; the suggested indexes would add {tally.added_by_suggestions} more"
    return Finding(
        rule=RULE.id,
        severity=severity,
        message=message,
        table=tally.table,
        query_id=tally.query_ids[0],
        query_ids=tally.query_ids,
        count=tally.writes,
        suggestion=("batch the writes (one multi-row statement per request), drop redundant indexes, avoid "
                    "updating indexed columns that did not change, or queue writes that can wait"),
        evidence={"unit": unit, "row_writes": tally.writes, "index_writes": tally.index_writes,
                  "secondary_indexes": secondary, "updates_changing_indexed_columns": tally.indexed_updates,
                  "added_by_suggested_indexes": tally.added_by_suggestions},
    )


RULE = Rule(
    id="write_amplification",
    severity=Severity.INFO,
    kinds=frozenset(kind for kind in Kind if kind.is_write),
    description="How many secondary index entries one request's writes maintain, per table.",
    help=("Anti-pattern: many small writes to a table with many indexes, or updating indexed columns. Best "
          "practice: batch writes, drop redundant indexes, queue writes that can wait."),
    severity_policy=("`info` below `index_writes_low` (20) entries per unit, `low` below `index_writes_medium` "
                     "(200), then `medium`"),
    details=__doc__,
    find=find,
)
