"""The sample CMS in fixtures/cms_app: its seed, the statements each endpoint really sends, and what
query-audit says about each endpoint when it captures it through the real command line.

Everything runs against the private test server (conftest `server_settings`); the app runs as a child
process with its own pool. The expert's answer for each endpoint is in fixtures/cms_app/README.md.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import replace

import pytest
from proof import (
    assert_grouped_rewrite_answers_like_the_loop,
    assert_in_list_returns_the_loops_rows,
    assert_join_returns_the_loops_rows,
    assert_same_rows,
    assert_write_has_the_loops_effect,
    capture,
    findings,
    loop_samples,
    loop_statements,
    run,
)
from test_sample_app import call, explain, general_log, statements

from fixtures.cms_app.harness import prepare_database, running_app
from fixtures.cms_app.seed import SCALES, seed
from query_audit.connection import connect

TEST_SCALE = SCALES["test"]
DATABASE = "cms_test"
FRONT_PAGE_IDS = [3997, 3996, 3994, 3993, 3992, 3991, 3987, 3986, 3984, 3983]


# ------------------------------------------------------------------------------------------------
# Fixtures and helpers
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cms_settings(server_settings):
    prepare_database(server_settings, "test", database=DATABASE)
    yield replace(server_settings, database=DATABASE)
    with connect(server_settings) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DATABASE}")


@pytest.fixture(scope="module")
def app_url(cms_settings):
    with running_app(cms_settings.to_dsn(with_password=True)) as base_url:
        yield base_url


@pytest.fixture
def cms(cms_settings):
    conn = connect(cms_settings)
    yield conn
    conn.close()


def sent_sql(rows) -> list[str]:
    """The statements of the log rows, checking that all are plain queries on one connection."""
    assert len({thread for thread, _, _ in rows}) == 1, "one request, one connection (the session's)"
    sent = statements(rows)
    assert {command for command, _ in sent} == {"Query"}
    return [sql for _, sql in sent]


# ------------------------------------------------------------------------------------------------
# Seed
# ------------------------------------------------------------------------------------------------


def test_seed_at_test_scale_fills_every_table_with_the_documented_row_counts(server):
    try:
        inserted = seed(server, "test", database="qa_cms_counts")
        documented = {"users": 20, "posts": 4000, "postmeta": 32000, "tags": 40, "post_tags": 12000,
                      "comments": 8000}
        assert inserted == documented == TEST_SCALE.expected_rows()
        with server.cursor() as cur:
            for table, rows in documented.items():
                cur.execute(f"SELECT COUNT(*) FROM qa_cms_counts.{table}")
                assert cur.fetchone()[0] == rows, table
            cur.execute("SELECT DATABASE()")
            assert cur.fetchone()[0] == "test"
    finally:
        with server.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS qa_cms_counts")


def test_seed_rows_follow_the_documented_rules(cms):
    with cms.cursor() as cur:
        cur.execute("SELECT meta_key, meta_value FROM postmeta WHERE post_id = 42 ORDER BY id")
        assert cur.fetchall() == (
            ("_edit_lock", "1700000041:1"), ("_thumbnail_id", "100041"), ("_sku", "100041"), ("_price", "246.80"),
            ("_stock_status", "instock"), ("color", "green"), ("views", "1271"),
            ("subtitle", "A short subtitle for post 42"))
        cur.execute("SELECT type, status, title, created_at FROM posts WHERE id = 42")
        kind, status, title, created_at = cur.fetchone()
        assert (kind, status, title, str(created_at)) == ("post", "publish", "kitchen notes winter 42",
                                                          "2023-01-02 17:04:47")
        cur.execute("SELECT tag_id FROM post_tags WHERE post_id = 42 ORDER BY tag_id")
        assert [tag for (tag,) in cur.fetchall()] == sorted(1 + (7 * 41 + 13 * j) % 40 for j in range(3))
        cur.execute("SELECT status, COUNT(*) FROM posts GROUP BY status ORDER BY status")
        assert cur.fetchall() == (("draft", 800), ("private", 400), ("publish", 2800))


def test_seed_rejects_an_unknown_scale_before_touching_the_server(server):
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        seed(server, "huge", database="qa_cms_never")
    with server.cursor() as cur:
        cur.execute("SHOW DATABASES LIKE 'qa_cms_never'")
        assert cur.fetchone() is None


# ------------------------------------------------------------------------------------------------
# Plans at test scale: each pattern is real for the optimizer
# ------------------------------------------------------------------------------------------------


def test_at_test_scale_the_patterns_get_the_plans_the_readme_names(cms):
    (search,) = explain(cms, "SELECT id, title, created_at FROM posts WHERE title LIKE '%garden%' "
                             "AND status = 'publish' ORDER BY created_at DESC LIMIT 20")
    assert search["possible_keys"] is None  # nothing can seek the title
    (archive,) = explain(cms, "SELECT id, title, created_at FROM posts WHERE DATE(created_at) = '2023-03-05' "
                              "ORDER BY created_at")
    assert archive["type"] == "ALL" and archive["possible_keys"] is None
    (ranged,) = explain(cms, "SELECT id, title, created_at FROM posts WHERE created_at >= '2023-03-05' "
                             "AND created_at < '2023-03-05' + INTERVAL 1 DAY ORDER BY created_at")
    assert (ranged["type"], ranged["key"]) == ("range", "idx_posts_created_at")
    (count,) = explain(cms, "SELECT COUNT(*) AS posts FROM post_tags WHERE tag_id = 7")
    assert (count["type"], count["key"], count["possible_keys"]) == ("index", "PRIMARY", None)
    (eav,) = explain(cms, "SELECT post_id FROM postmeta WHERE meta_key = 'color' AND meta_value = 'red'")
    assert (eav["type"], eav["key"]) == ("ref", "idx_postmeta_meta_key")
    assert int(eav["rows"]) >= TEST_SCALE.posts * 0.9  # one row in eight: the key alone is not selective
    (front,) = explain(cms, "SELECT SQL_CALC_FOUND_ROWS id, author_id, type, status, title, slug, created_at "
                            "FROM posts WHERE type = 'post' AND status = 'publish' ORDER BY created_at DESC LIMIT 0, 10")
    assert front["type"] == "ALL" and "Using filesort" in front["Extra"]
    (comments,) = explain(cms, "SELECT COUNT(*) AS comments FROM comments WHERE post_id = 5")
    assert (comments["type"], comments["key"]) == ("ref", "idx_comments_post_id")


# ------------------------------------------------------------------------------------------------
# Endpoints: answers and the exact statements of README.md
# ------------------------------------------------------------------------------------------------


def test_healthz_answers_ok_without_sending_any_statement(app_url, server):
    with general_log(server) as rows:
        assert call(app_url, "GET", "/healthz") == (200, {"status": "ok", "pool_size": 4})
    assert rows == []


def test_front_page_counts_with_found_rows_then_lazy_loads_three_things_per_post(app_url, server):
    with general_log(server) as rows:
        status, body = call(app_url, "GET", "/posts?page=1")
    assert status == 200 and body["total"] == 2800 - 400  # publish, less the publish products (n % 10 = 4)
    assert [post["id"] for post in body["posts"]] == FRONT_PAGE_IDS
    assert body["posts"][0]["author"] == {"id": 17, "login": "author17", "display_name": "Author 17"}
    assert body["posts"][0]["comments"] == 3996 % 5 and len(body["posts"][0]["meta"]) == 8
    sent = sent_sql(rows)
    assert sent[:2] == [
        "SELECT SQL_CALC_FOUND_ROWS id, author_id, type, status, title, slug, created_at FROM posts "
        "WHERE type = 'post' AND status = 'publish' ORDER BY created_at DESC LIMIT 0, 10",
        "SELECT FOUND_ROWS() AS total"]
    assert sent[2:5] == ["SELECT id, login, display_name FROM users WHERE id = 17",
                         "SELECT COUNT(*) AS comments FROM comments WHERE post_id = 3997",
                         "SELECT meta_key, meta_value FROM postmeta WHERE post_id = 3997"]
    assert Counter(sql.split(" WHERE ")[0] for sql in sent[2:-1]) == {
        "SELECT id, login, display_name FROM users": 10, "SELECT COUNT(*) AS comments FROM comments": 10,
        "SELECT meta_key, meta_value FROM postmeta": 10}
    assert sent[-1] == "ROLLBACK" and len(sent) == 33


def test_single_post_reads_by_primary_key_and_its_meta(app_url, server):
    with general_log(server) as rows:
        status, body = call(app_url, "GET", "/posts/5")
    assert status == 200 and body["title"] == "winter notes garden 5" and body["meta"]["_sku"] == "100004"
    assert sent_sql(rows) == [
        "SELECT id, author_id, type, status, title, slug, created_at, content FROM posts WHERE id = 5",
        "SELECT meta_key, meta_value FROM postmeta WHERE post_id = 5", "ROLLBACK"]
    assert call(app_url, "GET", "/posts/999999")[0] == 404


def test_search_sends_a_leading_wildcard_like(app_url, server):
    with general_log(server) as rows:
        status, body = call(app_url, "GET", "/search?q=garden")
    assert status == 200 and len(body["posts"]) == 20
    assert all("garden" in post["title"] for post in body["posts"])
    assert sent_sql(rows) == [
        "SELECT id, title, created_at FROM posts WHERE title LIKE '%garden%' AND status = 'publish' "
        "ORDER BY created_at DESC LIMIT 20", "ROLLBACK"]
    assert call(app_url, "GET", "/search?q=a%27b")[0] == 400


def test_archive_filters_with_a_date_function(app_url, server):
    with general_log(server) as rows:
        status, body = call(app_url, "GET", "/archive/2023-03-05")
    assert status == 200 and len(body["posts"]) == 24
    assert all(post["created_at"].startswith("2023-03-05") for post in body["posts"])
    assert sent_sql(rows) == [
        "SELECT id, title, created_at FROM posts WHERE DATE(created_at) = '2023-03-05' ORDER BY created_at",
        "ROLLBACK"]
    assert call(app_url, "GET", "/archive/2023-13-05")[0] == 400


def test_tag_page_reads_the_link_table_by_its_second_key_column(app_url, server):
    with general_log(server) as rows:
        status, body = call(app_url, "GET", "/tags/tag-7")
    assert status == 200 and body["total"] == 300
    # Tag 7 falls on posts with n % 40 in (18, 39, 20): draft, private, publish; so 100 are published.
    assert len(body["posts"]) == 100
    assert sent_sql(rows) == [
        "SELECT id, name, slug FROM tags WHERE slug = 'tag-7'",
        "SELECT COUNT(*) AS posts FROM post_tags WHERE tag_id = 7",
        "SELECT p.id, p.title, p.created_at FROM post_tags pt JOIN posts p ON p.id = pt.post_id "
        "WHERE pt.tag_id = 7 AND p.status = 'publish'", "ROLLBACK"]
    assert call(app_url, "GET", "/tags/nope")[0] == 404


def test_shop_filters_products_through_the_meta_table(app_url, server):
    with general_log(server) as rows:
        assert call(app_url, "GET", "/shop?color=red")[1]["post_ids"][:3] == [1, 9, 17]
        status, under = call(app_url, "GET", "/shop/under?price=20")
        assert call(app_url, "GET", "/shop/sku/100041") == (200, {"sku": 100041, "post_ids": [42]})
    assert status == 200 and under["products"] and all(float(p["price"]) <= 20 for p in under["products"])
    assert [sql for _, sql in statements(rows)] == [
        "SELECT post_id FROM postmeta WHERE meta_key = 'color' AND meta_value = 'red'", "ROLLBACK",
        "SELECT post_id, meta_value AS price FROM postmeta WHERE meta_key = '_price' "
        "AND CAST(meta_value AS DECIMAL(10, 2)) <= '20'", "ROLLBACK",
        "SELECT post_id FROM postmeta WHERE meta_key = '_sku' AND meta_value = 100041", "ROLLBACK"]


def test_tagging_inserts_one_row_at_a_time_inside_begin_and_commit(app_url, server, cms):
    with general_log(server) as rows:
        assert call(app_url, "POST", "/posts/7/tags", {"tags": [4, 5, 6]}) == (201, {"post_id": 7, "tagged": 3})
    assert sent_sql(rows) == [
        "SELECT id FROM posts WHERE id = 7", "BEGIN",
        "INSERT INTO post_tags (post_id, tag_id) VALUES (7, 4)",
        "INSERT INTO post_tags (post_id, tag_id) VALUES (7, 5)",
        "INSERT INTO post_tags (post_id, tag_id) VALUES (7, 6)", "COMMIT", "ROLLBACK"]
    # The second time the first INSERT fails: 400, and the transaction leaves nothing behind.
    status, body = call(app_url, "POST", "/posts/7/tags", {"tags": [7, 4]})
    assert status == 400 and "already" in body["error"]
    with cms.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM post_tags WHERE post_id = 7 AND tag_id IN (4, 5, 6, 7)")
        assert cur.fetchone()[0] == 3


def test_adding_meta_inserts_one_row_at_a_time_in_autocommit(app_url, server, cms):
    with general_log(server) as rows:
        status, body = call(app_url, "POST", "/posts/9/meta", {"meta": {"mood": "calm", "season": "spring"}})
    assert (status, body) == (201, {"post_id": 9, "added": 2})
    assert sent_sql(rows) == [
        "SELECT id FROM posts WHERE id = 9",
        "INSERT INTO postmeta (post_id, meta_key, meta_value) VALUES (9, 'mood', 'calm')",
        "INSERT INTO postmeta (post_id, meta_key, meta_value) VALUES (9, 'season', 'spring')", "ROLLBACK"]
    with cms.cursor() as cur:
        cur.execute("SELECT meta_value FROM postmeta WHERE post_id = 9 AND meta_key = 'season'")
        assert cur.fetchone() == ("spring",)
    assert call(app_url, "POST", "/posts/999999/meta", {"meta": {"a": "b"}})[0] == 400
    assert call(app_url, "POST", "/posts/9/meta", {"meta": {"a": 1}})[0] == 400


# ------------------------------------------------------------------------------------------------
# What query-audit says about each endpoint, through the real command line, and its fixes proven
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def audit(cms_settings, app_url, tmp_path_factory):
    """(capture(method, paths, body) -> (report, saved statements), an open connection to the CMS)."""

    env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(tmp_path_factory.mktemp("state")), NO_COLOR="1")
    env.pop("QUERY_AUDIT_DSN", None)
    saves = tmp_path_factory.mktemp("saved")

    def run(paths, method="GET", body=None):
        options = ["--method", method] + (["--data", json.dumps(body), "-H", "Content-Type: application/json"]
                                          if body is not None else [])
        return capture(env, cms_settings.to_dsn(), app_url, paths, saves, *options)

    conn = connect(cms_settings)
    yield run, conn
    conn.close()


def rules_of(report) -> set[tuple[str, str]]:
    return {(f["rule"], f["table"]) for f in report["findings"]}


def test_front_page_loops_become_one_query_each_and_the_grouped_count_answers_like_the_loop(audit):

    run, conn = audit
    report, statements = run(["/posts?page=1"])
    loops = {f["table"]: f for f in findings(report, "n_plus_one")}
    assert set(loops) == {"users", "comments", "postmeta"}
    comments = loops["comments"]
    assert comments["evidence"]["rewritten_sql"] == (
        "SELECT COUNT(*) AS comments, post_id FROM comments WHERE post_id IN (3997, 3996, 3994, 3993, 3992) "
        "GROUP BY post_id")
    assert comments["suggestion"].startswith("fetch all 10 values in one query; with the 5 kept as samples: ")
    assert "a post_id with no rows is missing from the answer" in comments["suggestion"]
    samples = loop_samples(statements, comments)
    # post 3996 has no comments (3995 % 5 == 0): the loop's 0 is the grouped answer's missing key
    assert assert_grouped_rewrite_answers_like_the_loop(conn, samples, comments["evidence"]["rewritten_sql"]) \
        == ["3996"]
    for table in ("users", "postmeta"):
        assert_in_list_returns_the_loops_rows(conn, loop_samples(statements, loops[table]),
                                              loops[table]["evidence"]["rewritten_sql"])
    # the meta's keys came from the front page's query, which ran once: one JOIN over its 10 posts (a derived
    # table keeps its LIMIT) returns every row of all 10 runs of the loop
    assert loops["postmeta"]["evidence"]["join_sql"] == (
        "SELECT postmeta.meta_key, postmeta.meta_value FROM (SELECT posts.id FROM posts WHERE posts.type = 'post' "
        "AND posts.status = 'publish' ORDER BY posts.created_at DESC LIMIT 10 OFFSET 0) AS posts "
        "JOIN postmeta ON postmeta.post_id = posts.id")
    assert_join_returns_the_loops_rows(conn, loop_statements(statements, loops["postmeta"]),
                                       loops["postmeta"]["evidence"]["join_sql"])
    assert loops["users"]["evidence"]["join_sql"] is None  # author_id names no table, and no foreign key says
    assert comments["evidence"]["join_sql"] is None  # a count per post: the grouped IN list is the fix
    # transactions apart: the pool's ROLLBACK is no query shape, and it is counted as a round trip that did nothing
    assert not any(q["fingerprint"] == "rollback" for q in report["queries"])
    assert report["summary"]["transactions"] == {
        "transactions": 0, "control_statements": 1, "statements_inside": 0, "idle_ends": 1, "per_request": 0.0,
        "control_statements_per_request": 1.0}
    assert report["summary"]["round_trips_per_request"] == 33.0 and report["summary"]["statements"] == 32
    # none of these is a predicate no index can serve: that rule stays silent here
    assert not findings(report, "non_sargable_predicate")


def test_a_single_post_raises_nothing(audit):
    report, _ = audit[0](["/posts/5"])
    assert report["findings"] == []
    assert [q["fingerprint"] for q in report["queries"]] == [
        "select id, author_id, type, status, title, slug, created_at, content from posts where id = ?",
        "select meta_key, meta_value from postmeta where post_id = ?"]


def test_search_gets_fulltext_and_match_against_and_the_rewrite_finds_the_same_posts(audit, scratch_db):

    report, statements = audit[0](["/search?q=garden"])
    [finding] = findings(report, "non_sargable_predicate")
    [predicate] = finding["evidence"]["predicates"]
    assert (predicate["column"], predicate["reason"]) == ("title", "leading wildcard")
    assert predicate["ddl"] == f"ALTER TABLE `{DATABASE}`.`posts` ADD FULLTEXT INDEX `ft_posts_title` (`title`)"
    rewritten = finding["evidence"]["rewritten_sql"]
    assert rewritten == ("SELECT id, title, created_at FROM posts WHERE MATCH(title) AGAINST('garden*' IN BOOLEAN "
                         "MODE) AND status = 'publish' ORDER BY created_at DESC LIMIT 20")
    # never an ordinary index on title
    assert not any("title" in f["columns"] for f in findings(report, "missing_index"))
    # proven on a copy with the FULLTEXT index: the rewrite runs and returns the 20 posts the LIKE did
    with connect(scratch_db) as copy:
        run(copy, f"CREATE TABLE posts LIKE `{DATABASE}`.posts")
        run(copy, f"INSERT INTO posts SELECT * FROM `{DATABASE}`.posts")
        run(copy, predicate["ddl"].replace(f"`{DATABASE}`.", ""))
        [original] = [s.sql for s in statements if "LIKE" in s.sql]
        assert_same_rows(copy, original, rewritten)
        assert any(row[3] == "fulltext" for row in run(copy, "EXPLAIN " + rewritten))


def test_archive_gets_the_range_on_the_bare_column_which_uses_the_index_and_returns_the_same_posts(audit):

    run_capture, conn = audit
    report, statements = run_capture(["/archive/2023-03-05"])
    [finding] = findings(report, "non_sargable_predicate")
    assert finding["evidence"]["predicates"][0]["reason"] == "function"
    rewritten = finding["evidence"]["rewritten_sql"]
    assert rewritten == ("SELECT id, title, created_at FROM posts WHERE created_at >= '2023-03-05' AND "
                         "created_at < '2023-03-05' + INTERVAL '1' DAY ORDER BY created_at")
    assert_same_rows(conn, statements[0].sql, rewritten)
    (plan,) = run(conn, "EXPLAIN " + rewritten)
    assert (plan[3], plan[5]) == ("range", "idx_posts_created_at")
    assert not findings(report, "missing_index")  # created_at is indexed: the fix is the rewrite


def test_the_eav_cast_and_the_unquoted_sku_get_their_reasons_and_the_quoted_sku_finds_the_same_post(audit):

    run_capture, conn = audit
    report, _ = run_capture(["/shop/under?price=20"])
    [cast] = findings(report, "non_sargable_predicate")
    assert cast["evidence"]["predicates"][0]["reason"] == "cast" and cast["evidence"]["rewritten_sql"] is None
    assert "reads ~" in cast["message"] and "through idx_postmeta_meta_key" in cast["message"]

    report, statements = run_capture(["/shop/sku/100041"])
    [sku] = findings(report, "non_sargable_predicate")
    assert sku["evidence"]["predicates"][0]["reason"] == "implicit conversion"
    assert sku["evidence"]["rewritten_sql"] == ("SELECT post_id FROM postmeta WHERE meta_key = '_sku' "
                                                "AND meta_value = '100041'")
    assert_same_rows(conn, statements[0].sql, sku["evidence"]["rewritten_sql"])
    assert not any("meta_value" in f["columns"] for f in findings(report, "missing_index"))


def test_the_eav_attribute_filter_and_the_tag_page_are_left_to_index_advice(audit):
    run_capture, _ = audit
    for path in ("/shop?color=red", "/tags/tag-7"):
        report, _ = run_capture([path])
        assert not any(f["rule"] in ("non_sargable_predicate", "n_plus_one", "bulk_insert") for f in report["findings"])


def test_tagging_in_one_transaction_is_said_so_and_its_multi_row_insert_has_the_loops_effect(audit):

    run_capture, conn = audit
    report, statements = run_capture(["/posts/11/tags"], "POST", {"tags": [7, 8, 9]})
    [finding] = findings(report, "bulk_insert", "post_tags")
    assert "all inside one transaction: one commit, but still one round trip each" in finding["message"]
    assert "wrap them in one transaction" not in finding["suggestion"]
    assert report["summary"]["transactions"]["transactions"] == 1
    assert report["summary"]["transactions"]["control_statements"] == 3  # BEGIN, COMMIT, the pool's ROLLBACK
    loop = [s.sql for s in statements if s.sql.startswith("INSERT")]
    assert_write_has_the_loops_effect(conn, "post_tags", loop, finding["evidence"]["multi_row_insert"])


def test_meta_in_autocommit_is_said_so_and_asked_into_one_transaction(audit):

    run_capture, conn = audit
    report, statements = run_capture(["/posts/11/meta"], "POST", {"meta": {"a": "1", "b": "2", "c": "3"}})
    [finding] = findings(report, "bulk_insert", "postmeta")
    assert finding["message"].endswith("each in autocommit: its own transaction, commit and log flush")
    assert "wrap them in one transaction" in finding["suggestion"]
    loop = [s.sql for s in statements if s.sql.startswith("INSERT")]
    assert_write_has_the_loops_effect(conn, "postmeta", loop, finding["evidence"]["multi_row_insert"])
