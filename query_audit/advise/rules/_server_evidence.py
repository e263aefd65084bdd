"""Scan and sort findings from the server's own verdicts, for statements without an EXPLAIN.

Where there is no plan (no --dsn, or the EXPLAIN failed) the source may still say what the server did:
- a MariaDB slow log with log_slow_verbosity=query_plan: `Full_scan: Yes`, `Filesort: Yes`,
  `Tmp_table: Yes`, `Tmp_table_on_disk: Yes` on each entry, and on every slow log Rows_examined vs Rows_sent;
- performance_schema (a capture from it, or the digest table): NO_INDEX_USED / NO_GOOD_INDEX_USED.
full_table_scan, filesort and temporary_table call these for the queries their plan-based checks skip;
each finding names where its evidence came from (`evidence["source"]`).
"""

from __future__ import annotations

from query_audit.advise.plan_facts import severity_by_rows
from query_audit.advise.rules import query_finding
from query_audit.model import AnalyzedQuery, Finding, Kind, Severity, Thresholds

SCAN_FLAGS = {"Full_scan": "slow log (Full_scan: Yes)", "NO_INDEX_USED": "performance_schema (NO_INDEX_USED)",
              "NO_GOOD_INDEX_USED": "performance_schema (NO_GOOD_INDEX_USED)"}
SORT_FLAGS = {"Filesort": "slow log (Filesort: Yes)"}
TEMPORARY_FLAGS = {"Tmp_table_on_disk": "slow log (Tmp_table_on_disk: Yes)", "Tmp_table": "slow log (Tmp_table: Yes)"}
# Without a flag, a SELECT that examines this many times the rows it sends (and at least full_scan_rows of
# them) per execution is a scan by any other name: the slow log's Rows_examined against Rows_sent. Not for
# writes: they send nothing, and an UPDATE of many rows by an index examines many rows too.
EXAMINED_PER_SENT = 100
INFERRED = "rows examined against rows sent"


def _flagged(query: AnalyzedQuery, flags: dict[str, str]) -> tuple[str, int] | None:
    """(where it came from, how many executions) of the first of `flags` the query carries."""
    counts = dict(query.group.server_flags)
    for flag, source in flags.items():
        if counts.get(flag):
            return source, counts[flag]
    return None


def _per_execution(query: AnalyzedQuery) -> tuple[int | None, int | None]:
    group = query.group
    if group.total_rows_examined is None or not group.count:
        return None, None
    sent = group.total_rows_sent // group.count if group.total_rows_sent is not None else None
    return group.total_rows_examined // group.count, sent


def _table(query: AnalyzedQuery) -> str | None:
    return query.model.tables[0] if len(query.model.tables) == 1 else None


def scan_findings(queries, thresholds: Thresholds, rule: str) -> list[Finding]:
    findings = []
    for query in queries:
        if query.plan is not None:
            continue
        examined, sent = _per_execution(query)
        flagged = _flagged(query, SCAN_FLAGS)
        if flagged is None and query.model.kind is Kind.SELECT and examined is not None and \
                examined >= thresholds.full_scan_rows and examined >= EXAMINED_PER_SENT * max(sent or 0, 1):
            flagged = (INFERRED, query.group.count)
        if flagged is None:
            continue
        source, executions = flagged
        figures = f"~{examined} rows examined and ~{sent} sent per execution" if examined is not None else \
            "no row counts"
        tables = ", ".join(f"`{t}`" for t in query.model.tables) or "its tables"
        what = (f"examined over {EXAMINED_PER_SENT} times the rows it sent ({figures}): a scan, inferred from the "
                "slow log's row counts" if source == INFERRED else
                f"used no index in {executions} of {query.group.count} executions ({figures}), by the server's own "
                f"account: {source}")
        findings.append(query_finding(
            query, rule=rule,
            severity=severity_by_rows(examined or 0, thresholds, small=Severity.LOW),
            message=f"{query.model.kind.value.upper()} on {tables} {what}; no EXPLAIN (give --dsn to see the plan)",
            table=_table(query),
            suggestion="index the filtered columns, or filter on indexed ones; run with --dsn for the index advice",
            rows_examined=examined,
            evidence={"source": source, "executions_flagged": executions, "rows_examined": examined,
                      "rows_sent": sent, "executions": query.group.count},
        ))
    return findings


def flag_only_findings(queries, thresholds: Thresholds, rule: str, flags: dict[str, str], what: str) -> list[Finding]:
    """filesort / temporary_table from the slow log's flags, for queries without a plan."""
    findings = []
    for query in queries:
        flagged = None if query.plan is not None else _flagged(query, flags)
        if flagged is None:
            continue
        source, executions = flagged
        examined, _ = _per_execution(query)
        findings.append(query_finding(
            query, rule=rule,
            severity=Severity.LOW,
            message=(f"{what} in {executions} of {query.group.count} executions, by the server's own account: "
                     f"{source}" + (f"; ~{examined} rows examined per execution" if examined is not None else "")),
            table=_table(query),
            suggestion="an index that returns the rows in the wanted order removes it; run with --dsn for the advice",
            rows_examined=examined,
            evidence={"source": source, "executions_flagged": executions, "rows_examined": examined,
                      "executions": query.group.count},
        ))
    return findings
