"""`--verify`: prove each suggested index on a disposable server, the way Dexter does with hypothetical ones.

MySQL has no hypothetical indexes, so each index is really created, every query it should serve is
EXPLAINed again, and the index is dropped again whatever happens. This changes the server's schema for a
while: the CLI only allows it when the user states the server is disposable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pymysql
from pymysql.constants import CR, ER

from query_audit.advise.index_journal import IndexJournal, JournaledIndex, drop_leftovers, read_journal
from query_audit.advise.plan_facts import bare_name
from query_audit.advise.shadow import VERIFIED_LIVE, plan_cost, proven, regressed
from query_audit.advise.shadow import access as _access
from query_audit.advise.shadow import row_for as _row_for
from query_audit.analyze.explain import explain_query
from query_audit.connection import ConnectionSettings
from query_audit.driver import CONNECTION_KILLED, NO_CODE, error_code, error_text
from query_audit.errors import QueryAuditError
from query_audit.interrupts import signals_blocked, signals_raise_interrupted
from query_audit.model import AddedIndex, AnalyzedQuery, Finding, SchemaMap, Severity

# A CREATE that failed with one of these may still be running (or have finished) on the server: lost
# connection, gone away, killed, interrupted. Its journal entry stays until the index is dropped.
# Wider than a lost connection: an interrupted or killed CREATE may have gone on (or finished) server-side.
MAYBE_STILL_RUNNING = {NO_CODE, ER.QUERY_INTERRUPTED, CONNECTION_KILLED, CR.CR_SERVER_GONE_ERROR, CR.CR_SERVER_LOST}


def _one_line(exc: Exception) -> str:
    return error_text(exc) or type(exc).__name__


# MySQL 8: the index is created INVISIBLE, so no other session plans with it while it exists; this
# EXPLAIN alone sees it. MariaDB has no per-session switch (IGNORED indexes are ignored by everyone).
INVISIBLE_HINT = "SET_VAR(optimizer_switch='use_invisible_indexes=on')"


def _journal_entry(conn, index: AddedIndex) -> JournaledIndex:
    """What the index's DDL creates, by name (never by cutting the DDL: a table may be `x ADD INDEX y`)."""
    database = index.database
    if not database:
        with conn.cursor() as cur:
            cur.execute("SELECT DATABASE()")
            database = cur.fetchone()[0] or ""
    return JournaledIndex(database, index.table, index.name, conn.thread_id())


def create_ddl(index: AddedIndex, flavor: str) -> str:
    """The index's DDL as --verify runs it: INVISIBLE on MySQL 8, as printed on MariaDB."""
    return index.ddl + (" INVISIBLE" if flavor != "mariadb" else "")


def _flavor(conn) -> str:
    return "mariadb" if "mariadb" in (conn.get_server_info() or "").lower() else "mysql"


def _explain_after(conn, checked: Sequence[AnalyzedQuery], schemas: SchemaMap, finding: Finding) -> list[dict]:
    hint = INVISIBLE_HINT if _flavor(conn) == "mysql" else None
    results = []
    for query in checked:
        plan, error = explain_query(conn, query.group, query.model, schemas, hint=hint)
        after = replace(query, plan=plan, error=error)
        row_after = _row_for(after, finding.table) if plan is not None else None
        cost_before, cost_after = plan_cost(query), plan_cost(after)
        results.append({"query_id": query.group.id, "before": _access(_row_for(query, finding.table)),
                        "after": _access(row_after), "error": error,
                        "rows_examined_before": cost_before, "rows_examined_after": cost_after,
                        "regressed": regressed(cost_before, cost_after),
                        "uses_index": row_after is not None and finding.index.name in (
                            row_after.key, row_after.rowid_filter)})
    return results


def verify_one(conn, finding: Finding, served: Sequence[AnalyzedQuery], schemas: SchemaMap,
               journal: IndexJournal | None = None) -> Finding:
    """Create the finding's index, EXPLAIN the queries on its table, drop it; the finding with the proof.

    Proven only when a query it serves uses it and no query's rows estimate rose with it. With a journal,
    the index is written down before the CREATE and struck off after the DROP.
    """
    entry = _journal_entry(conn, finding.index)
    if journal is not None:
        journal.add(entry)
    try:
        with conn.cursor() as cur:
            cur.execute(create_ddl(finding.index, _flavor(conn)))
    except pymysql.err.MySQLError as exc:
        if journal is not None and (error_code(exc) or NO_CODE) not in MAYBE_STILL_RUNNING:
            journal.remove(entry)  # refused by the server: nothing was created
        return replace(finding, verified=False,
                       evidence={**finding.evidence, "verify": {"reason": f"could not create it: {_one_line(exc)}"}})
    try:
        results = _explain_after(conn, served, schemas, finding)
    finally:
        try:
            with conn.cursor() as cur:
                cur.execute(entry.drop_ddl())
        except pymysql.err.MySQLError as exc:
            raise QueryAuditError(f"--verify could not drop index {entry.index} again: "
                                  f"{_one_line(exc)}; run `query-audit restore`") from None
    if journal is not None:
        journal.remove(entry)
    used = [result for result in results if result["uses_index"] and result["query_id"] in finding.query_ids]
    worse = [result["query_id"] for result in results if result["regressed"]]
    reason = (f"the rows estimate rose with the index for {', '.join(worse)}" if worse else
              None if used else "the optimizer did not use the index for any query it was meant to serve")
    if reason:
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
    served = len({result["query_id"] for result in results} & set(finding.query_ids)) or len(results)
    basis = f"measured by --verify: EXPLAIN with the index; {used} of {served} queries use it"
    return proven(finding, rows_after, basis, VERIFIED_LIVE,
                  {"rows_after_estimate": None, "estimated": False, "verify": {"queries": results}})


def verify_findings(conn, findings: Sequence[Finding], queries: Sequence[AnalyzedQuery],
                    schemas: SchemaMap, settings: ConnectionSettings | None = None) -> list[Finding]:
    """Each finding that adds an index (`Finding.index`), proven (verified=True) or not (verified=False
    and why).

    With `settings` (the CLI always has them) every index is journaled before it is created, signals
    become an exception, and on any way out but success the journaled indexes are dropped on a fresh
    connection (the old one may be in the middle of a CREATE)."""
    journal = _open_journal(settings) if settings is not None else None
    verified = []
    with signals_raise_interrupted("the indexes --verify created were dropped"):
        try:
            for finding in findings:
                if finding.index is None:
                    verified.append(finding)
                    continue
                verified.append(verify_one(conn, finding, _checked(finding, queries), schemas, journal))
            if journal is not None and journal.entries:  # a CREATE whose connection was lost or killed
                drop_journaled(settings, journal)
        except BaseException:
            if journal is not None and journal.entries:
                with signals_blocked():
                    drop_journaled(settings, journal)
            raise
    return verified


def _checked(finding: Finding, queries: Sequence[AnalyzedQuery]) -> list[AnalyzedQuery]:
    """Every query on the finding's table is EXPLAINed again: an index can also make another one worse."""
    table = bare_name(finding.table or "")
    return [query for query in queries if query.group.id in finding.query_ids or (
        query.plan is not None and any(bare_name(t) == table for t in query.model.tables))]


def _open_journal(settings: ConnectionSettings) -> IndexJournal:
    """This run's journal; what an earlier, killed run left in it is dropped first."""
    from query_audit.capture.log_settings import owner_is_running, state_path

    path = state_path(settings, kind="verify")
    stale = read_journal(path)
    if stale is not None and stale.entries:
        if owner_is_running(stale):
            raise QueryAuditError(f"another --verify (pid {stale.pid}) is running against {settings.address}; "
                                  "wait for it to end")
        drop_journaled(settings, stale)
    return IndexJournal(path)


def drop_journaled(settings: ConnectionSettings, journal: IndexJournal) -> list[JournaledIndex]:
    from query_audit.capture.log_settings import connect_with_retry

    conn = connect_with_retry(settings)
    try:
        return drop_leftovers(conn, journal)
    finally:
        conn.close()
