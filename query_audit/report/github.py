"""GitHub Actions workflow commands: one annotation per finding, shown on the run and the PR.

    ::error title=full_table_scan on orders::full scan of orders ...%0ASQL: SELECT ...

Levels follow severity (high: error, medium: warning, low/info: notice); with a gate result, a new
gating finding is an error and one accepted in the baseline only a notice. Values are escaped as
the Actions runner expects: `%`, CR and LF in the message; also `:` and `,` in properties.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from query_audit.model import Finding, Report, Severity
from query_audit.report import common

if TYPE_CHECKING:
    from query_audit.gate.baseline import GateResult

LEVELS = {Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "notice", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, **properties: str) -> str:
    """One workflow command line, e.g. `::warning title=x::message`; empty properties are left out."""
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items() if value)
    return f"::{level}{' ' + props if props else ''}::{escape_data(message)}"


def _level(finding: Finding, gate: GateResult | None) -> str:
    if gate is not None and finding.rule in gate.rules:
        return "error" if finding.baseline_key in {f.baseline_key for f in gate.new} else "notice"
    return LEVELS[finding.severity]


def _message(finding: Finding, report: Report) -> str:
    query = common.query_index(report).get(finding.query_id or "")
    lines = [finding.message]
    if finding.origin is not None and finding.origin.endpoint:
        lines.append(f"Endpoint: {finding.origin.endpoint}")
    if query is not None:
        lines.append(f"SQL: {common.shown_sql(query)}")
    if common.fix_text(finding):
        lines.append(f"Fix: {common.fix_text(finding)}")
    return "\n".join(lines)


def _place(finding: Finding, report: Report) -> dict[str, str]:
    """`file=`/`line=` of the source line the query's attribution comment names, else the analysed file."""
    origin = finding.origin
    if origin is not None and origin.file:
        return {"file": origin.file, "line": str(origin.line) if origin.line else ""}
    return {"file": report.source.files[0] if report.source.files else ""}


def render_github(report: Report, gate: GateResult | None = None) -> str:
    lines = []
    for finding in common.sorted_findings(report.findings):
        where = f" on {finding.table}" if finding.table else ""
        lines.append(command(_level(finding, gate), _message(finding, report),
                             **_place(finding, report), title=f"query-audit {finding.rule}{where}"))
    summary_level = "error" if gate is not None and not gate.passed else "notice"
    lines.append(command(summary_level, f"{common.verdict(report, gate)} (server: {common.server_line(report)})",
                         title="query-audit"))
    return "\n".join(lines) + "\n"
