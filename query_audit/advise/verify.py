"""`--verify`: prove each suggested index on a disposable server, the way Dexter does with hypothetical ones.

MySQL has no hypothetical indexes, so each index is really created, every query it should serve is
EXPLAINed again, and the index is dropped again whatever happens. This changes the server's schema for a
while: the CLI only allows it when the user states the server is disposable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pymysql

from query_audit.advise.plan_facts import plan_rows_for
from query_audit.advise.rules import missing_index
from query_audit.analyze.explain import explain_query
from query_audit.errors import QueryAuditError
from query_audit.model import AnalyzedQuery, Finding, PlanRow, SchemaMap, Severity

RULE = missing_index.RULE


def _access(row: PlanRow | None) -> dict:
    if row is None:
        return {"access_type": None, "key": None, "rows": None}
    return {"access_type": row.access_type, "key": row.key, "rows": row.rows}


def _row_for(query: AnalyzedQuery, table: str) -> PlanRow | None:
    rows = plan_rows_for(query, table)
    return max(rows, key=lambda r: r.rows or 0) if rows else None


def _one_line(exc: Exception) -> str:
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _drop_ddl(finding: Finding) -> str:
    """The DROP matching the finding's `ALTER TABLE <table> ADD INDEX <name> (...)`."""
    table_part = finding.ddl.split(" ADD INDEX ", 1)[0]
    return f"{table_part} DROP INDEX `{finding.evidence['index_name']}`"


def _explain_after(conn, served: Sequence[AnalyzedQuery], schemas: SchemaMap, finding: Finding) -> list[dict]:
    results = []
    for query in served:
        plan, error = explain_query(conn, query.group, query.model, schemas)
        after = replace(query, plan=plan, error=error)
        row_after = _row_for(after, finding.table) if plan is not None else None
        results.append({"query_id": query.group.id, "before": _access(_row_for(query, finding.table)),
                        "after": _access(row_after), "error": error,
                        "uses_index": row_after is not None and row_after.key == finding.evidence["index_name"]})
    return results


def verify_one(conn, finding: Finding, served: Sequence[AnalyzedQuery], schemas: SchemaMap) -> Finding:
    """Create the finding's index, EXPLAIN the queries it serves, drop it; the finding with the proof."""
    try:
        with conn.cursor() as cur:
            cur.execute(finding.ddl)
    except pymysql.err.MySQLError as exc:
        return replace(finding, verified=False,
                       evidence={**finding.evidence, "verify": {"reason": f"could not create it: {_one_line(exc)}"}})
    try:
        results = _explain_after(conn, served, schemas, finding)
    finally:
        try:
            with conn.cursor() as cur:
                cur.execute(_drop_ddl(finding))
        except pymysql.err.MySQLError as exc:
            raise QueryAuditError(f"--verify could not drop index {finding.evidence['index_name']} again: "
                                  f"{_one_line(exc)}; drop it by hand") from None
    used = [result for result in results if result["uses_index"]]
    if not used:
        reason = "the optimizer did not use the index for any query it was meant to serve"
        return replace(finding, verified=False, severity=Severity.INFO,
                       message=f"{finding.message} (--verify: {reason})",
                       evidence={**finding.evidence, "verify": {"reason": reason, "queries": results}})
    # The sentence speaks of the finding's own query (the one rows_before is about); each served query's
    # before -> after stays in the evidence. A max over all of them would let a GROUP BY that now scans the
    # index in order (same rows, no temporary table) hide a lookup that went from a full scan to 400 rows.
    own = next((result for result in used if result["query_id"] == finding.query_id), None)
    rows_after = (own or max(used, key=lambda result: result["after"]["rows"] or 0))["after"]["rows"] or 0
    return _with_measurement(finding, rows_after, len(used), results)


def _with_measurement(finding: Finding, rows_after: int, used: int, results: list[dict]) -> Finding:
    """The proven finding: its sentence and evidence carry the measured rows, and the estimate is dropped."""
    basis = f"measured by --verify: EXPLAIN with the index; {used} of {len(results)} queries use it"
    evidence = finding.evidence
    message = missing_index.need_message(finding.table or "", finding.columns, len(finding.query_ids) or 1,
                                         evidence.get("rows_before", 0),
                                         missing_index.rows_after_phrase(rows_after, basis),
                                         evidence.get("cannot_use_index"))
    return replace(finding, verified=True, message=message,
                   evidence={**evidence, "rows_after_estimate": None, "estimate_basis": basis, "estimated": False,
                             "rows_after_verified": rows_after, "verify": {"queries": results}})


def verify_findings(conn, findings: Sequence[Finding], queries: Sequence[AnalyzedQuery],
                    schemas: SchemaMap) -> list[Finding]:
    """Each missing_index finding with DDL, proven (verified=True) or not (verified=False and why)."""
    by_id = {query.group.id: query for query in queries}
    verified = []
    for finding in findings:
        if finding.rule != RULE or not finding.ddl or "index_name" not in finding.evidence:
            verified.append(finding)
            continue
        served = [by_id[query_id] for query_id in finding.query_ids if query_id in by_id]
        verified.append(verify_one(conn, finding, served, schemas))
    return verified
