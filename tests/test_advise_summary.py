"""summarize(): counts, round trips per request, replica-eligible reads, db time and the pool estimate."""

from __future__ import annotations

from advise_cases.build import query

from query_audit.advise.summary import summarize
from query_audit.model import SourceInfo

SOURCE = SourceInfo("capture", endpoints=("GET /orders",), requests=4)


def capture(timed: bool = True):
    time = (lambda seconds: seconds) if timed else (lambda seconds: None)
    return [
        query("SELECT * FROM orders WHERE id = 1", count=8, query_time=time(0.040)),
        query("SELECT * FROM stock WHERE sku = 'a'", count=4, after_write=3, query_time=time(0.020)),
        query("UPDATE stock SET qty = 1 WHERE sku = 'a'", count=4, query_time=time(0.020)),
        query("INSERT INTO audit (what) VALUES ('x')", count=4, query_time=time(0.010)),
        query("SET NAMES utf8mb4", count=4, query_time=time(0.010)),
    ]


def test_summary_counts_statements_by_kind_and_per_request():
    summary = summarize(capture(), SOURCE, noise_dropped=7, skipped_lines=2)
    assert (summary.statements, summary.distinct) == (24, 5)
    assert (summary.reads, summary.writes, summary.other) == (12, 8, 4)
    assert (summary.noise_dropped, summary.skipped_lines, summary.requests) == (7, 2, 4)
    assert summary.round_trips_per_request == 6.0


def test_reads_after_a_write_in_the_same_unit_are_not_replica_eligible():
    assert summarize(capture(), SOURCE).replica_eligible_reads == 8 + 1


def test_db_time_and_pool_estimate_follow_littles_law_for_a_stated_rate():
    summary = summarize(capture(), SOURCE)
    assert abs(summary.db_time_per_request - 0.025) < 1e-9  # 0.100 s over 4 requests
    pool = summary.pool_size_estimate
    assert pool["requests_per_second"] == 100 and pool["db_time_per_request_s"] == 0.025
    assert pool["connections_busy"] == 2.5 and pool["connections"] == 3
    assert "Little" in pool["formula"]


def test_without_timings_or_requests_there_is_no_time_or_pool_figure():
    untimed = summarize(capture(timed=False), SOURCE)
    assert untimed.db_time_per_request is None and untimed.pool_size_estimate is None
    from_log = summarize(capture(), SourceInfo("general_log", files=("x.log",)))
    assert from_log.round_trips_per_request is None and from_log.db_time_per_request is None


def test_the_pool_sentence_prints_the_same_milliseconds_as_the_database_time_line():
    """The pool estimate's inputs are rounded to 6 digits for JSON; the text once printed that rounded value
    (200.2 ms) under a database time line of 200.3 ms."""
    from dataclasses import replace

    from query_audit.advise.summary import pool_size_estimate
    from query_audit.model import Report
    from query_audit.report.common import load_facts

    exact = 0.20025049999000002  # 200.3 ms as it is, 200.2 ms once rounded to 0.200251 s
    summary = replace(summarize(capture(), SOURCE), db_time_per_request=exact,
                      pool_size_estimate=pool_size_estimate(exact))
    facts = dict(load_facts(Report(server=None, source=SOURCE, summary=summary, queries=(), findings=())))
    assert facts["database time per request"] == "200.3 ms"
    assert "(100 x 200.3 ms)" in facts["pool size estimate"]
