"""The rich terminal report: checked for content and order, not colour codes."""

import io
import re

import pytest
from report_samples import empty_report, sample_report, static_report

from query_audit.gate import compare, create_baseline
from query_audit.report import Format, default_format, render
from query_audit.report.rich_format import render_rich

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def plain(report, **kwargs) -> str:
    return render_rich(report, color=False, **kwargs)


def test_sections_come_in_the_documented_order():
    text = plain(sample_report(), width=100)
    order = ["query-audit", "Verdict: 2 high, 3 medium, 1 low, 1 info findings", "HIGH (2 FINDINGS)",
             "MEDIUM (4 FINDINGS)", "INFO (1 FINDING)", "Batching", "Writes and load", "Profile", "Notes"]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)


def test_the_header_names_server_endpoints_window_and_counts():
    text = plain(sample_report(), width=100)
    assert "mariadb 10.11.6" in text
    assert "POST http://127.0.0.1:8000/api/cart/checkout" in text
    assert "2026-11-26T10:00:01.201311Z .. 2026-11-26T10:00:01.948102Z" in text
    assert "25 (15 reads, 9 writes, 1 other)" in text
    assert re.search(r"noise dropped\s+7", text)


def test_a_finding_shows_its_plan_row_sql_reason_and_ddl():
    text = plain(sample_report(), width=160)
    assert "no index serves WHERE customer_email = ? ORDER BY created_at DESC" in text
    assert "SELECT id, status, total FROM orders WHERE customer_email = 'ann@example.com'" in text
    assert re.search(r"orders\s+ALL\s+-\s+-\s+-\s+-\s+48210", text)  # the full plan row, wide (no NULL)
    assert "ADD INDEX `idx_orders_customer_email_created_at` (`customer_email`, `created_at`)" in text
    assert "verified: yes" in text


def test_at_80_columns_the_plan_row_keeps_the_columns_that_matter_and_nothing_is_wider():
    text = plain(sample_report(), width=80, verbosity=1)
    assert re.search(r"orders\s+ALL\s+-\s+-\s+48210\s+100\s+Using where", text)
    assert max(len(line) for line in text.splitlines()) <= 80


def test_the_profile_ranks_by_time_when_timed_and_by_calls_otherwise():
    timed = plain(sample_report(), width=100).split("Profile")[1]
    assert "ranked by total time" in timed
    assert re.search(r"1\s+3F2A9C1B7D4E6A80\s+31.1 ms\s+73.7%", timed)
    untimed = plain(static_report(), width=100).split("Profile")[1]
    assert "ranked by calls" in untimed and re.search(r"1\s+A1B2C3D4E5F60718\s+12\s+100.0%", untimed)


def test_the_batching_section_calls_an_n_plus_one_an_n_plus_one():
    section = plain(sample_report(), width=120).split("Batching")[1].split("Writes and load")[0]
    assert "N+1: 12 different values" in section and "insert loop" in section


def test_quiet_shows_only_the_verdict_and_the_findings():
    text = plain(sample_report(), width=100, verbosity=-1)
    assert text.startswith("Verdict:")
    for absent in ("query-audit ─", "Batching", "Profile", "Notes"):
        assert absent not in text
    assert "SELECT orders: full_table_scan, missing_index" in text


def test_verbose_adds_each_querys_plan_rows():
    assert "Queries" not in plain(sample_report(), width=100)
    text = plain(sample_report(), width=100, verbosity=1)
    queries = text.split("Queries")[1]
    assert "uniq_api_token" in queries and "no plan: EXPLAIN does not apply to CALL" in queries


def test_a_gate_adds_its_verdict_and_marks_new_findings():
    report = sample_report()
    gate = compare(report, create_baseline(report, ["full_table_scan"]), ["full_table_scan", "missing_index"])
    text = plain(report, width=100, gate=gate)
    assert "gate: 1 new missing_index finding" in text
    assert "missing_index NEW" in text and "full_table_scan NEW" not in text


def test_an_empty_report_says_no_findings_and_no_statements():
    text = plain(empty_report(), width=80)
    assert "Verdict: no findings" in text and "No statements were captured." in text


def test_colour_output_has_escape_codes_and_the_same_words():
    coloured = render_rich(sample_report(), width=100)
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured).split() == plain(sample_report(), width=100).split()


def test_render_dispatches_rich_with_width_and_verbosity():
    text = ANSI.sub("", render(sample_report(), Format.RICH, width=90, verbosity=-1))
    assert text.startswith("Verdict:") and max(len(line) for line in text.splitlines()) <= 90


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stream, environ, expected", [
    (FakeTty(), {"TERM": "xterm-256color"}, Format.RICH),
    (io.StringIO(), {"TERM": "xterm-256color"}, Format.TEXT),
    (FakeTty(), {"TERM": "xterm", "NO_COLOR": "1"}, Format.TEXT),
    (FakeTty(), {"TERM": "dumb"}, Format.TEXT),
    (None, {}, Format.TEXT),
    (io.StringIO(), {"FORCE_COLOR": "1"}, Format.RICH),
    (io.StringIO(), {"FORCE_COLOR": "1", "NO_COLOR": "1"}, Format.TEXT),
    (io.StringIO(), {"FORCE_COLOR": ""}, Format.TEXT),
])
def test_default_format_is_rich_only_on_a_colour_terminal(stream, environ, expected):
    assert default_format(stream, environ) is expected


def test_every_format_renders_every_sample_to_a_string():
    for fmt in Format:
        for report in (sample_report(), empty_report(), static_report()):
            assert isinstance(render(report, fmt, width=80), str)


def test_a_query_with_three_findings_is_one_panel_with_its_sql_plan_and_fix_once():
    text = plain(sample_report(), width=120)
    assert text.count("SELECT id, status, total FROM orders WHERE customer_email") == 1
    assert text.count("ADD INDEX `idx_orders_customer_email_created_at`") == 1
    panel = text.split("SELECT orders: full_table_scan, missing_index")[1].split("╰")[0]
    assert panel.index("full_table_scan") < panel.index("missing_index") < panel.index("Fix")
    assert "add the index below so the lookup seeks" not in text  # the scan's advice is the index itself


def test_no_python_boolean_or_raw_null_reaches_the_reader():
    for text in (plain(sample_report(), width=120, verbosity=1), render(sample_report(), Format.TEXT, verbosity=1),
                 render(sample_report(), Format.MARKDOWN)):
        assert not re.search(r"\b(True|False|NULL|None)\b", text), re.search(r".*\b(True|False|NULL|None)\b.*", text)


def test_text_follows_the_terminals_width_and_is_80_columns_in_a_pipe(monkeypatch):
    from query_audit.report import output_width

    monkeypatch.setenv("COLUMNS", "120")
    assert output_width(FakeTty()) == 120
    assert output_width(io.StringIO()) == 80 and output_width(None) == 80


def test_the_cli_writes_text_at_the_terminals_width_and_colour_under_force_color(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from query_audit.cli import cli

    log = tmp_path / "general.log"
    long_sql = "SELECT " + ", ".join(f"column_{n}" for n in range(30)) + " FROM t WHERE a = 1"
    log.write_text("".join(f"2026-11-26T10:00:00.00000{n}Z\t   5 Query\t{long_sql}\n" for n in range(3)))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    piped = CliRunner().invoke(cli, ["analyze", str(log), "--format", "text", "-v"]).output
    assert max(map(len, piped.splitlines())) <= 80
    monkeypatch.setattr("query_audit.report._isatty", lambda stream: True)
    monkeypatch.setenv("COLUMNS", "150")
    wide = CliRunner().invoke(cli, ["analyze", str(log), "--format", "text", "-v"]).output
    assert 80 < max(map(len, wide.splitlines())) <= 150
    monkeypatch.setattr("query_audit.report._isatty", lambda stream: False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert ANSI.search(CliRunner().invoke(cli, ["analyze", str(log)]).output)
