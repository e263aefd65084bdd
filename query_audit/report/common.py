"""What every renderer shares: finding order, the verdict line, the header facts, the profile.

Renderers differ only in layout; the words and numbers come from here so that the text, rich and
Markdown reports say the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from query_audit.model import AnalyzedQuery, Finding, PlanRow, Report, Severity, SourceInfo

if TYPE_CHECKING:
    from query_audit.gate.baseline import GateResult

SEVERITIES = (Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO)


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    """By severity (high first), then rule, then table, then query id: stable across runs."""
    return sorted(findings, key=lambda f: (f.severity.rank, f.rule, f.table or "", f.query_id or ""))


def findings_verdict(findings: Iterable[Finding]) -> str:
    """ "2 high, 3 medium findings", "1 low finding" or "no findings"."""
    counts = {severity: 0 for severity in SEVERITIES}
    for finding in findings:
        counts[finding.severity] += 1
    total = sum(counts.values())
    if not total:
        return "no findings"
    parts = ", ".join(f"{count} {severity.value}" for severity, count in counts.items() if count)
    return f"{parts} {'finding' if total == 1 else 'findings'}"


def verdict(report: Report, gate: GateResult | None = None) -> str:
    """The one line a reader sees first; the gate's decision follows the findings when a gate ran."""
    line = findings_verdict(report.findings)
    return f"{line}; {gate.verdict()}" if gate is not None else line


def server_line(report: Report) -> str:
    if report.server is None:
        return "none (static analysis)"
    server = report.server
    line = f"{server.flavor} {server.version}" + (f" ({server.version_comment})" if server.version_comment else "")
    return line + (f" at {server.address}" if server.address else "")


def header_facts(report: Report) -> list[tuple[str, str]]:
    """(label, value) pairs for the report header: where the statements came from and how many."""
    source, summary = report.source, report.summary
    facts = [("server", server_line(report))]
    for endpoint in source.endpoints:
        facts.append(("endpoint", endpoint))
    if source.command:
        facts.append(("command", source.command))
    for path in source.files:
        facts.append(("file", path))
    if source.via:
        facts.append(("source", source.via))
    if source.window_start or source.window_end:
        facts.append(("window", f"{source.window_start or '?'} .. {source.window_end or '?'}"))
    if summary.requests:
        facts.append(("requests", str(summary.requests)))
    counts = f"{summary.statements} ({summary.reads} reads, {summary.writes} writes, {summary.other} other)"
    facts.append(("statements", counts))
    facts.append(("distinct shapes", str(summary.distinct)))
    facts.append(("noise dropped", str(summary.noise_dropped)))
    if summary.skipped_lines:
        facts.append(("skipped lines", str(summary.skipped_lines)))
    return facts


def load_facts(report: Report) -> list[tuple[str, str]]:
    """The per-request load figures behind the "reads to replicas, pool size" advice."""
    summary = report.summary
    facts = []
    if summary.round_trips_per_request is not None:
        facts.append(("round trips per request", f"{summary.round_trips_per_request:g}"))
    if summary.db_time_per_request is not None:
        facts.append(("database time per request", seconds(summary.db_time_per_request)))
    if summary.reads:
        facts.append(("reads a replica could serve", f"{summary.replica_eligible_reads} of {summary.reads}"))
    if summary.transactions.control_statements:
        facts.append(("transactions", transaction_fact(summary.transactions)))
    pool = summary.pool_size_estimate
    if pool:
        # Little's law, said as a sentence: the dict keeps the inputs for machines (JSON), its time rounded to
        # 6 digits; the sentence prints the line above's own value (there is a pool only where there is one),
        # so both show the same milliseconds.
        facts.append(("pool size estimate",
                      f"{pool['connections']} connection(s) busy at {pool['requests_per_second']:g} requests/s "
                      f"({pool['requests_per_second']:g} x {seconds(summary.db_time_per_request)}); "
                      f"{pool['note']}"))
    return facts


def transaction_fact(counts) -> str:
    """`2 (6 BEGIN/COMMIT/ROLLBACK round trips, 3 per request; ...)`: the transactions apart from the queries."""
    text = (f"{counts.transactions} ({plural(counts.control_statements, 'BEGIN/COMMIT/ROLLBACK round trip')}"
            + (f", {counts.control_statements_per_request:g} per request" if counts.control_statements_per_request
               is not None else "") + f"; {plural(counts.statements_inside, 'statement')} inside")
    if counts.idle_ends:
        text += (f"; {plural(counts.idle_ends, 'COMMIT/ROLLBACK')} with no transaction open, a round trip that "
                 "changes nothing (a connection pool's reset on return?)")
    return text + ")"


def plural(count: int, noun: str) -> str:
    """`1 statement`, `2 statements`."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def replayed_endpoint(source: SourceInfo, request: int | None) -> str:
    """The endpoint whose replay was request number `request` (the first when that cannot be told)."""
    one_request_each = source.requests == len(source.endpoints)
    index = request - 1 if one_request_each and request and request <= len(source.endpoints) else 0
    return source.endpoints[index]


def query_index(report: Report) -> dict[str, AnalyzedQuery]:
    return {query.group.id: query for query in report.queries}


def plan_rows_shown(query: AnalyzedQuery | None, table: str | None) -> tuple[PlanRow, ...]:
    """The plan rows a report prints for a finding on `table`: the ones the rules judged (the one lookup,
    `plan_facts.plan_rows_for`, which resolves aliases); all rows when the finding names no table or
    no row reads it."""
    if query is None or query.plan is None:
        return ()
    if table is None:
        return query.plan.rows
    from query_audit.advise.plan_facts import plan_rows_for  # the advisor's import cost only when a plan is shown

    return plan_rows_for(query, table) or query.plan.rows


PLAN_HEADERS = ("id", "select_type", "table", "type", "possible_keys", "key", "key_len", "ref", "rows",
                "filtered", "Extra")


def plan_cells(row: PlanRow) -> list[str]:
    """One plan row as EXPLAIN prints it, with `-` where the server printed NULL (no key, no estimate)."""
    def show(value) -> str:
        return "-" if value in (None, "", ()) else str(value)

    filtered = None if row.filtered is None else f"{row.filtered:g}"
    return [show(row.select_id), row.select_type, show(row.table), show(row.access_type),
            show(",".join(row.possible_keys)), show(row.key), show(row.key_len), show(row.ref),
            show(row.rows), show(filtered), row.extra]


def evidence_lines(finding: Finding, *, plan_shown: bool = False) -> list[str]:
    """The finding's evidence as `key: value` lines; a nested plan row stays on one line.

    With `plan_shown` the evidence's own copy of the plan row is left out (the caller printed the
    query's real plan rows already)."""
    lines = []
    for key, value in finding.evidence.items():
        if value is None or (plan_shown and key in ("plan_row", "plans_before")):
            continue
        if key == "verify" and isinstance(value, dict):
            lines.extend(_verify_lines(value))
            continue
        if key == "shadow" and isinstance(value, dict):  # the same proof, from the shadow copy
            lines.append(f"shadow: judged by {value.get('server')}, threshold {value.get('threshold'):.0%}")
            lines.extend(line.replace("verify ", "shadow ", 1)
                         for line in _verify_lines({"queries": value.get("statements", ())}))
            continue
        lines.append(f"{key.replace('_', ' ')}: {_plain(value)}")
    reason = (finding.evidence.get("verify") or {}).get("reason")
    if finding.verified is not None and "verification" not in finding.evidence:
        lines.append("verified: " + ("yes, EXPLAIN after creating the index uses it" if finding.verified
                                     else f"no, {reason}" if reason
                                     else "no, EXPLAIN after creating the index did not use it"))
    return lines


def _verify_lines(verify: dict) -> list[str]:
    """--verify's proof, one line a query: `EXPLAIN before -> after` with the index created."""
    lines = [f"verify: {verify['reason']}"] if verify.get("reason") else []
    for result in verify.get("queries", ()):
        def access(row):
            if not row:
                return "no plan"
            return (f"type {row.get('access_type') or '-'}, key {row.get('key') or 'none'}, "
                    f"rows {'-' if row.get('rows') is None else row.get('rows')}")

        after = access(result.get("after")) if not result.get("error") else f"error: {result['error']}"
        worse = " (rows estimate rose)" if result.get("regressed") else ""
        lines.append(f"verify {short_id(result.get('query_id'))}: {access(result.get('before'))} -> {after}{worse}")
    return lines


def _plain(value) -> str:
    """An evidence value on one line: dicts as k=v, lists joined, tuples of a plan row flattened."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={_plain(v) if v not in (None, '') else '-'}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return " | ".join(_plain(item) for item in value)
    if isinstance(value, bool):
        return yes_no(value)
    return str(value)


def fix_text(finding: Finding) -> str:
    """The change to make: the DDL when there is one, else the rewritten SQL or advice."""
    return finding.ddl or finding.suggestion


def fix_parts(finding: Finding) -> tuple[str, str | None]:
    """(advice, DDL) for display; the DDL is cut out of the advice when the advice quotes it."""
    advice = finding.suggestion
    if finding.ddl and finding.ddl in advice:
        advice = advice.replace(finding.ddl, "").strip()
    return advice, finding.ddl


@dataclass(frozen=True)
class ProfileRow:
    rank: int
    query: AnalyzedQuery
    share_of_calls: float
    share_of_time: float | None


def profile(report: Report, *, by_time: bool = False) -> list[ProfileRow]:
    """Statement shapes ranked by count (or by total time, like pt-query-digest's profile)."""
    queries = list(report.queries)
    calls = sum(q.group.count for q in queries) or 1
    total_time = sum(q.group.total_query_time or 0.0 for q in queries)
    if by_time:
        queries.sort(key=lambda q: (-(q.group.total_query_time or 0.0), q.group.id))
    else:
        queries.sort(key=lambda q: (-q.group.count, q.group.id))
    return [ProfileRow(rank, q, q.group.count / calls,
                       (q.group.total_query_time or 0.0) / total_time if total_time else None)
            for rank, q in enumerate(queries, 1)]


def is_timed(report: Report) -> bool:
    return any(q.group.total_query_time is not None for q in report.queries)


def repetition_verdict(query: AnalyzedQuery, count: int, distinct: int) -> str:
    """Why a repeated shape matters: an N+1, a loop of writes, or a cache candidate."""
    kind = query.group.kind.value
    if distinct <= 1:
        return "same values each time: cache candidate"
    if kind == "select":
        return f"N+1: {distinct} different values, one IN (...) or JOIN would do"
    if kind in ("insert", "replace"):
        return "insert loop: one multi-row INSERT in one transaction"
    return "write loop: one statement over IN (...)"


def repeated_shapes(report: Report) -> list[tuple[AnalyzedQuery, str, int, int]]:
    """(query, unit, count, distinct values) for every shape that ran more than once in one unit."""
    rows = []
    for query in report.queries:
        for repetition in query.group.repetitions:
            if repetition.count > 1:
                rows.append((query, repetition.unit, repetition.count, repetition.distinct_values))
    rows.sort(key=lambda r: (-r[2], r[0].group.id, r[1]))
    return rows


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: max(limit - 3, 1)] + "..."


def plan_row_summary(row: PlanRow) -> str:
    """A plan row on one line: `orders: type ALL, key none, rows 48210, Using where` (`-`: no estimate)."""
    parts = [f"type {row.access_type or '-'}", f"key {row.key or 'none'}"]
    if row.ref:
        parts.append(f"ref {row.ref}")
    parts.append(f"rows {'-' if row.rows is None else row.rows}")
    if row.filtered is not None:
        parts.append(f"filtered {row.filtered:g}%")
    if row.extra:
        parts.append(row.extra)
    return f"EXPLAIN {row.table or '-'}: " + ", ".join(parts)


# Statements whose second word names an object (a procedure, a database, a savepoint, a table): keep
# its case, unless it is the keyword TABLE (`TRUNCATE TABLE orders`).
_NAMING_VERBS = ("call", "use", "savepoint", "desc", "describe", "truncate")


def item_label(query: AnalyzedQuery) -> str:
    """pt-query-digest's profile "Item": the kind and the tables, e.g. `SELECT orders`.

    Other statements show their first two words as SQL keywords (`START TRANSACTION`, `SHOW STATUS`),
    except an object name after CALL, USE, SAVEPOINT, DESC or TRUNCATE (`CALL refresh_totals`,
    `DESC farma`).
    """
    tables = " ".join(query.model.tables) or (query.model.target_table or "")
    if query.group.kind.value == "other":
        words = query.group.fingerprint.split()[:2]
        if not words:
            return "OTHER"
        verb, rest = words[0].upper(), words[1:]
        names_an_object = verb.lower() in _NAMING_VERBS and rest[:1] != ["table"]
        if rest and not names_an_object and rest[0].replace("_", "").isalpha():
            rest = [rest[0].upper()]
        return " ".join([verb, *rest])
    return f"{query.group.kind.value.upper()} {tables}".strip()


SHORT_ID = 16


def short_id(query_id: str | None) -> str:
    """A query id cut to its first 16 characters for narrow tables, so a row never wraps at 80 columns.

    Ids are 32 hex characters (pt-query-digest's full MD5); the JSON report, the findings and baselines
    keep the full id, and the prefix finds it there.
    """
    return (query_id or "")[:SHORT_ID]


def write_shapes(report: Report) -> list[AnalyzedQuery]:
    """The writing statement shapes, most frequent first."""
    writes = [q for q in report.queries if q.group.kind.is_write]
    return sorted(writes, key=lambda q: (-q.group.count, q.group.id))


# ---------------------------------------------------------------------------------------------
# One story per query: the reports for people group a query's findings under it
# ---------------------------------------------------------------------------------------------

# Findings whose advice is "add an index": the story's index, when it has one, is their fix.
_INDEX_ADVICE = ("full_table_scan", "filesort", "temporary_table")
# Rules whose fix rewrites the application's SQL (one statement instead of many, by key...).
_REWRITES = ("n_plus_one", "bulk_insert", "write_loop", "write_not_by_primary_key", "repeated_identical_query")


@dataclass(frozen=True)
class Story:
    """A query and every finding about it, worst first, with the one fix to show.

    `query` is None for a finding about no query (a redundant index). `fix` is the finding whose fix
    is shown: the verified index, else the suggested index, else the rewrite, else the worst finding's
    advice. `also` are the other findings whose advice the fix does not already cover.
    """

    query: AnalyzedQuery | None
    findings: tuple[Finding, ...]
    fix: Finding | None
    also: tuple[Finding, ...] = ()

    @property
    def severity(self) -> Severity:
        return self.findings[0].severity

    @property
    def table(self) -> str | None:
        return next((f.table for f in self.findings if f.table), None)


def _story_fix(findings: list[Finding]) -> Finding | None:
    with_index = [f for f in findings if f.ddl and "ADD INDEX" in f.ddl.upper()]
    for candidates in ([f for f in with_index if f.verified], with_index,
                       [f for f in findings if f.rule in _REWRITES and fix_text(f)],
                       [f for f in findings if fix_text(f)]):
        if candidates:
            return candidates[0]
    return None


def _covered(finding: Finding, fix: Finding | None) -> bool:
    """True when the story's fix already answers this finding (an index for a scan, a sort...)."""
    if fix is None or finding is fix or not fix_text(finding):
        return True
    adds_index = bool(fix.ddl and "ADD INDEX" in fix.ddl.upper())
    return adds_index and finding.rule in _INDEX_ADVICE and finding.evidence.get("index_removes_it") is not False


def stories(report: Report) -> list[Story]:
    """The findings grouped by query (worst query first; within a query, worst finding first)."""
    queries = query_index(report)
    by_query: dict[str, list[Finding]] = {}
    alone: list[list[Finding]] = []
    for finding in sorted_findings(report.findings):
        if finding.query_id:
            by_query.setdefault(finding.query_id, []).append(finding)
        else:
            alone.append([finding])
    told = []
    for query_id, findings in by_query.items():
        fix = _story_fix(findings)
        also = tuple(f for f in findings if not _covered(f, fix))
        told.append(Story(queries.get(query_id), tuple(findings), fix, also))
    told += [Story(None, tuple(findings), _story_fix(findings)) for findings in alone]
    order = {id(f): n for n, f in enumerate(sorted_findings(report.findings))}
    return sorted(told, key=lambda story: (story.severity.rank, order[id(story.findings[0])]))


def story_title(story: Story) -> str:
    """`SELECT orders: full_table_scan, missing_index` or, for a finding about no query, its rule and table."""
    if story.query is None:
        finding = story.findings[0]
        return finding.rule + (f" on {finding.table}" if finding.table else "")
    return f"{item_label(story.query)}: {', '.join(f.rule for f in story.findings)}"


def origin_line(origin) -> str | None:
    """`fixtures/app.py:42 (orders#index, route /orders)`: where the query came from, if its comment says."""
    if origin is None:
        return None
    place = f"{origin.file}:{origin.line}" if origin.file and origin.line else origin.file
    named = [origin.endpoint] if origin.endpoint else []
    if origin.route and origin.route != origin.endpoint:
        named.append(f"route {origin.route}")
    if place:
        return place + (f" ({', '.join(named)})" if named else "")
    return ", ".join(named) or None


def yes_no(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def story_plan_rows(story: Story) -> tuple[PlanRow, ...]:
    """The plan rows the story's findings are about: those of its table, or all when they name several."""
    if story.query is None or all(f.rule == "unparsed_statement" for f in story.findings):
        return ()
    tables = {f.table for f in story.findings}
    return plan_rows_shown(story.query, tables.pop() if len(tables) == 1 else None)


def shown_sql(query: AnalyzedQuery) -> str:
    """The query's sample as a person reads it: its attribution comment is shown as `from ...` instead."""
    from query_audit.analyze.attribution import without_tags

    return without_tags(query.group.sample.sql)
def without_nan(value):
    """`value` with every NaN and infinity replaced by None: JSON has no way to write them, and a reader
    (jq, a SARIF viewer) rejects a file that has `NaN` in it. Used before every JSON dump."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: without_nan(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_nan(item) for item in value]
    return value
