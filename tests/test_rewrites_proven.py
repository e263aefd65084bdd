"""Every SQL the report prints as a loop's fix, run on the sample shop's data: it parses, the server EXPLAINs
it, a read returns the rows the loop returned, and a write leaves a scratch copy of its table as the loop did.
(The sample CMS's fixes are proven the same way in tests/test_cms_app.py.)"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from proof import (
    assert_in_list_returns_the_loops_rows,
    assert_join_returns_the_loops_rows,
    assert_write_has_the_loops_effect,
    capture,
    findings,
    loop_samples,
    loop_statements,
)
from test_end_to_end import cli

from fixtures.sample_app.harness import running_app
from fixtures.sample_app.seed import seed
from query_audit.connection import connect

DATABASE = "shop_proof"


@pytest.fixture(scope="module")
def shop(server_settings, tmp_path_factory):
    seed(server_settings, "test", database=DATABASE)
    settings = replace(server_settings, database=DATABASE)
    env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(tmp_path_factory.mktemp("state")), NO_COLOR="1",
               QUERY_AUDIT_FULL_SCAN_ROWS="200")
    env.pop("QUERY_AUDIT_DSN", None)
    conn = connect(settings)
    with running_app(settings.to_dsn(with_password=True)) as base_url:
        yield settings, base_url, env, conn, tmp_path_factory.mktemp("saved")
    conn.close()
    with connect(server_settings) as admin, admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DATABASE}")


def test_the_n_plus_one_in_lists_return_the_rows_the_loops_returned(shop):
    settings, base_url, env, conn, saves = shop
    report, statements = capture(env, settings.to_dsn(), base_url, ["/customers/42/orders"], saves)
    loops = findings(report, "n_plus_one")
    assert {f["table"] for f in loops} == {"order_items", "products"}
    for finding in loops:
        assert_in_list_returns_the_loops_rows(conn, loop_samples(statements, finding),
                                              finding["evidence"]["rewritten_sql"])
    by_table = {f["table"]: f for f in loops}
    # the items' keys come from the orders query, which ran once: one JOIN returns every item the loop read
    join_sql = by_table["order_items"]["evidence"]["join_sql"]
    assert join_sql == ("SELECT order_items.id, order_items.order_id, order_items.product_id, order_items.quantity, "
                        "order_items.price FROM orders JOIN order_items ON order_items.order_id = orders.id "
                        "WHERE orders.customer_id = 42 ORDER BY orders.id DESC")
    assert_join_returns_the_loops_rows(conn, loop_statements(statements, by_table["order_items"]), join_sql)
    # the products' keys come from the items loop itself (8 runs): no single JOIN stands for it, none printed
    assert by_table["products"]["evidence"]["join_sql"] is None


def test_the_prepared_insert_loops_multi_row_insert_leaves_the_rows_the_loop_left(shop):
    settings, base_url, env, conn, saves = shop
    body = '{"customer_id": 42, "items": [{"product_id": 1, "quantity": 2}, {"product_id": 7, "quantity": 1}, ' \
           '{"product_id": 9, "quantity": 3}]}'
    report, statements = capture(env, settings.to_dsn(), base_url, ["/orders"], saves, "--method", "POST",
                                 "--data", body, "-H", "Content-Type: application/json")
    [finding] = findings(report, "bulk_insert", "order_items")
    assert "all inside one transaction" in finding["message"]
    loop = [s.sql for s in statements if s.sql.startswith("INSERT INTO order_items")]
    assert_write_has_the_loops_effect(conn, "order_items", loop, finding["evidence"]["multi_row_insert"])


GENERAL_LOG = ("/usr/sbin/mariadbd, Version: 10.11.19-MariaDB. started with:\nTcp port: 0  Unix socket: /tmp/s\n"
               "Time\t\t    Id Command\tArgument\n261126 10:00:00\t     5 Connect\tapp@localhost on "
               + DATABASE + " using TCP/IP\n")


@pytest.mark.parametrize("loop, form", [
    (["UPDATE orders SET status = 'shipped' WHERE id = 11", "UPDATE orders SET status = 'shipped' WHERE id = 12",
      "UPDATE orders SET status = 'shipped' WHERE id = 13"], "IN list"),
    (["UPDATE orders SET total = 10.50 WHERE id = 21", "UPDATE orders SET total = 20.00 WHERE id = 22",
      "UPDATE orders SET total = 30.25 WHERE id = 23"], "UPDATE with CASE"),  # orders has NOT NULL columns
    (["UPDATE countries SET name = 'Deutschland' WHERE code = 'DE'",
      "UPDATE countries SET name = 'Frankreich' WHERE code = 'FR'",
      "UPDATE countries SET name = 'Spanien' WHERE code = 'ES'"], "INSERT ... ON DUPLICATE KEY UPDATE"),
    (["UPDATE orders SET total = total + 1, status = 'paid' WHERE id = 31",
      "UPDATE orders SET total = total + 2, status = 'new' WHERE id = 32",
      "UPDATE orders SET total = total + 3, status = 'paid' WHERE id = 33"], "UPDATE with CASE"),
    (["DELETE FROM order_items WHERE id = 41", "DELETE FROM order_items WHERE id = 42",
      "DELETE FROM order_items WHERE id = 43"], "IN list"),
])
def test_a_write_loops_one_statement_has_the_loops_effect(shop, tmp_path, loop, form):
    settings, _, env, conn, _ = shop
    log = tmp_path / "general.log"
    log.write_text(GENERAL_LOG + "".join(f"\t\t     5 Query\t{sql}\n" for sql in loop))
    done = cli(env, "analyze", str(log), "--dsn", settings.to_dsn(), "--format", "json")
    assert done.returncode == 0, done.stderr
    import json

    [finding] = findings(json.loads(done.stdout), "write_loop")
    assert finding["evidence"]["rewrite_form"].startswith(form)
    table = next(name for name in ("order_items", "orders", "countries") if f" {name} " in loop[0])
    assert_write_has_the_loops_effect(conn, table, loop, finding["evidence"]["rewritten_sql"],
                                      seed=f"INSERT INTO {{scratch}} SELECT * FROM {table} LIMIT 100")


@pytest.mark.parametrize("sql, reason", [
    ("SELECT id, email FROM customers WHERE email = 'customer42@example.com' OR country = 'DE'", "or"),
    ("SELECT id, customer_id FROM orders WHERE customer_id > 100 AND (status = 'paid' OR tracking_code = "
     "'TRK000000007')", "or"),
    ("SELECT id FROM orders WHERE YEAR(created_at) = 2024", "function"),
    ("SELECT id, email FROM customers WHERE DATE(created_at) = '2023-03-01'", "function"),
])
def test_a_predicate_rewrite_returns_the_rows_of_the_original(shop, tmp_path, sql, reason):
    import json

    from proof import assert_same_rows

    settings, _, env, conn, _ = shop
    log = tmp_path / "general.log"
    log.write_text(GENERAL_LOG + f"\t\t     5 Query\t{sql}\n")
    done = cli(env, "analyze", str(log), "--dsn", settings.to_dsn(), "--format", "json")
    assert done.returncode == 0, done.stderr
    [finding] = findings(json.loads(done.stdout), "non_sargable_predicate")
    assert [p["reason"] for p in finding["evidence"]["predicates"]] == [reason]
    assert_same_rows(conn, sql, finding["evidence"]["rewritten_sql"])
