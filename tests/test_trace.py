"""analyze/trace.py and the per-request rules on hand-written request traces: which reads a replica could
serve, which key values a statement fixes, and transaction boundaries per server and connection.
(The same rules on a real primary and replica: tests/test_replication.py.)"""

from __future__ import annotations

import pytest

from query_audit.advise import advise
from query_audit.analyze.digest import Digest
from query_audit.analyze.sql_model import describe
from query_audit.analyze.trace import build_traces, key_values, replica_safe
from query_audit.model import AnalyzedQuery, Statement, Thresholds


def traces_of(*rows):
    """rows: (server, thread, sql) of request 1, in order."""
    statements = [Statement(sql, thread, "shop", f"2026-11-30T10:00:00.{n:06d}Z", request=1, server=server)
                  for n, (server, thread, sql) in enumerate(rows)]
    digest = Digest()
    for statement in statements:
        digest.add(statement)
    queries = tuple(AnalyzedQuery(group, describe(group.sample.sql)) for group in digest.groups())
    models = {query.group.id: query.model for query in queries}
    return build_traces(statements, models, ("POST /x",)), queries


def rules_found(*rows) -> list[tuple[str, str | None]]:
    traces, queries = traces_of(*rows)
    return sorted((f.rule, f.table) for f in advise(queries, {}, Thresholds(), traces))


@pytest.mark.parametrize("sql, expected", [
    ("SELECT * FROM t WHERE id = 42", (("id", ("42",)),)),
    ("SELECT * FROM t WHERE 7 = id AND name = 'a'", (("id", ("7",)), ("name", ("a",)))),
    ("SELECT * FROM t WHERE id IN (1, 2)", (("id", ("1", "2")),)),
    ("SELECT * FROM t WHERE id = other_id", ()),
    ("UPDATE t SET v = 1 WHERE id = 3", (("id", ("3",)),)),
    ("INSERT INTO t (id, v) VALUES (5, 'x'), (6, 'y')", (("id", ("5", "6")), ("v", ("x", "y")))),
    ("not sql at all (", ()),
])
def test_key_values_are_the_literals_a_statement_fixes(sql, expected):
    assert key_values(sql) == expected


@pytest.mark.parametrize("rows, safe", [
    ([("primary", 1, "SELECT * FROM t WHERE id = 1")], True),
    ([("primary", 1, "SELECT * FROM t WHERE id = 1 FOR UPDATE")], False),
    ([("primary", 1, "SELECT * FROM t WHERE id = 1 LOCK IN SHARE MODE")], False),
    ([("primary", 1, "SELECT * FROM t WHERE id = 1 FOR SHARE")], False),
    ([("primary", 1, "SELECT NOW()")], False),  # no table: nothing a replica adds
    ([("primary", 2, "UPDATE t SET v = 1 WHERE id = 9"), ("primary", 1, "SELECT * FROM t WHERE id = 1")], False),
    ([("primary", 2, "UPDATE u SET v = 1 WHERE id = 9"), ("primary", 1, "SELECT * FROM t WHERE id = 1")], True),
    ([("primary", 1, "START TRANSACTION"), ("primary", 1, "SELECT * FROM t WHERE id = 1"),
      ("primary", 1, "UPDATE u SET v = 1 WHERE id = 1"), ("primary", 1, "COMMIT")], False),
    ([("primary", 1, "START TRANSACTION"), ("primary", 1, "SELECT * FROM t WHERE id = 1"),
      ("primary", 1, "COMMIT")], True),
    ([("primary", 2, "START TRANSACTION"), ("primary", 2, "UPDATE u SET v = 1"), ("primary", 2, "COMMIT"),
      ("primary", 2, "SELECT * FROM t WHERE id = 1")], True),
    # autocommit off opens a transaction with the next statement, as an ORM session does
    ([("primary", 1, "SET autocommit=0"), ("primary", 1, "SELECT * FROM t WHERE id = 1"),
      ("primary", 1, "UPDATE u SET v = 1 WHERE id = 1"), ("primary", 1, "COMMIT")], False),
    ([("primary", 1, "SET autocommit=0"), ("primary", 1, "UPDATE u SET v = 1 WHERE id = 1"), ("primary", 1, "COMMIT"),
      ("primary", 1, "SET autocommit=1"), ("primary", 1, "SELECT * FROM t WHERE id = 1")], True),
])
def test_a_read_is_replica_safe_only_outside_writing_transactions_and_after_no_write_to_its_table(rows, safe):
    traces, _ = traces_of(*rows)
    [trace] = traces
    select = next(i for i, traced in enumerate(trace.statements)
                  if traced.statement.sql.startswith("SELECT"))
    assert replica_safe(trace, select) is safe


def test_transaction_control_places_statements_but_is_no_statement_of_the_trace():
    traces, _ = traces_of(("primary", 1, "BEGIN"), ("primary", 1, "SELECT * FROM t WHERE id = 1"),
                          ("primary", 1, "SET autocommit=1"), ("primary", 1, "ROLLBACK"))
    [trace] = traces
    assert [traced.statement.sql for traced in trace.statements] == ["SELECT * FROM t WHERE id = 1"]
    assert trace.statements[0].in_transaction


def test_read_after_write_needs_the_same_rows_where_the_values_say_so():
    write = ("primary", 1, "UPDATE t SET v = 2 WHERE id = 42")
    assert rules_found(write, ("replica1", 7, "SELECT v FROM t WHERE id = 42")) == \
        [("read_after_write_on_replica", "t")]
    assert rules_found(write, ("replica1", 7, "SELECT v FROM t WHERE id = 43")) == []
    assert rules_found(write, ("replica1", 7, "SELECT v FROM t WHERE name = 'a'")) == \
        [("read_after_write_on_replica", "t")]  # no common column: the table is enough
    assert rules_found(write, ("replica1", 7, "SELECT v FROM other WHERE id = 42")) == []
    assert rules_found(("replica1", 7, "SELECT v FROM t WHERE id = 42"), write) == []  # read before the write


def test_a_write_on_a_replica_and_reads_on_the_primary_are_named():
    assert rules_found(("replica2", 3, "INSERT INTO t (id) VALUES (1)")) == [("write_on_replica", "t")]
    assert rules_found(("primary", 3, "SELECT * FROM t WHERE id = 1")) == [("read_on_primary", "t")]
    # One server, no labels: no routing rule speaks.
    assert rules_found((None, 3, "SELECT * FROM t WHERE id = 1"), (None, 4, "INSERT INTO t (id) VALUES (1)")) == []


def test_deferrable_write_skips_the_first_write_unit_transactions_and_tables_read_later():
    audit = ("primary", 1, "INSERT INTO audit (what) VALUES ('x')")
    assert rules_found(("primary", 1, "UPDATE t SET v = 1 WHERE id = 1"), audit) == [("deferrable_write", "audit")]
    assert rules_found(audit) == []  # the request's only write is its purpose
    in_one_transaction = [("primary", 1, "START TRANSACTION"), ("primary", 1, "UPDATE t SET v = 1 WHERE id = 1"),
                          ("primary", 1, "INSERT INTO audit (what) VALUES ('x')"), ("primary", 1, "COMMIT")]
    assert rules_found(*in_one_transaction) == []
    read_back = [("primary", 1, "UPDATE t SET v = 1 WHERE id = 1"), audit,
                 ("primary", 1, "SELECT * FROM audit")]
    assert rules_found(*read_back) == []  # read back (and after a write to it: the primary is right)


def test_traces_parse_a_statement_for_its_key_values_only_when_a_rule_asks(monkeypatch):
    """A capture's traces cost no sqlglot parse per statement: only the replica routing rules read keys."""
    import sqlglot

    parsed = []
    real_parse_one = sqlglot.parse_one
    monkeypatch.setattr(sqlglot, "parse_one", lambda sql, **kw: parsed.append(sql) or real_parse_one(sql, **kw))
    key_values.cache_clear()
    statements = [Statement("SELECT * FROM t WHERE id = 7", 1, "shop", "2026-11-30T10:00:00.000001Z", request=1)]
    [trace] = build_traces(statements, {})
    assert parsed == []
    assert trace.statements[0].keys == (("id", ("7",)),)
    assert parsed == ["SELECT * FROM t WHERE id = 7"]
