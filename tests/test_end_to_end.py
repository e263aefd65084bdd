"""The whole tool on the sample shop (fixtures/sample_app), through the real command line, against the
private test server: what a capture lists, what the advisor finds, that its DDL works, and the CI gate's
exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures.sample_app.harness import running_app
from fixtures.sample_app.seed import seed
from query_audit.connection import connect

REPO = Path(__file__).resolve().parent.parent

READ_ENDPOINTS = ["/customers/42/orders", "/customers/by-email?email=customer42@example.com",
                  "/products?category=7", "/reports/categories", "/countries"]
NEW_ORDER = '{"customer_id": 42, "items": [{"product_id": 1, "quantity": 2}, {"product_id": 7, "quantity": 1}, ' \
            '{"product_id": 9, "quantity": 3}]}'


@pytest.fixture(scope="module")
def shop(server_settings, tmp_path_factory):
    """The shop seeded at test scale, the app running on it, and a private state directory."""
    seed(server_settings, "test", database="shop_e2e")
    settings = replace(server_settings, database="shop_e2e")
    # Test-scale tables hold hundreds of rows, below the default size where a scan matters; a CI database
    # is small too, and lowering this threshold is what its users do.
    env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(tmp_path_factory.mktemp("state")), NO_COLOR="1",
               QUERY_AUDIT_FULL_SCAN_ROWS="200")
    env.pop("QUERY_AUDIT_DSN", None)
    with running_app(settings.to_dsn(with_password=True)) as base_url:
        yield settings, base_url, env
    with connect(server_settings) as conn, conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS shop_e2e")


def cli(env, *args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "query_audit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def capture_json(shop, *endpoint_args) -> dict:
    settings, base_url, env = shop
    args = []
    for item in endpoint_args:
        args += ["--endpoint", base_url + item] if item.startswith("/") else [item]
    done = cli(env, "capture", "--dsn", settings.to_dsn(), *args, "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def shapes(report) -> dict[str, int]:
    """Each captured shape, by the start of its sample, with its count."""
    return {q["fingerprint"]: q["count"] for q in report["queries"]}


def findings(report, rule=None, table=None):
    return [f for f in report["findings"]
            if (rule is None or f["rule"] == rule) and (table is None or f["table"] == table)]


# ------------------------------------------------------------------------------------------------
# What a capture lists
# ------------------------------------------------------------------------------------------------


def test_n_plus_one_endpoint_lists_exactly_its_statements(shop):
    report = capture_json(shop, "/customers/42/orders")
    # Customer 42 at test scale: 8 orders with 24 items (fixtures/sample_app/README.md).
    assert shapes(report) == {
        "select id, customer_id, status, tracking_code, created_at, total from orders where customer_id = ? "
        "order by id desc": 1,
        "select id, order_id, product_id, quantity, price from order_items where order_id = ?": 8,
        "select id, sku, category_id, name, price from products where id = ?": 24,
    }
    assert report["summary"]["statements"] == 33
    assert report["summary"]["noise_dropped"] == 33  # one `SELECT 1` health check per pool checkout
    assert report["summary"]["reads"] == 33 and report["summary"]["writes"] == 0


def test_prepared_statements_are_captured_once_each(shop):
    report = capture_json(shop, "--method", "POST", "--data", NEW_ORDER, "/orders")
    assert shapes(report) == {
        "select id, price from products where id in(?+)": 1,
        "insert into orders (customer_id, status, tracking_code, created_at, total) values(?+)": 1,
        "insert into order_items (order_id, product_id, quantity, price) values(?+)": 3,
    }
    # START TRANSACTION and COMMIT are counted apart, not listed as shapes
    assert report["summary"]["transactions"] == {
        "transactions": 1, "control_statements": 2, "statements_inside": 4, "idle_ends": 0, "per_request": 1.0,
        "control_statements_per_request": 2.0}
    [items] = [q for q in report["queries"] if q["fingerprint"].startswith("insert into order_items")]
    assert items["repetitions"] == [{"unit": "request 1", "count": 3, "distinct_values": 3, "in_transaction": 3,
                                     "transactions": 1}]
    assert not any(q["sample"].startswith(("SELECT 1", "SET ")) for q in report["queries"])


def test_unique_key_lookup_raises_no_finding(shop):
    report = capture_json(shop, "/customers/by-email?email=customer42@example.com")
    [query] = report["queries"]
    assert "customer42@example.com" in query["sample"] or "?" in query["sample"]
    assert query["explain"]["rows"][0]["access_type"] in ("const", "eq_ref")
    assert report["findings"] == []


# ------------------------------------------------------------------------------------------------
# What the advisor finds, and that its advice works
# ------------------------------------------------------------------------------------------------


def test_every_pattern_of_the_sample_app_is_found(shop):
    report = capture_json(shop, *READ_ENDPOINTS, "--method", "GET")
    assert {f["table"] for f in findings(report, "n_plus_one")} == {"order_items", "products"}
    # the orders query ran once in the request, and fetched the keys the items loop ran over
    [items_loop] = findings(report, "n_plus_one", "order_items")
    assert "FROM orders JOIN order_items ON order_items.order_id = orders.id" in items_loop["suggestion"]
    [index] = findings(report, "missing_index", "products")
    assert index["columns"] == ["category_id", "price"]
    assert index["ddl"].endswith("(`category_id`, `price`)")
    assert findings(report, "filesort", "products")
    # The report groups by the unindexed category_id and sorts by an aggregate: the index removes the
    # temporary table, not the sort.
    [temporary] = findings(report, "temporary_table", "products")
    assert temporary["evidence"]["index_removes_it"] is True
    [by_aggregate] = [f for f in findings(report, "filesort") if f["query_id"] == temporary["query_id"]]
    assert by_aggregate["evidence"]["index_removes_it"] is False
    [redundant] = findings(report, "redundant_index", "products")
    assert redundant["ddl"].endswith("DROP INDEX `idx_products_sku`")
    assert all(f["severity"] == "info" for f in findings(report, table="countries"))
    assert not findings(report, table="customers")  # the unique-key lookup

    writes = capture_json(shop, "--method", "POST", "--data", '{"tracking_code": "TRK000000042"}', "/orders/ship")
    assert findings(writes, "full_table_scan", "orders")
    assert findings(writes, "write_not_by_primary_key", "orders")
    [index] = findings(writes, "missing_index", "orders")
    assert index["columns"] == ["tracking_code"]

    inserts = capture_json(shop, "--method", "POST", "--data", NEW_ORDER, "/orders")
    assert findings(inserts, "bulk_insert", "order_items")


def test_applying_the_suggested_ddl_leaves_no_scan_or_missing_index(shop, server_settings):
    settings, base_url, env = shop
    ship = ["--method", "POST", "--data", '{"tracking_code": "TRK000000042"}', "/orders/ship"]
    before = [capture_json(shop, "/products?category=7", "/customers/42/orders"), capture_json(shop, *ship)]
    ddl = [f["ddl"] for report in before for f in findings(report, "missing_index")]
    assert len(ddl) == 2
    with connect(settings) as conn, conn.cursor() as cur:
        for statement in ddl:
            cur.execute(statement)
    try:
        after = [capture_json(shop, "/products?category=7", "/customers/42/orders"), capture_json(shop, *ship)]
        for report in after:
            assert not findings(report, "missing_index")
            assert [f for f in findings(report, "full_table_scan") if f["severity"] != "info"] == []
            assert not findings(report, "filesort")
    finally:
        with connect(settings) as conn, conn.cursor() as cur:
            cur.execute("ALTER TABLE products DROP INDEX idx_products_category_id_price")
            cur.execute("ALTER TABLE orders DROP INDEX idx_orders_tracking_code")


def test_verify_proves_the_index_and_leaves_the_schema_as_it_was(shop):
    settings, base_url, env = shop
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SHOW INDEX FROM products")
        indexes_before = {row[2] for row in cur.fetchall()}
    done = cli(env, "capture", "--dsn", settings.to_dsn(), "--endpoint", base_url + "/products?category=7",
               "--verify", "--i-understand-this-creates-indexes", "--format", "json")
    assert done.returncode == 0, done.stderr
    [index] = findings(json.loads(done.stdout), "missing_index")
    assert index["verified"] is True
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SHOW INDEX FROM products")
        assert {row[2] for row in cur.fetchall()} == indexes_before
    assert "idx_products_category_id_price" not in indexes_before


def test_saved_capture_analyzes_offline_to_the_same_queries(shop, tmp_path):
    settings, base_url, env = shop
    saved = tmp_path / "capture.json"
    done = cli(env, "capture", "--dsn", settings.to_dsn(), "--endpoint", base_url + "/customers/42/orders",
               "--save", str(saved), "--format", "json")
    assert done.returncode == 0, done.stderr
    live = json.loads(done.stdout)
    offline = cli(env, "analyze", str(saved), "--format", "json")
    assert offline.returncode == 0, offline.stderr
    offline = json.loads(offline.stdout)
    assert shapes(offline) == shapes(live)
    assert {f["table"] for f in findings(offline, "n_plus_one")} == {"order_items", "products"}
    assert offline["queries"][0]["explain"] is None  # static: no --dsn


# ------------------------------------------------------------------------------------------------
# The CI gate
# ------------------------------------------------------------------------------------------------


def test_gate_exit_codes(shop, tmp_path, server):
    settings, base_url, env = shop
    baseline = tmp_path / "baseline.json"
    endpoint = ["--endpoint", base_url + "/products?category=7"]
    dsn = ["--dsn", settings.to_dsn()]

    missing = cli(env, "check", "--baseline", str(baseline), *dsn, *endpoint)
    assert missing.returncode == 2 and "baseline" in missing.stderr

    baseline.write_text(json.dumps({"format": "query-audit-baseline", "version": 1, "entries": []}))
    new = cli(env, "check", "--baseline", str(baseline), *dsn, *endpoint, "--format", "json")
    assert new.returncode == 1, new.stderr
    assert "full_table_scan on products" in new.stderr
    assert json.loads(new.stdout)["gate"]["passed"] is False

    created = cli(env, "baseline", "create", "--baseline", str(baseline), *dsn, *endpoint)
    assert created.returncode == 0, created.stderr
    entries = json.loads(baseline.read_text())["entries"]
    assert [(e["rule"], e["table"]) for e in entries] == [("full_table_scan", "products")]
    known = cli(env, "check", "--baseline", str(baseline), *dsn, *endpoint)
    assert known.returncode == 0, known.stderr
    assert "gate passed" in known.stderr

    # A finding of another rule is new only for that rule.
    assert cli(env, "check", "--baseline", str(baseline), *dsn, *endpoint, "--fail-on", "filesort").returncode == 1

    unreachable = cli(env, "check", "--baseline", str(baseline), "--dsn", "mysql://root@127.0.0.1:9/x", *endpoint)
    assert unreachable.returncode == 2
    wrong = replace(settings, password="Wr0ng-pw").to_dsn(with_password=True)
    bad_password = cli(env, "check", "--baseline", str(baseline), "--dsn", wrong, *endpoint)
    assert bad_password.returncode == 2 and "Wr0ng-pw" not in bad_password.stderr + bad_password.stdout

    with server.cursor() as cur:
        cur.execute("DROP USER IF EXISTS 'qa_gate'@'%'")
        cur.execute("CREATE USER 'qa_gate'@'%'")
        cur.execute("GRANT SELECT ON *.* TO 'qa_gate'@'%'")
    try:
        reader = replace(settings, user="qa_gate").to_dsn()
        no_privilege = cli(env, "check", "--baseline", str(baseline), "--dsn", reader, *endpoint)
        assert no_privilege.returncode == 2
        assert "SUPER" in no_privilege.stderr
    finally:
        with server.cursor() as cur:
            cur.execute("DROP USER 'qa_gate'@'%'")


def test_sarif_places_a_finding_on_the_sample_apps_source_line_that_sends_the_statement(shop):
    settings, base_url, env = shop
    done = cli(env, "capture", "--dsn", settings.to_dsn(), "--endpoint", base_url + "/products?category=7",
               "--format", "sarif")
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["runs"][0]["results"]
    scan = next(r for r in results if r["ruleId"] == "full_table_scan")
    physical = scan["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "fixtures/sample_app/shop.py"
    line = (REPO / "fixtures/sample_app/shop.py").read_text().splitlines()[physical["region"]["startLine"] - 1]
    assert 'tagged(f"SELECT {PRODUCT_COLUMNS} FROM products WHERE category_id = %s "' in line
    report = capture_json(shop, "/products?category=7")
    (query,) = report["queries"]
    assert query["origin"]["action"] == "products" and query["origin"]["file"] == "fixtures/sample_app/shop.py"


# Modules of other paths: a capture that imported them would pay for them at every start (issue 12).
NOT_FOR_A_CAPTURE = (
    "query_audit.gate",  # check and baseline
    "query_audit.sandbox.base",  # starting a server: shadow verification starts one only with an index to judge
    "query_audit.advise.capacity",  # --target-rps / --target-rpm
    "query_audit.capture.saved",  # --save
    "query_audit.capture.ps_capture",  # --source performance-schema
    "query_audit.capture.replicated",  # --replica-dsn
    "query_audit.sources",  # log files
    "query_audit.report.rich_format",  # the other report formats
    "query_audit.report.text",
    "query_audit.report.html",
    "rich",
    "tabulate",
)


def test_a_capture_imports_what_its_analysis_and_report_use_and_no_other_paths_modules(shop):
    settings, base_url, env = shop
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "query_audit", "capture", "--dsn",
                           settings.to_dsn(), "--endpoint", base_url + "/customers/42/orders", "--format", "json"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert any(finding["rule"] == "n_plus_one" for finding in json.loads(done.stdout)["findings"])
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")} - {"imported package"}  # the header line
    assert {"query_audit.pipeline", "query_audit.advise", "query_audit.report.json_format", "sqlglot"} <= imported
    other_paths = sorted(name for name in imported
                         if any(name == other or name.startswith(other + ".") for other in NOT_FOR_A_CAPTURE))
    assert not other_paths, other_paths
