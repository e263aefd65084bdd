"""The Markdown report for PR comments and $GITHUB_STEP_SUMMARY: snapshots plus the rules that keep it valid."""

from dataclasses import replace

from report_samples import assert_snapshot, empty_report, sample_report, static_report

from query_audit.gate import compare, create_baseline
from query_audit.report import Format, render


def test_markdown_report_matches_its_snapshot():
    assert_snapshot("markdown_sample.md", render(sample_report(), Format.MARKDOWN))


def test_markdown_with_a_gate_matches_its_snapshot():
    report = sample_report()
    gate = compare(report, create_baseline(report, ["full_table_scan"]), ["full_table_scan", "missing_index"])
    text = render(report, Format.MARKDOWN, gate=gate)
    assert "**2 high, 3 medium, 1 low, 1 info findings; gate: 1 new missing_index finding**" in text
    assert_snapshot("markdown_sample_gate.md", text)


def test_markdown_of_empty_and_static_reports_match_their_snapshots():
    assert_snapshot("markdown_empty.md", render(empty_report(), Format.MARKDOWN))
    assert_snapshot("markdown_static.md", render(static_report(), Format.MARKDOWN))


def test_there_is_one_details_block_per_query_with_the_ddl_in_a_sql_fence_once():
    text = render(sample_report(), Format.MARKDOWN)
    # 7 findings about 5 queries; the profile has its own block.
    assert text.count("<details>") == text.count("</details>") == 5 + 1
    assert text.count("```sql\nALTER TABLE `shop`.`orders` ADD INDEX") == 1
    assert text.count("```sql\nSELECT id, status, total FROM orders") == 1


def test_a_pipe_in_a_message_does_not_break_the_findings_table():
    report = sample_report()
    findings = (replace(report.findings[0], message="a | b"), *report.findings[1:])
    text = render(replace(report, findings=findings), Format.MARKDOWN)
    assert "| a \\| b |" in text


def test_sql_containing_a_code_fence_gets_a_longer_fence():
    report = sample_report()
    query = report.queries[0]
    odd = replace(query, group=replace(query.group, sample=replace(query.group.sample,
                                                                   sql="SELECT '```' FROM orders")))
    text = render(replace(report, queries=(odd, *report.queries[1:])), Format.MARKDOWN)
    assert "````sql\nSELECT '```' FROM orders\n````" in text


def test_the_profile_ranks_by_total_time_when_timed_else_by_calls_and_shows_the_top_ten():
    timed = render(sample_report(), Format.MARKDOWN)
    assert "<details><summary>Profile: 6 shapes, by total time</summary>" in timed
    assert "| 1 | `3F2A9C1B7D4E6A80` | 31.1 ms | 73.7% | 1 | 31.1 ms | SELECT orders |" in timed
    static = render(static_report(), Format.MARKDOWN)
    assert "Profile: 1 shape, by calls" in static and "| 1 | `A1B2C3D4E5F60718` | 12 | 100.0% | SELECT products |" in static

    report = sample_report()
    many = tuple(replace(report.queries[0], group=replace(report.queries[0].group, id=f"{i:02X}".ljust(32, "0"), count=i,
                                                          total_query_time=None, max_query_time=None))
                 for i in range(1, 13))
    text = render(replace(report, queries=many, findings=()), Format.MARKDOWN)
    assert "Profile: the top 10 of 12 shapes, by calls" in text
    assert "| 1 | `0C00000000000000` | 12 |" in text and "| 10 | `0300000000000000` | 3 |" in text
    assert "\n| 11 | `" not in text  # no 11th rank
