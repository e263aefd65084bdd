"""JUnit XML, for CI systems that show test results (GitLab, Jenkins, CircleCI, test reporters).

One testcase per finding of a gating rule, keyed like the baseline by (rule, table, query). It fails
when the gate says the finding is new; without a gate result, every gating finding fails. Each query
without a gating finding is a passing testcase (its other findings, if any, go to system-out), so
the suite also shows what was checked and found fine.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import TYPE_CHECKING

from query_audit.model import Finding, Report
from query_audit.report import common

if TYPE_CHECKING:
    from query_audit.gate.baseline import GateResult

SUITE = "query-audit"


def _finding_case(finding: Finding, report: Report, failing: bool, known: bool) -> ET.Element:
    table, query_id = finding.table or "-", finding.query_id or "-"
    case = ET.Element("testcase", classname=f"{SUITE}.{finding.rule}", name=f"{finding.rule} {table} {query_id}")
    query = common.query_index(report).get(finding.query_id or "")
    details = [finding.message]
    if query is not None:
        details.append(f"SQL: {query.group.sample.sql}")
    rows = common.plan_rows_shown(query, finding.table)
    details += [common.plan_row_summary(row) for row in rows]
    details += common.evidence_lines(finding, plan_shown=bool(rows))
    if common.fix_text(finding):
        details.append(f"Fix: {common.fix_text(finding)}")
    if failing:
        failure = ET.SubElement(case, "failure", message=finding.message, type=finding.rule)
        failure.text = "\n".join(details)
    else:
        out = ET.SubElement(case, "system-out")
        out.text = ("accepted in the baseline\n" if known else "") + "\n".join(details)
    return case


def _query_case(query, findings: list[Finding]) -> ET.Element:
    case = ET.Element("testcase", classname=f"{SUITE}.queries",
                      name=f"query {query.group.id}: {common.shorten(query.group.fingerprint, 80)}")
    if findings:
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(f"{f.severity.value} {f.rule}: {f.message}" for f in findings)
    return case


def render_junit(report: Report, gate: GateResult | None = None, fail_on: Sequence[str] | None = None) -> str:
    from query_audit.gate.baseline import DEFAULT_FAIL_ON

    rules = set(gate.rules if gate is not None else (fail_on if fail_on is not None else DEFAULT_FAIL_ON))
    new = {f.baseline_key for f in gate.new} if gate is not None else None
    findings = common.sorted_findings(report.findings)
    gating: dict[tuple, Finding] = {}
    for finding in findings:
        if finding.rule in rules:
            gating.setdefault(finding.baseline_key, finding)

    cases = []
    for key, finding in sorted(gating.items()):
        failing = new is None or key in new
        cases.append(_finding_case(finding, report, failing, known=not failing))
    gated_queries = {finding.query_id for finding in gating.values()}
    for query in report.queries:
        if query.group.id not in gated_queries:
            cases.append(_query_case(query, [f for f in findings if f.query_id == query.group.id]))

    failures = sum(1 for case in cases if case.find("failure") is not None)
    root = ET.Element("testsuites", name=SUITE, tests=str(len(cases)), failures=str(failures), errors="0")
    suite = ET.SubElement(root, "testsuite", name=SUITE, tests=str(len(cases)), failures=str(failures),
                          errors="0", skipped="0")
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="verdict", value=common.verdict(report, gate))
    ET.SubElement(properties, "property", name="server", value=common.server_line(report))
    ET.SubElement(properties, "property", name="fail_on", value=",".join(sorted(rules)))
    suite.extend(cases)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
