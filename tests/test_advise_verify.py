"""--verify against the private test server: create the suggested index, EXPLAIN again, drop it."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from query_audit.advise import advise
from query_audit.advise.verify import verify_findings
from query_audit.analyze import explain
from query_audit.analyze.schema import load_schema
from query_audit.analyze.sql_model import describe
from query_audit.connection import connect
from query_audit.model import (
    AddedIndex,
    AnalyzedQuery,
    Finding,
    QueryGroup,
    Severity,
    Statement,
    Thresholds,
)

ROWS = 6000


@pytest.fixture
def events(scratch_db):
    """A 6000-row table with an unindexed account_id (600 distinct) and a constant kind column."""
    conn = connect(scratch_db)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE events (id INT AUTO_INCREMENT PRIMARY KEY, account_id INT NOT NULL, "
                    "kind VARCHAR(20) NOT NULL, payload VARCHAR(50)) ENGINE=InnoDB")
        rows = ", ".join(f"({i % 600}, 'click', 'p{i}')" for i in range(ROWS))
        cur.execute(f"INSERT INTO events (account_id, kind, payload) VALUES {rows}")
        cur.execute("ANALYZE TABLE events")
        cur.fetchall()
    yield conn, scratch_db.database
    conn.close()


def analyzed(conn, database: str, sql: str):
    group = QueryGroup(hashlib.md5(sql.encode()).hexdigest().upper(), sql.lower(), describe(sql).kind, 1,
                       Statement(sql, database=database))
    model = describe(sql)
    schemas = load_schema(conn, {(database, table) for table in model.tables})
    plan, error = explain.explain_query(conn, group, model, schemas)
    return [AnalyzedQuery(group, model, plan, error)], schemas


def index_names(conn) -> set[str]:
    with conn.cursor() as cur:
        cur.execute("SHOW INDEX FROM events")
        return {row[2] for row in cur.fetchall()}


def test_verify_proves_the_suggested_index_and_drops_it_afterwards(events):
    conn, database = events
    queries, schemas = analyzed(conn, database, "SELECT * FROM events WHERE account_id = 42")
    findings = advise(queries, schemas, Thresholds())
    [suggested] = [f for f in findings if f.rule == "missing_index"]
    assert suggested.columns == ("account_id",) and suggested.verified is None

    [proven] = [f for f in verify_findings(conn, findings, queries, schemas) if f.rule == "missing_index"]

    assert proven.verified is True
    [result] = proven.evidence["verify"]["queries"]
    assert result["before"]["access_type"] == "ALL" and result["before"]["rows"] >= ROWS * 0.5
    assert result["after"]["key"] == suggested.evidence["index_name"]
    assert result["after"]["rows"] < 100
    assert proven.evidence["rows_after_verified"] == result["after"]["rows"]
    assert index_names(conn) == {"PRIMARY"}


def test_a_proven_index_states_the_measured_rows_after_instead_of_the_guess(events):
    conn, database = events
    queries, schemas = analyzed(conn, database, "SELECT * FROM events WHERE account_id = 42")
    findings = advise(queries, schemas, Thresholds())
    [guessed] = [f for f in findings if f.rule == "missing_index"]
    guess = guessed.evidence["rows_after_estimate"]
    assert guessed.evidence["estimated"] is True and f"~{guess} rows after (a guess" in guessed.message

    [proven] = [f for f in verify_findings(conn, findings, queries, schemas) if f.rule == "missing_index"]

    measured = proven.evidence["rows_after_verified"]
    assert measured != guess
    assert f"~{measured} rows after (measured by --verify" in proven.message
    assert "guess" not in proven.message and f"~{guess} " not in proven.message
    assert proven.evidence["rows_after_estimate"] is None and proven.evidence["estimated"] is False
    assert proven.evidence["estimate_basis"].startswith("measured by --verify")


def test_an_index_the_optimizer_ignores_is_marked_unverified_with_the_reason(events):
    conn, database = events
    # every row has kind = 'click': an index on it selects nothing, so a full scan stays cheaper
    queries, schemas = analyzed(conn, database, "SELECT * FROM events WHERE kind = 'click'")
    findings = advise(queries, schemas, Thresholds())
    [checked] = [f for f in verify_findings(conn, findings, queries, schemas) if f.rule == "missing_index"]
    assert checked.verified is False and checked.severity is Severity.INFO
    assert "did not use the index" in checked.evidence["verify"]["reason"]
    assert index_names(conn) == {"PRIMARY"}


def test_an_index_that_cannot_be_created_is_unverified_and_other_findings_pass_through(events):
    conn, database = events
    ddl = f"ALTER TABLE `{database}`.`missing` ADD INDEX `idx_x` (`x`)"
    broken = Finding("missing_index", Severity.MEDIUM, "m", table="missing", query_ids=("X",), ddl=ddl,
                     evidence={"index_name": "idx_x"}, index=AddedIndex("idx_x", database, "missing", ddl, 0))
    other = Finding("full_table_scan", Severity.MEDIUM, "scan")
    checked, untouched = verify_findings(conn, [broken, other], [], {})
    assert checked.verified is False and "could not create it" in checked.evidence["verify"]["reason"]
    assert untouched is other


def test_a_merged_index_states_the_rows_after_of_its_own_query_not_the_worst_served_one(events):
    conn, database = events
    lookup, schemas = analyzed(conn, database, "SELECT * FROM events WHERE account_id = 42")
    report, _ = analyzed(conn, database, "SELECT account_id, COUNT(*) AS n FROM events GROUP BY account_id "
                                         "ORDER BY n DESC LIMIT 5")
    queries = lookup + report
    findings = advise(queries, schemas, Thresholds())
    [merged] = [f for f in findings if f.rule == "missing_index"]
    assert merged.query_id == lookup[0].group.id and len(merged.query_ids) == 2

    [proven] = [f for f in verify_findings(conn, findings, queries, schemas) if f.rule == "missing_index"]

    after = {r["query_id"]: r["after"]["rows"] for r in proven.evidence["verify"]["queries"]}
    assert after[report[0].group.id] >= ROWS * 0.5  # the GROUP BY reads the whole index, in order
    assert proven.evidence["rows_after_verified"] == after[lookup[0].group.id] < 100
    assert f"~{after[lookup[0].group.id]} rows after" in proven.message


def test_an_index_that_makes_another_query_estimate_more_rows_is_not_verified(events):
    conn, database = events
    lookup, schemas = analyzed(conn, database, "SELECT * FROM events WHERE account_id = 42")
    [other] = analyzed(conn, database, "SELECT * FROM events WHERE account_id > 5")[0]
    # Its plan before, as if the server had estimated 20 rows: with the index it estimates thousands.
    low = replace(other.plan, rows=tuple(replace(r, rows=20) for r in other.plan.rows))
    queries = lookup + [replace(other, plan=low)]
    findings = advise(lookup, schemas, Thresholds())

    [checked] = [f for f in verify_findings(conn, findings, queries, schemas) if f.rule == "missing_index"]

    assert checked.verified is False
    assert f"the rows estimate rose with the index for {other.group.id}" == checked.evidence["verify"]["reason"]
    [rose] = [r for r in checked.evidence["verify"]["queries"] if r["query_id"] == other.group.id]
    assert rose["regressed"] is True and rose["rows_examined_after"] > 20
    assert "of 1 queries use it" not in checked.message and "verified (live)" not in str(checked.evidence)
    assert index_names(conn) == {"PRIMARY"}


def test_a_proven_index_is_marked_verified_live(events):
    conn, database = events
    queries, schemas = analyzed(conn, database, "SELECT * FROM events WHERE account_id = 42")
    [proven] = [f for f in verify_findings(conn, advise(queries, schemas, Thresholds()), queries, schemas)
                if f.rule == "missing_index"]
    assert proven.evidence["verification"] == "verified (live)"
    assert "1 of 1 queries use it" in proven.message
