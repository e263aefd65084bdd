"""Scan and sort findings without EXPLAIN, from what the server itself recorded: a MariaDB slow log with
log_slow_verbosity=query_plan (written here by the private test server), rows examined against rows
sent, and performance_schema's digest table (MariaDB live, MySQL 8 from fixtures/mysql8/)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from query_audit.advise import advise
from query_audit.analyze.sql_model import describe
from query_audit.connection import connect
from query_audit.model import AnalyzedQuery, Thresholds
from query_audit.pipeline import AnalysisOptions, analyze_stream
from query_audit.sources import open_sources
from query_audit.sources.digest_table import DigestRow, load_snapshot, query_groups, save_snapshot, subtract

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mysql8"
SCAN = "SELECT id FROM items WHERE colour = 3 ORDER BY price DESC LIMIT 5"
GROUPED = "SELECT colour, COUNT(*) FROM items GROUP BY colour ORDER BY COUNT(*) DESC"
LOOKUP = "SELECT colour FROM items WHERE id = 5"


@pytest.fixture
def slow_log(scratch_db, tmp_path):
    """A slow log the test server writes with the query plan of every statement; its settings put back."""
    path = tmp_path / "slow.log"
    with connect(scratch_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE items (id INT PRIMARY KEY, colour INT, price INT)")
        cur.execute("INSERT INTO items SELECT seq, seq % 7, seq % 100 FROM seq_1_to_3000")
        cur.execute("SELECT @@global.slow_query_log, @@global.slow_query_log_file, @@global.long_query_time, "
                    "@@global.log_slow_verbosity")
        before = cur.fetchone()
        try:
            cur.execute("SET GLOBAL slow_query_log_file = %s", (str(path),))
            cur.execute("SET GLOBAL long_query_time = 0")
            cur.execute("SET GLOBAL log_slow_verbosity = 'query_plan'")
            cur.execute("SET GLOBAL slow_query_log = 1")
            with connect(scratch_db) as client, client.cursor() as statements:  # new: it takes the global values
                for sql in (SCAN, GROUPED, LOOKUP):
                    statements.execute(sql)
                    statements.fetchall()
                # The server logs a statement after the client has its result; a next statement on the same
                # connection runs only once LOOKUP's entry is written (a ping: noise to the reader).
                statements.execute("SELECT 1")
        finally:
            cur.execute("SET GLOBAL slow_query_log = %s", (before[0],))
            cur.execute("SET GLOBAL slow_query_log_file = %s", (before[1],))
            cur.execute("SET GLOBAL long_query_time = %s", (before[2],))
            cur.execute("SET GLOBAL log_slow_verbosity = %s", (before[3],))
    # MariaDB writes `# Time:` only when the second differs from the last entry it logged, in any file:
    # a slow log another test starts within this second would begin without one.
    time.sleep(1.1)
    return path


def static_report(path):
    return analyze_stream(open_sources([str(path)]), AnalysisOptions(settings=None))


def by_rule(report, rule):
    return {f.query_id: f for f in report.findings if f.rule == rule}


def query_id_of(report, sql):
    return next(q.group.id for q in report.queries if q.group.sample.sql == sql)


def test_a_query_plan_slow_log_raises_scan_sort_and_temporary_findings_without_a_server(slow_log):
    assert "# Full_scan: Yes" in slow_log.read_text()
    report = static_report(slow_log)
    scans, sorts, temporaries = (by_rule(report, rule) for rule in ("full_table_scan", "filesort", "temporary_table"))
    scan, grouped, lookup = (query_id_of(report, sql) for sql in (SCAN, GROUPED, LOOKUP))
    assert set(scans) == {scan, grouped}
    finding = scans[scan]
    assert finding.evidence["source"] == "slow log (Full_scan: Yes)"
    assert finding.evidence["rows_examined"] >= 3000 and finding.evidence["rows_sent"] == 5
    assert finding.table == "items" and "no EXPLAIN" in finding.message
    assert set(sorts) == {scan, grouped} and sorts[scan].evidence["source"] == "slow log (Filesort: Yes)"
    assert set(temporaries) == {grouped}
    assert lookup not in scans


def test_without_the_plan_flags_rows_examined_against_rows_sent_still_shows_the_scan(slow_log, tmp_path):
    plain = tmp_path / "plain.log"
    plain.write_text("".join(line for line in slow_log.read_text().splitlines(keepends=True)
                             if not line.startswith(("# Full_scan", "# Filesort"))))
    report = static_report(plain)
    scans = by_rule(report, "full_table_scan")
    # 3000 rows examined for 5 sent, and for the 7 groups; the lookup examines the one row it sends.
    assert set(scans) == {query_id_of(report, SCAN), query_id_of(report, GROUPED)}
    assert scans[query_id_of(report, SCAN)].evidence["source"] == "rows examined against rows sent"
    assert not by_rule(report, "filesort")


def test_with_a_server_the_plan_decides_and_the_slow_log_flags_add_nothing(slow_log, scratch_db):
    report = analyze_stream(open_sources([str(slow_log)]), AnalysisOptions(settings=scratch_db))
    assert all("source" not in f.evidence for f in report.findings)
    assert by_rule(report, "full_table_scan")


# ------------------------------------------------------------------------------------------------
# The digest table: MySQL 8 rows (QUERY_SAMPLE_TEXT) recorded in fixtures/mysql8, and snapshots
# ------------------------------------------------------------------------------------------------


def mysql8_rows() -> list[DigestRow]:
    document = json.loads((FIXTURES / "events_statements_summary_by_digest_8.0.json").read_text())
    return [DigestRow.from_columns(dict(zip(document["columns"], row))) for row in document["rows"]]


def test_mysql8_digests_explain_their_query_sample_text_and_rank_by_total_time():
    groups = query_groups(mysql8_rows(), {}, 1024)
    assert [g.count for g in groups] == [1520, 3, 42]
    assert groups[0].sample.sql == "SELECT id, sku, name, price FROM products WHERE category_id = 7 " \
                                   "ORDER BY price DESC LIMIT 20"
    assert not groups[0].sample.placeholders
    assert groups[0].server_flags == (("NO_INDEX_USED", 1520),)
    assert groups[0].total_query_time == pytest.approx(91.2)


def test_a_digest_scan_is_found_from_no_index_used_without_explain():
    groups = query_groups(mysql8_rows(), {}, 1024)
    queries = [AnalyzedQuery(group, describe(group.sample.sql)) for group in groups]
    scans = {f.query_id: f for f in advise(queries, {}, Thresholds()) if f.rule == "full_table_scan"}
    assert set(scans) == {groups[0].id, groups[1].id}  # the UPDATE by tracking_code used no index either
    finding = scans[groups[0].id]
    assert finding.table == "products"
    assert finding.evidence["source"] == "performance_schema (NO_INDEX_USED)"
    assert finding.evidence["rows_examined"] == 19785 and finding.severity.value == "medium"


def test_a_snapshot_subtracts_what_ran_before_it(tmp_path):
    rows = mysql8_rows()
    path = tmp_path / "before.json"
    save_snapshot(path, rows, "root@db:3306/shop")
    before, server, _ = load_snapshot(path)
    assert server == "root@db:3306/shop" and before == rows
    later = [replace(rows[0], count=rows[0].count + 10, sum_timer_wait=rows[0].sum_timer_wait + 10 ** 12), *rows[1:]]
    [since] = subtract(later, before)
    assert (since.count, since.sum_timer_wait) == (10, 10 ** 12)
