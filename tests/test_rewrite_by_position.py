"""The loop rewrites read the samples of one template by position: ONE parse of a copy whose literals are
numbered markers, each sample's literals put back where the markers stand. They give byte for byte what
parsing every sample gives; samples the positions cannot vouch for are parsed each."""

from __future__ import annotations

import pytest
import sqlglot

from query_audit.advise import rewrite
from query_audit.advise.rewrite import as_in_list, loop_key, set_values_vary, update_with_case, upsert

IDS = (3, 17, 4, 99, 3, 250)  # a repeat, and more than SAMPLE_LIMIT distinct ones

UPDATES = {
    "per-row SET values": [f"UPDATE messages SET kind = '{kind}', updated_at = NOW() WHERE id = {i}"
                           for kind, i in zip("abcaab", IDS)],
    "one SET value per key": [f"UPDATE order_items SET qty = {i * 10} WHERE id = {i}" for i in IDS],
    "SET values that do not vary": [f"UPDATE order_items SET note = 'x', qty = 0 WHERE id = {i}" for i in IDS],
    "stock = stock - 1": [f"UPDATE products SET stock = stock - 1 WHERE id = {i}" for i in IDS],
    "a SET value computed from a literal": [f"UPDATE products SET stock = stock - {i}, note = 'x' WHERE id = {i}"
                                            for i in IDS],
    "negative values, NULL, a second WHERE column": [f"UPDATE t SET a = -{i}, b = NULL WHERE id = {i} AND shop = 7"
                                                     for i in IDS],
    "a column set twice": [f"UPDATE t SET a = {i}, a = {i + 1} WHERE id = {i}" for i in IDS],
    "quoted strings and a backquoted key": [f"UPDATE t SET a = \"q{i}\", b = 'it''s', c = 'a\\'{i}' WHERE `id` = {i}"
                                            for i in IDS],
    "a qualified key and a LIMIT": [f"UPDATE t SET a = 1.5 WHERE t.id = {i} LIMIT 1" for i in IDS],
    "a comment elsewhere": [f"UPDATE /* batch */ t SET a = {i % 2} WHERE id = {i}" for i in IDS],
    "the key on the right": [f"UPDATE t SET a = {i} WHERE {i} = id" for i in IDS],
    "a join": [f"UPDATE t JOIN u ON u.id = t.u_id SET t.a = {i} WHERE t.id = {i}" for i in IDS],
    "values of different kinds": [f"UPDATE t SET a = {value} WHERE id = {i}"
                                  for value, i in zip(("1", "'1'", "-2", "2.50", "'a'", "+3"), IDS)],
    "signs apart from their numbers": [f"UPDATE t SET a = - {i} WHERE id = - {i}" for i in IDS],
    "a string with a control character": [f"UPDATE t SET a = '{i}\t' WHERE id = {i}" for i in IDS],
}
SELECTS_AND_DELETES = {
    "a LIMIT": [f"SELECT qty FROM order_items WHERE order_id = {i} LIMIT 1" for i in IDS],
    "the key already selected": [f"SELECT id, order_id FROM order_items WHERE order_id = {i}" for i in IDS],
    "a string key beside a range": [f"SELECT * FROM invoices WHERE sku = '{i}' AND id > {i * 7}" for i in IDS],
    "a comment, ORDER BY and LIMIT": [f"SELECT /* t.list */ * FROM `t` WHERE `s` = 'a{i}%' ORDER BY c DESC "
                                      f"LIMIT {i}, 20" for i in IDS],
    "IN, BETWEEN and LIKE beside the key": [f"SELECT * FROM t WHERE id = {i} AND b IN ({i}, -{i}, 'z') "
                                            f"AND c BETWEEN {i} AND {i + 5} AND d LIKE 'x{i}%'" for i in IDS],
    "arithmetic": [f"SELECT * FROM t WHERE id = {i} AND (b = {i} + 1 OR c = {i} * 2)" for i in IDS],
    "NULL beside a literal": [f"SELECT * FROM t WHERE a = NULL OR a = {i}" for i in IDS],
    "the key in a subquery": [f"SELECT * FROM t WHERE id = (SELECT MAX(id) FROM u WHERE k = {i})" for i in IDS],
    "a join with a literal": [f"SELECT * FROM t t1 JOIN u ON u.k = {i} WHERE t1.id = {i} LIMIT 5" for i in IDS],
    "numbers written differently": [f"SELECT * FROM t WHERE id = {value}"
                                    for value in ("1", "-1", "001", "1.0", ".5", "1e3")],
    "a DELETE": [f"DELETE FROM t WHERE id = {i} AND created_at < '2024-0{i % 9 + 1}-01' LIMIT 10" for i in IDS],
}
BY_POSITION = UPDATES | SELECTS_AND_DELETES

PARSED_EACH = {
    "different templates": [f"UPDATE t SET a = {i} WHERE id = {i}" for i in IDS[:3]] + [
        "UPDATE t SET a = 5, b = 6 WHERE id = 8"],
    "a minus glued to its number after an operand": [f"UPDATE t SET qty = qty -{i} WHERE id = {i}" for i in IDS],
    "a comment that sticks to a value": [f"UPDATE t SET a = -{i} /* c */ WHERE id = {i}" for i in IDS],
    "a comment before a signed value": [f"UPDATE t SET a = /* c */ -{i} WHERE id = {i}" for i in IDS],
    "hex numbers": [f"UPDATE t SET a = 0x{i} WHERE id = {i}" for i in IDS],
    "prefixed strings": [f"UPDATE t SET a = _utf8mb4'{i}' WHERE id = {i}" for i in IDS],
    "an INTERVAL, which reads its string": [f"UPDATE t SET d = DATE_ADD(d, INTERVAL '{i} day') WHERE id = {i}"
                                            for i in IDS],
    "DATE_FORMAT, which translates its format": [f"SELECT DATE_FORMAT(x, '%i{i}') FROM t WHERE id = {i}"
                                                 for i in IDS],
    "a CASE": [f"UPDATE t SET a = CASE WHEN b > {i} THEN 1 ELSE 2 END WHERE id = {i}" for i in IDS],
    "a selected literal": [f"SELECT 'x{i}' FROM t WHERE id = {i}" for i in IDS],
    "an alias in double quotes": [f'SELECT a AS "x{i}" FROM t WHERE id = {i}' for i in IDS],
    "ORDER BY a position": [f"SELECT * FROM t WHERE id = {i} ORDER BY {i % 2 + 1}" for i in IDS],
    "a JSON path": [f"SELECT * FROM t WHERE id = {i} AND j->'$.a{i}' = 1" for i in IDS],
    "LIKE with ESCAPE": [f"SELECT * FROM t WHERE id = {i} AND b LIKE 'x{i}%' ESCAPE '!'" for i in IDS],
    "strings side by side": [f"SELECT * FROM t WHERE id = {i} AND b = 'x' '{i}'" for i in IDS],
    "a typed literal": [f"SELECT * FROM t WHERE id = {i} AND d = DATE '2024-01-0{i % 9 + 1}'" for i in IDS],
}


def _every_rewrite(samples) -> tuple:
    key = loop_key(samples)
    if key is None:
        return (None,)
    return key, as_in_list(samples, key), set_values_vary(samples), update_with_case(samples, key), \
        upsert(samples, key)


def _by_parsing_each(samples, monkeypatch) -> tuple:
    with monkeypatch.context() as patched:
        patched.setattr(rewrite, "_template", lambda samples: None)
        return _every_rewrite(samples)


def _template(samples):
    return rewrite._template(rewrite._distinct(samples))


@pytest.mark.parametrize("samples", BY_POSITION.values(), ids=BY_POSITION.keys())
def test_samples_of_one_template_are_read_by_position_with_every_rewrite_as_parsing_each_gives(
        samples, monkeypatch):
    assert _template(samples).rebuildable
    by_position = _every_rewrite(samples)
    assert by_position[0] is not None
    assert by_position == _by_parsing_each(samples, monkeypatch)


@pytest.mark.parametrize("samples", PARSED_EACH.values(), ids=PARSED_EACH.keys())
def test_samples_the_positions_cannot_vouch_for_are_parsed_each(samples, monkeypatch):
    template = _template(samples)
    assert template is None or not template.rebuildable
    assert _every_rewrite(samples) == _by_parsing_each(samples, monkeypatch)


def _count_statement_parses(monkeypatch) -> list[str]:
    for cache in (rewrite._parsed, rewrite._literal, rewrite._literal_sql, rewrite._template):
        cache.cache_clear()
    parsed: list[str] = []
    real = sqlglot.parse_one

    def counting(sql, *args, **kwargs):
        if sql.split(None, 1)[0].upper() in ("SELECT", "UPDATE", "DELETE"):
            parsed.append(sql)
        return real(sql, *args, **kwargs)

    monkeypatch.setattr(sqlglot, "parse_one", counting)
    return parsed


# A sign apart from its number (`= - 5`) still sends `loop_key` to parsing each sample (the rewrites do not).
READ_BY_POSITION_ONLY = {name: samples for name, samples in UPDATES.items() if name != "signs apart from their numbers"}


@pytest.mark.parametrize("samples", READ_BY_POSITION_ONLY.values(), ids=READ_BY_POSITION_ONLY.keys())
def test_an_update_loop_key_and_rewrites_parse_only_the_marked_copy(samples, monkeypatch):
    parsed = _count_statement_parses(monkeypatch)
    _every_rewrite(samples)
    [marked] = parsed
    assert "7310000000" in marked or "qa_marker_0" in marked


def test_a_select_loop_key_and_in_list_parse_only_the_marked_copy(monkeypatch):
    samples = SELECTS_AND_DELETES["a LIMIT"]
    parsed = _count_statement_parses(monkeypatch)
    key = loop_key(samples)
    assert as_in_list(samples, key) == "SELECT qty, order_id FROM order_items WHERE order_id IN (3, 17, 4, 99, 250)"
    assert parsed == ["SELECT qty FROM order_items WHERE order_id = 7310000000 LIMIT 7310000001"]


def test_the_update_forms_written_from_the_positions():
    samples = UPDATES["per-row SET values"]
    key = loop_key(samples)
    assert set_values_vary(samples)
    assert update_with_case(samples, key) == (
        "UPDATE messages SET kind = CASE id WHEN 3 THEN 'a' WHEN 17 THEN 'b' WHEN 4 THEN 'c' WHEN 99 THEN 'a' "
        "WHEN 250 THEN 'b' END, updated_at = CASE id WHEN 3 THEN NOW() WHEN 17 THEN NOW() WHEN 4 THEN NOW() "
        "WHEN 99 THEN NOW() WHEN 250 THEN NOW() END WHERE id IN (3, 17, 4, 99, 250)")
    samples = UPDATES["one SET value per key"]
    assert upsert(samples, loop_key(samples)) == (
        "INSERT INTO order_items (id, qty) VALUES (3, 30), (17, 170), (4, 40), (99, 990), (250, 2500) "
        "ON DUPLICATE KEY UPDATE qty = VALUES(qty)")
    samples = UPDATES["stock = stock - 1"]
    assert not set_values_vary(samples) and upsert(samples, loop_key(samples)) is None
    assert as_in_list(samples, loop_key(samples)) == \
        "UPDATE products SET stock = stock - 1 WHERE id IN (3, 17, 4, 99, 250)"


@pytest.mark.parametrize("literal", [
    "0", "007", "12345678901234567890", "''", "'abc'", "'a b%_'", "'é'", "'a\"b'",  # built without parsing
    "'it''s'", "'a\\'b'", "'a\\\\'", '"x"', "'a\nb'", "'a\tb'", "-5", "+5", "1.5", ".5", "1e3", "NULL", "o.id",
])
def test_a_literal_built_or_written_without_parsing_is_what_sqlglot_reads_and_writes(literal):
    parsed = sqlglot.parse_one(literal, read="mysql")
    assert rewrite._new_literal(literal) == parsed
    assert rewrite._literal_sql(literal) == parsed.sql(dialect="mysql")
