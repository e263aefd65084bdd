"""The production route on the sample shop, through the real command line: `capture --source
performance-schema` finds what the general-log capture finds (the N+1 loops, the full scans, the
bulk-insert loop), and `analyze --digests` ranks the shop's workload after a replay of its endpoints.
The general log is never switched on by a performance_schema capture (its file does not grow)."""

from __future__ import annotations

import json

from test_capture_ps import general_log_state
from test_end_to_end import NEW_ORDER, READ_ENDPOINTS, capture_json, cli, findings, shop  # noqa: F401 (shop: a fixture)

PS = ("--source", "performance-schema")
SHIP = ("--method", "POST", "--data", '{"tracking_code": "TRK000000042"}', "/orders/ship")
# Twice: the text of a prepared statement is read while the driver keeps it open (a few milliseconds
# here); a second request makes its INSERT loop certain to be seen.
NEW_ORDERS = ("--method", "POST", "--data", NEW_ORDER, "--repeat", "2", "/orders")


def finding_keys(report) -> list[tuple]:
    return sorted((f["rule"], f["table"], f["query_id"], tuple(f["columns"])) for f in report["findings"])


def test_performance_schema_capture_finds_what_the_general_log_capture_finds(shop):
    settings = shop[0]
    for endpoints in ((*READ_ENDPOINTS, "--method", "GET"), SHIP, NEW_ORDERS):
        before = general_log_state(settings)
        through_ps = capture_json(shop, *PS, *endpoints)
        assert general_log_state(settings) == before, "the general log was switched on"
        assert through_ps["source"]["via"] == "performance_schema"
        through_log = capture_json(shop, *endpoints)
        assert through_log["source"]["via"] == "general_log"
        assert finding_keys(through_ps) == finding_keys(through_log), endpoints
        if endpoints is SHIP:
            assert findings(through_ps, "full_table_scan", "orders")
        elif endpoints is NEW_ORDERS:
            assert findings(through_ps, "bulk_insert", "order_items")
        else:
            assert {f["table"] for f in findings(through_ps, "n_plus_one")} == {"order_items", "products"}
            assert findings(through_ps, "full_table_scan", "products")


def test_digests_rank_the_shops_workload_after_a_replay(shop, tmp_path):
    settings, base_url, env = shop
    snapshot = tmp_path / "digests.json"
    saved = cli(env, "analyze", "--digests", "--dsn", settings.to_dsn(), "--snapshot", str(snapshot))
    assert saved.returncode == 0, saved.stderr
    capture_json(shop, *PS, *READ_ENDPOINTS, "--method", "GET")
    done = cli(env, "analyze", "--digests", "--dsn", settings.to_dsn(), "--since", str(snapshot), "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["source"]["kind"] == "digests"
    counts = {q["fingerprint"]: q["count"] for q in report["queries"]}
    # The replay above: customer 42's 8 orders have 24 items (fixtures/sample_app/README.md).
    items = next(count for fingerprint, count in counts.items() if "from `order_items` where `order_id` = ?"
                 in fingerprint or "from order_items where order_id = ?" in fingerprint)
    products = next(count for fingerprint, count in counts.items()
                    if "from products where id = ?" in fingerprint.replace("`", ""))
    assert (items, products) == (8, 24)
    # Ranked by total time, the busiest first.
    times = [q["total_query_time"] for q in report["queries"]]
    assert times == sorted(times, reverse=True)
    assert findings(report, "full_table_scan", "products")
    assert {f["table"] for f in findings(report, "n_plus_one")} <= {"order_items", "products"}
