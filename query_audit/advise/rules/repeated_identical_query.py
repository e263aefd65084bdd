"""repeated_identical_query: the very same SELECT, same values, sent several times in one request.

- **Detects**: the same SELECT with the same values run at least `n_plus_one` times in one unit.
- **Why**: every run after the first returns what the application already has.
- **Fix**: reuse the result within the request (memoize, request-scoped cache).
"""

from __future__ import annotations

from query_audit.advise.context import AnalysisContext
from query_audit.advise.rule import Rule
from query_audit.advise.rules import query_finding
from query_audit.advise.rules._loops import loop_evidence, looping
from query_audit.model import Finding, Kind, Severity


def find(context: AnalysisContext, queries) -> list[Finding]:
    findings = []
    for query, found in looping(queries, context.thresholds.n_plus_one, distinct=False):
        worst = found[0]
        findings.append(query_finding(query,
            rule=RULE.id,
            severity=Severity.LOW,
            message=(f"the identical SELECT (same values) ran {worst.count} times in {worst.unit}: "
                     f"{worst.count - 1} of those round trips return what the first one already returned"),
            table=query.model.tables[0] if query.model.tables else None,
            suggestion="run it once per request and reuse the result (a request-scoped cache or memoization)",
            evidence=loop_evidence(found, query.group),
        ))
    return findings


RULE = Rule(
    id="repeated_identical_query",
    severity=Severity.LOW,
    kinds=frozenset({Kind.SELECT}),
    description="The identical SELECT, same values, runs several times in one request.",
    help=("Anti-pattern: asking the database again for what it just answered. Best practice: reuse the result "
          "within the request (a request-scoped cache)."),
    severity_policy="`low`",
    details=__doc__,
    find=find,
)
