"""full_table_scan, missing_index, filesort and temporary_table: (statement, schema, plan) cases."""

from __future__ import annotations

import pytest
from advise_cases.build import query, row, schemas, table, traditional_plan
from conftest import reference_file

from query_audit.advise.rules import (
    filesort,
    full_table_scan,
    missing_index,
    non_sargable_predicate,
    temporary_table,
    unparsed_statement,
)
from query_audit.analyze.explain import explain_query
from query_audit.analyze.sql_model import describe
from query_audit.model import Severity, Thresholds

T = Thresholds()
ORDERS = table("orders", 50_000,
               {"id": "int", "customer_id": "int", "status": "varchar", "created_at": "datetime",
                "note": "text", "phone": "varchar"},
               {"PRIMARY": ("id",), "idx_status": ("status",)}, cardinality={"idx_status.status": 5})
CUSTOMERS = table("customers", 20_000, {"id": "int", "email": "varchar", "name": "varchar"},
                  {"PRIMARY": ("id",), "uq_email": ("email",)}, unique=("uq_email",))
SETTINGS = table("settings", 12, {"id": "int", "name": "varchar"})
SCHEMAS = schemas(ORDERS, CUSTOMERS, SETTINGS)


def rules_of(findings):
    return [f.rule for f in findings]


# --- full_table_scan ---------------------------------------------------------------------------------


def test_full_scan_of_a_large_table_is_reported_with_table_rows_and_plan_row():
    q = query("SELECT * FROM orders WHERE customer_id = 7", row("orders", "ALL", 50_000))
    [finding] = full_table_scan.RULE.check([q], SCHEMAS, T)
    assert finding.severity is Severity.MEDIUM
    assert finding.table == "orders"
    assert "50000" in finding.message and "customer_id" in finding.message
    assert finding.evidence["plan_row"]["access_type"] == "ALL"
    assert finding.evidence["rows_examined"] == 50_000


def test_full_scan_above_large_scan_rows_is_high():
    big = table("orders", 2_000_000, {"id": "int", "customer_id": "int"})
    q = query("SELECT * FROM orders WHERE customer_id = 7", row("orders", "ALL", 2_000_000))
    assert full_table_scan.RULE.check([q], schemas(big), T)[0].severity is Severity.HIGH


def test_full_scan_of_a_tiny_table_is_at_most_info():
    q = query("SELECT * FROM settings WHERE name = 'x'", row("settings", "ALL", 12))
    assert [f.severity for f in full_table_scan.RULE.check([q], SCHEMAS, T)] == [Severity.INFO]


def test_update_shown_as_full_index_scan_on_primary_is_a_scan():
    # MariaDB 10.11: EXPLAIN UPDATE ... WHERE unindexed = ? shows type index, key PRIMARY.
    q = query("UPDATE orders SET status = 'x' WHERE note = 'y'",
              row("orders", "index", 50_000, key="PRIMARY", select_type="SIMPLE"))
    [finding] = full_table_scan.RULE.check([q], SCHEMAS, T)
    assert "PRIMARY" in finding.message and finding.severity is Severity.MEDIUM


@pytest.mark.parametrize("plan_row", [
    row("orders", "ALL", None, select_type="INSERT"),  # MariaDB: INSERT ... VALUES is type ALL, rows NULL
    row("orders", "ALL", None),
])
def test_insert_values_is_never_a_full_scan(plan_row):
    q = query("INSERT INTO orders (customer_id, status) VALUES (1, 'new')", plan_row)
    assert full_table_scan.RULE.check([q], SCHEMAS, T) == []


@pytest.mark.parametrize("sql, plan_row", [
    ("SELECT * FROM orders WHERE id = 5", row("orders", "const", 1, key="PRIMARY")),
    ("SELECT * FROM customers WHERE email = 'a@b.c'", row("customers", "const", 1, key="uq_email")),
    ("SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = 3",
     row("c", "eq_ref", 1, key="PRIMARY")),
])
def test_lookups_by_primary_or_unique_key_raise_nothing(sql, plan_row):
    q = query(sql, plan_row)
    for rule in (full_table_scan, missing_index, filesort, temporary_table):
        assert rule.RULE.check([q], SCHEMAS, T) == []


def test_recorded_mysql8_update_plan_is_a_full_scan():
    plan = traditional_plan(reference_file("explain_trad_update.tsv"))
    t1 = table("t1", 3, {"a": "int"}, {})
    q = query("UPDATE t1 SET a = 10 WHERE a < 10", *plan)
    [finding] = full_table_scan.RULE.check([q], schemas(t1), T)
    assert finding.table == "t1" and finding.severity is Severity.INFO


# --- missing_index -----------------------------------------------------------------------------------


def test_missing_index_orders_equality_then_sort_then_range_and_gives_ddl():
    q = query("SELECT * FROM orders WHERE customer_id = 7 AND created_at > '2024-01-01' ORDER BY created_at",
              row("orders", "ALL", 50_000, filesort=True))
    [finding] = missing_index.RULE.check([q], SCHEMAS, T)
    assert finding.columns == ("customer_id", "created_at")
    assert finding.ddl == ("ALTER TABLE `shop`.`orders` ADD INDEX `idx_orders_customer_id_created_at` "
                           "(`customer_id`, `created_at`)")
    assert finding.query_ids == (q.group.id,)
    assert finding.evidence["rows_before"] == 50_000
    assert finding.evidence["rows_after_estimate"] < 50_000


def test_equality_before_sort_before_range_when_all_three_exist():
    q = query("SELECT * FROM orders WHERE customer_id = 7 AND status IN ('a', 'b') ORDER BY created_at",
              row("orders", "ALL", 50_000))
    [finding] = missing_index.RULE.check([q], SCHEMAS, T)
    assert finding.columns == ("customer_id", "created_at", "status")


def test_sort_columns_are_left_out_when_they_mix_directions_or_tables():
    mixed = query("SELECT * FROM orders WHERE customer_id = 7 ORDER BY created_at DESC, status ASC",
                  row("orders", "ALL", 50_000))
    other_table = query("SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id "
                        "WHERE o.phone = '1' ORDER BY c.name", row("o", "ALL", 50_000), row("c", "eq_ref", 1))
    assert missing_index.RULE.check([mixed], SCHEMAS, T)[0].columns == ("customer_id",)
    assert missing_index.RULE.check([other_table], SCHEMAS, T)[0].columns == ("phone",)


def test_join_column_of_the_inner_table_is_an_equality_column():
    q = query("SELECT * FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.email = 'a@b.c'",
              row("c", "const", 1, key="uq_email"), row("o", "ALL", 50_000))
    [finding] = missing_index.RULE.check([q], SCHEMAS, T)
    assert finding.table == "orders" and finding.columns == ("customer_id",)


def test_two_queries_wanting_a_and_a_b_share_one_index():
    one = query("SELECT * FROM orders WHERE customer_id = 7", row("orders", "ALL", 50_000))
    two = query("SELECT * FROM orders WHERE customer_id = 7 ORDER BY created_at DESC",
                row("orders", "ALL", 50_000, filesort=True))
    [finding] = missing_index.RULE.check([one, two], SCHEMAS, T)
    assert finding.columns == ("customer_id", "created_at")
    assert set(finding.query_ids) == {one.group.id, two.group.id}
    assert finding.count == 2


def test_shared_equality_columns_go_first_so_one_index_serves_both():
    one = query("SELECT * FROM orders WHERE phone = '1' AND customer_id = 7", row("orders", "ALL", 50_000))
    two = query("SELECT * FROM orders WHERE customer_id = 8", row("orders", "ALL", 50_000))
    [finding] = missing_index.RULE.check([one, two], SCHEMAS, T)
    assert finding.columns[0] == "customer_id" and len(finding.query_ids) == 2


def test_nothing_is_suggested_when_an_existing_index_covers_the_candidate_as_leftmost_prefix():
    indexed = table("orders", 50_000, {"id": "int", "customer_id": "int", "created_at": "datetime"},
                    {"PRIMARY": ("id",), "idx_c": ("customer_id", "created_at")})
    q = query("SELECT * FROM orders WHERE customer_id = 7", row("orders", "ALL", 50_000))
    assert missing_index.RULE.check([q], schemas(indexed), T) == []


def test_trailing_primary_key_column_is_dropped():
    q = query("SELECT * FROM orders WHERE customer_id = 7 ORDER BY id", row("orders", "ALL", 50_000))
    assert missing_index.RULE.check([q], SCHEMAS, T)[0].columns == ("customer_id",)


def test_tiny_tables_get_no_index_suggestion():
    q = query("SELECT * FROM settings WHERE name = 'x'", row("settings", "ALL", 12))
    assert missing_index.RULE.check([q], SCHEMAS, T) == []


def test_a_poor_key_much_worse_than_the_candidate_gets_a_better_index():
    q = query("SELECT * FROM orders WHERE status = 'paid' AND customer_id = 7",
              row("orders", "ref", 10_000, key="idx_status"))
    [finding] = missing_index.RULE.check([q], SCHEMAS, T)
    assert finding.columns == ("status", "customer_id") or finding.columns == ("customer_id", "status")


def test_a_good_key_gets_no_suggestion():
    q = query("SELECT * FROM orders WHERE status = 'paid'", row("orders", "ref", 10_000, key="idx_status"))
    assert missing_index.RULE.check([q], SCHEMAS, T) == []


def test_estimate_after_uses_index_cardinality_when_the_equality_prefix_has_statistics():
    q = query("SELECT * FROM orders WHERE status = 'paid' ORDER BY created_at",
              row("orders", "ALL", 50_000, filesort=True))
    [finding] = missing_index.RULE.check([q], SCHEMAS, T)
    assert finding.columns == ("status", "created_at")
    assert finding.evidence["rows_after_estimate"] == 10_000  # 50000 rows / cardinality 5
    assert finding.evidence["estimated"] is False
    assert "idx_status" in finding.evidence["estimate_basis"]


def test_estimate_without_statistics_says_it_is_a_guess_names_the_column_and_points_to_verify():
    q = query("SELECT * FROM orders WHERE customer_id = 7", row("orders", "ALL", 50_000))
    finding = missing_index.RULE.check([q], SCHEMAS, T)[0]
    assert finding.evidence["estimated"] is True
    assert finding.message == ("`orders` has no index on (customer_id): 1 query examines ~50000 rows per execution, "
                               "~5000 rows after (a guess: no statistics for customer_id; --verify measures it)")
    assert finding.evidence["estimate_basis"] == "a guess: no statistics for customer_id; --verify measures it"


@pytest.mark.parametrize("sql, reason", [
    ("SELECT * FROM orders WHERE DATE(created_at) = '2024-01-01'", "function"),
    ("SELECT * FROM orders WHERE phone LIKE '%55'", "leading wildcard"),
    ("SELECT * FROM orders WHERE phone = 5551234", "implicit conversion"),
    ("SELECT * FROM orders WHERE phone = '1' OR customer_id = 2", "or"),
])
def test_unindexable_conditions_are_named_with_the_reason_instead_of_an_index(sql, reason):
    scan = query(sql, row("orders", "ALL", 50_000))
    assert missing_index.RULE.check([scan], SCHEMAS, T) == []  # a missing_index finding always carries DDL
    [finding] = non_sargable_predicate.RULE.check([scan], SCHEMAS, T)
    assert finding.ddl is None
    assert finding.evidence["predicates"][0]["reason"] == reason


def test_text_columns_are_indexed_by_a_prefix():
    q = query("SELECT * FROM orders WHERE note = 'x'", row("orders", "ALL", 50_000))
    assert "`note`(32)" in missing_index.RULE.check([q], SCHEMAS, T)[0].ddl


# --- filesort / temporary_table -----------------------------------------------------------------------


def test_filesort_says_the_suggested_index_removes_it():
    q = query("SELECT * FROM orders WHERE customer_id = 7 ORDER BY created_at",
              row("orders", "ALL", 50_000, filesort=True))
    [finding] = filesort.RULE.check([q], SCHEMAS, T)
    assert finding.evidence["index_removes_it"] is True
    assert "idx_orders_customer_id_created_at" in finding.suggestion
    assert finding.severity is Severity.LOW


def test_recorded_mysql8_join_sort_on_two_tables_cannot_be_removed_by_one_index():
    plan = traditional_plan(reference_file("explain_trad_join_filesort_temporary.tsv"))
    t1 = table("t1", 6, {"gid": "int"}, {"PRIMARY": ("gid",)})
    t2 = table("t2", 6, {"gid": "int", "uid": "int"}, {"PRIMARY": ("gid",), "uid": ("uid",)})
    t3 = table("t3", 6, {"uid": "int"}, {"PRIMARY": ("uid",)})
    q = query("select t1.gid, t2.sid, t3.uid from t3, t2, t1 where t2.gid = t1.gid and t2.uid = t3.uid "
              "order by t1.gid, t3.uid", *plan)
    [sort] = filesort.RULE.check([q], schemas(t1, t2, t3), T)
    [temp] = temporary_table.RULE.check([q], schemas(t1, t2, t3), T)
    assert sort.evidence["index_removes_it"] is False and sort.severity is Severity.INFO
    assert temp.table == "t3"


def test_sorting_by_an_aggregate_is_not_removable_even_when_the_grouping_is():
    q = query("SELECT status, COUNT(*) AS n FROM orders WHERE customer_id = 3 GROUP BY status ORDER BY n DESC",
              row("orders", "ALL", 50_000, temporary=True, filesort=True))
    [sort] = filesort.RULE.check([q], SCHEMAS, T)
    [temp] = temporary_table.RULE.check([q], SCHEMAS, T)
    assert sort.evidence["index_removes_it"] is False
    assert "computed value" in sort.suggestion
    assert temp.evidence["index_removes_it"] is True


def test_no_filesort_finding_without_the_flag():
    q = query("SELECT * FROM orders WHERE customer_id = 7 ORDER BY created_at", row("orders", "ALL", 50_000))
    assert filesort.RULE.check([q], SCHEMAS, T) == [] and temporary_table.RULE.check([q], SCHEMAS, T) == []


def test_group_by_temporary_table_is_removable_by_an_index_on_the_group_columns():
    q = query("SELECT status, COUNT(*) FROM orders WHERE customer_id = 3 GROUP BY status",
              row("orders", "ALL", 50_000, temporary=True, filesort=True))
    [finding] = temporary_table.RULE.check([q], SCHEMAS, T)
    assert finding.evidence["index_removes_it"] is True


# --- unparsed_statement -------------------------------------------------------------------------------


def test_unparsed_and_unexplained_statements_are_reported_with_why():
    opaque = query("CALL refresh_totals(1)")
    refused = query("SELECT * FROM orders WHERE id = 1", error="EXPLAIN refused: command denied")
    static = query("SELECT * FROM orders WHERE id = 2")  # no plan and no error: EXPLAIN was not attempted
    findings = unparsed_statement.RULE.check([opaque, refused, static], SCHEMAS, T)
    assert [f.query_id for f in findings] == [opaque.group.id, refused.group.id]
    assert findings[0].message.startswith("CALL statement was not analysed: sqlglot")
    assert findings[1].message == ("SELECT statement has no plan, so its scans and indexes were not checked: "
                                   "EXPLAIN refused: command denied")


@pytest.mark.parametrize("sql", [
    "START TRANSACTION", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT sp1", "RELEASE SAVEPOINT sp1",
    "SET autocommit = 0", "SET TRANSACTION ISOLATION LEVEL READ COMMITTED", "SHOW WARNINGS", "USE shop",
    "LOCK TABLES orders WRITE", "UNLOCK TABLES", "CREATE TABLE t (a INT)",
])
def test_statements_that_never_have_a_plan_are_not_reported_as_unanalysed(sql):
    # the reason exactly as the EXPLAIN stage records it for them
    plan, error = explain_query(None, query(sql).group, describe(sql), {})
    assert plan is None and error.startswith("not explained")
    assert unparsed_statement.RULE.check([query(sql, error=error)], SCHEMAS, T) == []


def test_a_write_sqlglot_cannot_model_is_reported_even_with_a_plan():
    q = query("REPLACE INTO orders (id, status) VALUES (1, 'new')", row("orders", "ALL", None))
    [finding] = unparsed_statement.RULE.check([q], SCHEMAS, T)
    assert finding.message.startswith("REPLACE statement was not fully analysed: sqlglot reads REPLACE")


def test_an_unindexable_query_is_explained_even_when_another_query_gets_an_index_on_the_table():
    indexable = query("SELECT * FROM orders WHERE customer_id = 7", row("orders", "ALL", 50_000))
    wrapped = query("SELECT * FROM orders WHERE DATE(created_at) = '2024-01-01'", row("orders", "ALL", 50_000))
    [index] = missing_index.RULE.check([indexable, wrapped], SCHEMAS, T)
    assert (index.query_ids, index.ddl is None) == ((indexable.group.id,), False)
    [rewrite] = non_sargable_predicate.RULE.check([indexable, wrapped], SCHEMAS, T)
    assert rewrite.query_id == wrapped.group.id and "created_at >= '2024-01-01'" in rewrite.suggestion


def test_a_query_sharing_the_leading_equality_column_is_served_by_the_same_index():
    one = query("SELECT * FROM orders WHERE customer_id = 7 ORDER BY created_at", row("orders", "ALL", 50_000))
    two = query("SELECT * FROM orders WHERE customer_id = 7 AND phone = '1'", row("orders", "ALL", 50_000))
    three = query("SELECT * FROM orders WHERE customer_id = 8 ORDER BY created_at DESC", row("orders", "ALL", 50_000))
    [finding] = missing_index.RULE.check([one, two, three], SCHEMAS, T)
    assert finding.columns == ("customer_id", "created_at") and len(finding.query_ids) == 3
    uses = {plan["query_id"]: plan["uses_columns"] for plan in finding.evidence["plans_before"]}
    assert uses[two.group.id] == ["customer_id"]
    assert finding.evidence["rows_after_estimate"] == 5_000  # the partly served query: 50000 / 10 (a guess)


def test_queries_with_nothing_in_common_get_separate_indexes_on_one_table():
    one = query("SELECT * FROM orders WHERE customer_id = 7", row("orders", "ALL", 50_000))
    two = query("SELECT * FROM orders WHERE phone = '1'", row("orders", "ALL", 50_000))
    assert sorted(f.columns for f in missing_index.RULE.check([one, two], SCHEMAS, T)) == [("customer_id",), ("phone",)]


def test_full_scan_names_an_existing_index_the_optimizer_passed_over():
    q = query("SELECT * FROM orders WHERE status = 'paid'", row("orders", "ALL", 50_000))
    assert "did not use idx_status" in full_table_scan.RULE.check([q], SCHEMAS, T)[0].message
