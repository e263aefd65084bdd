"""write_not_by_primary_key: an UPDATE/DELETE whose WHERE does not fix a primary or unique key.

InnoDB locks every row it examines to find the ones to change, so such a write locks more than it changes
(and, without an index, the whole table).
"""

from __future__ import annotations

from query_audit.advise.plan_facts import (
    is_full_scan,
    pins_unique_key,
    plan_row_evidence,
    plan_rows_for,
    rows_examined,
    schema_for,
    severity_by_rows,
    table_rows,
    where_columns,
)
from query_audit.advise.rules import query_finding
from query_audit.model import Finding, Kind, SchemaMap, Severity, Thresholds

RULE = "write_not_by_primary_key"


def check(queries, schemas: SchemaMap, thresholds: Thresholds) -> list[Finding]:
    findings = []
    for query in queries:
        model = query.model
        if query.group.kind not in (Kind.UPDATE, Kind.DELETE) or not model.parsed:
            continue
        table = model.target_table or (model.tables[0] if model.tables else None)
        if table is None:
            continue
        schema = schema_for(query, table, schemas)
        if pins_unique_key(query, table, schema):
            continue
        rows = plan_rows_for(query, table)
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
            rule=RULE,
            severity=severity,
            message=f"{verb} on `{table}` {why}" + (f" (~{examined} rows examined)" if examined is not None else ""),
            table=table,
            columns=filtered_on,
            suggestion=(f"first SELECT the {key} of the rows to change (a plain read takes no locks), then "
                        f"{verb} ... WHERE {key} IN (...); or make the filtered columns a unique key"),
            evidence={"rows_examined": examined,
                      "plan_row": plan_row_evidence(row) if row else None,
                      "unique_keys": [list(i.column_names) for i in schema.indexes if i.primary or i.unique]
                      if schema else None},
        ))
    return findings
