"""write_not_by_primary_key, write_amplification, redundant_index."""

from __future__ import annotations

import pytest
from advise_cases.build import loop, query, row, schemas, table, traditional_plan
from conftest import reference_file

from query_audit.advise.rules import (
    redundant_index,
    write_amplification,
    write_not_by_primary_key,
)
from query_audit.model import Severity, Thresholds

T = Thresholds()
ORDERS = table("orders", 50_000,
               {"id": "int", "number": "varchar", "customer_id": "int", "status": "varchar", "note": "varchar"},
               {"PRIMARY": ("id",), "uq_number": ("number",), "idx_customer": ("customer_id",),
                "idx_status": ("status",)}, unique=("uq_number",))
SCHEMAS = schemas(ORDERS)


# --- write_not_by_primary_key ------------------------------------------------------------------------


@pytest.mark.parametrize("sql, plan_row", [
    ("UPDATE orders SET note = 'x' WHERE id = 5", row("orders", "range", 1, key="PRIMARY")),
    ("DELETE FROM orders WHERE number = 'A-1'", row("orders", "range", 1, key="uq_number")),
    ("UPDATE orders SET note = 'x' WHERE id IN (1, 2, 3)", row("orders", "range", 3, key="PRIMARY")),
    ("UPDATE orders SET note = 'x' WHERE id = 5 AND status = 'new'", row("orders", "range", 1, key="PRIMARY")),
])
def test_writes_that_pin_a_primary_or_unique_key_are_silent(sql, plan_row):
    assert write_not_by_primary_key.check([query(sql, plan_row)], SCHEMAS, T) == []


def test_update_by_a_non_unique_indexed_column_is_low_and_names_the_column():
    q = query("UPDATE orders SET note = 'x' WHERE customer_id = 7", row("orders", "range", 12, key="idx_customer"))
    [finding] = write_not_by_primary_key.check([q], SCHEMAS, T)
    assert finding.severity is Severity.LOW and finding.columns == ("customer_id",)
    assert "WHERE id IN" in finding.suggestion


def test_delete_scanning_an_unindexed_column_is_medium():
    q = query("DELETE FROM orders WHERE note = 'x'", row("orders", "ALL", 50_000))
    assert write_not_by_primary_key.check([q], SCHEMAS, T)[0].severity is Severity.MEDIUM


def test_update_without_where_is_high():
    q = query("UPDATE orders SET note = ''", row("orders", "ALL", 50_000))
    assert write_not_by_primary_key.check([q], SCHEMAS, T)[0].severity is Severity.HIGH


def test_recorded_mysql8_delete_by_unique_key_is_silent():
    # MySQL 8 shows a single-table DELETE by a unique key as type range, ref const
    plan = traditional_plan(reference_file("explain_trad_delete_by_unique_key.tsv"))
    t1 = table("t1", 10, {"a": "int", "b": "int"}, {"a": ("a",), "b": ("b",)}, unique=("a",))
    assert write_not_by_primary_key.check([query("DELETE FROM t1 WHERE a = 3", *plan)], schemas(t1), T) == []


# --- write_amplification -----------------------------------------------------------------------------


def test_inserts_maintain_every_secondary_index_per_unit():
    samples = [f"INSERT INTO orders (number, customer_id, status) VALUES ('A-{i}', {i}, 'new')" for i in range(10)]
    q = query(samples[0], count=10, repetitions=(loop("request 1", samples),))
    [finding] = write_amplification.check([q], SCHEMAS, T)
    assert finding.evidence["index_writes"] == 30  # 10 rows x 3 secondary indexes
    assert finding.evidence["unit"] == "request 1"
    assert finding.severity is Severity.LOW


def test_update_counts_only_indexes_containing_its_set_columns():
    indexed = query("UPDATE orders SET status = 'paid' WHERE id = 1", row("orders", "const", 1),
                    repetitions=(loop("request 1", ["UPDATE orders SET status = 'paid' WHERE id = 1"]),))
    unindexed = query("UPDATE orders SET note = 'x' WHERE id = 1", row("orders", "const", 1),
                      repetitions=(loop("request 1", ["UPDATE orders SET note = 'x' WHERE id = 1"]),))
    [finding] = write_amplification.check([indexed, unindexed], SCHEMAS, T)
    assert finding.evidence["index_writes"] == 1
    assert finding.evidence["updates_changing_indexed_columns"] == 1
    assert finding.severity is Severity.INFO


def test_an_update_of_unindexed_columns_alone_raises_nothing():
    q = query("UPDATE orders SET note = 'x' WHERE id = 1", row("orders", "const", 1))
    assert write_amplification.check([q], SCHEMAS, T) == []


def test_write_amplification_counts_what_a_suggested_index_would_add():
    scan = query("SELECT * FROM orders WHERE note = 'x'", row("orders", "ALL", 50_000))
    insert = query("INSERT INTO orders (number, note) VALUES ('B', 'x')", row("orders", "ALL", None,
                                                                              select_type="INSERT"))
    [finding] = write_amplification.check([scan, insert], SCHEMAS, T)
    assert finding.evidence["added_by_suggested_indexes"] == 1
    assert "would add 1 more" in finding.message


# --- redundant_index ---------------------------------------------------------------------------------


def test_leftmost_prefix_and_duplicate_indexes_are_redundant_with_drop_ddl():
    t = table("t", 1000, {"id": "int", "a": "int", "b": "int"},
              {"PRIMARY": ("id",), "idx_a": ("a",), "idx_a_b": ("a", "b"), "idx_a_b_again": ("a", "b")})
    findings = redundant_index.check([query("SELECT * FROM t WHERE a = 1")], schemas(t), T)
    assert sorted(f.evidence["redundant"] for f in findings) == ["idx_a", "idx_a_b_again"]
    assert "ALTER TABLE `shop`.`t` DROP INDEX `idx_a`" in [f.ddl for f in findings]


def test_a_unique_prefix_of_a_longer_non_unique_index_is_kept():
    t = table("t", 1000, {"id": "int", "a": "int", "b": "int"},
              {"PRIMARY": ("id",), "uq_a": ("a",), "idx_a_b": ("a", "b")}, unique=("uq_a",))
    assert redundant_index.check([query("SELECT * FROM t WHERE a = 1")], schemas(t), T) == []


def test_an_index_duplicating_the_primary_key_is_redundant_but_the_primary_key_never_is():
    t = table("t", 1000, {"id": "int"}, {"PRIMARY": ("id",), "idx_id": ("id",)})
    [finding] = redundant_index.check([query("SELECT * FROM t WHERE id = 1")], schemas(t), T)
    assert finding.evidence == {"redundant": "idx_id", "kept": "PRIMARY", "table_rows": 1000, "rows_examined": 0}
