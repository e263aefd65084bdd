"""write_not_by_primary_key, write_amplification, redundant_index."""

from __future__ import annotations

from dataclasses import replace

import pytest
from advise_cases.build import loop, query, row, schemas, table, traditional_plan
from conftest import reference_file

from query_audit.advise import advise
from query_audit.advise.rules import (
    redundant_index,
    write_amplification,
    write_not_by_primary_key,
)
from query_audit.model import Report, Severity, SourceInfo, Summary, Thresholds
from query_audit.report import Format, render

T = Thresholds()
ORDERS_COLUMNS = {"id": "int", "number": "varchar", "customer_id": "int", "status": "varchar", "note": "varchar"}
ORDERS = table("orders", 50_000, ORDERS_COLUMNS,
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
    assert write_not_by_primary_key.RULE.check([query(sql, plan_row)], SCHEMAS, T) == []


def test_update_by_a_non_unique_indexed_column_is_low_and_names_the_column():
    q = query("UPDATE orders SET note = 'x' WHERE customer_id = 7", row("orders", "range", 12, key="idx_customer"))
    [finding] = write_not_by_primary_key.RULE.check([q], SCHEMAS, T)
    assert finding.severity is Severity.LOW and finding.columns == ("customer_id",)
    assert "WHERE id IN" in finding.suggestion


def test_delete_scanning_an_unindexed_column_is_medium():
    q = query("DELETE FROM orders WHERE note = 'x'", row("orders", "ALL", 50_000))
    assert write_not_by_primary_key.RULE.check([q], SCHEMAS, T)[0].severity is Severity.MEDIUM


def test_update_without_where_is_high():
    q = query("UPDATE orders SET note = ''", row("orders", "ALL", 50_000))
    assert write_not_by_primary_key.RULE.check([q], SCHEMAS, T)[0].severity is Severity.HIGH


def test_recorded_mysql8_delete_by_unique_key_is_silent():
    # MySQL 8 shows a single-table DELETE by a unique key as type range, ref const
    plan = traditional_plan(reference_file("explain_trad_delete_by_unique_key.tsv"))
    t1 = table("t1", 10, {"a": "int", "b": "int"}, {"a": ("a",), "b": ("b",)}, unique=("a",))
    assert write_not_by_primary_key.RULE.check([query("DELETE FROM t1 WHERE a = 3", *plan)], schemas(t1), T) == []


# --- write_amplification -----------------------------------------------------------------------------


def test_inserts_maintain_every_secondary_index_per_unit():
    samples = [f"INSERT INTO orders (number, customer_id, status) VALUES ('A-{i}', {i}, 'new')" for i in range(10)]
    q = query(samples[0], count=10, repetitions=(loop("request 1", samples),))
    [finding] = write_amplification.RULE.check([q], SCHEMAS, T)
    assert finding.evidence["index_writes"] == 30  # 10 rows x 3 secondary indexes
    assert finding.evidence["unit"] == "request 1"
    assert finding.severity is Severity.LOW


def test_the_index_writes_cut_offs_set_the_severity():
    samples = [f"INSERT INTO orders (number, customer_id, status) VALUES ('A-{i}', {i}, 'new')" for i in range(10)]
    q = query(samples[0], count=10, repetitions=(loop("request 1", samples),))  # 30 index entries
    severity = {(low, medium): write_amplification.RULE.check(
        [q], SCHEMAS, replace(T, index_writes_low=low, index_writes_medium=medium))[0].severity
        for low, medium in ((31, 200), (30, 200), (20, 31), (20, 30))}
    assert severity == {(31, 200): Severity.INFO, (30, 200): Severity.LOW, (20, 31): Severity.LOW,
                        (20, 30): Severity.MEDIUM}


def test_update_counts_only_indexes_containing_its_set_columns():
    indexed = query("UPDATE orders SET status = 'paid' WHERE id = 1", row("orders", "const", 1),
                    repetitions=(loop("request 1", ["UPDATE orders SET status = 'paid' WHERE id = 1"]),))
    unindexed = query("UPDATE orders SET note = 'x' WHERE id = 1", row("orders", "const", 1),
                      repetitions=(loop("request 1", ["UPDATE orders SET note = 'x' WHERE id = 1"]),))
    [finding] = write_amplification.RULE.check([indexed, unindexed], SCHEMAS, T)
    assert finding.evidence["index_writes"] == 1
    assert finding.evidence["updates_changing_indexed_columns"] == 1
    assert finding.severity is Severity.INFO


def test_a_single_insert_maintaining_its_indexes_is_not_worth_a_finding():
    sql = "INSERT INTO orders (number, customer_id, status) VALUES ('A-1', 1, 'new')"
    q = query(sql, row("orders", "ALL", None), repetitions=(loop("request 1", [sql]),))
    assert write_amplification.RULE.check([q], SCHEMAS, T) == []


def test_inserts_below_the_bulk_threshold_are_silent_and_from_it_are_reported():
    samples = [f"INSERT INTO orders (number) VALUES ('A-{i}')" for i in range(T.bulk_insert)]
    below = query(samples[0], count=T.bulk_insert - 1, repetitions=(loop("request 1", samples[1:]),))
    at = query(samples[0], count=T.bulk_insert, repetitions=(loop("request 1", samples),))
    assert write_amplification.RULE.check([below], SCHEMAS, T) == []
    assert write_amplification.RULE.check([at], SCHEMAS, T)[0].evidence["row_writes"] == T.bulk_insert


def test_the_reported_unit_is_one_that_makes_real_index_work_not_merely_the_busiest():
    insert = "INSERT INTO orders (number) VALUES ('A-1')"
    update = "UPDATE orders SET status = 'paid' WHERE id = 1"
    inserts = query(insert, count=2, repetitions=(loop("request 1", [insert, insert.replace("1", "2")]),))
    status = query(update, row("orders", "const", 1), repetitions=(loop("request 2", [update]),))
    [finding] = write_amplification.RULE.check([inserts, status], SCHEMAS, T)
    assert finding.evidence["unit"] == "request 2" and finding.evidence["updates_changing_indexed_columns"] == 1


def test_an_update_of_unindexed_columns_alone_raises_nothing():
    q = query("UPDATE orders SET note = 'x' WHERE id = 1", row("orders", "const", 1))
    assert write_amplification.RULE.check([q], SCHEMAS, T) == []


def test_write_amplification_counts_what_a_suggested_index_would_add():
    scan = query("SELECT * FROM orders WHERE note = 'x'", row("orders", "ALL", 50_000))
    insert = query("INSERT INTO orders (number, note) VALUES ('B', 'x')", row("orders", "ALL", None,
                                                                              select_type="INSERT"))
    [finding] = write_amplification.RULE.check([scan, insert], SCHEMAS, T)
    assert finding.evidence["added_by_suggested_indexes"] == 1
    assert "would add 1 more" in finding.message


# --- redundant_index ---------------------------------------------------------------------------------


def test_leftmost_prefix_and_duplicate_indexes_are_redundant_with_drop_ddl():
    t = table("t", 1000, {"id": "int", "a": "int", "b": "int"},
              {"PRIMARY": ("id",), "idx_a": ("a",), "idx_a_b": ("a", "b"), "idx_a_b_again": ("a", "b")})
    findings = redundant_index.RULE.check([query("SELECT * FROM t WHERE a = 1")], schemas(t), T)
    assert sorted(f.evidence["redundant"] for f in findings) == ["idx_a", "idx_a_b_again"]
    assert "ALTER TABLE `shop`.`t` DROP INDEX `idx_a`" in [f.ddl for f in findings]


def test_a_unique_prefix_of_a_longer_non_unique_index_is_kept():
    t = table("t", 1000, {"id": "int", "a": "int", "b": "int"},
              {"PRIMARY": ("id",), "uq_a": ("a",), "idx_a_b": ("a", "b")}, unique=("uq_a",))
    assert redundant_index.RULE.check([query("SELECT * FROM t WHERE a = 1")], schemas(t), T) == []


def test_an_index_duplicating_the_primary_key_is_redundant_but_the_primary_key_never_is():
    t = table("t", 1000, {"id": "int"}, {"PRIMARY": ("id",), "idx_id": ("id",)})
    [finding] = redundant_index.RULE.check([query("SELECT * FROM t WHERE id = 1")], schemas(t), T)
    assert finding.evidence == {"redundant": "idx_id", "kept": "PRIMARY", "table_rows": 1000}


# --- evidence: what is not known is left out, never shown as 0 ----------------------------------------


def test_findings_about_loops_writes_and_indexes_carry_no_made_up_rows_examined():
    inserts = [f"INSERT INTO orders (number, customer_id) VALUES ('A-{i}', {i})" for i in range(5)]
    selects = [f"SELECT * FROM orders WHERE customer_id = {i}" for i in range(5)]
    queries = [
        query(inserts[0], count=5, repetitions=(loop("request 1", inserts),)),
        query(selects[0], row("orders", "ref", 3, key="idx_customer"), count=5,
              repetitions=(loop("request 1", selects),)),
        query("CALL recalc()"),
    ]
    t = table("orders", 50_000, ORDERS_COLUMNS, {"PRIMARY": ("id",), "idx_customer": ("customer_id",),
                                                 "idx_customer_again": ("customer_id",)})
    findings = advise(queries, schemas(t), T)
    assert {"bulk_insert", "n_plus_one", "write_amplification", "redundant_index",
            "unparsed_statement"} <= {f.rule for f in findings}
    for finding in findings:
        assert finding.evidence.get("rows_examined", "absent") != 0, finding.rule
    report = Report(None, SourceInfo("capture"), Summary(), tuple(queries), tuple(findings))
    assert "rows examined: 0" not in render(report, Format.TEXT, width=200)


def test_a_write_without_where_on_an_unknown_table_does_not_claim_zero_rows_examined():
    [finding] = write_not_by_primary_key.RULE.check([query("DELETE FROM archive")], {}, T)
    assert finding.evidence["rows_examined"] is None and "rows examined" not in finding.message
