"""The plain-text report: compared with reviewed snapshots, and kept within 80 columns.

Rewrite the snapshots with UPDATE_SNAPSHOTS=1 after an intended change, then review the diff.
"""

import hashlib
import json
import re
from dataclasses import replace

import pytest
from report_samples import assert_snapshot, empty_report, sample_report, static_report

from query_audit.analyze.fingerprint import fingerprint
from query_audit.analyze.sql_model import describe
from query_audit.gate import Baseline, BaselineEntry, compare, create_baseline
from query_audit.model import AnalyzedQuery, Kind, QueryGroup, Statement
from query_audit.report import Format, render
from query_audit.report.common import item_label

GATED = ["full_table_scan", "missing_index"]


def gated_sample():
    report = sample_report()
    return report, compare(report, create_baseline(report, ["full_table_scan"]), GATED)


@pytest.mark.parametrize("name, report", [("sample", sample_report()), ("empty", empty_report()),
                                          ("static", static_report())])
def test_text_report_matches_its_snapshot(name, report):
    assert_snapshot(f"text_{name}.txt", render(report, Format.TEXT))


def test_verbose_text_report_adds_every_querys_plan_and_matches_its_snapshot():
    text = render(sample_report(), Format.TEXT, verbosity=1)
    assert "QUERIES" in text and "EXPLAIN customers: type const, key uniq_api_token" in text
    assert_snapshot("text_sample_verbose.txt", text)


def test_quiet_text_report_is_the_verdict_and_findings_only():
    report, gate = gated_sample()
    text = render(report, Format.TEXT, verbosity=-1, gate=gate)
    assert text.startswith("Verdict: 2 high, 3 medium, 1 low, 1 info findings; gate: 1 new missing_index")
    assert "FINDINGS" in text
    for section in ("query-audit report", "BATCHING", "PROFILE", "NOTES", "GATE"):
        assert section not in text
    assert_snapshot("text_sample_quiet_gate.txt", text)


@pytest.mark.parametrize("verbosity", [-1, 0, 1])
def test_every_line_fits_in_80_columns(verbosity):
    report, gate = gated_sample()
    for report_ in (report, empty_report(), static_report()):
        for line in render(report_, Format.TEXT, verbosity=verbosity, gate=gate).splitlines():
            assert len(line) <= 80, line


def test_the_gate_section_lists_new_known_and_fixed_entries():
    report = sample_report()
    old = create_baseline(report, ["full_table_scan"])
    gone = BaselineEntry("full_table_scan", "invoices", "00AA11BB22CC33DD", "select ...", "legacy export, ticket 41")
    gate = compare(report, Baseline(old.entries + (gone,)), GATED)
    text = render(report, Format.TEXT, gate=gate)
    section = text.split("GATE\n====\n")[1].split("\n\n")
    assert "gate: 1 new missing_index finding" in section[0]
    rows = [line.split()[:3] for line in section[1].splitlines()
            if line.split()[0] in ("new", "known", "fixed")]
    assert rows == [["new", "missing_index", "orders"], ["known", "full_table_scan", "orders"],
                    ["fixed", "full_table_scan", "invoices"]]
    assert "legacy export" in section[1]


def test_the_text_report_has_no_escape_codes():
    assert "\x1b" not in render(sample_report(), Format.TEXT, verbosity=1)


def test_a_wider_width_wraps_sql_later():
    narrow = render(sample_report(), Format.TEXT)
    wide = render(sample_report(), Format.TEXT, width=160)
    full = "    SELECT id, status, total FROM orders WHERE customer_email = 'ann@example.com' ORDER BY"
    assert full not in narrow and full in wide


def with_full_length_ids(report):
    """The sample with 32-character ids, as real captures have (pt-query-digest's full MD5)."""
    full = {q.group.id: hashlib.md5(q.group.id.encode()).hexdigest().upper() for q in report.queries}
    queries = tuple(replace(q, group=replace(q.group, id=full[q.group.id])) for q in report.queries)
    findings = tuple(replace(f, query_id=full.get(f.query_id, f.query_id),
                             query_ids=tuple(full.get(i, i) for i in f.query_ids)) for f in report.findings)
    return replace(report, queries=queries, findings=findings), sorted(full.values())


ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("fmt", [Format.TEXT, Format.RICH])
def test_tables_show_32_character_query_ids_by_their_first_16_without_wrapping_at_80_columns(fmt):
    report, ids = with_full_length_ids(sample_report())
    gate = compare(report, create_baseline(report, ["full_table_scan"]), GATED)
    text = ANSI.sub("", render(report, fmt, width=80, verbosity=0, gate=gate))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    tables = text.split("Gate" if fmt is Format.RICH else "GATE", 1)[1]
    for query_id in ids:
        assert query_id[:16] in tables
        # a tail on a line of its own is an id wrapped inside a table cell
        assert all(query_id in line for line in lines if query_id[16:] in line), query_id
    assert sorted(q["id"] for q in json.loads(render(report, Format.JSON))["queries"]) == ids


def test_a_finding_header_too_long_for_its_query_id_moves_the_whole_id_to_the_next_line():
    report, _ids = with_full_length_ids(sample_report())
    text = render(report, Format.TEXT, width=80)
    assert "[MEDIUM] UPDATE customers: write_not_by_primary_key\n(query " in text
    assert "(query\n" not in text


def other_statement(sql: str) -> AnalyzedQuery:
    return AnalyzedQuery(QueryGroup("0" * 32, fingerprint(sql), Kind.OTHER, 1, Statement(sql)), describe(sql))


@pytest.mark.parametrize("sql, label", [
    ("START TRANSACTION", "START TRANSACTION"),
    ("COMMIT", "COMMIT"),
    ("show status", "SHOW STATUS"),
    ("SET autocommit=0", "SET autocommit=?"),
    ("CALL refresh_order_totals(9001)", "CALL refresh_order_totals"),
    ("USE shop", "USE ?"),
    ("SAVEPOINT before_items", "SAVEPOINT before_items"),
    ("desc farma", "DESC farma"),
    ("TRUNCATE orders", "TRUNCATE orders"),
    ("truncate table orders", "TRUNCATE TABLE"),
])
def test_the_profile_item_of_other_statements_reads_as_sql_keywords(sql, label):
    assert item_label(other_statement(sql)) == label


def test_verify_evidence_reads_as_explain_before_and_after_one_line_a_query():
    from query_audit.model import Finding, Severity
    from query_audit.report.common import evidence_lines

    proof = {"queries": [{"query_id": "14A0D866CD970109C5CF479E8C1F02F1",
                          "before": {"access_type": "ALL", "key": None, "rows": 19785},
                          "after": {"access_type": "ref", "key": "idx_products_category_id_price", "rows": 400},
                          "error": None, "uses_index": True}]}
    finding = Finding("missing_index", Severity.MEDIUM, "m", evidence={"verify": proof}, verified=True)
    assert evidence_lines(finding) == [
        "verify 14A0D866CD970109: type ALL, key none, rows 19785 -> type ref, key idx_products_category_id_price, "
        "rows 400",
        "verified: yes, EXPLAIN after creating the index uses it",
    ]
    failed = Finding("missing_index", Severity.INFO, "m", verified=False,
                     evidence={"verify": {"reason": "could not create it: duplicate key name"}})
    assert evidence_lines(failed)[0] == "verify: could not create it: duplicate key name"
