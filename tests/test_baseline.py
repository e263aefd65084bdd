"""The CI baseline: create, save/load, compare (new/known/fixed), update, and stable files."""

import json
from dataclasses import replace

import pytest
from report_samples import CUSTOMER_TOUCH, ORDERS_BY_EMAIL, sample_report, static_report

from query_audit.errors import QueryAuditError
from query_audit.gate import (
    Baseline,
    BaselineEntry,
    compare,
    create_baseline,
    load_baseline,
    save_baseline,
    update_baseline,
)
from query_audit.gate.baseline import DEFAULT_REASON
from query_audit.model import Finding, Severity

GATED = ("full_table_scan", "missing_index")


def scan_of(table: str, query_id: str, rows: int = 50_000) -> Finding:
    return Finding(rule="full_table_scan", severity=Severity.HIGH, message=f"full scan of {table}", table=table,
                   query_id=query_id, fingerprint=f"select * from {table}", evidence={"rows_examined": rows})


def with_findings(report, *findings):
    return replace(report, findings=tuple(findings))


def test_create_takes_only_the_given_rules_with_the_default_reason():
    baseline = create_baseline(sample_report(), ["full_table_scan"])
    assert [(e.rule, e.table, e.query_id) for e in baseline.entries] == [("full_table_scan", "orders", ORDERS_BY_EMAIL)]
    assert baseline.entries[0].reason == DEFAULT_REASON
    assert baseline.entries[0].fingerprint.startswith("select id, status, total from orders")


def test_entries_are_sorted_by_rule_table_query_and_deduplicated():
    report = with_findings(sample_report(), scan_of("b", "2"), scan_of("a", "9"), scan_of("a", "1"), scan_of("a", "1"))
    keys = [e.key for e in create_baseline(report, ["full_table_scan"]).entries]
    assert keys == [("full_table_scan", "a", "1"), ("full_table_scan", "a", "9"), ("full_table_scan", "b", "2")]


def test_save_writes_the_documented_format_and_load_reads_it_back(tmp_path):
    path = tmp_path / ".query-audit-baseline.json"
    baseline = create_baseline(sample_report(), GATED)
    save_baseline(path, baseline)
    data = json.loads(path.read_text())
    assert data["format"] == "query-audit-baseline" and data["version"] == 1
    assert set(data["entries"][0]) == {"rule", "table", "query_id", "fingerprint", "reason"}
    loaded = load_baseline(path)
    assert loaded == baseline and loaded.path == path
    assert path.read_text().endswith("}\n")


def test_the_file_does_not_change_when_row_estimates_change(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    save_baseline(first, create_baseline(with_findings(sample_report(), scan_of("t", "1", rows=10)), GATED))
    save_baseline(second, create_baseline(with_findings(sample_report(), scan_of("t", "1", rows=99_999)), GATED))
    assert first.read_bytes() == second.read_bytes()
    assert "99999" not in second.read_text() and "rows" not in second.read_text()


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("{not json", "is not valid JSON"),
    ('{"entries": []}', "is not a query-audit baseline"),
    ('{"format": "query-audit-baseline", "version": 7, "entries": []}', "version 7"),
    ('{"format": "query-audit-baseline", "version": 1, "entries": [{"rule": "x"}]}', "entry 1 needs"),
])
def test_a_missing_or_corrupt_baseline_is_a_one_line_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(QueryAuditError) as error:
        load_baseline(path)
    assert message in str(error.value) and str(path) in str(error.value)
    assert "\n" not in str(error.value)


def test_compare_splits_gating_findings_into_new_and_known():
    report = sample_report()
    result = compare(report, create_baseline(report, ["full_table_scan"]), GATED)
    assert [f.rule for f in result.new] == ["missing_index"]
    assert [f.rule for f in result.known] == ["full_table_scan"]
    assert result.fixed == () and result.passed is False
    assert result.verdict() == "gate: 1 new missing_index finding"


def test_compare_passes_when_every_gating_finding_is_known():
    report = sample_report()
    result = compare(report, create_baseline(report, GATED), GATED)
    assert result.passed and result.new == () and result.verdict() == "gate passed"


def test_findings_of_rules_not_gated_never_fail_the_gate():
    result = compare(sample_report(), Baseline(), ["write_loop"])
    assert result.passed and result.new == ()


def test_the_verdict_counts_new_findings_per_rule():
    report = with_findings(sample_report(), scan_of("a", "1"), scan_of("b", "2"))
    assert compare(report, Baseline(), GATED).verdict() == "gate: 2 new full_table_scan findings"
    mixed = compare(sample_report(), Baseline(), GATED).verdict()
    assert mixed == "gate: 2 new findings (1 full_table_scan, 1 missing_index)"


def test_a_baseline_entry_whose_finding_disappeared_is_fixed():
    report = sample_report()
    gone = BaselineEntry("full_table_scan", "customers", CUSTOMER_TOUCH, "update customers ...", "slow path, #12")
    result = compare(report, Baseline(create_baseline(report, GATED).entries + (gone,)), GATED)
    assert result.fixed == (gone,) and result.passed


def test_entries_of_rules_not_evaluated_are_not_fixed():
    entry = BaselineEntry("write_loop", "orders", "X")
    assert compare(sample_report(), Baseline((entry,)), ["full_table_scan"]).fixed == ()


def test_a_static_run_without_plans_does_not_call_plan_based_entries_fixed():
    accepted = Baseline((BaselineEntry("full_table_scan", "orders", ORDERS_BY_EMAIL),))
    result = compare(static_report(), accepted, GATED)
    assert result.fixed == () and result.passed


def test_a_query_that_ran_without_a_plan_keeps_its_plan_based_entry():
    report = sample_report()
    unplanned = tuple(replace(q, plan=None, error="EXPLAIN refused") if q.group.id == ORDERS_BY_EMAIL else q
                      for q in report.queries)
    report = replace(report, queries=unplanned, findings=())
    result = compare(report, create_baseline(sample_report(), GATED), GATED)
    assert result.fixed == ()


def test_the_baseline_key_ignores_rows_so_a_grown_table_is_still_known():
    report = with_findings(sample_report(), scan_of("t", "1", rows=100))
    grown = with_findings(sample_report(), scan_of("t", "1", rows=10_000_000))
    assert compare(grown, create_baseline(report, GATED), GATED).passed


def test_update_adds_new_removes_fixed_and_keeps_the_teams_reasons():
    report = sample_report()
    written = BaselineEntry("full_table_scan", "orders", ORDERS_BY_EMAIL, "x", "admin report, runs nightly")
    gone = BaselineEntry("full_table_scan", "invoices", "DEAD", "y", "fixed in #40")
    other_rule = BaselineEntry("write_loop", "carts", "BEEF", "z", "kept: not evaluated")
    updated = update_baseline(Baseline((written, gone, other_rule)), report, GATED)
    by_key = {e.key: e for e in updated.entries}
    assert by_key[written.key].reason == "admin report, runs nightly"
    assert gone.key not in by_key
    assert by_key[other_rule.key] == other_rule
    assert by_key[("missing_index", "orders", ORDERS_BY_EMAIL)].reason == DEFAULT_REASON
    assert [e.key for e in updated.entries] == sorted(by_key)


def test_update_of_an_up_to_date_baseline_changes_nothing(tmp_path):
    report = sample_report()
    path = tmp_path / "b.json"
    save_baseline(path, create_baseline(report, GATED))
    before = path.read_bytes()
    save_baseline(path, update_baseline(load_baseline(path), report, GATED))
    assert path.read_bytes() == before
