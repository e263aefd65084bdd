"""Hand-built Reports for the renderer, baseline and config tests.

`sample_report()` is what a capture of two endpoints of a small shop on MariaDB 10.11 looks like:
a full scan with its plan row and a verified missing index, an N+1, a bulk-insert loop, an UPDATE by
a non-key column, a lookup by unique key with no finding, and a CALL sqlglot cannot parse.
`empty_report()` has no statements; `static_report()` comes from a log file with no server.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from query_audit.advise.summary import pool_size_estimate
from query_audit.model import (
    AnalyzedQuery,
    ColumnUse,
    Finding,
    Kind,
    Plan,
    PlanRow,
    QueryGroup,
    Repetition,
    Report,
    ServerInfo,
    Severity,
    SourceInfo,
    Statement,
    StatementModel,
    Summary,
)

ORDERS_BY_EMAIL = "3F2A9C1B7D4E6A80"
PRODUCT_BY_ID = "A1B2C3D4E5F60718"
ORDER_ITEM_INSERT = "5E6F708192A3B4C5"
CUSTOMER_TOUCH = "9D8C7B6A5F4E3D2C"
CUSTOMER_BY_TOKEN = "0F1E2D3C4B5A6978"
REFRESH_TOTALS = "77E1C0DE55AA33BB"

ENDPOINTS = ("GET http://127.0.0.1:8000/api/orders?email=ann@example.com",
             "POST http://127.0.0.1:8000/api/cart/checkout")


def _query(qid, fingerprint, kind, sql, count, model, *, plan=None, error=None, repetitions=(),
           distinct_values=1, total=None, maximum=None, examined=None, sent=None, request=1):
    statement = Statement(sql=sql, thread_id=31, database="shop", time="2026-11-26T10:00:01.250000Z",
                          command="Query", request=request, user="app")
    group = QueryGroup(id=qid, fingerprint=fingerprint, kind=kind, count=count, sample=statement,
                       distinct_values=distinct_values, databases=("shop",), repetitions=repetitions,
                       total_query_time=total, max_query_time=maximum, total_rows_examined=examined,
                       total_rows_sent=sent)
    return AnalyzedQuery(group=group, model=model, plan=plan, error=error)


def _queries():
    orders_scan_row = PlanRow(table="orders", access_type="ALL", select_id=1, select_type="SIMPLE",
                              rows=48210, filtered=100.0, extra="Using where; Using filesort",
                              using_filesort=True)
    orders = _query(
        ORDERS_BY_EMAIL,
        "select id, status, total from orders where customer_email = ? order by created_at desc limit ?",
        Kind.SELECT,
        "SELECT id, status, total FROM orders WHERE customer_email = 'ann@example.com' "
        "ORDER BY created_at DESC LIMIT 20",
        1,
        StatementModel(kind=Kind.SELECT, tables=("orders",), has_where=True, limit=20, columns=(
            ColumnUse("orders", "customer_email", "eq"),
            ColumnUse("orders", "created_at", "order", detail="desc"),
            ColumnUse("orders", "id", "select"),
            ColumnUse("orders", "status", "select"),
            ColumnUse("orders", "total", "select"),
        )),
        plan=Plan(rows=(orders_scan_row,), format="traditional",
                  explained_sql="SELECT id, status, total FROM orders WHERE customer_email = 'ann@example.com' "
                                "ORDER BY created_at DESC LIMIT 20"),
        total=0.0311, maximum=0.0311, examined=48210, sent=3,
    )
    products = _query(
        PRODUCT_BY_ID, "select id, name, price from products where id = ?", Kind.SELECT,
        "SELECT id, name, price FROM products WHERE id = 17", 12,
        StatementModel(kind=Kind.SELECT, tables=("products",), has_where=True, columns=(
            ColumnUse("products", "id", "eq"), ColumnUse("products", "name", "select"),
            ColumnUse("products", "price", "select"))),
        plan=Plan(rows=(PlanRow(table="products", access_type="const", select_id=1, possible_keys=("PRIMARY",),
                                key="PRIMARY", key_len="4", ref="const", rows=1),),
                  explained_sql="SELECT id, name, price FROM products WHERE id = 17"),
        repetitions=(Repetition("request 1", 12, 12, ("SELECT id, name, price FROM products WHERE id = 17",
                                                       "SELECT id, name, price FROM products WHERE id = 23")),),
        distinct_values=12, total=0.0042, maximum=0.0006, examined=12, sent=12,
    )
    items = _query(
        ORDER_ITEM_INSERT,
        "insert into order_items (order_id, product_id, quantity, price) values(?+)", Kind.INSERT,
        "INSERT INTO order_items (order_id, product_id, quantity, price) VALUES (9001, 17, 1, 19.90)", 8,
        StatementModel(kind=Kind.INSERT, tables=("order_items",), target_table="order_items", insert_rows=1,
                       columns=tuple(ColumnUse("order_items", c, "set")
                                     for c in ("order_id", "product_id", "quantity", "price"))),
        # MariaDB shows INSERT ... VALUES as type ALL with rows NULL: not a scan.
        plan=Plan(rows=(PlanRow(table="order_items", access_type="ALL", select_id=1),),
                  explained_sql="INSERT INTO order_items (order_id, product_id, quantity, price) "
                                "VALUES (9001, 17, 1, 19.90)"),
        repetitions=(Repetition("request 2", 8, 8),), distinct_values=8,
        total=0.0035, maximum=0.0007, request=2,
    )
    touch = _query(
        CUSTOMER_TOUCH, "update customers set last_seen_at = now() where email = ?", Kind.UPDATE,
        "UPDATE customers SET last_seen_at = NOW() WHERE email = 'ann@example.com'", 1,
        StatementModel(kind=Kind.UPDATE, tables=("customers",), target_table="customers", has_where=True,
                       columns=(ColumnUse("customers", "last_seen_at", "set"),
                                ColumnUse("customers", "email", "eq"))),
        # MariaDB: UPDATE ... WHERE unindexed_col shows type=index, key=PRIMARY: a full index scan.
        plan=Plan(rows=(PlanRow(table="customers", access_type="index", select_id=1, key="PRIMARY",
                                key_len="4", rows=5120, extra="Using where"),),
                  explained_sql="UPDATE customers SET last_seen_at = NOW() WHERE email = 'ann@example.com'"),
        total=0.0019, maximum=0.0019, examined=5120, request=2,
    )
    token = _query(
        CUSTOMER_BY_TOKEN, "select id, name from customers where api_token = ?", Kind.SELECT,
        "SELECT id, name FROM customers WHERE api_token = 'tok_5f2c'", 2,
        StatementModel(kind=Kind.SELECT, tables=("customers",), has_where=True, columns=(
            ColumnUse("customers", "api_token", "eq"), ColumnUse("customers", "id", "select"),
            ColumnUse("customers", "name", "select"))),
        plan=Plan(rows=(PlanRow(table="customers", access_type="const", select_id=1,
                                possible_keys=("uniq_api_token",), key="uniq_api_token", key_len="130",
                                ref="const", rows=1),),
                  explained_sql="SELECT id, name FROM customers WHERE api_token = 'tok_5f2c'"),
        repetitions=(Repetition("request 1", 1, 1), Repetition("request 2", 1, 1)),
        total=0.0004, maximum=0.0002, examined=2, sent=2,
    )
    refresh = _query(
        REFRESH_TOTALS, "call refresh_order_totals", Kind.OTHER, "CALL refresh_order_totals(9001)", 1,
        StatementModel(kind=Kind.OTHER, tables=(), parsed=False,
                       error="sqlglot returns an opaque Command for CALL"),
        error="EXPLAIN does not apply to CALL", total=0.0011, maximum=0.0011, request=2,
    )
    return orders, products, items, touch, token, refresh


def _findings(queries):
    orders, products, items, touch, _token, refresh = queries
    # Evidence shaped as the advisor writes it (plan_facts.plan_row_evidence, _loops.loop_evidence).
    scan_row = {"table": "orders", "access_type": "ALL", "select_id": 1, "select_type": "SIMPLE", "rows": 48210,
                "filtered": 100.0, "extra": "Using where; Using filesort", "using_filesort": True}
    return (
        Finding(rule="full_table_scan", severity=Severity.HIGH, table="orders", query_id=ORDERS_BY_EMAIL,
                query_ids=(ORDERS_BY_EMAIL,), fingerprint=orders.group.fingerprint,
                message="full scan of orders (48,210 rows) to find rows by customer_email",
                suggestion="add the index below so the lookup seeks instead of reading every row",
                evidence={"plan_row": scan_row, "rows_examined": 48210, "table_rows": 48210}),
        Finding(rule="missing_index", severity=Severity.HIGH, table="orders",
                columns=("customer_email", "created_at"), query_id=ORDERS_BY_EMAIL,
                query_ids=(ORDERS_BY_EMAIL,), fingerprint=orders.group.fingerprint,
                message="no index serves WHERE customer_email = ? ORDER BY created_at DESC",
                suggestion="add the index: ALTER TABLE `shop`.`orders` ADD INDEX "
                           "`idx_orders_customer_email_created_at` (`customer_email`, `created_at`)",
                ddl="ALTER TABLE `shop`.`orders` ADD INDEX `idx_orders_customer_email_created_at` "
                    "(`customer_email`, `created_at`)",
                evidence={"rows_examined": 48210, "rows_before": 48210, "rows_after": 3,
                          "index_name": "idx_orders_customer_email_created_at", "database": "shop",
                          "plans_before": [scan_row]},
                verified=True),
        Finding(rule="n_plus_one", severity=Severity.MEDIUM, table="products", columns=("id",),
                query_id=PRODUCT_BY_ID, query_ids=(PRODUCT_BY_ID,), fingerprint=products.group.fingerprint,
                count=12, message="the same SELECT ran 12 times with 12 different ids in request 1",
                suggestion="SELECT id, name, price FROM products WHERE id IN (17, 23, ...)",
                evidence={"units": 1, "worst_unit": "request 1", "runs_in_worst_unit": 12,
                          "distinct_values_in_worst_unit": 12, "runs_per_unit": {"request 1": 12},
                          "loop_column": "id"}),
        Finding(rule="bulk_insert", severity=Severity.MEDIUM, table="order_items", query_id=ORDER_ITEM_INSERT,
                query_ids=(ORDER_ITEM_INSERT,), fingerprint=items.group.fingerprint, count=8,
                message="8 single-row INSERTs into order_items in request 2",
                suggestion="INSERT INTO order_items (order_id, product_id, quantity, price) "
                           "VALUES (...), (...), ... in one transaction",
                evidence={"units": 1, "worst_unit": "request 2", "runs_in_worst_unit": 8,
                          "runs_per_unit": {"request 2": 8}}),
        Finding(rule="write_not_by_primary_key", severity=Severity.MEDIUM, table="customers", columns=("email",),
                query_id=CUSTOMER_TOUCH, query_ids=(CUSTOMER_TOUCH,), fingerprint=touch.group.fingerprint,
                message="UPDATE finds its row by email, which no index covers: a full index scan of 5,120 rows",
                suggestion="UPDATE customers SET last_seen_at = NOW() WHERE id = ? (the id is known to the app)",
                evidence={"rows_examined": 5120, "plan_row": {"table": "customers", "access_type": "index",
                                                              "key": "PRIMARY", "rows": 5120}}),
        Finding(rule="write_amplification", severity=Severity.LOW, table="order_items",
                query_id=ORDER_ITEM_INSERT, query_ids=(ORDER_ITEM_INSERT,), fingerprint=items.group.fingerprint,
                count=8, message="each INSERT into order_items maintains 3 secondary indexes",
                suggestion="check that idx_order_items_price is used by a query; drop it if not",
                evidence={"unit": "request 2", "row_writes": 8, "index_writes": 24}),
        Finding(rule="unparsed_statement", severity=Severity.INFO, query_id=REFRESH_TOTALS,
                query_ids=(REFRESH_TOTALS,), fingerprint=refresh.group.fingerprint,
                message="CALL refresh_order_totals is not analysed: sqlglot cannot parse CALL",
                suggestion="audit the procedure body's statements separately",
                evidence={"parsed": False, "parse_error": "sqlglot returns an opaque Command for CALL",
                          "plan_error": "EXPLAIN does not apply to CALL"}),
    )


def sample_report() -> Report:
    queries = _queries()
    return Report(
        server=ServerInfo("mariadb", "10.11.6", "Debian 12"),
        source=SourceInfo(kind="capture", endpoints=ENDPOINTS, window_start="2026-11-26T10:00:01.201311Z",
                          window_end="2026-11-26T10:00:01.948102Z", requests=2),
        summary=Summary(statements=25, distinct=6, reads=15, writes=9, other=1, noise_dropped=7, requests=2,
                        round_trips_per_request=12.5, replica_eligible_reads=14, db_time_per_request=0.0211,
                        pool_size_estimate=pool_size_estimate(0.0211)),
        queries=queries,
        findings=_findings(queries),
        notes=("the capture excluded 2 connections of query-audit itself",
               "rows_examined and timings come from the slow log (long_query_time=0)"),
    )


def empty_report() -> Report:
    return Report(
        server=ServerInfo("mysql", "8.0.40"),
        source=SourceInfo(kind="capture", endpoints=("GET http://127.0.0.1:8000/health",), requests=1,
                          window_start="2026-11-26T10:05:00.000000Z", window_end="2026-11-26T10:05:00.120000Z"),
        summary=Summary(requests=1, noise_dropped=3),
        queries=(),
        findings=(),
        notes=("no statements were captured: does the endpoint use this server?",),
    )


def static_report() -> Report:
    """The same N+1 read from a general log file: no server, so no plans and no timings."""
    products = _queries()[1]
    group = replace(products.group, repetitions=(Repetition("thread 31", 12, 12),), total_query_time=None,
                    max_query_time=None, total_rows_examined=None, total_rows_sent=None,
                    sample=replace(products.group.sample, request=None, time="2026-11-26T10:00:01Z"))
    query = AnalyzedQuery(group=group, model=products.model, plan=None, error="static analysis: no --dsn")
    finding = _findings(_queries())[2]
    finding = replace(finding, message="the same SELECT ran 12 times with 12 different ids on thread 31",
                      evidence={**finding.evidence, "worst_unit": "thread 31", "runs_per_unit": {"thread 31": 12}})
    return Report(
        server=None,
        source=SourceInfo(kind="general_log", files=("logs/general.log",)),
        summary=Summary(statements=12, distinct=1, reads=12, skipped_lines=2),
        queries=(query,),
        findings=(finding,),
        notes=("static analysis: no --dsn given, so no schema and no EXPLAIN",),
    )


SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"


def assert_snapshot(name: str, text: str) -> None:
    """Compare with tests/snapshots/<name>; UPDATE_SNAPSHOTS=1 rewrites the file instead (review the diff)."""
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if os.environ.get("UPDATE_SNAPSHOTS") != "1":
            raise AssertionError(f"snapshot {name} did not exist: written, review and commit it")
        return
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} changed; rerun with UPDATE_SNAPSHOTS=1 and review the diff"
