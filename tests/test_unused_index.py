"""unused_index: indexes performance_schema never saw used, on the private test server (started with
performance_schema on), with the uptime as part of the evidence and DROP DDL that runs."""

from __future__ import annotations

from dataclasses import replace

from query_audit.advise.rules.unused_index import REPRESENTATIVE_UPTIME, RULE, unused_indexes
from query_audit.analyze.digest import Digest
from query_audit.analyze.sql_model import describe
from query_audit.capture.session import CaptureResult
from query_audit.connection import connect
from query_audit.model import (
    AnalyzedQuery,
    Index,
    IndexColumn,
    IndexUsage,
    SourceInfo,
    Statement,
    TableSchema,
    Thresholds,
)
from query_audit.pipeline import AnalysisOptions, analyze_stream


def report_for(settings, *sqls):
    statements = tuple(Statement(sql, thread_id=1, database=settings.database) for sql in sqls)
    stream = CaptureResult(statements, SourceInfo(kind="capture"), None, 0, ())
    return analyze_stream(stream, AnalysisOptions(settings=settings))


def test_an_index_never_used_since_the_start_is_reported_with_the_uptime_and_a_drop_that_works(scratch_db,
                                                                                               monkeypatch):
    from query_audit.advise.rules import unused_index

    monkeypatch.setattr(unused_index, "MIN_UPTIME", 0)  # the test server started minutes ago
    with connect(scratch_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE parents (id INT PRIMARY KEY)")
        cur.execute("CREATE TABLE items (id INT PRIMARY KEY, a INT, b INT, c INT, parent_id INT, "
                    "KEY idx_a (a), KEY idx_b (b), UNIQUE KEY uq_c (c), KEY idx_parent (parent_id), "
                    "CONSTRAINT fk_parent FOREIGN KEY (parent_id) REFERENCES parents (id))")
        cur.execute("INSERT INTO items (id, a, b, c) SELECT seq, seq % 10, seq % 20, seq FROM seq_1_to_200")
        cur.execute("SELECT COUNT(*) FROM items WHERE a = 3")
    report = report_for(scratch_db, "SELECT id FROM items WHERE a = 3")
    [finding] = [f for f in report.findings if f.rule == "unused_index"]
    # idx_a was read; uq_c is unique and idx_parent serves the foreign key: neither is suggested.
    assert finding.columns == ("b",) and finding.evidence["index"] == "idx_b"
    assert finding.severity.value == "info"  # the test server started minutes ago
    assert "proves little" in finding.message and finding.evidence["uptime_seconds"] < REPRESENTATIVE_UPTIME
    assert finding.ddl == f"ALTER TABLE `{scratch_db.database}`.`items` DROP INDEX `idx_b`"
    with connect(scratch_db) as conn, conn.cursor() as cur:
        cur.execute(finding.ddl)
        cur.execute("SHOW INDEX FROM items WHERE Key_name = 'idx_b'")
        assert cur.fetchall() == ()


def test_after_a_representative_uptime_it_is_low_and_without_evidence_nothing_is_said():
    index = Index("idx_b", (IndexColumn("b"),))
    schema = TableSchema("shop", "items", 100, indexes=(Index("PRIMARY", (IndexColumn("id"),), unique=True), index),
                         index_usage=IndexUsage((("PRIMARY", 5), ("idx_b", 0)), table_io=5,
                                                uptime_seconds=30 * 86400))
    assert unused_indexes(schema) == [index]
    assert unused_indexes(replace(schema, index_usage=None)) == []
    # A table no one touched since the start proves nothing about its indexes.
    untouched = replace(schema, index_usage=IndexUsage((("PRIMARY", 0), ("idx_b", 0)), 0, 30 * 86400))
    assert unused_indexes(untouched) == []
    # Nor do a few minutes of counters (a server just started).
    assert unused_indexes(replace(schema, index_usage=replace(schema.index_usage, uptime_seconds=600))) == []

    digest = Digest()
    digest.add(Statement("SELECT id FROM items WHERE id = 1", database="shop"))
    [group] = digest.groups()
    [finding] = RULE.check([AnalyzedQuery(group, describe(group.sample.sql))], {("shop", "items"): schema}, Thresholds())
    assert finding.severity.value == "low" and "30 d 0 h" in finding.message and "proves little" not in finding.message
