"""describe(): statement in, tables and column roles out. Data-driven: each case names the behaviour."""

from __future__ import annotations

import time

import pytest

from query_audit.analyze.sql_model import describe
from query_audit.model import ColumnUse, Kind


def use(table, column, role, scope=0, detail="", reason=""):
    return ColumnUse(table, column, role, scope, detail, reason)


# (case id, statement, uses that must all be present)
COLUMN_CASES = [
    ("alias resolves to its table",
     "SELECT o.id FROM orders o WHERE o.status = 'paid'",
     [use("orders", "id", "select"), use("orders", "status", "eq", detail="string")]),
    ("unqualified column of a single-table scope belongs to that table",
     "SELECT id FROM orders WHERE customer_id = 7",
     [use("orders", "customer_id", "eq", detail="number")]),
    ("unqualified column of a multi-table scope has an unknown table",
     "SELECT * FROM a, b WHERE x = 1 AND a.y = b.y",
     [use("", "x", "eq", detail="number"), use("a", "y", "join", detail="b.y"), use("b", "y", "join", detail="a.y")]),
    ("join equality names the other side on both columns",
     "SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id",
     [use("customers", "id", "join", detail="orders.customer_id"),
      use("orders", "customer_id", "join", detail="customers.id")]),
    ("JOIN USING joins the same column of both tables",
     "SELECT c.name FROM customers c JOIN orders o USING (id)",
     [use("customers", "id", "join", detail="orders.id"), use("orders", "id", "join", detail="customers.id")]),
    ("a self-join through two aliases is a join, not a column comparison",
     "SELECT 1 FROM orders o1 JOIN orders o2 ON o1.parent_id = o2.id",
     [use("orders", "parent_id", "join", detail="orders.id"), use("orders", "id", "join", detail="orders.parent_id")]),
    ("schema-qualified table keeps its database, without quotes",
     "SELECT * FROM `shop`.`orders` WHERE `id` = 1",
     [use("shop.orders", "*", "select"), use("shop.orders", "id", "eq", detail="number")]),
    ("range operators and BETWEEN are range with the value type",
     "SELECT 1 FROM t WHERE a > 1 AND b <= '2024-01-01' AND c BETWEEN ? AND ?",
     [use("t", "a", "range", detail="number"), use("t", "b", "range", detail="string"),
      use("t", "c", "range", detail="placeholder")]),
    ("IN list is in; IN with one value is eq; IN subquery is in",
     "SELECT 1 FROM t WHERE a IN (1, 2) AND b IN ('x') AND c IN (SELECT id FROM u)",
     [use("t", "a", "in", detail="number"), use("t", "b", "eq", detail="string"),
      use("t", "c", "in", detail="subquery")]),
    ("IS NULL is is_null; IS NOT NULL is a range",
     "SELECT 1 FROM t WHERE a IS NULL AND b IS NOT NULL",
     [use("t", "a", "is_null"), use("t", "b", "range", detail="not null")]),
    ("placeholder counts as a literal",
     "SELECT name FROM users WHERE id = ?",
     [use("users", "id", "eq", detail="placeholder")]),
    ("a question mark inside a string is a string",
     "SELECT 1 FROM t WHERE a = '?'",
     [use("t", "a", "eq", detail="string")]),
    ("negative and boolean values are numbers (for the type-mismatch check)",
     "SELECT 1 FROM t WHERE code = -5 AND flag = TRUE",
     [use("t", "code", "eq", detail="number"), use("t", "flag", "eq", detail="number")]),
    ("LIKE with a prefix is like_prefix",
     "SELECT 1 FROM t WHERE name LIKE 'abc%'",
     [use("t", "name", "like_prefix", detail="string")]),
    ("LIKE with a leading wildcard is not sargable",
     "SELECT 1 FROM t WHERE name LIKE '%abc' AND code LIKE '_x%' AND tag LIKE CONCAT('%', ?)",
     [use("t", "name", "not_sargable", reason="leading wildcard"),
      use("t", "code", "not_sargable", reason="leading wildcard"),
      use("t", "tag", "not_sargable", reason="leading wildcard")]),
    ("a column inside a function is not sargable",
     "SELECT 1 FROM t WHERE DATE(created_at) = ? AND price * 2 > 10",
     [use("t", "created_at", "not_sargable", reason="function"), use("t", "price", "not_sargable", reason="function")]),
    ("negations are not sargable",
     "SELECT 1 FROM t WHERE a <> 1 AND b != 2 AND c NOT IN (1, 2) AND d NOT LIKE 'x%' AND NOT (e = 3)",
     [use("t", col, "not_sargable", reason="negation") for col in "abcde"]),
    ("OR over different columns is not sargable",
     "SELECT 1 FROM t WHERE (a = 1 OR b = 2) AND c = 3",
     [use("t", "a", "not_sargable", reason="or"), use("t", "b", "not_sargable", reason="or"),
      use("t", "c", "eq", detail="number")]),
    ("OR over one column is like IN",
     "SELECT 1 FROM t WHERE a = 1 OR a = 2",
     [use("t", "a", "eq", detail="number")]),
    ("comparing two columns of one table is not sargable",
     "SELECT 1 FROM t WHERE a = b",
     [use("t", "a", "not_sargable", reason="column comparison")]),
    ("a bare boolean column is a negation (col <> 0)",
     "SELECT 1 FROM t WHERE active",
     [use("t", "active", "not_sargable", reason="negation")]),
    ("ORDER BY keeps each direction; ORDER BY an alias or a position resolves to the column",
     "SELECT created_at AS c, id FROM t ORDER BY c DESC, 2, LOWER(name)",
     [use("t", "created_at", "order", detail="desc"), use("t", "id", "order", detail="asc"),
      use("t", "name", "order", detail="asc", reason="function")]),
    ("ORDER BY an aggregate of no column is still a sort, with no table an index could serve",
     "SELECT status, COUNT(*) AS n FROM orders GROUP BY status ORDER BY n DESC",
     [use("orders", "status", "group", detail="asc"), use("", "COUNT(*)", "order", detail="desc", reason="function")]),
    ("GROUP BY columns are group",
     "SELECT status, COUNT(*) FROM orders GROUP BY status",
     [use("orders", "status", "group", detail="asc")]),
    ("a subquery is its own scope",
     "SELECT a FROM t1 WHERE id IN (SELECT t1_id FROM t2 WHERE t2.x = 5)",
     [use("t1", "id", "in", 0, detail="subquery"), use("t2", "x", "eq", 1, detail="number"),
      use("t2", "t1_id", "select", 1)]),
    ("a correlated subquery joins to the outer table",
     "SELECT id FROM orders o WHERE EXISTS (SELECT 1 FROM items i WHERE i.order_id = o.id)",
     [use("items", "order_id", "join", 1, detail="orders.id"), use("orders", "id", "join", 1, detail="items.order_id")]),
    ("UNION branches are their own scopes, numbered in text order",
     "SELECT a FROM t1 WHERE x = 1 UNION ALL SELECT b FROM t2 WHERE y = 'q'",
     [use("t1", "x", "eq", 1, detail="number"), use("t2", "y", "eq", 2, detail="string")]),
    ("a derived table is a scope; its alias is not a table",
     "SELECT d.a FROM (SELECT a FROM t WHERE b = 1) d JOIN u ON u.id = d.a WHERE u.z > 3",
     [use("t", "b", "eq", 1, detail="number"), use("t", "a", "select", 1), use("u", "z", "range", 0, detail="number")]),
    ("a CTE body is a scope",
     "WITH recent AS (SELECT id FROM orders WHERE created_at > ?) SELECT * FROM recent",
     [use("orders", "created_at", "range", 1, detail="placeholder")]),
    ("UPDATE: SET columns are set, WHERE columns keep their roles",
     "UPDATE orders SET status = 'x', updated_at = NOW() WHERE customer_id = 3",
     [use("orders", "status", "set"), use("orders", "updated_at", "set"), use("orders", "customer_id", "eq", detail="number")]),
    ("multi-table UPDATE: joins and the set table",
     "UPDATE t1 JOIN t2 ON t1.id = t2.id SET t1.a = t2.b WHERE t2.c = 1",
     [use("t1", "a", "set"), use("t1", "id", "join", detail="t2.id"), use("t2", "c", "eq", detail="number")]),
    ("INSERT column list is set; ON DUPLICATE KEY UPDATE columns too",
     "INSERT INTO t (a, b) VALUES (1, 2) ON DUPLICATE KEY UPDATE b = VALUES(b)",
     [use("t", "a", "set"), use("t", "b", "set"), use("t", "b", "set", detail="on duplicate key")]),
    ("INSERT ... SELECT: set columns of the target, the SELECT's own uses",
     "INSERT INTO archive (id) SELECT id FROM orders WHERE status = 'old'",
     [use("archive", "id", "set"), use("orders", "status", "eq", detail="string")]),
]


@pytest.mark.parametrize("sql, expected", [c[1:] for c in COLUMN_CASES], ids=[c[0] for c in COLUMN_CASES])
def test_column_uses(sql, expected):
    model = describe(sql)
    assert model.parsed, model.error
    missing = [u for u in expected if u not in model.columns]
    assert not missing, f"missing {missing}; got {model.columns}"


def test_derived_table_alias_and_cte_name_are_not_tables():
    assert describe("SELECT d.a FROM (SELECT a FROM t) d").tables == ("t",)
    model = describe("WITH recent AS (SELECT id FROM orders) SELECT * FROM recent")
    assert model.tables == ("orders",)
    assert all(u.table in ("orders",) for u in model.columns)


def test_columns_of_different_roles_are_not_mixed_up():
    model = describe("SELECT name FROM t WHERE a = 1 ORDER BY b DESC")
    assert model.uses("t", "eq") == (use("t", "a", "eq", detail="number"),)
    assert model.uses("t", "order") == (use("t", "b", "order", detail="desc"),)
    assert model.uses("t", "select") == (use("t", "name", "select"),)


# (case id, statement, kind, tables, target, limit, insert_rows, has_where)
STATEMENT_CASES = [
    ("select with limit", "SELECT * FROM t WHERE a = 1 LIMIT 10", Kind.SELECT, ("t",), None, 10, 0, True),
    ("LIMIT offset, count keeps the count", "SELECT * FROM t LIMIT 5, 20", Kind.SELECT, ("t",), None, 20, 0, False),
    ("LIMIT ? is unknown", "SELECT * FROM t LIMIT ?", Kind.SELECT, ("t",), None, None, 0, False),
    ("union is a select", "SELECT a FROM t1 UNION SELECT b FROM t2", Kind.SELECT, ("t1", "t2"), None, None, 0, False),
    ("update without where", "UPDATE t SET a = 1", Kind.UPDATE, ("t",), "t", None, 0, False),
    ("update with limit", "UPDATE t SET a = 1 WHERE b = 2 LIMIT 3", Kind.UPDATE, ("t",), "t", 3, 0, True),
    ("delete qualified", "DELETE FROM shop.orders WHERE id = 1", Kind.DELETE, ("shop.orders",), "shop.orders",
     None, 0, True),
    ("multi-table delete targets the named table", "DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id WHERE t2.c = 1",
     Kind.DELETE, ("t1", "t2"), "t1", None, 0, True),
    ("multi-row insert counts rows", "INSERT INTO t (a, b) VALUES (1, 2), (3, 4), (5, 6)", Kind.INSERT, ("t",), "t",
     None, 3, False),
    ("INSERT ... SET is one row", "INSERT INTO t SET a = 1, b = 2", Kind.INSERT, ("t",), "t", None, 1, False),
    ("insert select lists the target first", "INSERT INTO archive SELECT * FROM orders WHERE id < 10",
     Kind.INSERT, ("archive", "orders"), "archive", None, 0, False),
    ("SET is other", "SET NAMES utf8mb4", Kind.OTHER, (), None, None, 0, False),
    ("transaction control is other", "BEGIN", Kind.OTHER, (), None, None, 0, False),
    ("SHOW is other", "SHOW TABLES", Kind.OTHER, (), None, None, 0, False),
    ("DDL is other", "CREATE TABLE x (a INT)", Kind.OTHER, (), None, None, 0, False),
    ("FROM DUAL is no table", "SELECT 1 FROM DUAL", Kind.SELECT, (), None, None, 0, False),
]


@pytest.mark.parametrize("sql, kind, tables, target, limit, rows, has_where", [c[1:] for c in STATEMENT_CASES],
                         ids=[c[0] for c in STATEMENT_CASES])
def test_statement_facts(sql, kind, tables, target, limit, rows, has_where):
    model = describe(sql)
    assert model.parsed, model.error
    assert (model.kind, model.tables, model.target_table, model.limit, model.insert_rows, model.has_where) == (
        kind, tables, target, limit, rows, has_where)


# (case id, statement, kind, tables, target, words the error must contain)
UNPARSED_CASES = [
    ("REPLACE is an opaque command: kind and target by regex", "REPLACE INTO `shop`.t (a) VALUES (1)",
     Kind.REPLACE, ("shop.t",), "shop.t", "opaque command"),
    ("REPLACE without INTO", "REPLACE LOW_PRIORITY users (id) VALUES (1)", Kind.REPLACE, ("users",), "users",
     "opaque command"),
    ("CALL is other", "CALL refresh_totals(1)", Kind.OTHER, (), None, "opaque command"),
    ("LOCK TABLES is other, its table found", "LOCK TABLES orders READ", Kind.OTHER, ("orders",), None,
     "opaque command"),
    ("LOAD DATA inserts into its table", "LOAD DATA INFILE '/tmp/x.csv' INTO TABLE orders", Kind.INSERT,
     ("orders",), "orders", "cannot parse"),
    ("garbage", "garbage here !!", Kind.OTHER, (), None, "cannot parse"),
    ("unterminated string", "SELECT * FROM t WHERE a = 'oops", Kind.SELECT, ("t",), None, "cannot parse"),
    ("empty string", "", Kind.OTHER, (), None, "empty"),
    ("only whitespace and a semicolon", "  ; ", Kind.OTHER, (), None, "empty"),
    ("several statements", "SELECT 1 FROM a; SELECT 2 FROM b", Kind.SELECT, ("a", "b"), None, "several"),
]


@pytest.mark.parametrize("sql, kind, tables, target, error", [c[1:] for c in UNPARSED_CASES],
                         ids=[c[0] for c in UNPARSED_CASES])
def test_what_sqlglot_cannot_model_falls_back(sql, kind, tables, target, error):
    model = describe(sql)
    assert not model.parsed
    assert error in model.error
    assert (model.kind, model.tables, model.target_table) == (kind, tables, target)


def test_deeply_nested_expression_does_not_raise():
    sql = "SELECT a FROM t WHERE " + "(" * 500 + "a = 1" + ")" * 500
    model = describe(sql)
    assert model.kind == Kind.SELECT and model.tables == ("t",)
    assert not model.parsed and "nested" in model.error


def test_long_and_chain_is_analyzed_without_recursion_trouble():
    sql = "SELECT a FROM t WHERE " + " AND ".join(f"c{i} = {i}" for i in range(1500))
    model = describe(sql)
    if model.parsed:  # sqlglot itself may give up on it; then the fallback must still hold
        assert len(model.uses("t", "eq")) == 1500
    else:
        assert model.tables == ("t",)


@pytest.mark.parametrize("value", [None, 42, b"SELECT 1", "\x00\x01", "SELECT * FROM", "))))", "'", "`", "/*"])
def test_no_input_raises(value):
    assert describe(value).kind in Kind


def test_sqlglot_fallback_warning_is_not_printed(capsys, caplog):
    describe("REPLACE INTO t (a) VALUES (1)")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert not [r for r in caplog.records if r.name.startswith("sqlglot")]


def test_describe_is_fast_enough_for_every_distinct_statement():
    sql = ("SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id "
           "WHERE o.status = ? AND o.created_at > ? ORDER BY o.created_at DESC LIMIT 20")
    describe(sql)
    start = time.perf_counter()
    for _ in range(100):
        describe(sql)
    assert (time.perf_counter() - start) / 100 < 0.02  # measured about 1 ms here


def test_untyped_calls_list_unknown_functions_then_qualified_known_ones_each_in_breadth_first_order():
    """What the EXPLAIN guard reads, in a pinned order: the calls of unknown functions (exp.Anonymous) first,
    then the schema-qualified calls of known ones, each list breadth first (one walk of the tree gives what
    two `find_all` walks gave)."""
    model = describe("SELECT shop.lower(a), my_udf(b), other.f(x), s.count(*) FROM t "
                     "WHERE c = shop.upper(udf2(d)) AND e IN (SELECT x.coalesce(y) FROM u)")
    assert model.untyped_calls == ("my_udf", "shop.lower", "other.f", "s.count", "shop.upper", "udf2", "x.coalesce")


def test_scopes_are_numbered_in_text_order_whatever_sqlglot_lists_them_in():
    model = describe("SELECT a FROM t1 WHERE b IN (SELECT c FROM t2) AND d IN (SELECT e FROM t3)")
    assert [(use.table, use.scope) for use in model.columns if use.role == "select"] == \
        [("t1", 0), ("t2", 1), ("t3", 2)]


# A multi-row INSERT whose rows differ only in their literals and hold plain values is parsed cut to its first
# row (sqlglot's time grows with the text): its model must be the one the whole statement's tree gives.
FIRST_ROW_CASES = [
    ("literals", "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'it''s')"),
    ("calls, once per row and in the whole tree's order",
     "INSERT INTO t (a, b, c) VALUES (1, NOW(), my_f()), (2, NOW(), my_f()), (3, NOW(), my_f()) "
     "ON DUPLICATE KEY UPDATE b = VALUES(b), c = udf2()"),
    ("NULL, booleans, DEFAULT and signs", "insert into t values (-1, NULL, TRUE, DEFAULT, - 4),"
     "(-2, NULL, TRUE, DEFAULT, - 5)"),
    ("quoted names and a trailing comment", "INSERT INTO `shop`.`t` (`a`, `b`) VALUES (1, \"x\"),\n  (2, \"y\") "
     "/* app:views.py:12 */"),
    ("an alias for ON DUPLICATE KEY UPDATE",
     "INSERT INTO t (a) VALUES ('x'), ('y') AS new ON DUPLICATE KEY UPDATE a = new.a"),
    ("many rows", "INSERT INTO t (a, b, c) VALUES " + ", ".join(f"({i}, 'v{i}', NOW())" for i in range(500))),
]
# Statements parsed whole: their rows are not alike, not plain, or not the INSERT's own.
WHOLE_CASES = [
    ("rows of different shapes", "INSERT INTO t (a, b) VALUES (1, NOW()), (2, NULL)"),
    ("rows of different words", "INSERT INTO t (a, b) VALUES (1, TRUE), (2, FALSE)"),
    ("a call with arguments", "INSERT INTO t (a) VALUES (f(1)), (f(2))"),
    ("a negated call", "INSERT INTO t (a) VALUES (- f()), (- f())"),
    ("a column in a row", "INSERT INTO t (a) VALUES (1), (b)"),
    ("a last row that is not plain", "INSERT INTO t (a) VALUES (1), (2), (f(3))"),
    ("a subquery in a row", "INSERT INTO t (a) VALUES ((SELECT 1)), ((SELECT 2))"),
    ("VALUES in a derived table", "INSERT INTO t SELECT * FROM (VALUES ROW(1), ROW(2)) AS v"),
    ("rows in parentheses", "INSERT INTO t (a) VALUES (1) ON DUPLICATE KEY UPDATE a = (VALUES (1), (2))"),
    ("rows in a comment", "INSERT /* VALUES (NULL), (NULL) */ INTO t (a) VALUES (1)"),
    ("rows in a quoted name", "INSERT INTO `x VALUES (NULL), (NULL)` (a) VALUES (3)"),
    ("one row", "INSERT INTO t (a, b) VALUES (1, NOW())"),
    ("an error after the rows, placed in the whole text", "INSERT INTO t (a) VALUES (1), (2) ON DUPLICATE KEY UPDATE a ="),
]


def _parsed_texts(monkeypatch) -> list[str]:
    """The texts describe() hands to sqlglot from now on."""
    from query_audit.analyze import sql_model

    parsed, parse = [], sql_model._parse
    monkeypatch.setattr(sql_model, "_parse", lambda text: parsed.append(text) or parse(text))
    sql_model._parse_once.cache_clear()
    return parsed


def _whole_statement_model(monkeypatch, sql: str):
    from query_audit.analyze import sql_model

    with monkeypatch.context() as patched:
        patched.setattr(sql_model, "_first_row_model", lambda text: None)
        return describe(sql)


@pytest.mark.parametrize("sql", [c[1] for c in FIRST_ROW_CASES], ids=[c[0] for c in FIRST_ROW_CASES])
def test_a_multi_row_insert_of_alike_plain_rows_is_parsed_from_its_first_row(sql, monkeypatch):
    parsed = _parsed_texts(monkeypatch)
    model = describe(sql)
    assert len(parsed) == 1 and parsed[0].count("(") < sql.count("(")
    assert model.insert_rows > 1
    assert model == _whole_statement_model(monkeypatch, sql)


@pytest.mark.parametrize("sql", [c[1] for c in WHOLE_CASES], ids=[c[0] for c in WHOLE_CASES])
def test_other_inserts_are_parsed_whole(sql, monkeypatch):
    parsed = _parsed_texts(monkeypatch)
    model = describe(sql)
    assert parsed[-1] == sql
    assert model == _whole_statement_model(monkeypatch, sql)


def test_calls_of_a_first_row_come_once_per_row_between_the_calls_around_them():
    model = describe("INSERT INTO t (a, b, c) VALUES (f1(), 'x', f2()), (f1(), 'y', f2()) "
                     "ON DUPLICATE KEY UPDATE a = g(), b = db.h()")
    assert model.untyped_calls == ("f1", "f2", "f1", "f2", "g", "db.h")
