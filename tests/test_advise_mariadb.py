"""The advisor on real plans: statements EXPLAINed by the private MariaDB test server (conftest)."""

from __future__ import annotations

import hashlib

import pytest

from query_audit.advise import advise
from query_audit.analyze.explain import explain_query
from query_audit.analyze.schema import load_schema
from query_audit.analyze.sql_model import describe
from query_audit.connection import connect
from query_audit.model import AnalyzedQuery, QueryGroup, Statement, Thresholds

UPDATE_UNINDEXED = "UPDATE events SET payload = 'x' WHERE account_id = 3"
INSERT_VALUES = "INSERT INTO events (account_id, kind) VALUES (1, 'a')"
BY_PRIMARY_KEY = ("SELECT * FROM events WHERE id = 5", "DELETE FROM events WHERE id = 5")


@pytest.fixture
def advised(scratch_db):
    """advise() over real EXPLAINs of a 6000-row table: {sql: findings naming that statement}."""
    conn = connect(scratch_db)
    database = scratch_db.database
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE events (id INT AUTO_INCREMENT PRIMARY KEY, account_id INT NOT NULL, "
                    "kind VARCHAR(20) NOT NULL, payload VARCHAR(50), KEY idx_kind (kind))")
        cur.execute("INSERT INTO events (account_id, kind, payload) VALUES "
                    + ", ".join(f"({i % 600}, 'k{i % 3}', 'p{i}')" for i in range(6000)))
        cur.execute("ANALYZE TABLE events")
        cur.fetchall()
    schemas = load_schema(conn, {(database, "events")})
    queries = []
    for sql in (UPDATE_UNINDEXED, INSERT_VALUES, *BY_PRIMARY_KEY):
        model = describe(sql)
        group = QueryGroup(hashlib.md5(sql.encode()).hexdigest().upper(), sql.lower(), model.kind, 1,
                           Statement(sql, database=database))
        queries.append(AnalyzedQuery(group, model, *explain_query(conn, group, model, schemas)))
    conn.close()
    findings = advise(queries, schemas, Thresholds())
    return {q.group.sample.sql: [f for f in findings if q.group.id in (f.query_ids or (f.query_id,))]
            for q in queries}


def rules(findings) -> set[str]:
    return {finding.rule for finding in findings}


def test_mariadb_update_by_unindexed_column_is_a_scan_a_lock_risk_and_an_index_suggestion(advised):
    findings = advised[UPDATE_UNINDEXED]
    assert {"full_table_scan", "write_not_by_primary_key", "missing_index"} <= rules(findings)
    [suggestion] = [f for f in findings if f.rule == "missing_index"]
    assert suggestion.columns == ("account_id",)
    [scan] = [f for f in findings if f.rule == "full_table_scan"]
    assert scan.evidence["plan_row"]["access_type"] == "index" and scan.evidence["plan_row"]["key"] == "PRIMARY"


def test_mariadb_insert_values_is_not_a_scan(advised):
    assert not rules(advised[INSERT_VALUES]) & {"full_table_scan", "missing_index", "write_not_by_primary_key"}


@pytest.mark.parametrize("sql", BY_PRIMARY_KEY)
def test_mariadb_primary_key_lookups_raise_nothing_but_write_cost(advised, sql):
    assert rules(advised[sql]) <= {"write_amplification"}


def test_mariadb_foreign_keys_name_the_join_of_an_n_plus_one(scratch_db):
    """The schema read from the real server carries the FOREIGN KEY that pairs `books.written_by` with
    `authors.id`, which no naming rule would guess."""
    from query_audit.model import Repetition

    conn = connect(scratch_db)
    database = scratch_db.database
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE authors (id INT PRIMARY KEY, name VARCHAR(50)) ENGINE=InnoDB")
        cur.execute("CREATE TABLE books (id INT PRIMARY KEY, written_by INT NOT NULL, title VARCHAR(50), "
                    "CONSTRAINT fk_books_writer FOREIGN KEY (written_by) REFERENCES authors (id)) ENGINE=InnoDB")
    schemas = load_schema(conn, {(database, "authors"), (database, "books")})
    conn.close()
    parent_sql = "SELECT id, written_by FROM books WHERE title LIKE 'a%'"
    loop_sql = [f"SELECT * FROM authors WHERE id = {i}" for i in range(1, 6)]
    queries = []
    for sql, count, samples in ((parent_sql, 1, (parent_sql,)), (loop_sql[0], 5, tuple(loop_sql))):
        group = QueryGroup(hashlib.md5(sql.encode()).hexdigest().upper(), sql.lower(), describe(sql).kind, count,
                           Statement(sql, database=database), distinct_values=len(samples),
                           repetitions=(Repetition("request 1", count, len(samples), samples),))
        queries.append(AnalyzedQuery(group, describe(sql)))
    [finding] = [f for f in advise(queries, schemas, Thresholds()) if f.rule == "n_plus_one"]
    assert "JOIN authors ON authors.id = books.written_by" in finding.suggestion
