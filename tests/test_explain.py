"""EXPLAIN: the parsers on recorded MySQL 8 output and on real MariaDB output, and explain_query on the
private test server (plans, refusals, placeholders, and proof that nothing is ever written)."""

from __future__ import annotations

import pytest
from conftest import REFERENCE, reference_file

from query_audit.analyze.explain import (
    code_only,
    explain_query,
    parse_traditional,
    placeholder_positions,
)
from query_audit.analyze.schema import load_schema
from query_audit.analyze.sql_model import describe
from query_audit.connection import connect
from query_audit.errors import ConnectionFailed
from query_audit.model import Kind, QueryGroup, Statement, StatementModel, table_key


def load_tsv(name: str) -> tuple[list[str], list[tuple]]:
    """A recorded traditional EXPLAIN: `-- ` lines dropped, TAB-separated, the text NULL is None."""
    lines = [line for line in reference_file(name).read_text().splitlines() if line and not line.startswith("-- ")]
    header = lines[0].split("\t")
    rows = [tuple(None if value == "NULL" else value for value in line.split("\t")) for line in lines[1:]]
    return header, rows


def summary(plan):
    return [(r.select_id, r.select_type, r.table, r.access_type, r.key, r.rows,
             r.using_filesort, r.using_temporary, r.using_index) for r in plan.rows]


# ---------------------------------------------------------------------------------------------
# Recorded MySQL 8.0.40 output
# ---------------------------------------------------------------------------------------------

TRADITIONAL = {
    "explain_trad_select_full_scan.tsv": [(1, "SIMPLE", "t1", "ALL", None, 4, False, False, False)],
    # "Using index condition" is index condition pushdown, not a covering index.
    "explain_trad_select_ref_index.tsv": [(1, "SIMPLE", "t1", "ref", "str", 1, False, False, False)],
    "explain_trad_join_eq_ref.tsv": [(1, "SIMPLE", "t1", "ALL", None, 3, False, False, False),
                                     (1, "SIMPLE", "t2", "eq_ref", "PRIMARY", 1, False, False, False)],
    "explain_trad_join_filesort_temporary.tsv": [
        (1, "SIMPLE", "t3", "index", "PRIMARY", 6, True, True, True),
        (1, "SIMPLE", "t2", "ref", "uid", 1, False, False, False),
        (1, "SIMPLE", "t1", "eq_ref", "PRIMARY", 1, False, False, True)],
    "explain_trad_derived_group_temporary_filesort.tsv": [
        (1, "PRIMARY", "<derived2>", "ALL", None, 4, False, False, False),
        (2, "DERIVED", "t1", "ALL", None, 2, True, True, False),
        (2, "DERIVED", "t2", "ALL", None, 2, False, False, False)],
    "explain_trad_update.tsv": [(1, "UPDATE", "t1", "ALL", None, 3, False, False, False)],
    "explain_trad_delete_by_unique_key.tsv": [(1, "DELETE", "t1", "range", "a", 1, False, False, False)],
    "explain_trad_insert_select.tsv": [(1, "INSERT", "t2", "ALL", None, None, False, False, False),
                                       (1, "SIMPLE", "t1", "ALL", None, 3, False, False, False),
                                       (1, "SIMPLE", "tt", "ALL", None, 3, False, False, False)],
}


def test_every_recorded_traditional_output_has_an_expectation():
    recorded = {path.name for path in REFERENCE.glob("explain_trad_*.tsv")}
    assert recorded <= set(TRADITIONAL), f"add expectations for {recorded - set(TRADITIONAL)}"


@pytest.mark.parametrize("name", sorted(TRADITIONAL))
def test_parse_traditional_reads_mysql8_output(name):
    header, rows = load_tsv(name)
    assert len(header) == 12  # MySQL 8: partitions and filtered included
    plan = parse_traditional(header, rows)
    assert plan.format == "traditional"
    assert summary(plan) == TRADITIONAL[name]


def test_parse_traditional_keeps_the_details_of_a_row():
    plan = parse_traditional(*load_tsv("explain_trad_join_filesort_temporary.tsv"))
    second = plan.rows[1]
    assert second.possible_keys == ("PRIMARY", "uid")
    assert (second.key_len, second.ref, second.filtered) == ("2", "test.t3.uid", 100.0)
    assert second.extra == "Using index condition"
    hash_join = parse_traditional(*load_tsv("explain_trad_insert_select.tsv")).rows[2]
    assert hash_join.filtered == 33.33 and "hash join" in hash_join.extra


# ---------------------------------------------------------------------------------------------
# The private server (MariaDB 10.11 here, or QUERY_AUDIT_TEST_DSN)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def shop(scratch_db):
    """customers (50) and orders (300) with a secondary index on orders.customer_id only."""
    conn = connect(scratch_db)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, UNIQUE KEY (email))")
        cur.execute("CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, status VARCHAR(20) NOT NULL,"
                    " created_at DATETIME NOT NULL, KEY ix_customer (customer_id))")
        cur.executemany("INSERT INTO customers VALUES (%s, %s)", [(i, f"c{i}@example.com") for i in range(1, 51)])
        cur.executemany("INSERT INTO orders VALUES (%s, %s, %s, %s)",
                        [(i, i % 50 + 1, ("new", "paid", "sent")[i % 3], f"2024-01-{i % 28 + 1:02d} 10:00:00")
                         for i in range(1, 301)])
        cur.execute("ANALYZE TABLE customers, orders")
        cur.fetchall()
    yield conn, scratch_db.database
    conn.close()


def group_for(sql: str, database: str | None, placeholders: bool = False) -> QueryGroup:
    model = describe(sql)
    return QueryGroup(id="Q1", fingerprint=sql.lower(), kind=model.kind, count=1,
                      sample=Statement(sql=sql, database=database, placeholders=placeholders))


def explain(conn, sql: str, database: str | None, placeholders: bool = False, model: StatementModel | None = None):
    model = model or describe(sql)
    schemas = load_schema(conn, {table_key(t, database) for t in model.tables})
    return explain_query(conn, group_for(sql, database, placeholders), model, schemas)


def by_table(plan):
    return {row.table: row for row in plan.rows}


def test_full_scan(shop):
    conn, db = shop
    plan, reason = explain(conn, "SELECT * FROM orders WHERE status = 'paid'", db)
    assert reason is None
    (row,) = plan.rows
    assert (row.table, row.access_type, row.key) == ("orders", "ALL", None)
    assert 200 <= row.rows <= 400
    assert plan.explained_sql == "SELECT * FROM orders WHERE status = 'paid'" and not plan.filled_placeholders


def test_ref_by_index(shop):
    conn, db = shop
    plan, _ = explain(conn, "SELECT * FROM orders WHERE customer_id = 7", db)
    (row,) = plan.rows
    assert (row.access_type, row.key, row.ref) == ("ref", "ix_customer", "const")


def test_eq_ref_join(shop):
    conn, db = shop
    # STRAIGHT_JOIN: orders drives, so each order looks up its one customer by primary key.
    plan, _ = explain(conn, "SELECT o.id, c.email FROM orders o STRAIGHT_JOIN customers c ON c.id = o.customer_id "
                            "WHERE o.status = 'new'", db)
    rows = by_table(plan)
    assert rows["o"].access_type == "ALL"
    assert (rows["c"].access_type, rows["c"].key) == ("eq_ref", "PRIMARY")
    assert rows["c"].ref.endswith("o.customer_id")


def test_filesort(shop):
    conn, db = shop
    plan, _ = explain(conn, "SELECT * FROM orders WHERE customer_id = 7 ORDER BY created_at", db)
    assert plan.rows[0].using_filesort and not plan.rows[0].using_temporary


def test_temporary_table(shop):
    conn, db = shop
    plan, _ = explain(conn, "SELECT o.status, COUNT(*) FROM orders o JOIN customers c ON c.id = o.customer_id "
                            "GROUP BY o.status", db)
    assert any(row.using_temporary for row in plan.rows)


def test_covering_index_is_using_index(shop):
    conn, db = shop
    plan, _ = explain(conn, "SELECT customer_id FROM orders WHERE customer_id = 7", db)
    assert plan.rows[0].using_index


def counts(conn, db):
    with conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*), SUM(customer_id), GROUP_CONCAT(DISTINCT status ORDER BY status) "
                    f"FROM `{db}`.orders")
        return cur.fetchone()


def test_update_by_an_unindexed_column_is_a_full_scan_and_writes_nothing(shop):
    conn, db = shop
    before = counts(conn, db)
    plan, reason = explain(conn, "UPDATE orders SET status = 'gone', customer_id = 0 "
                                 "WHERE created_at = '2024-01-05 10:00:00'", db)
    assert reason is None
    (row,) = plan.rows
    # MariaDB 10.11 prints a full scan of the clustered index (index on PRIMARY); MySQL 8 prints ALL.
    assert (row.access_type, row.key) in (("index", "PRIMARY"), ("ALL", None))
    assert counts(conn, db) == before


def test_delete_and_insert_write_nothing_and_leave_no_transaction_open(shop, scratch_db):
    conn, db = shop
    before = counts(conn, db)
    delete_plan, _ = explain(conn, "DELETE FROM orders WHERE status = 'paid'", db)
    insert_plan, insert_reason = explain(conn, "INSERT INTO orders VALUES (1000, 1, 'new', NOW()), (1001, 2, 'new', NOW())", db)
    replace_plan, reason = explain(conn, "REPLACE INTO orders VALUES (1, 1, 'new', NOW())", db)
    assert delete_plan.rows[0].access_type == "ALL"
    assert insert_reason is None and insert_plan.rows[0].select_type == "INSERT"
    assert reason is None and replace_plan.rows[0].table == "orders"
    assert counts(conn, db) == before
    other = connect(scratch_db)
    try:
        assert counts(other, db) == before  # what another session sees: nothing committed either
    finally:
        other.close()
    if "mariadb" in conn.get_server_info().lower():  # MySQL has no @@in_transaction
        with conn.cursor() as cur:
            cur.execute("SELECT @@in_transaction")
            assert cur.fetchone()[0] == 0


def test_insert_values_shows_type_all_with_no_rows(shop):
    conn, db = shop
    plan, reason = explain(conn, "INSERT INTO orders (id, customer_id, status, created_at) "
                                 "VALUES (2000, 1, 'new', '2024-02-01')", db)
    assert reason is None
    (row,) = plan.rows
    # Not a scan: the advisor must not read type ALL here as one.
    assert (row.select_type, row.table, row.access_type, row.rows) == ("INSERT", "orders", "ALL", None)


def test_placeholders_are_filled_with_a_value_sampled_from_the_column(shop):
    conn, db = shop
    sql = "SELECT * FROM orders o WHERE o.customer_id = ? AND status IN (?, ?) AND note = '?' LIMIT ?"
    with conn.cursor() as cur:
        cur.execute(f"SELECT customer_id FROM `{db}`.orders WHERE customer_id IS NOT NULL LIMIT 1")
        sampled = cur.fetchone()[0]
        cur.execute(f"SELECT status FROM `{db}`.orders WHERE status IS NOT NULL LIMIT 1")
        status = cur.fetchone()[0]
        cur.execute(f"ALTER TABLE `{db}`.orders ADD COLUMN note VARCHAR(10) NULL")
    plan, reason = explain(conn, sql, db, placeholders=True)
    assert reason is None and plan.filled_placeholders
    assert plan.explained_sql == (f"SELECT * FROM orders o WHERE o.customer_id = {sampled} "
                                  f"AND status IN ('{status}', '{status}') AND note = '?' LIMIT 10")
    assert (plan.rows[0].access_type, plan.rows[0].key) == ("ref", "ix_customer")


def test_placeholders_get_typed_defaults_when_the_table_is_empty(shop):
    conn, db = shop
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.events (id INT PRIMARY KEY, at DATETIME, name VARCHAR(10), KEY (at))")
    plan, reason = explain(conn, "SELECT id FROM events WHERE at > ? AND id = ? AND name = ?", db, placeholders=True)
    assert reason is None
    assert plan.explained_sql == "SELECT id FROM events WHERE at > '2000-01-01 00:00:00' AND id = 0 AND name = ''"


def test_placeholders_in_insert_values_and_replace(shop):
    conn, db = shop
    plan, reason = explain(conn, "INSERT INTO orders (id, customer_id, status, created_at) VALUES (?, ?, ?, ?)",
                           db, placeholders=True)
    assert reason is None and "?" not in plan.explained_sql
    plan, reason = explain(conn, "REPLACE INTO orders VALUES (?, ?, ?, ?)", db, placeholders=True)
    assert reason is None and plan.explained_sql == "REPLACE INTO orders VALUES ('0', '0', '0', '0')"


def test_missing_table_is_a_reason_not_an_exception(shop):
    conn, db = shop
    plan, reason = explain(conn, "SELECT * FROM no_such_table WHERE id = 1", db)
    assert plan is None
    assert "no_such_table" in reason and "1146" in reason and "\n" not in reason


def test_unknown_database_is_a_reason(shop):
    conn, _ = shop
    plan, reason = explain(conn, "SELECT * FROM orders", "no_such_database")
    assert plan is None and "no_such_database" in reason


def test_unqualified_tables_without_a_database_are_skipped(shop):
    conn, db = shop
    plan, reason = explain(conn, "SELECT * FROM orders", None)
    assert plan is None and "database unknown" in reason
    plan, reason = explain(conn, f"SELECT * FROM `{db}`.orders", None)
    assert reason is None and plan.rows[0].access_type == "ALL"


@pytest.mark.parametrize("sql", ["CREATE TABLE made_by_explain (a INT)", "DROP TABLE orders",
                                 "SET @x = 1", "SHOW TABLES", "BEGIN", "CALL some_procedure()"])
def test_statements_without_a_plan_get_a_reason_and_do_not_run(shop, sql):
    conn, db = shop
    plan, reason = explain(conn, sql, db)
    assert plan is None and reason.startswith("not explained")
    with conn.cursor() as cur:
        cur.execute(f"SHOW TABLES FROM `{db}`")
        assert {row[0] for row in cur.fetchall()} == {"customers", "orders"}


@pytest.mark.parametrize("sql", [
    "ANALYZE SELECT * FROM orders",
    "EXPLAIN ANALYZE SELECT * FROM orders",
    "/*!50000 ANALYZE */ DELETE FROM orders",
    "/* harmless */ ANALYZE DELETE FROM orders",
    "SELECT 1 FROM orders; DELETE FROM orders",
    "SELECT * FROM orders INTO OUTFILE '/tmp/qa_explain_out.txt'",
])
def test_statements_that_would_run_or_write_are_refused(shop, sql):
    conn, db = shop
    before = counts(conn, db)
    # Even if a model wrongly called them plain selects, the text guard refuses them.
    plan, reason = explain(conn, sql, db, model=StatementModel(kind=Kind.SELECT, tables=("orders",)))
    assert plan is None and reason.startswith("not explained")
    assert counts(conn, db) == before


def test_a_lost_connection_raises_connection_failed(shop, server_settings):
    _, db = shop
    conn = connect(server_settings)
    conn.close()
    with pytest.raises(ConnectionFailed):
        explain_query(conn, group_for("SELECT * FROM orders", db), describe("SELECT * FROM orders"), {})


def test_real_mariadb_traditional_output_reads_the_filesort_of_a_join(shop):
    conn, _ = shop
    sql = ("SELECT o.id, c.email FROM orders o JOIN customers c ON c.id = o.customer_id "
           "WHERE c.email LIKE 'c1%' ORDER BY o.created_at")
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        if "mariadb" not in cur.fetchone()[0].lower():
            pytest.skip("MariaDB output expected")
        cur.execute("EXPLAIN " + sql)
        traditional = parse_traditional([d[0] for d in cur.description], cur.fetchall())
    assert {row.table for row in traditional.rows} == {"o", "c"}
    assert traditional.rows[0].using_filesort  # the sort is charged to the first table read


@pytest.mark.parametrize("sql, expected", [
    ("SELECT ? FROM t WHERE a = '?' AND `b?` = ? -- ?", 2),
    ("SELECT 'it''s ?' FROM t WHERE x = ? /* ? */ # ?", 1),
    ("SELECT \"a\\\"?\" FROM t WHERE x = ?", 1),
])
def test_placeholders_inside_strings_identifiers_and_comments_are_not_placeholders(sql, expected):
    assert len(placeholder_positions(sql)) == expected


def test_executable_comment_bodies_count_as_code():
    assert code_only("/*!50000 ANALYZE */ SELECT 1").split() == ["ANALYZE", "SELECT", "1"]
