"""full_table_scan: a statement reads every row of a table (type ALL, or a full index scan).

- **Detects**: a plan row with type `ALL`, or type `index` (a full scan of an index's leaves; MariaDB shows
  `UPDATE ... WHERE unindexed = ?` as `index` on `PRIMARY`). Not `INSERT ... VALUES` (MariaDB and MySQL show
  type `ALL` with rows NULL for it), nor derived/temporary tables (`<derived2>`).
- **Why it matters**: each execution reads the whole table; cost grows with the table, not with the result.
- **Fix**: index the filtered columns (see missing_index) or filter on an indexed column; cache a result that
  really needs every row.
- **Evidence**: the plan row, rows examined, table rows.
- **Without a plan** (no `--dsn`, or the EXPLAIN failed), from the server's own account of each execution,
  named in `evidence.source`: a MariaDB slow log written with `log_slow_verbosity=query_plan`
  (`Full_scan: Yes`), performance_schema's `NO_INDEX_USED` / `NO_GOOD_INDEX_USED` (a `--source
  performance-schema` capture, `analyze --digests`), or, with neither, a SELECT whose rows examined per
  execution are at least `full_scan_rows` and 100 times the rows sent (any slow log; not writes, which send
  nothing). The table is named when the statement has one.
"""

from __future__ import annotations

from query_audit.advise.context import AnalysisContext
from query_audit.advise.estimates import equality_values, low_selectivity
from query_audit.advise.plan_facts import (
    is_full_scan,
    plan_row_evidence,
    rows_examined,
    severity_by_rows,
    table_of_plan_row,
    table_rows,
    where_columns,
)
from query_audit.advise.rule import Rule
from query_audit.advise.rules import query_finding
from query_audit.advise.rules._server_evidence import scan_findings
from query_audit.model import Finding, Severity


def _too_common(query, table: str, schema, filtered_on: tuple[str, ...]) -> tuple[str, str, float, str] | None:
    """(column, value, share, basis) of an equality whose captured value matches a large share of the table."""
    if schema is None:
        return None
    values = equality_values(query, table)
    size = table_rows(schema)
    for column in filtered_on:
        if column.lower() in values:
            found = low_selectivity(schema, column, values, size)
            if found:
                return column, values[column.lower()], found[0], found[1]
    return None


def _why(row, filtered_on: tuple[str, ...], schema, common) -> str:
    how = "reads the whole table" if row.access_type == "ALL" else f"scans all of index {row.key or '?'}"
    if not filtered_on:
        return f"{how}: the statement has no condition an index could seek on"
    wanted = {name.lower() for name in filtered_on}
    ignored = [index.name for index in (schema.indexes if schema else ())
               if index.columns and index.columns[0].name.lower() in wanted]
    share = (f"{common[0]} = {common[1]!r} matches ~{common[2]:.0%} of the table ({common[3]})"
             if common else None)
    passed = [index.name for index in (schema.indexes if schema and common else ())
              if index.columns and index.columns[0].name.lower() == common[0].lower()]
    if passed:
        return (f"{how}: the optimizer passed {', '.join(passed)} by because {share}: reading the whole table "
                "costs less than that many lookups through the index")
    if share:
        return (f"{how}: no index suggested, because {share}: the optimizer would scan even with an index "
                f"on {common[0]} alone")
    if ignored:
        return (f"{how}: the optimizer did not use {', '.join(ignored)} (too many matching rows for it to "
                "pay off, or a condition it cannot seek on)")
    return f"{how}: no index starts with the filtered column(s) {', '.join(filtered_on)}"


def _suggestion(filtered_on: tuple[str, ...], common) -> str:
    if common:
        return (f"an index on {common[0]} alone cannot make this cheaper while the value matches that share of the "
                "table: add a selective condition (and index it first, with "
                f"{common[0]} after it), a LIMIT, or keep the scan")
    if filtered_on:
        return "add an index on the filtered columns (see missing_index), or filter on an indexed column"
    return "add a WHERE on an indexed column or a LIMIT; if the whole table is really needed, cache the result"


def find(context: AnalysisContext, queries) -> list[Finding]:
    findings = [_finding(context, query, row) for query in queries if query.plan is not None
                for row in query.plan.rows if table_of_plan_row(query, row) is not None and is_full_scan(row)]
    # No plan: the server's own word, where the source has it (a slow log's Full_scan, NO_INDEX_USED).
    return findings + scan_findings(queries, context.thresholds, RULE.id)


def _finding(context: AnalysisContext, query, row) -> Finding:
    table = table_of_plan_row(query, row)
    schema = context.schema(query, table)
    examined = rows_examined(row, schema)
    size = table_rows(schema, row)
    filtered_on = where_columns(query, table)
    common = _too_common(query, table, schema, filtered_on)
    evidence = {"plan_row": plan_row_evidence(row), "rows_examined": examined, "table_rows": size,
                "executions": query.group.count}
    if common:
        evidence["matching_share"] = {"column": common[0], "share": round(common[2], 4), "basis": common[3],
                                      "source": common[3].split(":", 1)[0]}
    return query_finding(query,
        rule=RULE.id,
        severity=severity_by_rows(max(examined, 0), context.thresholds),
        message=(f"{query.model.kind.value.upper()} on `{table}` examines ~{examined} rows "
                 f"(table ~{size} rows) per execution: it {_why(row, filtered_on, schema, common)}"),
        table=table,
        columns=filtered_on,
        suggestion=_suggestion(filtered_on, common),
        rows_examined=examined,
        evidence=evidence,
    )


RULE = Rule(
    id="full_table_scan",
    severity=Severity.MEDIUM,
    description="A statement reads every row of a table (EXPLAIN type ALL, or a full index scan).",
    help=("Anti-pattern: filtering a large table on columns no index starts with, so each execution reads all "
          "of it. Best practice: index the filtered columns, or filter on indexed ones."),
    severity_policy=("by rows examined (plan rows, else the table's estimate): `info` below `full_scan_rows`, "
                     "`high` from `large_scan_rows`, `medium` between; without a plan, by rows examined per "
                     "execution, `low` below `full_scan_rows`"),
    details=__doc__,
    find=find,
)
