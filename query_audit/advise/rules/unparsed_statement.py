"""unparsed_statement: what the advisor could not look at, and why (so silence is not read as "fine")."""

from __future__ import annotations

from query_audit.model import Finding, SchemaMap, Severity, Thresholds

RULE = "unparsed_statement"


def check(queries, schemas: SchemaMap, thresholds: Thresholds) -> list[Finding]:
    findings = []
    for query in queries:
        if not query.model.parsed:
            why = f"sqlglot could not model it ({query.model.error or 'unsupported statement'})"
            fix = "check this statement by hand: run EXPLAIN on it and look at its tables' indexes"
        elif query.plan is None and query.error:
            why = f"it has no plan ({query.error})"
            fix = "EXPLAIN it by hand with representative values, or grant the account what EXPLAIN needs"
        else:
            continue
        findings.append(Finding(
            rule=RULE,
            severity=Severity.LOW,
            message=f"{query.group.kind.value.upper()} statement was not fully analysed: {why}",
            table=query.model.tables[0] if query.model.tables else None,
            query_id=query.group.id,
            query_ids=(query.group.id,),
            fingerprint=query.group.fingerprint,
            count=query.group.count,
            suggestion=fix,
            evidence={"parsed": query.model.parsed, "parse_error": query.model.error, "plan_error": query.error,
                      "rows_examined": 0},
        ))
    return findings
