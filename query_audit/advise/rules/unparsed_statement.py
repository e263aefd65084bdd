"""unparsed_statement: what the advisor could not look at, and why (so silence is not read as "fine").

- **Detects**: a statement sqlglot could not model (REPLACE, CALL, LOAD DATA, vendor syntax:
  `parsed=False`), or a SELECT/INSERT/UPDATE/DELETE/REPLACE without a plan (`AnalyzedQuery.error`: EXPLAIN
  refused, placeholders that could not be filled...); the message gives the reason. Not raised when no EXPLAIN
  was attempted (no `--dsn`), nor for statements that never have a plan: transaction control (START
  TRANSACTION, BEGIN, COMMIT, ROLLBACK, SAVEPOINT, XA, LOCK/UNLOCK TABLES), SET, SHOW, USE, DESCRIBE, DDL.
- **Why**: silence about a statement is not a clean bill of health. **Fix**: check it by hand.
"""

from __future__ import annotations

from query_audit.advise.context import AnalysisContext
from query_audit.advise.rule import Rule
from query_audit.advise.rules import query_finding
from query_audit.model import AnalyzedQuery, Finding, Kind, Severity

# Leading keywords of statements no EXPLAIN applies to, whatever sqlglot made of them.
NEVER_PLANNED = frozenset({
    # transaction control and locking
    "start", "begin", "commit", "rollback", "savepoint", "release", "xa", "lock", "unlock",
    # session and server administration
    "set", "show", "use", "describe", "desc", "explain", "help", "kill", "flush", "reset",
    # data definition
    "create", "alter", "drop", "rename", "truncate",
})


def first_keyword(query: AnalyzedQuery) -> str:
    """The statement's first word, lower case (from the fingerprint: comments are already gone)."""
    words = (query.group.fingerprint or query.group.sample.sql).split()
    return words[0].lower().rstrip(";") if words else ""


def never_has_a_plan(query: AnalyzedQuery) -> bool:
    return query.model.kind is Kind.OTHER and first_keyword(query) in NEVER_PLANNED


def _unanalysed(query: AnalyzedQuery) -> tuple[str, str] | None:
    """(why, fix) for a statement the advisor could not judge, or None when there is nothing to report."""
    if never_has_a_plan(query):
        return None
    if not query.model.parsed:
        how = "not fully analysed" if query.plan is not None else "not analysed"
        why = (f"{first_keyword(query).upper() or 'this'} statement was {how}: "
               f"{query.model.error or 'sqlglot could not model it'}")
        return why, "check this statement by hand: run EXPLAIN on it and look at its tables' indexes"
    if query.model.kind is not Kind.OTHER and query.plan is None and query.error:
        why = (f"{query.model.kind.value.upper()} statement has no plan, so its scans and indexes were not "
               f"checked: {query.error}")
        if query.error.startswith("not explained:"):  # refused on purpose: EXPLAIN could run it (docs/security.md)
            return why, ("EXPLAIN would execute what this statement calls; read what that does before "
                         "explaining it by hand, on a disposable copy")
        return why, "EXPLAIN it by hand with representative values, or grant the account what EXPLAIN needs"
    return None


def find(context: AnalysisContext, queries) -> list[Finding]:
    findings = []
    for query in queries:
        found = _unanalysed(query)
        if found is None:
            continue
        why, fix = found
        findings.append(query_finding(query,
            rule=RULE.id,
            severity=Severity.LOW,
            message=why,
            table=query.model.tables[0] if query.model.tables else None,
            suggestion=fix,
            evidence={"parsed": query.model.parsed, "parse_error": query.model.error, "plan_error": query.error},
        ))
    return findings


RULE = Rule(
    id="unparsed_statement",
    severity=Severity.LOW,
    description="A statement the advisor could not parse or EXPLAIN, and why.",
    help=("Anti-pattern: reading silence as a clean bill of health. Best practice: check these statements by "
          "hand."),
    severity_policy="`low`",
    details=__doc__,
    find=find,
)
