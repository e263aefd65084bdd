"""repeated_identical_query: the very same SELECT, same values, sent several times in one request."""

from __future__ import annotations

from query_audit.advise.rules import query_finding
from query_audit.advise.rules._loops import loop_evidence, loops
from query_audit.model import Finding, Kind, SchemaMap, Severity, Thresholds

RULE = "repeated_identical_query"


def check(queries, schemas: SchemaMap, thresholds: Thresholds) -> list[Finding]:
    findings = []
    for query in queries:
        if query.group.kind is not Kind.SELECT:
            continue
        found = loops(query.group, thresholds.n_plus_one, distinct=False)
        if not found:
            continue
        worst = found[0]
        findings.append(query_finding(query,
            rule=RULE,
            severity=Severity.LOW,
            message=(f"the identical SELECT (same values) ran {worst.count} times in {worst.unit}: "
                     f"{worst.count - 1} of those round trips return what the first one already returned"),
            table=query.model.tables[0] if query.model.tables else None,
            suggestion="run it once per request and reuse the result (a request-scoped cache or memoization)",
            evidence=loop_evidence(found, query.group),
        ))
    return findings
