"""The JSON report: the public contract, version 1 (docs/report-format.md, docs/report.schema.json).

Field names follow the model's; keys are sorted and findings ordered by severity, rule and table, so
two runs of the same capture give the same bytes and a diff shows only what changed. Adding a field is
a compatible change; renaming or removing one needs a new `version`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING

from query_audit import __version__
from query_audit.model import (
    AnalyzedQuery,
    Finding,
    Origin,
    Plan,
    PlanRow,
    Report,
    StatementModel,
    TimelineEntry,
)
from query_audit.report.common import sorted_findings, without_nan

if TYPE_CHECKING:
    from query_audit.gate.baseline import BaselineEntry, GateResult

TOOL_NAME = "query-audit"


def _plan_row(row: PlanRow) -> dict:
    return {
        "select_id": row.select_id, "select_type": row.select_type, "table": row.table,
        "access_type": row.access_type, "possible_keys": list(row.possible_keys), "key": row.key,
        "key_len": row.key_len, "ref": row.ref, "rows": row.rows, "filtered": row.filtered, "extra": row.extra,
        "using_filesort": row.using_filesort, "using_temporary": row.using_temporary,
        "using_index": row.using_index,
    }


def _explain(plan: Plan | None) -> dict | None:
    if plan is None:
        return None
    return {"format": plan.format, "explained_sql": plan.explained_sql,
            "filled_placeholders": plan.filled_placeholders, "rows": [_plan_row(r) for r in plan.rows]}


def _model(model: StatementModel) -> dict:
    return {
        "parsed": model.parsed, "error": model.error, "target_table": model.target_table,
        "columns": [{"table": c.table, "column": c.column, "role": c.role, "scope": c.scope,
                     "detail": c.detail, "reason": c.reason} for c in model.columns],
        "limit": model.limit, "insert_rows": model.insert_rows,
    }


def origin_to_dict(origin: Origin | None) -> dict | None:
    if origin is None:
        return None
    return {"route": origin.route, "controller": origin.controller, "action": origin.action,
            "file": origin.file, "line": origin.line, "application": origin.application,
            "framework": origin.framework}


def _timeline(entry: TimelineEntry) -> dict:
    return {"query_id": entry.query_id, "unit": entry.unit, "position": entry.position, "time": entry.time,
            "query_time": entry.query_time, "rows_examined": entry.rows_examined}


def _query(query: AnalyzedQuery) -> dict:
    group = query.group
    timed = group.total_query_time is not None or group.total_rows_examined is not None
    return {
        "id": group.id,
        "fingerprint": group.fingerprint,
        "kind": group.kind.value,
        "count": group.count,
        "sample": group.sample.sql,
        "database": group.sample.database,
        "tables": list(query.model.tables),
        "distinct_values": group.distinct_values,
        "repetitions": [{"unit": r.unit, "count": r.count, "distinct_values": r.distinct_values,
                         "in_transaction": r.in_transaction, "transactions": r.transactions}
                        for r in group.repetitions],
        "timing": {"total": group.total_query_time, "max": group.max_query_time,
                   "rows_examined": group.total_rows_examined, "rows_sent": group.total_rows_sent}
        if timed else None,
        "model": _model(query.model),
        "explain": _explain(query.plan),
        "error": query.error,
        "origin": origin_to_dict(query.origin),
        **({"servers": dict(group.servers)} if group.servers else {}),
    }


def _scaling(report: Report) -> dict:
    """The replicated capture's servers, per-request routing and lag, and the capacity plan: keys present
    only when there is something to say (a one-server capture's report is unchanged)."""
    from dataclasses import asdict

    document = {}
    if report.source.servers:
        document["servers"] = [asdict(role) for role in report.source.servers]
    if report.summary.routing:
        document["routing"] = [{"request": r.request, "endpoint": r.endpoint, "statements": dict(r.statements),
                                "lag": [asdict(sample) for sample in r.lag]} for r in report.summary.routing]
    if report.capacity is not None:
        document["capacity"] = asdict(report.capacity)
    return document


def finding_to_dict(finding: Finding) -> dict:
    return {
        "rule": finding.rule, "severity": finding.severity.value, "table": finding.table,
        "columns": list(finding.columns), "query_id": finding.query_id, "query_ids": list(finding.query_ids),
        "fingerprint": finding.fingerprint, "count": finding.count, "message": finding.message,
        "suggestion": finding.suggestion, "ddl": finding.ddl, "evidence": finding.evidence,
        "verified": finding.verified, "origin": origin_to_dict(finding.origin),
        "verification": verification_of(finding),
    }


def verification_of(finding: Finding) -> str | None:
    """`verified (shadow)`, `verified (live)` or `heuristic` for an index suggestion; None for other findings."""
    if not finding.ddl or "index_name" not in finding.evidence:
        return None
    return finding.evidence.get("verification") or "heuristic"


def _gate_finding(finding: Finding) -> dict:
    rule, table, query_id = finding.baseline_key
    return {"rule": rule, "table": table, "query_id": query_id, "fingerprint": finding.fingerprint or "",
            "severity": finding.severity.value, "message": finding.message}


def _gate_entry(entry: BaselineEntry) -> dict:
    return entry.to_dict()


def gate_to_dict(gate: GateResult) -> dict:
    return {"baseline": gate.baseline, "rules": list(gate.rules), "passed": gate.passed,
            "verdict": gate.verdict(), "new": [_gate_finding(f) for f in gate.new],
            "known": [_gate_finding(f) for f in gate.known], "fixed": [_gate_entry(e) for e in gate.fixed]}


def report_to_dict(report: Report, gate: GateResult | None = None) -> dict:
    """The report as plain JSON values (the document `render_json` prints)."""
    return _document(report, gate, list)


def _document(report: Report, gate: GateResult | None, items: Callable[[Iterator], Iterable]) -> dict:
    """The document, its queries, findings and timeline entries made into dicts by `items`: `list` makes them
    all now, `iter` one at a time as the big layout writes them (`json_parts`)."""
    source, summary = report.source, report.summary
    document = {
        "version": report.version,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "server": {"flavor": report.server.flavor, "version": report.server.version,
                   "address": report.server.address or None}
        if report.server is not None else None,
        "source": {"kind": source.kind, "endpoints": list(source.endpoints), "command": source.command,
                   "files": list(source.files), "window_start": source.window_start,
                   "window_end": source.window_end, "requests": source.requests,
                   **({"via": source.via} if source.via else {})},
        "summary": {
            "statements": summary.statements, "distinct": summary.distinct, "reads": summary.reads,
            "writes": summary.writes, "other": summary.other, "noise_dropped": summary.noise_dropped,
            "skipped_lines": summary.skipped_lines, "requests": summary.requests,
            "round_trips_per_request": summary.round_trips_per_request,
            "replica_eligible_reads": summary.replica_eligible_reads,
            "db_time_per_request": summary.db_time_per_request,
            "pool_size_estimate": summary.pool_size_estimate,
            "transactions": asdict(summary.transactions),
        },
        "queries": items(map(_query, report.queries)),
        "findings": items(map(finding_to_dict, sorted_findings(report.findings))),
        "notes": list(report.notes),
        "timeline": items(map(_timeline, report.timeline)),
        **_scaling(report),
    }
    if gate is not None:
        document["gate"] = gate_to_dict(gate)
    return document


# Above this many queries and findings, each is written on one line (see `_one_item_a_line`).
ONE_LINE_ITEMS_ABOVE = 500
# default=str: evidence holds plain values by contract, but a stray Decimal must not crash a CI run.
# Without `indent`, json uses its C encoder (about 5x faster than the pure-Python one `indent` needs).
_ONE_LINE = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str, separators=(", ", ": "),
                             allow_nan=False)
_INDENTED = {"indent": 2, "sort_keys": True, "ensure_ascii": False, "default": str, "allow_nan": False}


def render_json(report: Report, gate: GateResult | None = None) -> str:
    return "".join(json_parts(report, gate))


def json_parts(report: Report, gate: GateResult | None = None) -> Iterator[str]:
    """`render_json`'s text in parts to write one after the other (cli.py does): a big log's report is then
    never whole in memory, nor is its document (each query and finding becomes a dict only as it is written).
    At 1M statements the text (5.5 MB), its parts before the join and the echoed copies were ~10 MB on top
    of the analysis."""
    if len(report.queries) + len(report.findings) > ONE_LINE_ITEMS_ABOVE:
        return _one_item_a_line(_document(report, gate, iter))
    return iter((_indented(report_to_dict(report, gate)),))


def _indented(document: dict) -> str:
    try:
        text = json.dumps(document, **_INDENTED)
    except ValueError:  # a NaN or an infinity (allow_nan=False): JSON cannot write them, so they become null
        text = json.dumps(without_nan(document), **_INDENTED)
    return text + "\n"


def _one_line(value) -> str:
    """`value` on one line; copied without NaN (`without_nan`, a Python walk of every value) only when the
    encoder refuses one, and then only this value: each is encoded on its own, so the text is the same as
    the whole document's copy would give."""
    try:
        return _ONE_LINE.encode(value)
    except ValueError:
        return _ONE_LINE.encode(without_nan(value))


_NO_ITEM = object()


def _one_item_a_line(document: dict) -> Iterator[str]:
    """The document with sorted keys, one top-level key a line, and each item of a list on a line of its
    own (a big log's report: 0.16 s -> 0.03 s for 1,835 queries, and still one line per query to diff).
    A part an item, each made from the report only now (`json_parts`)."""
    keys = sorted(document)
    yield "{\n"
    for number, key in enumerate(keys, 1):
        value, end = document[key], ",\n" if number < len(keys) else "\n"
        if isinstance(value, (list, Iterator)):
            items = iter(value)
            first = next(items, _NO_ITEM)
            if first is not _NO_ITEM:
                yield f"  {_one_line(key)}: [\n    {_one_line(first)}"
                for item in items:
                    yield ",\n    " + _one_line(item)
                yield "\n  ]" + end
                continue
            value = []
        yield f"  {_one_line(key)}: {_one_line(value)}{end}"
    yield "}\n"
