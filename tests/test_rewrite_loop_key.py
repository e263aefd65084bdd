"""loop_key reads the samples of a loop by literal position (one parse) when they share a template,
and gives exactly what parsing every sample gives; other samples take the parsing path."""

from __future__ import annotations

import pytest

from query_audit.advise import rewrite
from query_audit.advise.rewrite import LoopKey, loop_key
from query_audit.analyze.fingerprint import literal_pieces

SAME_TEMPLATE = {
    "integer key": [f"SELECT qty FROM order_items WHERE order_id = {i} LIMIT 1" for i in range(1, 8)],
    "string key beside a constant": [f"SELECT * FROM t WHERE name = 'x{i}' AND b = 5" for i in range(3)],
    "double-quoted strings": [f'SELECT * FROM t WHERE name = "x{i}" AND b = 5' for i in range(3)],
    "literal on the left, negative numbers": [f"SELECT * FROM t WHERE 5 = b AND c = -{i}" for i in range(1, 4)],
    "one column twice in each sample": ["SELECT * FROM t WHERE a = 1 OR a = 2"] * 2
    + ["SELECT * FROM t WHERE a = 1 OR a = 3"],
    "NULL beside a literal of one column": [f"SELECT * FROM t WHERE a = NULL OR a = {i}" for i in range(3)],
    "texts that differ but mean one value": ["SELECT * FROM t WHERE b = 'a'", 'SELECT * FROM t WHERE b = "a"'],
    "numbers written differently": ["SELECT * FROM t WHERE b = 1.0", "SELECT * FROM t WHERE b = 1.00"],
    "escaped quotes": [f"SELECT * FROM t WHERE b = 'it''s {i}' AND c = 'a\\'{i}'" for i in range(1, 4)],
    "a DELETE by key": [f"DELETE FROM t WHERE id = {i}" for i in range(4)],
    "backquoted names": [f"SELECT * FROM `t` WHERE `b` = {i}" for i in range(1, 4)],
    "a comment elsewhere": [f"SELECT /* list */ * FROM `t` WHERE `b` LIKE 'a{i}%' AND c = {i} LIMIT 9, 20"
                            for i in range(1, 4)],
    "the same statement again": ["SELECT * FROM t WHERE a = 1"] * 4,
    "typed literals (no plain value)": [f"SELECT * FROM t WHERE d = DATE '2024-01-0{i}'" for i in range(1, 4)],
}
OTHER = {
    "IN lists of different lengths": ["SELECT * FROM t WHERE b IN (1, 2)", "SELECT * FROM t WHERE b IN (1, 2, 3)"],
    "a comment that sticks to the value": [f"SELECT * FROM `t` WHERE `b` = {i} /* c 'x' */" for i in range(1, 4)],
    "hex numbers": [f"SELECT * FROM t WHERE b = 0x{i}" for i in range(1, 4)],
    "prefixed strings": [f"SELECT * FROM t WHERE b = _utf8mb4'{i}'" for i in range(1, 4)],
    "a sign apart from its number": [f"SELECT * FROM t WHERE b = - {i}" for i in range(1, 4)],
}


NO_EQUALITY = {
    "ranges and IN lists of different lengths": [
        "SELECT o.store_id, SUM(o.total) AS revenue\n  FROM orders o\n  JOIN stores s ON s.id = o.store_id\n"
        f" WHERE o.created_at >= '2026-0{i}-01'\n   AND o.sku IN ({', '.join(['7'] * i)})\n LIMIT {i}"
        for i in range(1, 5)],
    "other comparisons": [f"SELECT * FROM t WHERE a <> {i} AND b <=> {i} AND c != {i} AND d >= 'x{i}'"
                          for i in range(3)],
    "a value in parentheses": [f"SELECT * FROM t WHERE a = ({i})" for i in range(3)],
    "a comment and LIKE": [f"SELECT /* t.list */ * FROM `t` WHERE `s` LIKE 'a{i}%' ORDER BY c DESC LIMIT {i}, 20"
                           for i in range(3)],
    "`=` only in comments": [f"SELECT * FROM t /* a = 5 */ WHERE b LIKE 'x{i}' -- a = 5\n AND c > 1 # a = 5"
                             for i in range(3)],
    "a comment sign in a backquoted name": [f"SELECT `a#b` FROM t WHERE c LIKE 'x{i}' AND d >= {i}" for i in range(3)],
}
MAY_HAVE_ONE = {
    "value after the sign": "SELECT * FROM t WHERE a = - 5",
    "value first": "SELECT * FROM t WHERE 5=a",
    "a constant": "SELECT * FROM t WHERE a = NULL OR b = 1 > 0",
    "a constant first": "SELECT * FROM t WHERE TRUE = a",
    "a comment between": "SELECT * FROM t WHERE a = /* id */ 5",
    "a string on a new line": "SELECT * FROM t WHERE a =\n  'x'",
    "beside other comparisons": "SELECT * FROM t WHERE a >= 1 AND b='x'",
    "a comment between the value and `=`": "SELECT * FROM t WHERE 5 /* k */ = a",
    "a line comment between": "SELECT * FROM t WHERE a = -- c\n 5",
    "a comment between `=` and a constant": "SELECT * FROM t WHERE a = /* c */ NULL",
    "a comment sign in a backquoted name": "SELECT * FROM t WHERE `a#` = 5 -- x",
}


@pytest.mark.parametrize("samples", NO_EQUALITY.values(), ids=NO_EQUALITY.keys())
def test_samples_without_a_column_equal_to_a_value_have_no_key_and_are_not_parsed(samples, monkeypatch):
    assert _by_parsing_each(samples) is None
    monkeypatch.setattr(rewrite, "_parsed", lambda sql: pytest.fail(f"parsed {sql}"))
    assert loop_key(samples) is None


@pytest.mark.parametrize("sql", MAY_HAVE_ONE.values(), ids=MAY_HAVE_ONE.keys())
def test_the_cheap_test_for_an_equality_never_misses_one(sql):
    assert rewrite._may_compare_a_value(sql)


def _by_parsing_each(samples) -> LoopKey | None:
    return rewrite._loop_key_from_trees(list(dict.fromkeys(samples))[: rewrite.SAMPLE_LIMIT])


@pytest.mark.parametrize("samples", SAME_TEMPLATE.values(), ids=SAME_TEMPLATE.keys())
def test_samples_of_one_template_are_read_by_position_with_the_same_key_as_parsing_each(samples):
    assert rewrite._loop_key_by_position(list(dict.fromkeys(samples))[: rewrite.SAMPLE_LIMIT]) \
        is not rewrite._UNRESOLVED
    assert loop_key(samples) == _by_parsing_each(samples)


@pytest.mark.parametrize("samples", OTHER.values(), ids=OTHER.keys())
def test_samples_the_positions_cannot_vouch_for_are_parsed_each(samples):
    assert rewrite._loop_key_by_position(list(dict.fromkeys(samples))[: rewrite.SAMPLE_LIMIT]) \
        is rewrite._UNRESOLVED
    assert loop_key(samples) == _by_parsing_each(samples)


def test_the_key_names_the_changing_column_and_its_values_in_sample_order():
    samples = [f"SELECT * FROM orders o WHERE o.shop = 1 AND o.customer_id = {i}" for i in (7, 3, 7, 9)]
    assert loop_key(samples) == LoopKey("o.customer_id", "customer_id", ("7", "3", "9"))


@pytest.mark.parametrize("sql", [
    "SELECT * FROM t WHERE a = 'x' AND b = -2.5e3 LIMIT 10, 20",
    "SELECT `a 1` FROM t /* 'not a string' */ WHERE b = \"q\" -- 5\n AND c = 7",
    "SELECT 1",
])
def test_literal_pieces_put_back_together_are_the_statement(sql):
    pieces, literals = literal_pieces(sql)
    assert len(pieces) == len(literals) + 1
    assert "".join(p + lit for p, lit in zip(pieces, literals)) + pieces[-1] == sql
