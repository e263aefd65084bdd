"""Shadow verification on the two sample apps, through the real command line: every suggested index is
judged by the optimizer of a second private server (the session's shadow), the user's server gets no DDL,
applying every suggested DDL to a copy leaves no full scan an index can remove, and on the CMS each
endpoint gets the expert's answer (fixtures/cms_app/README.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures.cms_app import harness as cms_harness
from fixtures.sample_app.harness import running_app
from fixtures.sample_app.seed import seed
from query_audit.connection import connect

REPO = Path(__file__).resolve().parent.parent
ENDPOINTS = ["/customers/42/orders", "/products?category=7", "/reports/categories", "/countries"]
SHIP = ["--method", "POST", "--data", '{"tracking_code": "TRK000000042"}']


def shadow_env(shadow_settings, state_dir) -> dict:
    env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(state_dir), NO_COLOR="1", QUERY_AUDIT_FULL_SCAN_ROWS="200",
               QUERY_AUDIT_SHADOW="on", QUERY_AUDIT_SHADOW_DSN=shadow_settings.to_dsn(with_password=True))
    env.pop("QUERY_AUDIT_DSN", None)
    return env


@pytest.fixture(scope="module")
def shop(server_settings, shadow_settings, tmp_path_factory):
    seed(server_settings, "test", database="shop_shadow")
    settings = replace(server_settings, database="shop_shadow")
    env = shadow_env(shadow_settings, tmp_path_factory.mktemp("state"))
    with running_app(settings.to_dsn(with_password=True)) as base_url:
        yield settings, base_url, env
    with connect(server_settings) as conn, conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS shop_shadow")


def capture(shop, *args) -> dict:
    settings, base_url, env = shop
    command = [sys.executable, "-m", "query_audit", "capture", "--dsn", settings.to_dsn(), "--format", "json"]
    for item in args:
        command += ["--endpoint", base_url + item] if item.startswith("/") else [item]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def index_suggestions(report) -> list[dict]:
    return [f for f in report["findings"] if f["ddl"] and f["rule"] == "missing_index"]


def indexes(settings) -> set[tuple[str, str]]:
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT TABLE_NAME, INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s",
                    (settings.database,))
        return set(cur.fetchall())


def test_every_suggested_index_is_verified_by_the_shadow_optimizer(shop):
    settings = shop[0]
    before = indexes(settings)
    reports = [capture(shop, *ENDPOINTS), capture(shop, *SHIP, "/orders/ship")]
    suggested = [finding for report in reports for finding in index_suggestions(report)]
    assert {f["table"] for f in suggested} == {"products", "orders"}
    for finding in suggested:
        assert finding["verification"] == "verified (shadow)", finding
        proof = finding["evidence"]["shadow"]
        assert proof["server"].startswith("mariadb") and proof["threshold"] == 0.5
        used = [s for s in proof["statements"] if s["uses_index"]]
        assert used and all(s["after"]["key"] == finding["evidence"]["index_name"] for s in used)
        own = next(s for s in used if s["query_id"] == finding["query_id"])
        assert own["after"]["rows"] <= own["before"]["rows"] * 0.5, proof
        assert not any(s["regressed"] for s in proof["statements"])
        assert "verified (shadow)" in finding["message"]
    # the report says what the copy cost, and the user's server got no DDL
    assert any(note.startswith("shadow verification on mariadb") and "rows" in note for note in reports[0]["notes"])
    assert indexes(settings) == before


def test_no_shadow_leaves_every_suggestion_marked_heuristic(shop):
    report = capture(shop, "/products?category=7", "--no-shadow")
    [finding] = index_suggestions(report)
    assert finding["verification"] == "heuristic"
    assert not any(note.startswith("shadow") for note in report["notes"])


def test_applying_every_suggested_ddl_to_a_copy_leaves_no_scan_an_index_can_remove(shop, server_settings):
    reports = [capture(shop, *ENDPOINTS), capture(shop, *SHIP, "/orders/ship")]
    ddl = [finding["ddl"] for report in reports for finding in index_suggestions(report)]
    seed(server_settings, "test", database="shop_shadow_copy")
    copy = replace(server_settings, database="shop_shadow_copy")
    try:
        with connect(copy) as conn, conn.cursor() as cur:
            for statement in ddl:  # every printed DDL is valid: it runs on the copy
                cur.execute(statement.replace("`shop_shadow`.", "`shop_shadow_copy`."))
        settings, base_url, env = shop
        with running_app(copy.to_dsn(with_password=True)) as copy_url:
            after = [capture((copy, copy_url, env), *ENDPOINTS), capture((copy, copy_url, env), *SHIP, "/orders/ship")]
        for report in after:
            assert not index_suggestions(report)
            # a scan with no condition to seek on (the category report reads every product) is no index's to remove
            scans = [f for f in report["findings"]
                     if f["rule"] == "full_table_scan" and f["severity"] != "info" and f["columns"]]
            assert scans == [], scans
    finally:
        with connect(server_settings) as conn, conn.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS shop_shadow_copy")


# ------------------------------------------------------------------------------------------------
# The CMS: EAV meta, a link table, status columns
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cms(server_settings, shadow_settings, tmp_path_factory):
    cms_harness.prepare_database(server_settings, "test", database="cms_shadow")
    settings = replace(server_settings, database="cms_shadow")
    env = shadow_env(shadow_settings, tmp_path_factory.mktemp("state"))
    with cms_harness.running_app(settings.to_dsn(with_password=True)) as base_url:
        yield settings, base_url, env
    with connect(server_settings) as conn, conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS cms_shadow")


def test_cms_eav_lookup_gets_the_meta_key_meta_value_prefix_index(cms):
    report = capture(cms, "/shop?color=red")
    [index] = index_suggestions(report)
    assert index["table"] == "postmeta" and index["columns"] == ["meta_key", "meta_value"]
    assert index["ddl"].endswith("(`meta_key`, `meta_value`(32))")
    assert index["verification"] == "verified (shadow)"
    # the rows-after figure came from a count of the captured values, and says so
    assert index["evidence"]["estimate_source"] == "measured"


def test_cms_link_table_read_by_its_second_key_column_gets_the_reverse_composite(cms):
    report = capture(cms, "/tags/tag-7")
    suggestions = index_suggestions(report)
    assert [(f["table"], f["columns"]) for f in suggestions] == [("post_tags", ["tag_id", "post_id"])]
    assert suggestions[0]["verification"] == "verified (shadow)"
    # nothing on posts: `status = 'publish'` matches 70% of it, which no index on status alone serves
    assert not [f for f in report["findings"] if f["rule"] == "missing_index" and f["table"] == "posts"]


def test_cms_scan_beside_an_unselective_index_says_why_the_optimizer_passed_it_by(cms):
    report = capture(cms, "/posts?page=1")
    assert not index_suggestions(report)
    [scan] = [f for f in report["findings"] if f["rule"] == "full_table_scan" and f["table"] == "posts"]
    assert "passed" in scan["message"] and "of the table" in scan["message"]
    assert scan["evidence"]["matching_share"]["share"] > 0.25
    assert scan["evidence"]["matching_share"]["source"] in ("measured", "statistics")
    assert "add an index on the filtered columns" not in scan["suggestion"]


@pytest.mark.parametrize("endpoint", ["/search?q=garden", "/archive/2023-03-05", "/shop/under?price=20",
                                      "/shop/sku/100041", "/posts/5"])
def test_cms_endpoints_no_index_can_serve_get_no_index(cms, endpoint):
    report = capture(cms, endpoint)
    assert index_suggestions(report) == []


def test_no_suggested_index_leads_with_an_auto_increment_key_or_carries_text_without_a_prefix(cms):
    report = capture(cms, "/posts?page=1", "/tags/tag-7", "/shop?color=red", "/shop/sku/100041")
    # every DDL ran on the shadow copy (a private server): none was refused
    assert not any("could not be created" in note for note in report["notes"])
    assert {f["verification"] for f in index_suggestions(report)} == {"verified (shadow)"}
    for finding in index_suggestions(report):
        assert finding["columns"][0] != "id"
        assert "`meta_value`)" not in finding["ddl"] and "`meta_value`," not in finding["ddl"]


def test_a_shadow_that_cannot_start_leaves_the_suggestions_heuristic_and_says_why(shop):
    settings, base_url, env = shop
    unreachable = dict(env, QUERY_AUDIT_SHADOW_DSN="mysql://root@127.0.0.1:9/x")
    report = capture((settings, base_url, unreachable), "/products?category=7")
    [finding] = index_suggestions(report)
    assert finding["verification"] == "heuristic"
    assert "shadow verification did not run" in finding["evidence"]["heuristic_reason"]
    assert any(note.startswith("shadow verification skipped: cannot connect") for note in report["notes"])


def test_a_shadow_pointed_at_the_users_own_server_refuses_and_drops_nothing(shop, server_settings):
    settings, base_url, env = shop
    own = dict(env, QUERY_AUDIT_SHADOW_DSN=server_settings.to_dsn(with_password=True))
    before = indexes(settings)
    report = capture((settings, base_url, own), "/products?category=7")
    [finding] = index_suggestions(report)
    assert finding["verification"] == "heuristic"
    assert any("already has a database named shop_shadow" in note for note in report["notes"])
    assert indexes(settings) == before  # the user's database is still there, untouched
