"""non_sargable_predicate: (statement, schema, plan) cases, and the reason and rewrite of each predicate.

That every printed rewrite runs on the server and returns the original's rows is tested on the sample
apps' data (tests/test_cms_app.py, tests/test_rewrites_proven.py).
"""

from __future__ import annotations

import pytest
from advise_cases.build import query, row, schemas, table

from query_audit.advise.index_advisor import suggest_indexes
from query_audit.advise.predicate_rewrite import advise_predicates
from query_audit.advise.rules import missing_index, non_sargable_predicate
from query_audit.model import Severity, Thresholds

T = Thresholds()
POSTS = table("posts", 40_000, {"id": "bigint", "title": "varchar", "status": "varchar", "created_at": "datetime",
                                "author_id": "bigint"},
              {"PRIMARY": ("id",), "idx_created": ("created_at",)})
META = table("postmeta", 200_000, {"id": "bigint", "post_id": "bigint", "meta_key": "varchar",
                                   "meta_value": "longtext"},
             {"PRIMARY": ("id",), "idx_meta_key": ("meta_key",)})
USERS = table("users", 20_000, {"id": "bigint", "login": "varchar", "email": "varchar"},
              {"PRIMARY": ("id",), "uq_login": ("login",)}, unique=("uq_login",))
SMALL = table("settings", 12, {"id": "int", "name": "varchar"})
SCHEMAS = schemas(POSTS, META, USERS, SMALL)


def check(sql, plan_row):
    return non_sargable_predicate.RULE.check([query(sql, plan_row)], SCHEMAS, T)


# (statement, table, plan row, reason, the whole statement rewritten or None)
CASES = [
    ("SELECT id, title FROM posts WHERE title LIKE '%garden%' AND status = 'publish'", "posts",
     row("posts", "ALL", 40_000), "leading wildcard",
     "SELECT id, title FROM posts WHERE MATCH(title) AGAINST('garden*' IN BOOLEAN MODE) AND status = 'publish'"),
    ("SELECT id FROM posts WHERE DATE(created_at) = '2023-03-05' ORDER BY created_at", "posts",
     row("posts", "ALL", 40_000), "function",
     "SELECT id FROM posts WHERE created_at >= '2023-03-05' AND created_at < '2023-03-05' + INTERVAL '1' DAY "
     "ORDER BY created_at"),
    ("SELECT id FROM posts WHERE DATE(created_at) = ?", "posts", row("posts", "ALL", 40_000), "function",
     "SELECT id FROM posts WHERE created_at >= ? AND created_at < ? + INTERVAL '1' DAY"),
    ("SELECT id FROM posts WHERE author_id = 3 AND YEAR(created_at) = 2023", "posts",
     row("posts", "ALL", 40_000), "function",
     "SELECT id FROM posts WHERE author_id = 3 AND created_at >= '2023-01-01' AND created_at < '2024-01-01'"),
    ("SELECT id FROM posts WHERE LOWER(title) = 'x'", "posts", row("posts", "ALL", 40_000), "function", None),
    ("SELECT post_id FROM postmeta WHERE meta_key = '_price' AND CAST(meta_value AS DECIMAL(10, 2)) <= 20",
     "postmeta", row("postmeta", "ref", 25_000, key="idx_meta_key"), "cast", None),
    ("SELECT post_id FROM postmeta WHERE meta_key = '_price' AND meta_value + 0 > 3", "postmeta",
     row("postmeta", "ref", 25_000, key="idx_meta_key"), "cast", None),
    ("SELECT post_id FROM postmeta WHERE meta_key = '_sku' AND meta_value = 100041", "postmeta",
     row("postmeta", "ref", 25_000, key="idx_meta_key"), "implicit conversion",
     "SELECT post_id FROM postmeta WHERE meta_key = '_sku' AND meta_value = '100041'"),
    ("SELECT id FROM posts WHERE status <> 'draft'", "posts", row("posts", "ALL", 40_000), "negation", None),
    ("SELECT id FROM posts WHERE status NOT IN ('draft', 'private')", "posts", row("posts", "ALL", 40_000),
     "negation", None),
    ("SELECT id, login FROM users WHERE login = 'a' OR email = 'b@example.com'", "users",
     row("users", "ALL", 20_000), "or",
     "SELECT id, login FROM users WHERE login = 'a' UNION ALL SELECT id, login FROM users WHERE "
     "email = 'b@example.com' AND NOT (login = 'a') IS TRUE"),
    ("SELECT id FROM users WHERE id > 3 AND (login = 'a' OR email = 'b')", "users", row("users", "ALL", 20_000),
     "or", "SELECT id FROM users WHERE id > 3 AND (login = 'a') UNION ALL SELECT id FROM users WHERE id > 3 AND "
           "(email = 'b' AND NOT (login = 'a') IS TRUE)"),
    # an OR under ORDER BY/LIMIT: a UNION ALL would sort and cut each branch, not the whole: no SQL printed
    ("SELECT id FROM users WHERE login = 'a' OR email = 'b' ORDER BY id LIMIT 5", "users",
     row("users", "ALL", 20_000), "or", None),
]


@pytest.mark.parametrize("sql, name, plan_row, reason, rewritten", CASES)
def test_each_predicate_gets_its_reason_and_the_exact_rewrite_where_there_is_one(sql, name, plan_row, reason,
                                                                                  rewritten):
    [finding] = check(sql, plan_row)
    assert finding.rule == "non_sargable_predicate" and finding.table == name and finding.ddl is None
    assert [p["reason"] for p in finding.evidence["predicates"]] == [reason]
    assert finding.evidence["rewritten_sql"] == rewritten
    if rewritten:
        assert rewritten in finding.suggestion
    # never an ordinary index on the column no index can serve
    unusable = {p["column"].lower() for p in finding.evidence["predicates"]}
    for suggestion in suggest_indexes([query(sql, plan_row)], SCHEMAS, T):
        assert not unusable & {c.lower() for c in suggestion.columns}


def test_a_leading_wildcard_gets_the_fulltext_index_and_says_how_match_differs():
    [finding] = check("SELECT id FROM posts WHERE title LIKE '%garden%'", row("posts", "ALL", 40_000))
    [predicate] = finding.evidence["predicates"]
    assert predicate["ddl"] == "ALTER TABLE `shop`.`posts` ADD FULLTEXT INDEX `ft_posts_title` (`title`)"
    assert predicate["ddl"] in finding.suggestion
    assert "words that start with 'garden'" in finding.suggestion
    assert "B-tree index no prefix to seek" in finding.message


def test_a_pattern_fulltext_cannot_express_gets_the_reason_but_no_match_rewrite():
    [finding] = check("SELECT id FROM posts WHERE title LIKE '%ab%'", row("posts", "ALL", 40_000))
    assert finding.evidence["predicates"][0]["rewritten"] is None  # 2 letters: below the FULLTEXT token size
    assert finding.evidence["rewritten_sql"] is None


def test_an_eav_cast_names_the_typed_column_and_the_functional_index_but_prints_no_ddl():
    [finding] = check("SELECT post_id FROM postmeta WHERE meta_key = '_price' AND CAST(meta_value AS DECIMAL(10, 2)) "
                      "<= 20", row("postmeta", "ref", 25_000, key="idx_meta_key"))
    assert "reads ~25000 rows per execution through idx_meta_key" in finding.message
    assert "INDEX ((CAST(meta_value AS DECIMAL(10, 2))))" in finding.suggestion
    assert finding.severity is Severity.MEDIUM


def test_a_limit_scan_reports_the_table_as_its_worst_case():
    [finding] = check("SELECT id FROM posts WHERE title LIKE '%garden%' ORDER BY created_at DESC LIMIT 20",
                      row("posts", "index", 20, key="idx_created"))
    assert "EXPLAIN estimates ~20 rows, until the LIMIT is met; up to ~40000" in finding.message
    assert finding.evidence["rows_examined"] == 40_000


@pytest.mark.parametrize("sql, plan_row", [
    ("SELECT id FROM settings WHERE LOWER(name) = 'x'", row("settings", "ALL", 12)),  # a small table
    ("SELECT id FROM posts WHERE id = 7 AND DATE(created_at) = '2023-03-05'",  # the key leaves one row
     row("posts", "const", 1, key="PRIMARY")),
    ("SELECT id FROM posts WHERE title LIKE 'garden%'", row("posts", "ALL", 40_000)),  # a prefix: sargable
    ("SELECT id FROM posts WHERE created_at >= '2023-03-05'", row("posts", "ALL", 40_000)),
])
def test_silent_where_the_condition_costs_little_or_an_index_can_serve_it(sql, plan_row):
    assert check(sql, plan_row) == []


def test_with_other_conditions_missing_index_gives_the_index_and_this_rule_the_rewrite():
    wanted = query("SELECT id FROM posts WHERE author_id = 7 AND DATE(created_at) = '2023-03-05'",
                   row("posts", "ALL", 40_000))
    [index] = missing_index.RULE.check([wanted], SCHEMAS, T)
    assert index.columns == ("author_id",) and index.ddl
    [rewrite] = non_sargable_predicate.RULE.check([wanted], SCHEMAS, T)
    assert rewrite.message.endswith("missing_index suggests an index for the other conditions")


def test_predicates_of_another_table_in_a_join_are_left_to_that_table():
    advice = advise_predicates("SELECT p.id FROM posts p JOIN users u ON u.id = p.author_id "
                               "WHERE LOWER(u.login) = 'a' AND p.status = 'x'", "posts", POSTS, {"login": "function"})
    assert advice.predicates == ()
