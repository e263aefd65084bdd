"""SARIF 2.1.0, for GitHub code scanning (github/codeql-action/upload-sarif) and other SARIF viewers.

Code scanning needs, per result, a location whose artifact URI is a path (it rejects `http://` and
other schemes, and empty or space-containing URIs), and it matches alerts across runs by
`partialFingerprints`. Where the query's attribution comment names its source file (sqlcommenter's
`file='app.js%3A42'`), the location is that file and line, and code scanning shows the result on the
diff; otherwise it is the log file or saved capture that was analysed, else the endpoint written as a
scheme-less `host/path`, and a logical location names the endpoint. Logical locations also name the
table and query. The fingerprint hashes (rule, table, query id) only: never line numbers or
row estimates, which change with the data.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from query_audit import __version__
from query_audit.model import Finding, Origin, Report, Severity, SourceInfo
from query_audit.report import common
from query_audit.report.rule_help import PROJECT_URL, rule_help, rule_help_uri

if TYPE_CHECKING:
    from query_audit.gate.baseline import GateResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "queryAuditFinding/v1"
INFORMATION_URI = PROJECT_URL
LEVELS = {Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note", Severity.INFO: "note"}


def fingerprint(finding: Finding) -> str:
    """A stable hash of the finding's baseline key (rule, table, query id)."""
    return hashlib.sha256("\x00".join(finding.baseline_key).encode()).hexdigest()


def _path_uri(path: str) -> str:
    path = path.replace("\\", "/")
    return quote(path.removeprefix("./"), safe="/-._~")


def endpoint_uri(endpoint: str) -> str:
    """`GET http://127.0.0.1:8000/api/orders?x=1` -> `127.0.0.1_8000/api/orders`: a relative path.

    The query string is dropped and the port joined with `_`, since a colon in the first path
    segment is not a valid relative URI reference.
    """
    target = endpoint.split()[-1] if endpoint.split() else "endpoint"
    parts = urlsplit(target if "://" in target else f"http://{target}")
    host = (parts.hostname or "endpoint") + (f"_{parts.port}" if parts.port else "")
    return _path_uri(f"{host}{parts.path or '/'}".rstrip("/") or host)


def artifact_uri(source: SourceInfo, request: int | None = None) -> str:
    """Where a result points: the analysed file, else the endpoint the statement's request replayed."""
    if source.files:
        return _path_uri(source.files[0])
    if source.endpoints:
        return endpoint_uri(common.replayed_endpoint(source, request))
    return "query-audit/command" if source.command else "query-audit"


def _names_a_line(origin: Origin | None) -> bool:
    return origin is not None and bool(origin.file)


def _physical_location(origin: Origin | None, source: SourceInfo, request: int | None) -> dict:
    """The source line the attribution comment names, else the analysed file or the endpoint."""
    if _names_a_line(origin):
        physical: dict = {"artifactLocation": {"uri": _path_uri(origin.file)}}
        if origin.line:
            physical["region"] = {"startLine": origin.line}
        return {"physicalLocation": physical}
    return {"physicalLocation": {"artifactLocation": {"uri": artifact_uri(source, request)}}}


def _endpoint_name(origin: Origin | None, source: SourceInfo, request: int | None) -> str | None:
    """The endpoint as the comment names it (`orders#index`, a route), else the replayed one."""
    if origin is not None and origin.endpoint:
        return origin.endpoint
    return common.replayed_endpoint(source, request) if source.endpoints else None



def _rule(rule: str) -> dict:
    help_ = rule_help(rule)
    return {
        "id": rule,
        "name": "".join(word.capitalize() for word in rule.split("_")),
        "shortDescription": {"text": help_.title},
        "fullDescription": {"text": help_.help},
        "help": {"text": help_.help, "markdown": help_.help},
        "helpUri": rule_help_uri(rule),
        "defaultConfiguration": {"level": LEVELS[help_.severity]},
        "properties": {"tags": ["performance", "sql", "database"]},
    }


def _result(finding: Finding, report: Report, rule_index: int, state: str | None) -> dict:
    query = common.query_index(report).get(finding.query_id or "")
    request = query.group.sample.request if query is not None else None
    logical = []
    if finding.table:
        database = query.group.sample.database if query is not None else None
        logical.append({"name": finding.table, "kind": "resource",
                        "fullyQualifiedName": f"{database}.{finding.table}" if database else finding.table})
    if finding.query_id:
        logical.append({"name": finding.query_id, "kind": "resource",
                        "fullyQualifiedName": f"query/{finding.query_id}"})
    location = _physical_location(finding.origin, report.source, request)
    endpoint = _endpoint_name(finding.origin, report.source, request)
    if endpoint and not _names_a_line(finding.origin):
        logical.insert(0, {"name": endpoint, "kind": "function", "fullyQualifiedName": f"endpoint/{endpoint}"})
    if logical:
        location["logicalLocations"] = logical
    fix = common.fix_text(finding)
    result = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message + (f". Fix: {fix}" if fix else "")},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(finding)},
        "properties": {"severity": finding.severity.value, "table": finding.table, "queryId": finding.query_id,
                       "queryIds": list(finding.query_ids), "fingerprint": finding.fingerprint,
                       "sql": query.group.sample.sql if query is not None else None, "ddl": finding.ddl,
                       "verified": finding.verified},
    }
    if state is not None:
        result["baselineState"] = state
    return result


def sarif_document(report: Report, gate: GateResult | None = None) -> dict:
    findings = common.sorted_findings(report.findings)
    rule_ids = sorted({f.rule for f in findings})
    index = {rule: i for i, rule in enumerate(rule_ids)}
    new = {f.baseline_key for f in gate.new} if gate else set()
    results = [_result(f, report, index[f.rule],
                       None if gate is None else ("new" if f.baseline_key in new else "unchanged"))
               for f in findings]
    run = {
        "tool": {"driver": {"name": "query-audit", "version": __version__, "semanticVersion": __version__,
                            "informationUri": INFORMATION_URI,
                            "rules": [_rule(rule) for rule in rule_ids]}},
        "results": results,
        "invocations": [{"executionSuccessful": True}],
        "properties": {"verdict": common.verdict(report, gate), "notes": list(report.notes),
                       "server": common.server_line(report)},
    }
    if gate is not None:
        run["properties"]["gatePassed"] = gate.passed
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def render_sarif(report: Report, gate: GateResult | None = None) -> str:
    return json.dumps(common.without_nan(sarif_document(report, gate)), indent=2, ensure_ascii=False, default=str,
                      allow_nan=False) + "\n"
