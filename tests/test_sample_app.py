"""The sample shop in fixtures/: its seed, its endpoints, and the statements each one really sends.

Everything runs against the private test server (conftest `server_settings`); the app runs as a child
process with its own pool. Statements are read from the server's general log (TABLE output), which
each test switches on only around its own requests and puts back as it was.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace

import pytest
from conftest import REPO

from fixtures.sample_app.harness import prepare_database, running_app
from fixtures.sample_app.seed import SCALES, seed
from query_audit.connection import connect

TEST_SCALE = SCALES["test"]
NOISE_COMMANDS = ("Reset stmt", "Close stmt")


# ------------------------------------------------------------------------------------------------
# Helpers and fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop_settings(server_settings):
    prepare_database(server_settings, "test")
    return replace(server_settings, database="shop")


@pytest.fixture(scope="module")
def app_url(shop_settings):
    with running_app(shop_settings.to_dsn(with_password=True)) as base_url:
        yield base_url


@pytest.fixture
def shop(shop_settings):
    conn = connect(shop_settings)
    yield conn
    conn.close()


def call(base_url: str, method: str, path: str, body=None) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# The sqlcommenter comment the shop appends to each statement (its own test reads it): the other tests
# compare the statements without it.
TRAILING_TAG = re.compile(r" /\*[^*]*\*/$")


@contextmanager
def general_log(conn, keep_tags: bool = False):
    """Collect (thread_id, command, argument) of every other connection while the block runs.

    Turns the general log on with TABLE output, then restores both settings exactly as they were.
    The shop's sqlcommenter comments are cut off unless `keep_tags`.
    """
    rows: list[tuple[int, str, str]] = []
    with conn.cursor() as cur:
        cur.execute("SELECT @@global.general_log, @@global.log_output, CONNECTION_ID()")
        was_on, output, own_thread = cur.fetchone()
        cur.execute("SET GLOBAL log_output = 'TABLE'")
        cur.execute("TRUNCATE TABLE mysql.general_log")
        cur.execute("SET GLOBAL general_log = 1")
    try:
        yield rows
    finally:
        with conn.cursor() as cur:
            cur.execute(f"SET GLOBAL general_log = {int(was_on)}")
            cur.execute("SET GLOBAL log_output = %s", (output,))
            # The CSV log table returns rows in the order they were written.
            cur.execute("SELECT thread_id, command_type, argument FROM mysql.general_log WHERE thread_id <> %s",
                        (own_thread,))
            for thread_id, command, argument in cur.fetchall():
                if isinstance(argument, bytes):
                    argument = argument.decode(errors="replace")
                rows.append((thread_id, command, argument if keep_tags else TRAILING_TAG.sub("", argument)))


def statements(rows) -> list[tuple[str, str]]:
    """(command, argument) of the rows that carry a statement, without Reset/Close stmt."""
    return [(command, argument) for _, command, argument in rows if command not in NOISE_COMMANDS]


def explain(conn, sql: str) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute("EXPLAIN " + sql)
        names = [column[0] for column in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


# ------------------------------------------------------------------------------------------------
# Seed
# ------------------------------------------------------------------------------------------------


def table_counts(conn, database: str) -> dict[str, int]:
    counts = {}
    with conn.cursor() as cur:
        for table in ("countries", "customers", "products", "orders", "order_items"):
            cur.execute(f"SELECT COUNT(*) FROM `{database}`.`{table}`")
            counts[table] = cur.fetchone()[0]
    return counts


def test_seed_at_test_scale_fills_every_table_with_the_documented_row_counts(server):
    try:
        inserted = seed(server, "test", database="qa_seed_counts")
        documented = {"countries": 20, "customers": 2000, "products": 500, "orders": 3000, "order_items": 7500}
        assert inserted == documented
        assert table_counts(server, "qa_seed_counts") == documented
        assert TEST_SCALE.expected_rows() == documented
    finally:
        with server.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS qa_seed_counts")


def test_seed_recreates_the_database_with_identical_rows_and_restores_the_connections_database(server):
    def checksums() -> dict:
        with server.cursor() as cur:
            cur.execute("CHECKSUM TABLE qa_seed_twice.customers, qa_seed_twice.products, qa_seed_twice.orders, "
                        "qa_seed_twice.order_items, qa_seed_twice.countries")
            return dict(cur.fetchall())

    try:
        seed(server, "test", database="qa_seed_twice")
        first = checksums()
        with server.cursor() as cur:
            cur.execute("DELETE FROM qa_seed_twice.orders WHERE id <= 10")
        seed(server, "test", database="qa_seed_twice")
        assert checksums() == first
        with server.cursor() as cur:
            cur.execute("SELECT DATABASE()")
            assert cur.fetchone()[0] == "test"
            cur.execute("SELECT email, (SELECT COUNT(*) FROM qa_seed_twice.orders WHERE customer_id = 42) "
                        "FROM qa_seed_twice.customers WHERE id = 42")
            assert cur.fetchone() == ("customer42@example.com", TEST_SCALE.orders_of(42))
    finally:
        with server.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS qa_seed_twice")


def test_seed_rejects_an_unknown_scale_before_touching_the_server(server):
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        seed(server, "huge", database="qa_never_created")
    with server.cursor() as cur:
        cur.execute("SHOW DATABASES LIKE 'qa_never_created'")
        assert cur.fetchone() is None


# ------------------------------------------------------------------------------------------------
# Plans at test scale: the patterns are real for the optimizer
# ------------------------------------------------------------------------------------------------


def test_at_test_scale_the_tracking_code_update_scans_the_whole_orders_table(shop):
    (select_row,) = explain(shop, "SELECT id FROM orders WHERE tracking_code = 'TRK000000042'")
    assert select_row["type"] == "ALL" and select_row["possible_keys"] is None

    (update_row,) = explain(shop, "UPDATE orders SET status = 'shipped' WHERE tracking_code = 'TRK000000042'")
    # MariaDB 10.11 walks the clustered PRIMARY index for this UPDATE (type=index): every row all the same.
    assert update_row["possible_keys"] is None
    assert update_row["type"] == "ALL" or (update_row["type"] == "index" and update_row["key"] == "PRIMARY")
    assert int(update_row["rows"]) >= 0.9 * TEST_SCALE.orders


def test_at_test_scale_the_email_lookup_is_a_const_read_of_the_unique_key(shop):
    (row,) = explain(shop, "SELECT id, email, name, country, created_at FROM customers "
                           "WHERE email = 'customer42@example.com'")
    assert (row["type"], row["key"]) == ("const", "uq_customers_email")


def test_at_test_scale_the_category_listing_scans_and_sorts_while_the_n_plus_one_lookups_use_indexes(shop):
    (category,) = explain(shop, "SELECT id, sku, category_id, name, price FROM products WHERE category_id = 7 "
                                "ORDER BY price DESC LIMIT 20")
    assert category["type"] == "ALL" and "Using filesort" in category["Extra"]

    (orders,) = explain(shop, "SELECT id, customer_id, status, tracking_code, created_at, total FROM orders "
                              "WHERE customer_id = 42 ORDER BY id DESC")
    (items,) = explain(shop, "SELECT id, order_id, product_id, quantity, price FROM order_items WHERE order_id = 42")
    (product,) = explain(shop, "SELECT id, sku, category_id, name, price FROM products WHERE id = 7")
    assert (orders["type"], orders["key"]) == ("ref", "idx_orders_customer_id")
    assert "filesort" not in orders["Extra"]
    assert (items["type"], items["key"]) == ("ref", "idx_order_items_order_id")
    assert product["type"] == "const"


# ------------------------------------------------------------------------------------------------
# Endpoints: answers and the exact statements of README.md
# ------------------------------------------------------------------------------------------------


def test_healthz_answers_ok_without_sending_any_statement(app_url, server):
    with general_log(server) as rows:
        assert call(app_url, "GET", "/healthz") == (200, {"status": "ok", "pool_size": 4})
    assert rows == []


def test_customer_orders_is_an_n_plus_one_spread_over_several_pool_connections(app_url, server, shop):
    with shop.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.customer_id = 42")
        item_count = cur.fetchone()[0]
    order_count = TEST_SCALE.orders_of(42)
    assert (order_count, item_count) == (8, 24)  # the README's worked example

    with general_log(server) as rows:
        status, body = call(app_url, "GET", "/customers/42/orders")
    assert status == 200
    assert len(body["orders"]) == order_count
    assert sum(len(order["items"]) for order in body["orders"]) == item_count
    assert all(item["product"]["id"] == item["product_id"] for order in body["orders"] for item in order["items"])

    sent = statements(rows)
    assert {command for command, _ in sent} == {"Query"}
    shapes = Counter(sql.split(" WHERE ")[0] for _, sql in sent)
    assert shapes == {
        "SELECT 1": 1 + order_count + item_count,
        "SELECT id, customer_id, status, tracking_code, created_at, total FROM orders": 1,
        "SELECT id, order_id, product_id, quantity, price FROM order_items": order_count,
        "SELECT id, sku, category_id, name, price FROM products": item_count,
    }
    assert sent[1] == ("Query", ("SELECT id, customer_id, status, tracking_code, created_at, total FROM orders "
                                 "WHERE customer_id = 42 ORDER BY id DESC"))
    # Every lookup comes right after its checkout's health check.
    assert all(sent[i][1] == "SELECT 1" for i in range(0, len(sent), 2))
    assert len({thread for thread, _, _ in rows}) > 1


def log_settings(conn) -> tuple:
    with conn.cursor() as cur:
        cur.execute("SELECT @@global.general_log, @@global.log_output")
        return cur.fetchone()


def test_customer_by_email_is_sent_as_a_server_side_prepared_statement(app_url, server):
    before = log_settings(server)
    with general_log(server) as rows:
        status, body = call(app_url, "GET", "/customers/by-email?email=customer42@example.com")
    assert status == 200
    assert (body["id"], body["email"], body["name"]) == (42, "customer42@example.com", "Customer 42")
    # The app's connection only: another test's connection may end (Quit) inside the window.
    app_thread = next(thread for thread, command, _ in rows if command == "Prepare")
    assert [(command, argument) for thread, command, argument in rows if thread == app_thread] == [
        ("Query", "SELECT 1"),
        ("Prepare", "SELECT id, email, name, country, created_at FROM customers WHERE email = ?"),
        ("Reset stmt", ""),
        ("Execute", ("SELECT id, email, name, country, created_at FROM customers "
                     "WHERE email = 'customer42@example.com'")),
        ("Close stmt", ""),
    ]
    assert log_settings(server) == before


def test_customer_by_email_answers_404_for_an_unknown_email(app_url):
    assert call(app_url, "GET", "/customers/by-email?email=nobody@example.com")[0] == 404


def test_create_order_inserts_items_one_row_at_a_time_in_one_prepared_transaction(app_url, server, shop):
    order = {"customer_id": 1999, "items": [{"product_id": 1, "quantity": 2}, {"product_id": 7, "quantity": 1},
                                            {"product_id": 9, "quantity": 3}]}
    with general_log(server) as rows:
        status, body = call(app_url, "POST", "/orders", order)
    assert status == 201 and body["items"] == 3

    with shop.cursor() as cur:
        cur.execute("SELECT customer_id, status, total FROM orders WHERE id = %s", (body["order_id"],))
        customer_id, order_status, total = cur.fetchone()
        cur.execute("SELECT product_id, quantity FROM order_items WHERE order_id = %s ORDER BY id",
                    (body["order_id"],))
        assert cur.fetchall() == ((1, 2), (7, 1), (9, 3))
    assert (customer_id, order_status, str(total)) == (1999, "pending", body["total"])

    assert len({thread for thread, _, _ in rows}) == 1  # a transaction keeps its connection
    sent = statements(rows)
    assert [command for command, _ in sent] == (
        ["Query", "Prepare", "Execute", "Query", "Prepare", "Execute", "Prepare"] + ["Execute"] * 3 + ["Query"])
    assert [sql for command, sql in sent if command in ("Query", "Prepare")] == [
        "SELECT 1",
        "SELECT id, price FROM products WHERE id IN (?, ?, ?)",
        "START TRANSACTION",
        "INSERT INTO orders (customer_id, status, tracking_code, created_at, total) VALUES (?, ?, ?, ?, ?)",
        "INSERT INTO order_items (order_id, product_id, quantity, price) VALUES (?, ?, ?, ?)",
        "COMMIT",
    ]
    item_inserts = [sql for command, sql in sent if command == "Execute" and "order_items" in sql]
    assert item_inserts[0] == (f"INSERT INTO order_items (order_id, product_id, quantity, price) "
                               f"VALUES ({body['order_id']}, 1, 2, 1.00)")
    counts = Counter(command for _, command, _ in rows)
    assert (counts["Reset stmt"], counts["Close stmt"]) == (5, 3)


def test_create_order_refuses_an_unknown_product_without_writing(app_url, shop):
    with shop.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM orders")
        before = cur.fetchone()[0]
    status, body = call(app_url, "POST", "/orders", {"customer_id": 1, "items": [{"product_id": 999999}]})
    assert status == 400 and "999999" in body["error"]
    assert call(app_url, "POST", "/orders", {"customer_id": 1, "items": []})[0] == 400
    with shop.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM orders")
        assert cur.fetchone()[0] == before


def test_ship_updates_by_the_unindexed_tracking_code_and_can_be_repeated(app_url, server, shop):
    with general_log(server) as rows:
        assert call(app_url, "POST", "/orders/ship", {"tracking_code": "TRK000000041"}) == (
            200, {"tracking_code": "TRK000000041", "status": "shipped"})
    assert statements(rows) == [
        ("Query", "SELECT 1"),
        ("Query", "UPDATE orders SET status = 'shipped' WHERE tracking_code = 'TRK000000041'"),
    ]
    with shop.cursor() as cur:
        cur.execute("SELECT status FROM orders WHERE id = 41")
        assert cur.fetchone() == ("shipped",)
    assert call(app_url, "POST", "/orders/ship", {"tracking_code": "TRK000000041"})[0] == 200
    assert call(app_url, "POST", "/orders/ship", {"tracking_code": "TRK999999999"})[0] == 404


def test_products_lists_the_20_most_expensive_of_a_category_with_one_statement(app_url, server):
    with general_log(server) as rows:
        status, body = call(app_url, "GET", "/products?category=7")
    assert status == 200
    prices = [float(product["price"]) for product in body["products"]]
    assert len(prices) == 10  # 500 products over 50 categories at test scale
    assert prices == sorted(prices, reverse=True)
    assert {product["category_id"] for product in body["products"]} == {7}
    assert statements(rows) == [
        ("Query", "SELECT 1"),
        ("Query", ("SELECT id, sku, category_id, name, price FROM products WHERE category_id = 7 "
                   "ORDER BY price DESC LIMIT 20")),
    ]
    assert call(app_url, "GET", "/products?category=x")[0] == 400


def test_category_report_groups_by_an_unindexed_column_and_sorts_by_an_aggregate(app_url, server):
    with general_log(server) as rows:
        status, body = call(app_url, "GET", "/reports/categories")
    assert status == 200 and len(body["categories"]) == 10
    prices = [float(row["average_price"]) for row in body["categories"]]
    assert prices == sorted(prices, reverse=True)
    assert statements(rows) == [
        ("Query", "SELECT 1"),
        ("Query", ("SELECT category_id, COUNT(*) AS products, AVG(price) AS average_price FROM products "
                   "GROUP BY category_id ORDER BY average_price DESC LIMIT 10")),
    ]


def test_countries_reads_the_whole_20_row_table(app_url, server):
    with general_log(server) as rows:
        status, body = call(app_url, "GET", "/countries")
    assert status == 200 and len(body["countries"]) == 20
    assert statements(rows) == [("Query", "SELECT 1"), ("Query", "SELECT code, name FROM countries")]


def test_boom_sends_one_query_then_answers_500_and_the_app_keeps_serving(app_url, server):
    with general_log(server) as rows:
        assert call(app_url, "GET", "/boom") == (500, {"error": "internal server error"})
    assert statements(rows) == [("Query", "SELECT 1"), ("Query", "SELECT id, status FROM orders WHERE id = 1")]
    assert call(app_url, "GET", "/countries")[0] == 200


def test_an_unknown_route_answers_404_without_sql(app_url, server):
    with general_log(server) as rows:
        assert call(app_url, "GET", "/nope")[0] == 404
        assert call(app_url, "POST", "/countries")[0] == 404
    assert rows == []


def test_every_statement_of_the_shop_names_its_source_line_in_a_sqlcommenter_comment(app_url, server):
    from query_audit.analyze.attribution import parse_origin

    with general_log(server, keep_tags=True) as rows:
        for path in ("/products?category=7", "/customers/42/orders", "/reports/categories"):
            assert call(app_url, "GET", path)[0] == 200
    tagged = [argument for _, command, argument in rows
              if command in ("Query", "Execute") and argument != "SELECT 1" and "@@" not in argument
              and not argument.startswith("SET ")]
    assert tagged
    for sql in tagged:
        origin = parse_origin(sql)
        assert origin is not None and origin.file == "fixtures/sample_app/shop.py", sql
        assert origin.controller == "shop" and origin.action in ("products", "customer_orders", "category_report")
        lines = (REPO / origin.file).read_text().splitlines()
        # The named line is where the statement's text starts (its SQL literal may go on to the next line).
        source_line, statement_text = lines[origin.line - 1], " ".join(lines[origin.line - 1:origin.line + 1])
        assert f'tagged(f"{sql.split()[0]} ' in source_line or f'tagged("{sql.split()[0]} ' in source_line
        table = re.search(r"FROM (\w+)", sql).group(1)
        assert f"FROM {table}" in statement_text, (sql, source_line)
