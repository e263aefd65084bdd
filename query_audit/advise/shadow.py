"""Shadow verification: the optimizer judges every suggested index, on a copy, never on the user's server.

Dexter's method, with a disposable server instead of hypothetical indexes: copy the tables of every
captured statement that reads a suggestion's table (only those can plan differently) into a shadow server
the tool starts itself (sandbox/shadow_copy.py), EXPLAIN each of those statements there, create all
candidate indexes at once (so the optimizer picks among them, as it would in production), EXPLAIN each
statement again. A candidate is kept (`verified (shadow)`) only when

- the optimizer uses it for at least one of the statements it was suggested for,
- it cuts that statement's rows examined on its table by at least `threshold` (default 50%), and
- no captured statement that uses it got a higher rows estimate than before (no regression).

A rejected candidate's finding is dropped and the report's notes say why; a suggestion on a table the
shadow could not hold stays, marked `heuristic`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pymysql

from query_audit.advise.index_message import measured_message
from query_audit.advise.plan_facts import plan_rows_for
from query_audit.analyze.explain import explain_query
from query_audit.driver import error_code, error_text
from query_audit.identifiers import qualified_name, quote_identifier
from query_audit.model import AnalyzedQuery, Finding, PlanRow, SchemaMap, table_key
from query_audit.options import ShadowOptions
from query_audit.sandbox.shadow_copy import CopiedTable, copy_table

VERIFIED_SHADOW = "verified (shadow)"
VERIFIED_LIVE = "verified (live)"
HEURISTIC = "heuristic"
# An estimate must rise by more than this share (and by more than a few rows) to count as a regression:
# re-ANALYZEd statistics move a little on their own.
REGRESSION_MARGIN = 0.10
REGRESSION_ROWS = 10


@dataclass(frozen=True)
class ShadowRun:
    """What the shadow did: which server judged, what was copied, what it cost, and each verdict."""

    server: str
    tables: tuple[CopiedTable, ...]
    seconds: float
    kept: int
    rejected: tuple[str, ...]

    def notes(self, user_server: str | None) -> tuple[str, ...]:
        rows = sum(table.rows for table in self.tables)
        read = sum(table.seconds for table in self.tables)
        sampled = [f"{t.name} ({t.rows} of ~{t.source_rows} rows)" for t in self.tables if t.sampled]
        notes = [f"shadow verification on {self.server}: copied {len(self.tables)} tables, {rows} rows, in "
                 f"{read:.1f} s (one bounded SELECT per table on your server, streamed into the copy); "
                 f"{self.seconds:.1f} s in all; {self.kept} index(es) verified, {len(self.rejected)} rejected"]
        if user_server and _major(user_server) != _major(self.server):
            notes.append(f"the shadow server that judged the indexes is {self.server}, not your server's "
                         f"{user_server}: plans may differ")
        if sampled:
            notes.append("shadow copies are samples for " + ", ".join(sampled))
        notes += [f"shadow: table {t.name} not copied: {t.error}" for t in self.tables if t.error]
        notes += [f"shadow: {reason}" for reason in self.rejected]
        return tuple(notes)


def _major(described: str) -> tuple[str, str]:
    """("mariadb", "10.11") of "mariadb 10.11.19": what must match for the shadow's plans to be the user's."""
    flavor, _, version = described.partition(" ")
    return flavor.replace("aurora-", ""), ".".join(version.split(".")[:2])


def access(row: PlanRow | None) -> dict:
    if row is None:
        return {"access_type": None, "key": None, "rows": None}
    return {"access_type": row.access_type, "key": row.key, "rows": row.rows}


def row_for(query: AnalyzedQuery, table: str) -> PlanRow | None:
    rows = plan_rows_for(query, table)
    return max(rows, key=lambda r: r.rows or 0) if rows else None


def plan_cost(query: AnalyzedQuery) -> int | None:
    """Rows examined by one execution as the plan estimates them: the nested-loop product of each
    SELECT's table rows, summed over SELECTs (rowid filters applied)."""
    if query.plan is None:
        return None
    per_select: dict = {}
    for row in query.plan.rows:
        if row.rows is None:
            continue
        rows = row.rows * (row.rowid_filter_percent / 100 if row.rowid_filter_percent else 1)
        per_select[row.select_id] = per_select.get(row.select_id, 1) * max(rows, 1)
    return int(sum(per_select.values())) if per_select else None


def regressed(before: int | None, after: int | None) -> bool:
    if before is None or after is None:
        return False
    return after > before * (1 + REGRESSION_MARGIN) and after - before > REGRESSION_ROWS


def explain_all(conn, queries: Sequence[AnalyzedQuery], schemas: SchemaMap) -> dict[str, AnalyzedQuery]:
    explained = {}
    for query in queries:
        plan, error = explain_query(conn, query.group, query.model, schemas)
        explained[query.group.id] = replace(query, plan=plan, error=error)
    return explained


def _uses(query: AnalyzedQuery, name: str) -> bool:
    return query.plan is not None and any(row.key == name or row.rowid_filter == name for row in query.plan.rows)


def judge(finding: Finding, before: dict[str, AnalyzedQuery], after: dict[str, AnalyzedQuery],
          threshold: float, server: str) -> tuple[Finding | None, str | None]:
    """The finding marked verified, or None and the reason it was rejected."""
    name, table = finding.index.name, finding.table or ""
    statements, cuts, regressions = [], [], []
    for query_id, query_after in after.items():
        query_before = before[query_id]
        uses = _uses(query_after, name)
        cost_before, cost_after = plan_cost(query_before), plan_cost(query_after)
        worse = uses and regressed(cost_before, cost_after)
        if query_id not in finding.query_ids and not uses:
            continue
        row_before, row_after = row_for(query_before, table), row_for(query_after, table)
        statements.append({"query_id": query_id, "before": access(row_before), "after": access(row_after),
                           "rows_examined_before": cost_before, "rows_examined_after": cost_after,
                           "uses_index": uses, "regressed": worse})
        if worse:
            regressions.append(query_id)
        if uses and query_id in finding.query_ids and row_before and row_after and row_before.rows:
            cuts.append((1 - (row_after.rows or 0) / row_before.rows, row_after.rows or 0, query_id))
    proof = {"status": VERIFIED_SHADOW, "server": server, "threshold": threshold, "statements": statements}
    if regressions:
        return None, f"{name} on {table} rejected: the rows estimate rose for {', '.join(regressions)}"
    if not cuts:
        return None, f"{name} on {table} rejected: the optimizer did not use it for the statements it was meant for"
    best = max(cuts)
    if best[0] < threshold:
        return None, (f"{name} on {table} rejected: it cuts rows examined by {best[0]:.0%}, under the "
                      f"{threshold:.0%} threshold")
    own = next((cut for cut in cuts if cut[2] == finding.query_id), best)
    basis = f"verified (shadow): EXPLAIN on a copy in {server} with the index; {len(cuts)} of " \
            f"{len(finding.query_ids)} queries use it"
    return _proven(finding, own[1], basis, proof), None


def _proven(finding: Finding, rows_after: int, basis: str, proof: dict) -> Finding:
    return proven(finding, rows_after, basis, VERIFIED_SHADOW, {"shadow": proof})


def proven(finding: Finding, rows_after: int, basis: str, verification: str, proof: dict) -> Finding:
    """The finding as an optimizer proved it (shadow or live --verify): its sentence and evidence carry the
    rows EXPLAIN gave with the index, `basis` says how, and `proof` holds the per-statement before/after."""
    message = measured_message(finding.table or "", finding.columns, len(finding.query_ids) or 1, finding.index,
                               rows_after, basis)
    return replace(finding, verified=True, message=message,
                   evidence={**finding.evidence, "rows_after_verified": rows_after, "estimate_basis": basis,
                             "estimate_source": "measured", "verification": verification, **proof})


def shadow_choice(flavor: str, version: str, docker: bool, local_flavor: str | None) -> tuple[str, str | None]:
    """(engine, image) of the shadow: the user's flavor and major version where this machine can start it.

    MySQL (and Aurora MySQL) -> a Docker `mysql:<major.minor>` where an engine answers; MariaDB -> the local
    mariadbd, else a Docker `mariadb:<major.minor>`; otherwise whatever this machine has (the report then
    says which server judged).
    """
    major = ".".join(version.split(".")[:2]) if version[:1].isdigit() else None
    wants_mysql = flavor in ("mysql", "aurora-mysql")
    if docker and wants_mysql and major:
        return "docker", f"mysql:{major}"
    if local_flavor == flavor or (local_flavor and not docker):
        return "local", None
    if docker and major:
        return "docker", f"{'mysql' if wants_mysql else 'mariadb'}:{major}"
    return ("local", None) if local_flavor else ("docker", None)


def _start_shadow(user_flavor: str, user_version: str, stack):
    from query_audit.errors import SandboxError
    from query_audit.sandbox import Sandbox, docker_engine, local

    binary = local.local_server_binary()
    local_flavor = ("mariadb" if local.is_mariadb(binary) else "mysql") if binary else None
    docker = docker_engine.engine_available()
    if not docker and not binary:
        raise SandboxError("no Docker engine and no local server binaries to start a shadow server on")
    engine, image = shadow_choice(user_flavor, user_version, docker, local_flavor)
    info = docker_engine.start_docker(image or docker_engine.DEFAULT_IMAGE) if engine == "docker" else \
        local.start_local()
    return stack.enter_context(Sandbox(info))


def _shadow_connection(options: ShadowOptions, stack, user_flavor: str = "mariadb", user_version: str = ""):
    """A connection to the shadow server and its description; starts a sandbox unless a DSN was given."""
    from query_audit.connection import connect, detect_server, parse_dsn

    if options.dsn:
        settings = parse_dsn(options.dsn)
    else:
        settings = parse_dsn(_start_shadow(user_flavor, user_version, stack).dsn)
    conn = connect(settings, database="")
    stack.callback(conn.close)
    server = detect_server(conn)
    return conn, server


def _create_databases(conn, databases: list[str], stack) -> None:
    """Create each database the copies go in; refuse a server that already has one (not ours to drop)."""
    with conn.cursor() as cur:
        for database in databases:
            cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,))
            if cur.fetchone()[0]:
                raise RuntimeError(f"the shadow server already has a database named {database}")
            cur.execute(f"CREATE DATABASE {quote_identifier(database)}")
            stack.callback(_drop_database, conn, database)


def _drop_database(conn, database: str) -> None:
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {quote_identifier(database)}")
    except pymysql.err.MySQLError:
        pass  # a sandbox we started goes away anyway


def _touched_tables(queries: Sequence[AnalyzedQuery], schemas: SchemaMap) -> dict[tuple[str, str], object]:
    tables = {}
    for query in queries:
        for table in query.model.tables:
            schema = schemas.get(table_key(table, query.group.sample.database))
            if schema is not None and schema.database:
                tables[(schema.database, schema.name)] = schema
    return tables


def _explainable(queries, schemas, copied: set) -> list[AnalyzedQuery]:
    """The captured statements with a plan whose every table is in the shadow."""
    keep = []
    for query in queries:
        keys = [schemas.get(table_key(t, query.group.sample.database)) for t in query.model.tables]
        if query.plan is not None and keys and all(s is not None and (s.database, s.name) in copied for s in keys):
            keep.append(query)
    return keep


def _create_candidates(conn, suggestions: list[Finding]) -> dict[str, str]:
    """Run every candidate's DDL on the shadow at once; the errors by index name."""
    errors = {}
    with conn.cursor() as cur:
        for finding in suggestions:
            try:
                cur.execute(finding.index.ddl)
            except pymysql.err.MySQLError as exc:
                errors[finding.index.name] = f"{error_text(exc)[:200]} (error {error_code(exc)})"
        for table in sorted({qualified_name(finding.index.database, finding.index.table) for finding in suggestions}):
            cur.execute(f"ANALYZE TABLE {table}")
            cur.fetchall()
    return errors


def mark_heuristic(finding: Finding, reason: str) -> Finding:
    if finding.index is None:
        return finding
    return replace(finding, evidence={**finding.evidence, "verification": HEURISTIC, "heuristic_reason": reason})


def shadow_verify(user_conn, user_server, findings: Sequence[Finding], queries: Sequence[AnalyzedQuery],
                  schemas: SchemaMap, options: ShadowOptions) -> tuple[list[Finding], ShadowRun | None, str | None]:
    """Every finding that adds an index judged on a shadow copy: (findings, the run, why it did not run)."""
    from contextlib import ExitStack

    from query_audit.errors import QueryAuditError

    suggestions = [f for f in findings if f.index is not None]
    if not suggestions:
        return list(findings), None, None
    started = time.monotonic()
    try:
        with ExitStack() as stack:
            conn, server = _shadow_connection(options, stack, user_server.flavor, user_server.version)
            described = f"{server.flavor} {server.version}"
            # Only a statement that reads a suggestion's table can plan differently with its index.
            targets = {_suggestion_key(f, schemas, queries) for f in suggestions}
            queries = [q for q in queries if set(_touched_tables([q], schemas)) & targets]
            tables = _touched_tables(queries, schemas)
            _create_databases(conn, sorted({database for database, _ in tables}), stack)
            has_stats = {key for key, schema in tables.items() if schema.column_stats}
            copied = [copy_table(user_conn, conn, schema, user_server.flavor, server.flavor, options.copy,
                                 key in has_stats)
                      for key, schema in tables.items()]
            present = {(t.database, t.name) for t in copied if not t.error}
            runnable = _explainable(queries, schemas, present)
            before = explain_all(conn, runnable, schemas)
            judged = [f for f in suggestions if _suggestion_key(f, schemas, queries) in present]
            errors = _create_candidates(conn, judged)
            after = explain_all(conn, runnable, schemas)
    except (QueryAuditError, RuntimeError, pymysql.err.MySQLError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return [mark_heuristic(f, f"shadow verification did not run: {reason}") for f in findings], None, reason
    result, rejected = _verdicts(findings, judged, errors, before, after, options.threshold, described)
    run = ShadowRun(described, tuple(copied), time.monotonic() - started, len(judged) - len(rejected),
                    tuple(rejected))
    return result, run, None


def _suggestion_key(finding: Finding, schemas: SchemaMap, queries) -> tuple[str, str] | None:
    database = finding.index.database or ""
    schema = schemas.get((database, finding.table or "")) or schemas.get(table_key(finding.table or "", database))
    return (schema.database, schema.name) if schema else None


def _verdicts(findings, judged, errors, before, after, threshold, server) -> tuple[list[Finding], list[str]]:
    judged_ids = {id(f) for f in judged}
    result, rejected = [], []
    for finding in findings:
        if finding.index is None:
            result.append(finding)
        elif id(finding) not in judged_ids:
            result.append(mark_heuristic(finding, "its table could not be copied to the shadow server"))
        elif finding.index.name in errors:
            rejected.append(f"{finding.index.name} could not be created: {errors[finding.index.name]}")
        else:
            proven, reason = judge(finding, before, after, threshold, server)
            if proven is None:
                rejected.append(reason)
            else:
                result.append(proven)
    return result, rejected
