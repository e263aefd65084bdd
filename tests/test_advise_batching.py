"""n_plus_one, repeated_identical_query, bulk_insert, write_loop: loops inside one unit of work."""

from __future__ import annotations

from dataclasses import replace

import pytest
from advise_cases.build import DB, loop, query, row, schemas, table

from query_audit.advise.rules import (
    bulk_insert,
    n_plus_one,
    repeated_identical_query,
    write_loop,
)
from query_audit.model import ForeignKey, Severity, Thresholds

T = Thresholds()
ITEMS = table("order_items", 5_000, {"id": "int", "order_id": "int", "qty": "int", "note": "varchar"},
              {"PRIMARY": ("id",), "idx_order": ("order_id",)})
ORDERS = table("orders", 5_000, {"id": "int", "customer_id": "int"})
SCHEMAS = schemas(ITEMS, ORDERS)


def selects(n: int, template: str = "SELECT qty FROM order_items WHERE order_id = {} LIMIT 1"):
    return [template.format(i) for i in range(1, n + 1)]


# --- n_plus_one --------------------------------------------------------------------------------------


def test_n_plus_one_rewrites_the_loop_into_one_in_list_from_the_sampled_values():
    samples = selects(4)
    q = query(samples[0], row("order_items", "ref", 3, key="idx_order"), count=4,
              repetitions=(loop("request 1", samples),))
    [finding] = n_plus_one.RULE.check([q], SCHEMAS, T)
    assert finding.rule == "n_plus_one" and finding.severity is Severity.MEDIUM
    assert finding.columns == ("order_id",)
    # the key joins the SELECT list (to map rows back) and the LIMIT goes (it would cap all keys together)
    assert finding.evidence["rewritten_sql"] == \
        "SELECT qty, order_id FROM order_items WHERE order_id IN (1, 2, 3, 4)"
    assert "4 times with 4 different values in request 1" in finding.message


def test_n_plus_one_below_the_threshold_is_silent():
    samples = selects(2)
    q = query(samples[0], count=2, repetitions=(loop("request 1", samples),))
    assert n_plus_one.RULE.check([q], SCHEMAS, T) == []


def test_same_values_repeated_is_a_cache_candidate_not_an_n_plus_one():
    samples = ["SELECT * FROM orders WHERE id = 5"] * 4
    q = query(samples[0], count=4, repetitions=(loop("request 1", samples),))
    assert n_plus_one.RULE.check([q], SCHEMAS, T) == []
    [finding] = repeated_identical_query.RULE.check([q], SCHEMAS, T)
    assert finding.rule == "repeated_identical_query" and finding.severity is Severity.LOW
    assert "3 of those round trips" in finding.message


def test_n_plus_one_counts_per_unit_not_across_requests():
    # three requests each fetching one order is not a loop
    q = query("SELECT * FROM orders WHERE id = 1", count=3,
              repetitions=tuple(loop(f"request {i}", [f"SELECT * FROM orders WHERE id = {i}"]) for i in (1, 2, 3)))
    assert n_plus_one.RULE.check([q], SCHEMAS, T) == []


def test_n_plus_one_hints_a_join_when_the_keys_come_from_another_query_of_the_unit():
    parent = query("SELECT id FROM orders WHERE customer_id = 9", repetitions=(loop("request 1", [
        "SELECT id FROM orders WHERE customer_id = 9"]),))
    samples = selects(3, "SELECT * FROM order_items WHERE order_id = {}")
    child = query(samples[0], count=3, repetitions=(loop("request 1", samples),))
    [finding] = n_plus_one.RULE.check([parent, child], SCHEMAS, T)
    assert "JOIN order_items ON order_items.order_id = orders.id" in finding.suggestion
    assert parent.group.id in finding.suggestion


def test_a_large_loop_is_high():
    samples = selects(40)
    q = query(samples[0], count=40, repetitions=(loop("request 1", samples),))
    assert n_plus_one.RULE.check([q], SCHEMAS, T)[0].severity is Severity.HIGH


# --- bulk_insert -------------------------------------------------------------------------------------


def test_bulk_insert_builds_one_multi_row_insert_from_the_samples():
    samples = [f"INSERT INTO order_items (order_id, qty) VALUES ({i}, {i * 2})" for i in (1, 2, 3)]
    q = query(samples[0], count=3, repetitions=(loop("request 1", samples),))
    [finding] = bulk_insert.RULE.check([q], SCHEMAS, T)
    assert finding.table == "order_items"
    assert finding.evidence["multi_row_insert"] == \
        "INSERT INTO order_items (order_id, qty) VALUES (1, 2), (2, 4), (3, 6)"
    assert "one transaction" in finding.suggestion


def test_an_insert_that_already_has_many_rows_is_not_a_bulk_insert_candidate():
    sql = "INSERT INTO order_items (order_id, qty) VALUES (1, 2), (2, 4)"
    q = query(sql, count=3, repetitions=(loop("request 1", [sql] * 3),))
    assert bulk_insert.RULE.check([q], SCHEMAS, T) == []


def test_inserts_spread_over_requests_are_not_a_bulk_insert():
    sql = "INSERT INTO order_items (order_id, qty) VALUES (1, 2)"
    q = query(sql, count=3, repetitions=tuple(loop(f"request {i}", [sql]) for i in (1, 2, 3)))
    assert bulk_insert.RULE.check([q], SCHEMAS, T) == []


# --- write_loop --------------------------------------------------------------------------------------


def test_update_loop_with_the_same_set_value_becomes_one_update_over_an_in_list():
    samples = [f"UPDATE order_items SET qty = qty - 1 WHERE id = {i}" for i in (4, 5, 6)]
    q = query(samples[0], count=3, repetitions=(loop("request 1", samples),))
    [finding] = write_loop.RULE.check([q], SCHEMAS, T)
    assert finding.evidence["rewritten_sql"] == "UPDATE order_items SET qty = qty - 1 WHERE id IN (4, 5, 6)"


def test_update_loop_with_per_row_values_by_primary_key_becomes_insert_on_duplicate_key_update():
    samples = [f"UPDATE order_items SET qty = {i * 10} WHERE id = {i}" for i in (1, 2, 3)]
    q = query(samples[0], count=3, repetitions=(loop("request 1", samples),))
    [finding] = write_loop.RULE.check([q], SCHEMAS, T)
    assert finding.evidence["rewritten_sql"] == ("INSERT INTO order_items (id, qty) VALUES (1, 10), (2, 20), (3, 30) "
                                                 "ON DUPLICATE KEY UPDATE qty = VALUES(qty)")


def test_update_loop_by_primary_key_on_a_table_with_other_not_null_columns_becomes_a_case_not_an_upsert():
    # the upsert's INSERT names only id and qty: strict mode refuses it (ERROR 1364) for a NOT NULL column
    # without a default, even when every key exists (seen on MariaDB 10.11; tests/test_rewrites_proven.py)
    strict = replace(ITEMS, columns=tuple(replace(c, nullable=c.name != "note") for c in ITEMS.columns))
    samples = [f"UPDATE order_items SET qty = {i * 10} WHERE id = {i}" for i in (1, 2, 3)]
    q = query(samples[0], count=3, repetitions=(loop("request 1", samples),))
    [finding] = write_loop.RULE.check([q], schemas(strict, ORDERS), T)
    assert finding.evidence["rewrite_form"] == "UPDATE with CASE"


def test_update_loop_with_per_row_values_by_a_non_unique_column_becomes_a_case():
    samples = [f"UPDATE order_items SET qty = {i} WHERE order_id = {i}" for i in (1, 2, 3)]
    q = query(samples[0], count=3, repetitions=(loop("request 1", samples),))
    [finding] = write_loop.RULE.check([q], SCHEMAS, T)
    assert finding.evidence["rewritten_sql"] == \
        "UPDATE order_items SET qty = CASE order_id WHEN 1 THEN 1 WHEN 2 THEN 2 WHEN 3 THEN 3 END " \
        "WHERE order_id IN (1, 2, 3)"


def test_delete_loop_becomes_one_delete():
    samples = [f"DELETE FROM order_items WHERE id = {i}" for i in (1, 2, 3)]
    q = query(samples[0], count=3, repetitions=(loop("request 1", samples),))
    assert write_loop.RULE.check([q], SCHEMAS, T)[0].evidence["rewritten_sql"] == \
        "DELETE FROM order_items WHERE id IN (1, 2, 3)"


def test_a_write_repeated_fewer_times_than_the_threshold_is_silent():
    samples = [f"DELETE FROM order_items WHERE id = {i}" for i in (1, 2)]
    q = query(samples[0], count=2, repetitions=(loop("request 1", samples),))
    assert write_loop.RULE.check([q], SCHEMAS, T) == []


# --- parsing cost: a big log has hundreds of loops -----------------------------------------------------


def _count_parses(monkeypatch) -> list[str]:
    import sqlglot

    from query_audit.advise import rewrite

    for cache in (rewrite._parsed, rewrite._literal, rewrite._literal_sql, rewrite._template):
        cache.cache_clear()
    parsed: list[str] = []
    real = sqlglot.parse_one

    def counting(sql, *args, **kwargs):
        parsed.append(sql)
        return real(sql, *args, **kwargs)

    monkeypatch.setattr(sqlglot, "parse_one", counting)
    return parsed


def test_a_select_loop_rewrite_parses_one_statement_the_marked_copy_for_the_key_and_the_rewritten_sample(
        monkeypatch):
    samples = selects(10)
    q = query(samples[0], count=10, repetitions=(loop("request 1", samples),))
    parsed = _count_parses(monkeypatch)
    [finding] = n_plus_one.RULE.check([q], SCHEMAS, T)
    statements = [sql for sql in parsed if sql.upper().startswith("SELECT")]
    assert statements == ["SELECT qty FROM order_items WHERE order_id = 7310000000 LIMIT 7310000001"]
    # The IN list shows the sampled values; the message keeps the loop's real size.
    assert finding.evidence["rewritten_sql"] == \
        "SELECT qty, order_id FROM order_items WHERE order_id IN (1, 2, 3, 4, 5)"
    assert "10 times with 10 different values" in finding.message


def test_an_update_loop_parses_only_its_marked_copy_for_the_key_and_the_rewrite(monkeypatch):
    samples = [f"UPDATE order_items SET qty = {i} WHERE order_id = {i}" for i in (1, 2, 3)]
    q = query(samples[0], count=3, repetitions=(loop("request 1", samples),))
    parsed = _count_parses(monkeypatch)
    [finding] = write_loop.RULE.check([q], SCHEMAS, T)
    assert "CASE" in finding.evidence["rewritten_sql"]
    assert [sql for sql in parsed if sql.startswith("UPDATE")] == [
        "UPDATE order_items SET qty = 7310000000 WHERE order_id = 7310000001"]


# Names that the `<table>_id` guess cannot pair: only the FOREIGN KEYs tell.
AUTHORS = table("authors", 5_000, {"id": "int", "name": "varchar"})
BOOKS = replace(table("books", 5_000, {"id": "int", "written_by": "int", "title": "varchar"},
                      {"PRIMARY": ("id",), "idx_writer": ("written_by",)}),
                foreign_keys=(ForeignKey(("written_by",), DB, "authors", ("id",)),))
LIBRARY = schemas(AUTHORS, BOOKS)


def test_a_loop_by_primary_key_joins_the_table_whose_foreign_key_holds_the_keys():
    parent = query("SELECT id, written_by FROM books WHERE title LIKE 'a%'", repetitions=(loop("request 1", [
        "SELECT id, written_by FROM books WHERE title LIKE 'a%'"]),))
    samples = selects(4, "SELECT * FROM authors WHERE id = {}")
    child = query(samples[0], count=4, repetitions=(loop("request 1", samples),))
    [finding] = n_plus_one.RULE.check([parent, child], LIBRARY, T)
    assert "JOIN authors ON authors.id = books.written_by" in finding.suggestion
    assert "a foreign key to authors" in finding.suggestion and parent.group.id in finding.suggestion
    # without the foreign key, the name `written_by` points nowhere: no JOIN is guessed
    [guess] = n_plus_one.RULE.check([parent, child], schemas(AUTHORS, replace(BOOKS, foreign_keys=())), T)
    assert "JOIN" not in guess.suggestion


def test_a_loop_over_a_foreign_key_joins_the_table_it_references():
    parent = query("SELECT id FROM authors WHERE name LIKE 'a%'", repetitions=(loop("request 1", [
        "SELECT id FROM authors WHERE name LIKE 'a%'"]),))
    samples = selects(4, "SELECT * FROM books WHERE written_by = {}")
    child = query(samples[0], count=4, repetitions=(loop("request 1", samples),))
    [finding] = n_plus_one.RULE.check([parent, child], LIBRARY, T)
    assert "(foreign key books.written_by -> authors.id)" in finding.suggestion
    assert "JOIN books ON books.written_by = authors.id" in finding.suggestion


def test_without_foreign_keys_a_loop_by_primary_key_joins_a_table_with_a_column_named_after_it():
    products = table("products", 5_000, {"id": "int", "name": "varchar"})
    lines = table("order_lines", 5_000, {"id": "int", "Product_ID": "int"})
    parent = query("SELECT Product_ID FROM order_lines WHERE id < 9", repetitions=(loop("request 1", [
        "SELECT Product_ID FROM order_lines WHERE id < 9"]),))
    samples = selects(4, "SELECT * FROM products WHERE id = {}")
    child = query(samples[0], count=4, repetitions=(loop("request 1", samples),))
    [finding] = n_plus_one.RULE.check([parent, child], schemas(products, lines), T)
    assert "JOIN products ON products.id = order_lines.product_id" in finding.suggestion  # any case of the name


def test_a_foreign_key_wins_over_a_name_that_points_elsewhere():
    clients = table("clients", 5_000, {"id": "int"})
    customers = table("customers", 5_000, {"id": "int"})
    orders = replace(ORDERS, foreign_keys=(ForeignKey(("customer_id",), DB, "clients", ("id",)),))
    read_both = [query(f"SELECT id FROM {name} WHERE id > 5", repetitions=(loop("request 1", [
        f"SELECT id FROM {name} WHERE id > 5"]),)) for name in ("customers", "clients")]
    samples = selects(4, "SELECT * FROM orders WHERE customer_id = {}")
    child = query(samples[0], count=4, repetitions=(loop("request 1", samples),))
    [finding] = n_plus_one.RULE.check([*read_both, child], schemas(clients, customers, orders), T)
    assert "JOIN orders ON orders.customer_id = clients.id" in finding.suggestion


def test_the_join_hint_looks_only_at_selects_of_the_same_unit():
    parent = query("SELECT id FROM orders WHERE customer_id = 9", repetitions=(loop("request 2", [
        "SELECT id FROM orders WHERE customer_id = 9"]),))
    samples = selects(3, "SELECT * FROM order_items WHERE order_id = {}")
    child = query(samples[0], count=3, repetitions=(loop("request 1", samples),))
    [finding] = n_plus_one.RULE.check([parent, child], SCHEMAS, T)
    assert "JOIN" not in finding.suggestion


def test_the_query_that_fetched_the_keys_once_is_found_for_the_join_hint():
    """From the Digest, as a capture builds it: the parent ran once in the request (no repetition), the
    child once per key; the hint still names the parent."""
    from query_audit.advise import advise
    from query_audit.analyze.digest import Digest
    from query_audit.analyze.sql_model import describe
    from query_audit.model import AnalyzedQuery, Statement

    digest = Digest()
    digest.add(Statement("SELECT id FROM orders WHERE customer_id = 9", request=1))
    for order in (11, 12, 13, 14):
        digest.add(Statement(f"SELECT * FROM order_items WHERE order_id = {order}", request=1))
    parent, child = digest.groups()
    assert parent.repetitions == () and parent.units == ("request 1",)
    queries = [AnalyzedQuery(group, describe(group.sample.sql)) for group in (parent, child)]
    [finding] = [f for f in advise(queries, {}, T) if f.rule == "n_plus_one"]
    assert "JOIN order_items ON order_items.order_id = orders.id" in finding.suggestion
    assert parent.id in finding.suggestion


# --- every count in a message is true ----------------------------------------------------------------


def digested_loop(statements, **bounds):
    """The query group a Digest builds from (thread id, sql) pairs, read by log connection (no requests)."""
    from query_audit.analyze.digest import Digest
    from query_audit.analyze.sql_model import describe
    from query_audit.model import AnalyzedQuery, Statement

    digest = Digest(**bounds)
    for thread, sql in statements:
        digest.add(Statement(sql, thread_id=thread))
    [group] = digest.groups()
    return AnalyzedQuery(group, describe(group.sample.sql))


def test_a_loop_with_more_values_than_samples_says_how_many_the_printed_sql_lists():
    q = digested_loop([(7, sql) for sql in selects(12, "SELECT qty FROM order_items WHERE order_id = {}")])
    [finding] = n_plus_one.RULE.check([q], SCHEMAS, T)
    assert "ran 12 times with 12 different values in thread 7" in finding.message
    assert finding.suggestion.startswith("fetch all 12 values in one query; with the 5 kept as samples: "
                                         "SELECT qty, order_id FROM order_items WHERE order_id IN (1, 2, 3, 4, 5)")


def test_a_distinct_count_the_digest_stopped_counting_is_said_to_be_a_lower_bound():
    q = digested_loop([(7, sql) for sql in selects(40, "SELECT qty FROM order_items WHERE order_id = {}")])
    [finding] = n_plus_one.RULE.check([q], SCHEMAS, T)
    assert "ran 40 times with at least 16 different values" in finding.message
    assert finding.suggestion.startswith("fetch all the values (at least 16) in one query; with the 5 values kept")
    assert finding.evidence["distinct_values_at_least"] is True


def test_connections_dropped_from_the_evidence_are_counted_beside_the_kept_ones():
    # 50 connections each run the loop 3 times; the Digest keeps a few per shard and counts the others
    statements = [(thread, sql) for thread in range(1, 51)
                  for sql in selects(3, "SELECT qty FROM order_items WHERE order_id = {}")]
    q = digested_loop(statements)
    [finding] = n_plus_one.RULE.check([q], SCHEMAS, T)
    kept, pruned = finding.evidence["units"], finding.evidence["more_units_pruned"]
    assert kept < 50 and kept + pruned == 50
    assert f"(in {kept} units; {pruned:,} more connections ran it twice or more" in finding.message


def test_an_aggregate_loop_becomes_one_grouped_query_and_says_empty_keys_are_missing():
    samples = selects(4, "SELECT COUNT(*) AS comments FROM order_items WHERE order_id = {}")
    q = query(samples[0], row("order_items", "ref", 3, key="idx_order"), count=4,
              repetitions=(loop("request 1", samples),))
    [finding] = n_plus_one.RULE.check([q], SCHEMAS, T)
    assert finding.evidence["rewritten_sql"] == ("SELECT COUNT(*) AS comments, order_id FROM order_items "
                                                 "WHERE order_id IN (1, 2, 3, 4) GROUP BY order_id")
    assert "a order_id with no rows is missing from the answer, where the loop got 0 or NULL" in finding.suggestion


def test_a_loop_limited_per_key_says_the_in_list_returns_every_row_of_each_key():
    samples = selects(4)
    q = query(samples[0], count=4, repetitions=(loop("request 1", samples),))
    [finding] = n_plus_one.RULE.check([q], SCHEMAS, T)
    assert finding.suggestion.startswith("fetch all 4 values in one query: SELECT qty, order_id FROM order_items "
                                         "WHERE order_id IN (1, 2, 3, 4) (the loop's LIMIT applied per key")


# --- the JOIN of a loop with the query its keys came from ---------------------------------------------

PARENT = "SELECT id, customer_id FROM orders WHERE customer_id = 42 ORDER BY id DESC"
ITEM_LOOP = [f"SELECT id, qty FROM order_items WHERE order_id = {n}" for n in (5, 6)]


def join_of(parent, loop, column="id"):
    from query_audit.advise.rewrite import join_rewrite, loop_key

    return join_rewrite(parent, "orders", column, loop, loop_key(loop))


def test_the_join_reads_the_loops_columns_from_the_parents_rows_with_every_column_qualified():
    assert join_of(PARENT, ITEM_LOOP) == (
        "SELECT order_items.id, order_items.qty FROM orders JOIN order_items ON order_items.order_id = orders.id "
        "WHERE orders.customer_id = 42 ORDER BY orders.id DESC")


def test_the_join_leaves_the_parents_attribution_comment_out():
    tagged = PARENT + " /*controller='orders',file='app%2Forders.py%3A18'*/"
    assert join_of(tagged, ITEM_LOOP) == join_of(PARENT, ITEM_LOOP)


def test_a_limited_parent_is_joined_as_a_derived_table_so_its_limit_picks_the_same_rows():
    assert join_of("SELECT SQL_CALC_FOUND_ROWS o.id FROM orders o WHERE o.status = 'paid' ORDER BY o.id LIMIT 5",
                   [f"SELECT * FROM order_items i WHERE i.order_id = {n} AND i.qty > 1" for n in (1, 2)]) == (
        "SELECT i.* FROM (SELECT o.id FROM orders AS o WHERE o.status = 'paid' ORDER BY o.id LIMIT 5) AS o "
        "JOIN order_items AS i ON i.order_id = o.id WHERE i.qty > 1")


@pytest.mark.parametrize("parent, loop", [
    (PARENT, [f"SELECT COUNT(*) FROM order_items WHERE order_id = {n}" for n in (5, 6)]),  # per key: grouped IN
    (PARENT, [f"SELECT id FROM order_items WHERE order_id = {n} LIMIT 1" for n in (5, 6)]),  # a LIMIT per key
    ("SELECT DISTINCT customer_id FROM orders", ITEM_LOOP),
    ("SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id", ITEM_LOOP),
    ("SELECT id FROM customers", ITEM_LOOP),  # not the table the keys come from
    (PARENT, [f"SELECT id FROM order_items WHERE order_id = {n} OR qty = 1" for n in (5, 6)]),  # no AND term
])
def test_no_join_is_printed_where_it_would_not_return_the_loops_rows(parent, loop):
    assert join_of(parent, loop) is None
