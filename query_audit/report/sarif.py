"""SARIF 2.1.0, for GitHub code scanning (github/codeql-action/upload-sarif) and other SARIF viewers.

Code scanning needs, per result, a location whose artifact URI is a path (it rejects `http://` and
other schemes, and empty or space-containing URIs), and it matches alerts across runs by
`partialFingerprints`. Our findings have no source line, so the location is the log file or saved
capture that was analysed, else the endpoint written as a scheme-less `host/path`; a logical location
names the table and query. The fingerprint hashes (rule, table, query id) only: never line numbers or
row estimates, which change with the data.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from query_audit import __version__
from query_audit.model import Finding, Report, Severity, SourceInfo
from query_audit.report import common
from query_audit.report.rule_help import rule_help

if TYPE_CHECKING:
    from query_audit.gate.baseline import GateResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "queryAuditFinding/v1"
INFORMATION_URI = "https://github.com/query-audit/query-audit"
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
        one_request_each = source.requests == len(source.endpoints)
        index = request - 1 if one_request_each and request and request <= len(source.endpoints) else 0
        return endpoint_uri(source.endpoints[index])
    return "query-audit/command" if source.command else "query-audit"


def _rule(rule: str) -> dict:
    help_ = rule_help(rule)
    return {
        "id": rule,
        "name": "".join(word.capitalize() for word in rule.split("_")),
        "shortDescription": {"text": help_.title},
        "fullDescription": {"text": help_.help},
        "help": {"text": help_.help, "markdown": help_.help},
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
    location: dict = {"physicalLocation": {"artifactLocation": {"uri": artifact_uri(report.source, request)}}}
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
