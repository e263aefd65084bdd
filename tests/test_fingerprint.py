"""Fingerprints follow pt-query-digest's rules, except that digits inside identifiers stay."""

import hashlib
import shutil
import subprocess

import pytest

from query_audit.analyze.fingerprint import (
    fingerprint,
    fingerprint_and_values,
    query_id,
    statement_kind,
)
from query_audit.model import Kind

# (statement, fingerprint) pairs on which pt-query-digest and query-audit agree.
PT_CASES = [
    ("SELECT * FROM users WHERE id = 42", "select * from users where id = ?"),
    ("select * from users where id=-5", "select * from users where id=?"),
    ("SELECT a FROM t WHERE b IN (1,2, 3) AND c = 'x'", "select a from t where b in(?+) and c = ?"),
    ("SELECT a FROM t WHERE b IN ('a','b')", "select a from t where b in(?+)"),
    ("INSERT INTO t (a,b) VALUES (1,'x'),(2,'y')", "insert into t (a,b) values(?+)"),
    ("INSERT INTO t (a,b) VALUES (1,'x')", "insert into t (a,b) values(?+)"),
    ("INSERT IGNORE INTO t VALUES (1, NOW()), (2, NOW())", "insert ignore into t values (?, now())"),
    ("REPLACE INTO t VALUES (1,2)", "replace into t values(?+)"),
    ("DELETE FROM t WHERE created < '2024-01-01' LIMIT 100", "delete from t where created < ? limit ?"),
    ("select * from t limit 10, 20", "select * from t limit ?"),
    ("select * from t limit 10 offset 20", "select * from t limit ?"),
    ("select * from t where a is null and b is not NULL", "select * from t where a is ? and b is not ?"),
    ("select * from t order by a asc, b desc", "select * from t order by a, b desc"),
    ("SELECT /* comment */ a FROM t -- trailing\n WHERE x = 1", "select a from t where x = ?"),
    ("SELECT a FROM t # hash comment\nWHERE x = 1", "select a from t where x = ?"),
    ("SELECT /*!40001 SQL_NO_CACHE */ a FROM t", "select /*!? sql_no_cache */ a from t"),
    ("select 'a\\'b' from t", "select ? from t"),
    ('select "dq" from t', "select ? from t"),
    ("use mydb", "use ?"),
    ("USE `my_db`", "use ?"),
    ("CALL proc(1,2)", "call proc"),
    ("select * from t where x = x'1F'", "select * from t where x = ?"),
    ("select 1e5, .5, 1.", "select ?, ?, ?"),
    ("SELECT * FROM t WHERE a = ? AND b IN (?, ?)", "select * from t where a = ? and b in(?+)"),
    ("select a from t union select a from t", "select a from t /*repeat union*/"),
    ("SELECT   a,\n\tb FROM    t", "select a, b from t"),
    ("select count(*) from orders o join users u on u.id = o.user_id where o.total > 100.50",
     "select count(*) from orders o join users u on u.id = o.user_id where o.total > ?"),
    ("SELECT /*!40001 SQL_NO_CACHE */ * FROM `orders`", "mysqldump"),
]

# Where pt-query-digest is wrong, and what we print instead.
IMPROVED_CASES = [
    # Digits inside identifiers are part of the name, not a value.
    ("SELECT * FROM orders_2024 WHERE id = 1", "select * from orders_2024 where id = ?"),
    ("SELECT t1.c2 FROM db2.t1 WHERE t1.c2 = 7", "select t1.c2 from db2.t1 where t1.c2 = ?"),
    ("SELECT * FROM `t 2` WHERE `col 3` = 3", "select * from `t 2` where `col 3` = ?"),
    ("SELECT * FROM `2024_orders` WHERE id = 1", "select * from `2024_orders` where id = ?"),
    # A whole hex number is one literal (pt leaves `?f`), a doubled quote stays inside its string.
    ("select * from t where x = 0x1F", "select * from t where x = ?"),
    ("UPDATE t SET b = 'it''s' WHERE id = 3", "update t set b = ? where id = ?"),
    # Booleans are values; a charset introducer belongs to its string.
    ("select * from t where c = true and d = FALSE", "select * from t where c = ? and d = ?"),
    ("select * from t where f = _utf8mb4'a'", "select * from t where f = ?"),
    # A minus between operands is an operator, not a sign.
    ("select a - 1 from t", "select a - ? from t"),
    # `--` starts a comment only when followed by a space (MySQL's rule).
    ("select 5--1 from t", "select ?-? from t"),
    # All LIMITs of the statement, not only the first; CALL with nested parentheses.
    ("select * from (select * from t limit 5, 10) x limit 1, 2", "select * from (select * from t limit ?) x limit ?"),
    ("CALL proc(f(1))", "call proc"),
    # The clause after a multi-row VALUES list stays, so 1 row and 3 rows are one shape.
    ("INSERT INTO t (a) VALUES (1),(2),(3) ON DUPLICATE KEY UPDATE a = VALUES(a)",
     "insert into t (a) values(?+) on duplicate key update a = values(a)"),
    ("INSERT INTO t (a) VALUES (1) ON DUPLICATE KEY UPDATE a = VALUES(a)",
     "insert into t (a) values(?+) on duplicate key update a = values(a)"),
    # Comment markers inside strings are part of the string.
    ("select * from t where a = '-- no' and b = '#x' and c = '/* y */'", "select * from t where a = ? and b = ? and c = ?"),
]


# Typed and prefixed literals: (statement, our fingerprint, pt-fingerprint 3.2.1's). A typed literal is
# one value, so a MariaDB Execute row of a prepared INSERT (which writes TIMESTAMP'...' for a date
# parameter) collapses to `values(?+)` like the same INSERT sent as text.
TYPED_LITERAL_CASES = [
    ("INSERT INTO orders (customer_id, status, tracking_code, created_at, total) "
     "VALUES (42, 'pending', NULL, TIMESTAMP'2026-11-26 21:37:33', 1174.60)",
     "insert into orders (customer_id, status, tracking_code, created_at, total) values(?+)",
     "insert into orders (customer_id, status, tracking_code, created_at, total) values (?, ?, ?, timestamp?, ?)"),
    ("select * from t where d = DATE'2024-01-01'", "select * from t where d = ?", "select * from t where d = date?"),
    ("select * from t where d = date '2024-01-01'", "select * from t where d = ?", "select * from t where d = date ?"),
    ("select * from t where d = TIME'10:00:00'", "select * from t where d = ?", "select * from t where d = time?"),
    ("select * from t where d > timestamp '2024-01-01 00:00:00'", "select * from t where d > ?",
     "select * from t where d > timestamp ?"),
    ("select * from t where d in (DATE'2024-01-01', DATE'2024-01-02')", "select * from t where d in(?+)",
     "select * from t where d in (date?, date?)"),
    ("select * from t where d = {d '2024-01-01'}", "select * from t where d = ?", "select * from t where d = {d ?}"),
    ("select * from t where f = _utf8mb4'a'", "select * from t where f = ?", "select * from t where f = _utf?m??"),
    ("select * from t where f = _binary'a'", "select * from t where f = ?", "select * from t where f = _binary?"),
    ("select * from t where f = N'abc'", "select * from t where f = ?", "select * from t where f = n?"),
    ("select * from t where f = X'1F'", "select * from t where f = ?", "select * from t where f = x?"),
    ("select * from t where f = 0x1F", "select * from t where f = ?", "select * from t where f = ?f"),
    ("select * from t where f = b'0101'", "select * from t where f = ?", "select * from t where f = ?"),
    # The words stay words where no literal follows them: a column named date, time or timestamp.
    ("select t.date, time from t where timestamp = 5", "select t.date, time from t where timestamp = ?",
     "select t.date, time from t where timestamp = ?"),
]


@pytest.mark.parametrize("sql, expected, _pt", TYPED_LITERAL_CASES)
def test_typed_and_prefixed_literals_are_one_value(sql, expected, _pt):
    assert fingerprint(sql) == expected


@pytest.mark.skipif(not shutil.which("pt-fingerprint"), reason="percona-toolkit is not installed")
@pytest.mark.parametrize("sql, _ours, expected", TYPED_LITERAL_CASES)
def test_pt_fingerprint_output_for_typed_literals_is_as_recorded(sql, _ours, expected):
    # Keeps the comparison honest: where the recorded pt output differs from ours, we chose to differ.
    pt = subprocess.run(["pt-fingerprint", "--query", sql], capture_output=True, text=True, check=False).stdout
    assert pt.rstrip("\n") == expected


def test_a_prepared_insert_logged_with_typed_values_shares_the_text_insert_shape():
    text = "INSERT INTO orders (created_at, total) VALUES ('2026-11-26 21:37:33', 1174.60)"
    execute = "INSERT INTO orders (created_at, total) VALUES (TIMESTAMP'2026-11-26 21:37:33', 1174.60)"
    placeholders = "INSERT INTO orders (created_at, total) VALUES (?, ?)"
    assert fingerprint(execute) == fingerprint(text) == fingerprint(placeholders)


@pytest.mark.parametrize("sql, expected", PT_CASES)
def test_fingerprint_follows_pt_query_digest(sql, expected):
    assert fingerprint(sql) == expected


@pytest.mark.parametrize("sql, expected", IMPROVED_CASES)
def test_fingerprint_improves_on_pt_query_digest(sql, expected):
    assert fingerprint(sql) == expected


@pytest.mark.skipif(not shutil.which("pt-fingerprint"), reason="percona-toolkit is not installed")
@pytest.mark.parametrize("sql, expected", PT_CASES)
def test_pt_fingerprint_agrees_with_the_shared_cases(sql, expected):
    # pt-fingerprint exits with 1 even when it prints the fingerprint.
    pt = subprocess.run(["pt-fingerprint", "--query", sql], capture_output=True, text=True, check=False).stdout
    assert pt.rstrip("\n") == expected


def test_prepared_placeholders_and_substituted_values_share_a_fingerprint():
    mariadb_execute = "SELECT * FROM t WHERE id = ? AND name IN (?, ?)"
    mysql_execute = "SELECT * FROM t WHERE id = 12 AND name IN ('a', 'b')"
    assert fingerprint(mariadb_execute) == fingerprint(mysql_execute)


def test_tables_that_differ_only_by_digits_are_different_shapes():
    assert fingerprint("SELECT * FROM orders_2023 WHERE id = 1") != fingerprint("SELECT * FROM orders_2024 WHERE id = 1")


def test_query_id_is_pt_query_digest_make_checksum():
    # pt-query-digest 3.x: make_checksum is `uc md5_hex($fingerprint)`, printed as 0x<ID> in its reports.
    shape = "select * from t where id = ?"
    assert query_id(shape) == hashlib.md5(shape.encode()).hexdigest().upper()
    assert query_id(shape) == "86A4FD498C70095E35FC3906162972DA"


def values_key(sql: str) -> str:
    return fingerprint_and_values(sql)[1]


def test_the_values_key_tells_value_sets_apart():
    assert values_key("SELECT * FROM t WHERE a = 1 AND b = 'x'") == values_key("select * from t where a=1 and b='x'")
    assert values_key("SELECT * FROM t WHERE a = 1") != values_key("SELECT * FROM t WHERE a = 2")
    assert values_key("SELECT * FROM t_2024 WHERE a = 1") == values_key("SELECT * FROM t_2025 WHERE a = 1")


def test_fingerprint_and_values_gives_the_fingerprint_too():
    sql = "SELECT * FROM t /* c */ WHERE a = 1 AND b IN ('x', 'y')"
    assert fingerprint_and_values(sql)[0] == fingerprint(sql)


@pytest.mark.parametrize("sql, kind", [
    ("SELECT 1", Kind.SELECT),
    ("  /* api */ (SELECT a FROM t) UNION (SELECT a FROM u)", Kind.SELECT),
    ("-- hi\nselect 1", Kind.SELECT),
    ("WITH x AS (SELECT id FROM t) SELECT * FROM x", Kind.SELECT),
    ("WITH RECURSIVE x (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM x WHERE n < 5) SELECT n FROM x", Kind.SELECT),
    ("WITH x AS (SELECT id FROM t) UPDATE u JOIN x ON x.id = u.id SET u.a = 1", Kind.UPDATE),
    ("INSERT INTO t SELECT * FROM u", Kind.INSERT),
    ("insert into t values (1)", Kind.INSERT),
    ("UPDATE t SET a = 1", Kind.UPDATE),
    ("DELETE FROM t", Kind.DELETE),
    ("REPLACE INTO t VALUES (1)", Kind.REPLACE),
    ("SET NAMES utf8mb4", Kind.OTHER),
    ("COMMIT", Kind.OTHER),
    ("", Kind.OTHER),
])
def test_statement_kind_reads_the_leading_keyword(sql, kind):
    assert statement_kind(sql) is kind
