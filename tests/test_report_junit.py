"""JUnit XML: a failing testcase per gating finding (new ones when a gate ran), passing ones for clean queries."""

import xml.etree.ElementTree as ET

from report_samples import (
    CUSTOMER_BY_TOKEN,
    ORDERS_BY_EMAIL,
    empty_report,
    sample_report,
)

from query_audit.gate import Baseline, compare, create_baseline
from query_audit.report import Format, render

GATED = ["full_table_scan", "missing_index"]


def parse(text: str) -> ET.Element:
    return ET.fromstring(text.encode())


def cases(root: ET.Element) -> dict[str, ET.Element]:
    return {case.get("name"): case for case in root.iter("testcase")}


def test_without_a_gate_every_finding_of_a_gating_rule_fails():
    root = parse(render(sample_report(), Format.JUNIT, fail_on=GATED))
    suite = root.find("testsuite")
    assert suite.get("failures") == "2" and root.get("failures") == "2"
    failing = sorted(name for name, case in cases(root).items() if case.find("failure") is not None)
    assert failing == [f"full_table_scan orders {ORDERS_BY_EMAIL}", f"missing_index orders {ORDERS_BY_EMAIL}"]


def test_the_default_gating_rule_is_full_table_scan():
    root = parse(render(sample_report(), Format.JUNIT))
    assert root.get("failures") == "1"
    assert cases(root)[f"full_table_scan orders {ORDERS_BY_EMAIL}"].find("failure").get("type") == "full_table_scan"


def test_with_a_gate_only_new_findings_fail_and_known_ones_pass():
    report = sample_report()
    gate = compare(report, create_baseline(report, ["full_table_scan"]), GATED)
    root = parse(render(report, Format.JUNIT, gate=gate))
    assert root.get("failures") == "1"
    known = cases(root)[f"full_table_scan orders {ORDERS_BY_EMAIL}"]
    assert known.find("failure") is None and "accepted in the baseline" in known.find("system-out").text


def test_queries_without_gating_findings_are_passing_testcases():
    root = parse(render(sample_report(), Format.JUNIT, gate=compare(sample_report(), Baseline(), GATED)))
    clean = [name for name in cases(root) if name.startswith(f"query {CUSTOMER_BY_TOKEN}")]
    assert len(clean) == 1 and cases(root)[clean[0]].find("failure") is None
    assert root.get("tests") == str(2 + 5)  # 2 gating findings on one query, 5 other queries


def test_the_failure_text_holds_the_sql_the_plan_row_and_the_fix():
    root = parse(render(sample_report(), Format.JUNIT, fail_on=GATED))
    text = cases(root)[f"missing_index orders {ORDERS_BY_EMAIL}"].find("failure").text
    assert "customer_email = 'ann@example.com'" in text
    assert "EXPLAIN orders: type ALL" in text
    assert "ADD INDEX `idx_orders_customer_email_created_at`" in text


def test_an_empty_report_is_an_empty_passing_suite():
    root = parse(render(empty_report(), Format.JUNIT))
    assert root.get("tests") == "0" and root.get("failures") == "0"
