"""The HTML report: one self-contained file, checked as text and in a real browser (headless Chromium).

The browser test loads the file with scripts on, dumps the DOM they leave, takes a screenshot, and
fails on any console error. It is skipped only where Chromium is absent outside CI; under CI=true
(.ci/run installs it) a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from report_samples import ORDERS_BY_EMAIL, PRODUCT_BY_ID, empty_report, sample_report, static_report

from query_audit.model import Statement, TimelineEntry
from query_audit.report import Format, render

HOSTILE = "SELECT '</script><script>alert(1)</script>' AS x FROM orders WHERE id = 1"


def with_timeline(report, timed: bool = True):
    """The sample report with a request's statements in order: an orders scan, then 12 product lookups."""
    hostile = replace(report.queries[0], group=replace(report.queries[0].group,
                                                       sample=Statement(HOSTILE, request=1)))
    entries = [TimelineEntry(ORDERS_BY_EMAIL, "request 1", 0, "2026-11-26T10:00:01.201311Z",
                             0.0311 if timed else None, 48210)]
    for n in range(12):
        entries.append(TimelineEntry(PRODUCT_BY_ID, "request 1", n + 1,
                                     f"2026-11-26T10:00:01.{240000 + n * 900:06d}Z", 0.00035 if timed else None, 1))
    return replace(report, queries=(hostile, *report.queries[1:]), timeline=tuple(entries))


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def elements(text: str) -> list[tuple[str, dict]]:
    parser = _Elements()
    parser.feed(text)
    return parser.tags


def test_the_report_is_one_file_that_fetches_nothing():
    text = render(with_timeline(sample_report()), Format.HTML)
    tags = elements(text)
    assert not [attrs for tag, attrs in tags if attrs.get("src") or attrs.get("href") or tag in ("link", "iframe")]
    assert not re.search(r"url\(|@import", text)  # no stylesheet fetch either
    assert "default-src 'none'" in text


def test_a_hostile_statement_stays_text_in_the_page_and_in_the_script_data():
    text = render(with_timeline(sample_report()), Format.HTML)
    assert [tag for tag, _ in elements(text)].count("script") == 2  # the data and the page's own script
    assert "<script>alert(1)" not in text
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in text


def test_the_waterfall_marks_the_scan_and_the_n_plus_one_on_a_time_axis():
    text = render(with_timeline(sample_report()), Format.HTML)
    bars = [attrs for tag, attrs in elements(text) if tag == "g" and "bar" in attrs.get("class", "").split()]
    assert len(bars) == 13
    assert bars[0]["class"] == "bar scan" and bars[0]["data-query"] == ORDERS_BY_EMAIL
    assert all(b["class"] == "bar nplus1" for b in bars[1:])
    assert "x axis: time since the first statement" in text and "31.1 ms" in text


def test_without_timings_the_waterfall_is_drawn_by_order():
    text = render(with_timeline(sample_report(), timed=False), Format.HTML)
    waterfall = text.split('id="waterfall"')[1].split('id="profile"')[0]
    assert "statement order (no timings captured)" in waterfall and ">#0<" in waterfall and ">#13<" in waterfall
    assert " ms" not in waterfall


def test_a_verified_index_shows_explain_before_and_after():
    report = sample_report()
    verify = {"queries": [{"query_id": ORDERS_BY_EMAIL, "before": {"access_type": "ALL", "key": None, "rows": 48210},
                           "after": {"access_type": "ref", "key": "idx_orders_customer_email_created_at", "rows": 3}}]}
    findings = tuple(replace(f, evidence={**f.evidence, "verify": verify}) if f.rule == "missing_index" else f
                     for f in report.findings)
    text = render(replace(report, findings=findings), Format.HTML)
    assert "EXPLAIN before and after creating the index" in text
    assert "type ALL, key none, rows 48210" in text and "type ref, key idx_orders_customer_email_created_at, rows 3" in text


@pytest.mark.parametrize("report", [empty_report(), static_report()], ids=["empty", "static"])
def test_reports_without_a_timeline_say_why_there_is_no_waterfall(report):
    assert "No per-request timeline" in render(report, Format.HTML)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed; CI (.ci/run) installs it")
        pytest.skip("chromium is not installed (CI installs it)")
    return found


def run_chromium(*args: str) -> subprocess.CompletedProcess:
    browser = chromium()
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-extensions", "--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=3000", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_chromium_runs_the_page_shows_what_it_should_and_logs_no_error(tmp_path):
    chromium()
    page = tmp_path / "report.html"
    page.write_text(render(with_timeline(sample_report()), Format.HTML))
    dumped = run_chromium("--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert 'data-ready="yes"' in dom  # the script ran to its end
    inspector = dom.split('id="inspector"')[1]
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in inspector  # the first bar's statement, as text
    assert "Verdict: 2 high, 3 medium, 1 low, 1 info findings" in dom
    assert dom.count('class="bar selected scan"') + dom.count('class="bar scan selected"') == 1
    console = [line for line in dumped.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    shot = tmp_path / "report.png"
    done = run_chromium(f"--screenshot={shot}", "--window-size=1100,1400", page.as_uri())
    assert done.returncode == 0 and shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("QUERY_AUDIT_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


def test_requests_share_one_time_scale_and_are_named_by_their_endpoint():
    report = with_timeline(sample_report())
    second = TimelineEntry(PRODUCT_BY_ID, "request 2", 13, "2026-11-26T10:00:02.000000Z", 0.001, 1)
    text = render(replace(report, timeline=(*report.timeline, second)), Format.HTML)
    assert "request 1: GET http://127.0.0.1:8000/api/orders?email=ann@example.com (13 statements" in text
    assert "request 2: POST http://127.0.0.1:8000/api/cart/checkout (1 statement;" in text
    widths = re.findall(r'<figure class="waterfall" data-unit="request 2".*?<rect [^>]*width="([\d.]+)"', text, re.S)
    assert float(widths[0]) < 30  # 1 ms on the 50 ms scale of request 1, not the whole width
