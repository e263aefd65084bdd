"""non_sargable_predicate: a condition no B-tree index can serve as written, on a table the plan reads at length.

Anti-pattern: `title LIKE '%word%'`, `DATE(created_at) = ?`, `CAST(meta_value AS DECIMAL) <= ?` or
`meta_value + 0`, a text column compared with a number, `<>`/NOT IN, an OR across columns: the server
evaluates the condition on every row it reads, and no index on the column can narrow them.
Best practice: rewrite the condition so the bare column is compared with a value of its own type (a range
instead of DATE(), a quoted value), split an OR into a UNION ALL, search words with a FULLTEXT index and
MATCH ... AGAINST, or index the expression itself (a generated column, or a functional key part on
MySQL 8.0.13+). Adding an ordinary index on such a column is no fix: the optimizer cannot use it.

The facts come from the statement model (`not_sargable` columns and their reasons) and the index advisor
(a string column compared with a number); `advise.predicate_rewrite` finds each predicate and rewrites it.
"""

from __future__ import annotations

from query_audit.advise.index_advisor import unmet_needs
from query_audit.advise.plan_facts import (
    is_full_scan,
    plan_row_evidence,
    rows_examined,
    severity_by_rows,
    table_rows,
)
from query_audit.advise.predicate_rewrite import PredicateAdvice, advise_predicates
from query_audit.advise.rules import query_finding
from query_audit.model import Finding, SchemaMap, Severity, Thresholds

RULE = "non_sargable_predicate"


def _suggestion(advice: PredicateAdvice) -> str:
    parts = []
    for item in advice.predicates:
        text = f"`{item.predicate}`: {item.fix}"
        if item.ddl:
            text += f" ({item.ddl})"
        parts.append(text)
    suggestion = "; ".join(parts)
    if advice.rewritten_sql:
        suggestion += f". Rewritten: {advice.rewritten_sql}"
    return suggestion


def _reading(row, examined: int, size: int) -> tuple[str, int]:
    """How the plan reads the table, and the rows one execution may read (a scan's worst case)."""
    if not is_full_scan(row):
        return f"reads ~{examined} rows per execution through {row.key}", examined
    how = "reads the whole table" if row.access_type == "ALL" else f"scans all of index {row.key}"
    if examined < size:  # EXPLAIN's estimate stops at a LIMIT; the scan runs until enough rows match
        return f"{how} (EXPLAIN estimates ~{examined} rows, until the LIMIT is met; up to ~{size})", size
    return f"{how} (~{examined} rows per execution)", examined


def check(queries, schemas: SchemaMap, thresholds: Thresholds) -> list[Finding]:
    findings = []
    seen = set()
    for query, table, schema, candidate, row, _after, needed in unmet_needs(queries, schemas, thresholds):
        if not candidate.unusable or (query.group.id, table) in seen:
            continue
        examined = rows_examined(row, schema)
        costly = (is_full_scan(row) and table_rows(schema, row) >= thresholds.full_scan_rows) or \
            examined >= thresholds.full_scan_rows
        if not costly:
            continue  # a small table, or a key already narrows the rows: the condition costs little
        advice = advise_predicates(query.group.sample.sql, table, schema,
                                   {column.lower(): reason for column, reason in candidate.unusable})
        if not advice.predicates:
            continue
        seen.add((query.group.id, table))
        how, examined = _reading(row, examined, table_rows(schema, row))
        reasons = "; ".join(f"`{item.predicate}`: {item.why}" for item in advice.predicates)
        count = "a condition" if len(advice.predicates) == 1 else f"{len(advice.predicates)} conditions"
        message = (f"no index can serve {count} on `{table}` as written, so the "
                   f"{query.model.kind.value.upper()} {how}: {reasons}")
        if needed:
            message += "; missing_index suggests an index for the other conditions"
        findings.append(query_finding(query,
            rule=RULE,
            severity=severity_by_rows(examined, thresholds, small=Severity.LOW),
            message=message,
            table=table,
            columns=tuple(dict.fromkeys(item.column for item in advice.predicates)),
            suggestion=_suggestion(advice),
            evidence={
                "rows_examined": examined,
                "plan_row": plan_row_evidence(row),
                "predicates": [{"column": item.column, "reason": item.reason, "predicate": item.predicate,
                                "rewritten": item.rewritten, "ddl": item.ddl} for item in advice.predicates],
                "rewritten_sql": advice.rewritten_sql,
            },
        ))
    return findings
