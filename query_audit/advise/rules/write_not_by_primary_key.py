"""write_not_by_primary_key: an UPDATE/DELETE whose WHERE does not fix a primary or unique key.

- **Detects**: an UPDATE/DELETE whose WHERE does not fix every column of the primary key or of a unique key
  with `=` (an `IN` list on the primary key counts as fixing it). Silent when it does, and when neither a schema
  nor a plan is known.
- **Why**: InnoDB locks every row (and gap) it examines to find the rows to change, not only those it changes.
- **Fix**: select the primary keys first (a plain read takes no locks), then write by primary key.
"""

from __future__ import annotations

from query_audit.advise.context import AnalysisContext
from query_audit.advise.plan_facts import (
    is_full_scan,
    pins_unique_key,
    plan_row_evidence,
    rows_examined,
    severity_by_rows,
    table_rows,
    where_columns,
)
from query_audit.advise.rule import Rule
from query_audit.advise.rules import query_finding, written_table
from query_audit.model import Finding, Kind, Severity


def find(context: AnalysisContext, queries) -> list[Finding]:
    thresholds = context.thresholds
    findings = []
    for query in queries:
        model = query.model
        table = written_table(query) if model.parsed else None
        if table is None:
            continue
        schema = context.schema(query, table)
        if pins_unique_key(query, table, schema):
            continue
        rows = context.plan_rows(query, table)
        if schema is None and not rows and model.has_where:
            continue  # neither schema nor plan: cannot tell which keys exist
        row = rows[0] if rows else None
        # Unknown (None) without a plan or a schema: never shown as 0.
        examined = rows_examined(row, schema) if row else (table_rows(schema) if schema else None)
        verb = query.group.kind.value.upper()
        filtered_on = where_columns(query, table)
        if not model.has_where:
            severity = Severity.HIGH
            why = "has no WHERE at all: it locks and changes every row"
        elif row is not None and is_full_scan(row):
            severity = severity_by_rows(examined, thresholds, small=Severity.LOW)
            why = (f"filters on {', '.join(filtered_on) or 'unindexed columns'} with no usable index: "
                   "it locks every row it scans")
        else:
            severity = Severity.LOW
            why = (f"filters on {', '.join(filtered_on) or 'non-key columns'}, not on a primary or unique key: "
                   "it locks every row (and gap) the index range covers")
        key = ", ".join(schema.primary_key) if schema and schema.primary_key else "the primary key"
        findings.append(query_finding(query,
            rule=RULE.id,
            severity=severity,
            message=f"{verb} on `{table}` {why}" + (f" (~{examined} rows examined)" if examined is not None else ""),
            table=table,
            columns=filtered_on,
            suggestion=(f"first SELECT the {key} of the rows to change (a plain read takes no locks), then "
                        f"{verb} ... WHERE {key} IN (...); or make the filtered columns a unique key"),
            rows_examined=examined,
            evidence={"rows_examined": examined,
                      "plan_row": plan_row_evidence(row) if row else None,
                      "unique_keys": [list(i.column_names) for i in schema.indexes if i.primary or i.unique]
                      if schema else None},
        ))
    return findings


RULE = Rule(
    id="write_not_by_primary_key",
    severity=Severity.MEDIUM,
    kinds=frozenset({Kind.UPDATE, Kind.DELETE}),
    description="An UPDATE/DELETE whose WHERE does not fix a primary or unique key.",
    help=("Anti-pattern: writing by a non-unique condition, which locks every row examined. Best practice: "
          "read the primary keys first, then write by primary key."),
    severity_policy=("`high` with no WHERE; a scan by rows (`low` / `medium` / `high`); `low` through a "
                     "non-unique index"),
    details=__doc__,
    find=find,
)
