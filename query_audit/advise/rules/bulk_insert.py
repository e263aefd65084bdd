"""bulk_insert: single-row INSERTs into one table and column list, repeated in one request.

- **Detects**: single-row INSERT/REPLACE of one table and column list run at least `bulk_insert` times in
  one unit.
- **Why**: a round trip per row and, under autocommit, a commit (log flush) per row. The message says which:
  "all inside one transaction" (BEGIN ... COMMIT, or autocommit off), "spread over N transactions", or "each in
  autocommit", from each connection's transaction state tracked through the statement stream (evidence
  `in_transaction`: runs inside a transaction, `transactions`: how many).
- **Fix**: one multi-row INSERT built from the samples' VALUES; if the rows must stay separate statements and
  did not already run in one transaction, one transaction.
"""

from __future__ import annotations

from query_audit.advise.context import AnalysisContext
from query_audit.advise.rewrite import multi_row_insert
from query_audit.advise.rule import Rule
from query_audit.advise.rules import query_finding, written_table
from query_audit.advise.rules._loops import (
    in_one_transaction,
    loop_severity,
    looping,
    samples_of,
    transaction_phrase,
    write_loop_evidence,
)
from query_audit.model import Finding, Kind, Severity


def _suggestion(built: tuple[str, int] | None, worst) -> str:
    if built:
        sql, rows = built
        shown = f" ({rows} of {worst.count} rows, from the captured samples)" if rows < worst.count else ""
        suggestion = f"send the rows as one multi-row INSERT{shown}: {sql}"
    else:
        suggestion = "send the rows as one multi-row INSERT (VALUES (...), (...), ...)"
    if not in_one_transaction(worst):
        suggestion += ("; if they must stay separate statements, wrap them in one transaction (START "
                       "TRANSACTION ... COMMIT) so there is one commit and one log flush instead of one per row")
    return suggestion


def find(context: AnalysisContext, queries) -> list[Finding]:
    minimum = context.thresholds.bulk_insert
    findings = []
    for query, found in looping((q for q in queries if q.model.insert_rows <= 1), minimum, distinct=None):
        worst = found[0]
        built = multi_row_insert(samples_of(query.group, worst))
        findings.append(query_finding(query,
            rule=RULE.id,
            severity=loop_severity(worst, minimum, usual=Severity.LOW, many=Severity.MEDIUM),
            message=(f"{worst.count} single-row INSERTs into `{written_table(query)}` in {worst.unit}, "
                     f"{transaction_phrase(worst)}"),
            table=written_table(query),
            suggestion=_suggestion(built, worst),
            evidence=write_loop_evidence(found, query.group, multi_row_insert=built[0] if built else None),
        ))
    return findings


RULE = Rule(
    id="bulk_insert",
    severity=Severity.LOW,
    kinds=frozenset({Kind.INSERT, Kind.REPLACE}),
    description="Single-row INSERTs into one table and column list, repeated in one request.",
    help=("Anti-pattern: one INSERT (and one commit) per row. Best practice: one multi-row INSERT, in one "
          "transaction."),
    severity_policy="`low`, `medium` from 10 x `bulk_insert`",
    details=__doc__,
    find=find,
)
