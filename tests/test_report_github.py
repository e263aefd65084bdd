"""GitHub workflow commands: levels, and escaping per the Actions runner's rules."""

from dataclasses import replace

from report_samples import empty_report, sample_report, static_report

from query_audit.gate import compare, create_baseline
from query_audit.model import Origin
from query_audit.report import Format, render
from query_audit.report.github import command, escape_data, escape_property


def test_message_data_escapes_percent_cr_and_lf_only():
    assert escape_data("100% of rows\r\nscanned: a, b") == "100%25 of rows%0D%0Ascanned: a, b"


def test_properties_also_escape_colon_and_comma():
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_percent_is_escaped_first_so_an_escape_is_not_escaped_twice():
    assert escape_data("%0A") == "%250A"


def test_a_command_has_properties_and_message_in_the_runner_format():
    assert command("warning", "two\nlines", title="n+1: products, orders") == \
        "::warning title=n+1%3A products%2C orders::two%0Alines"
    assert command("notice", "plain") == "::notice::plain"


def test_one_annotation_per_finding_and_a_verdict_line():
    lines = render(sample_report(), Format.GITHUB).splitlines()
    assert len(lines) == 7 + 1
    assert all("\n" not in line and line.startswith("::") for line in lines)
    assert lines[0].startswith("::error title=query-audit full_table_scan on orders::")
    assert lines[2].startswith("::warning title=query-audit bulk_insert on order_items::")
    assert lines[-1] == ("::notice title=query-audit::2 high, 3 medium, 1 low, 1 info findings "
                         "(server%3A mariadb 10.11.6 (Debian 12))").replace("%3A", ":")


def test_with_a_gate_known_findings_are_notices_and_new_ones_errors():
    report = sample_report()
    gate = compare(report, create_baseline(report, ["full_table_scan"]), ["full_table_scan", "missing_index"])
    lines = render(report, Format.GITHUB, gate=gate).splitlines()
    assert lines[0].startswith("::notice title=query-audit full_table_scan")
    assert lines[1].startswith("::error title=query-audit missing_index")
    assert lines[-1].startswith("::error title=query-audit::") and "gate: 1 new missing_index finding" in lines[-1]


def test_a_log_file_report_names_the_file_in_each_annotation():
    line = render(static_report(), Format.GITHUB).splitlines()[0]
    assert line.startswith("::warning file=logs/general.log,title=query-audit n_plus_one on products::")


def test_sql_with_newlines_and_percent_stays_on_one_annotation_line():
    report = sample_report()
    query = report.queries[0]
    odd = replace(query, group=replace(query.group, sample=replace(query.group.sample,
                                                                   sql="SELECT *\nFROM orders WHERE note LIKE '%late%'")))
    report = replace(report, queries=(odd, *report.queries[1:]))
    first = render(report, Format.GITHUB).splitlines()[0]
    assert "SELECT *%0AFROM orders WHERE note LIKE '%25late%25'" in first


def test_an_empty_report_gives_only_the_verdict():
    assert render(empty_report(), Format.GITHUB) == "::notice title=query-audit::no findings (server: mysql 8.0.40)\n"


def test_a_finding_whose_query_names_its_source_line_is_annotated_on_that_file_and_line():
    report = sample_report()
    origin = Origin(route="/api/orders", file="app/orders.py", line=42)
    report = replace(report, findings=tuple(replace(f, origin=origin) for f in report.findings))
    first = render(report, Format.GITHUB).splitlines()[0]
    assert first.startswith("::error file=app/orders.py,line=42,title=query-audit ")
    assert "%0AEndpoint: /api/orders%0A" in first


def test_without_an_origin_no_line_is_given():
    first = render(sample_report(), Format.GITHUB).splitlines()[0]
    assert "line=" not in first
