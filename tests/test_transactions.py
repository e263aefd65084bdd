"""Transactions apart: control statements are not query shapes; each connection's transaction state is
tracked through the statement stream, and the loops and the summary say what ran inside which transaction."""

from __future__ import annotations

import pytest

from query_audit.advise.summary import summarize
from query_audit.analyze.digest import Digest
from query_audit.analyze.transactions import control_kind
from query_audit.model import AnalyzedQuery, SourceInfo, Statement, StatementModel


@pytest.mark.parametrize("sql, kind", [
    ("BEGIN", ("begin", "")), ("begin work", ("begin", "")), ("START TRANSACTION", ("begin", "")),
    ("START TRANSACTION READ ONLY", ("begin", "")), ("START TRANSACTION WITH CONSISTENT SNAPSHOT", ("begin", "")),
    ("COMMIT", ("end", "COMMIT")), ("commit work;", ("end", "COMMIT")), ("ROLLBACK", ("end", "ROLLBACK")),
    ("COMMIT AND CHAIN", ("chain", "COMMIT")), ("ROLLBACK AND NO CHAIN", ("end", "ROLLBACK")),
    ("ROLLBACK TO SAVEPOINT sp1", ("savepoint", "")), ("ROLLBACK TO sp1", ("savepoint", "")),
    ("SAVEPOINT sp1", ("savepoint", "")), ("RELEASE SAVEPOINT sp1", ("savepoint", "")),
    ("SET autocommit=0", ("autocommit", "off")), ("SET @@session.autocommit = OFF", ("autocommit", "off")),
    ("SET SESSION autocommit = 1", ("autocommit", "on")), ("SET autocommit = ON", ("autocommit", "on")),
    ("/* app:blog */ COMMIT", ("end", "COMMIT")),
])
def test_transaction_control_statements_are_recognized(sql, kind):
    assert control_kind(sql) == kind


@pytest.mark.parametrize("sql", [
    "SELECT * FROM commits", "BEGIN NOT ATOMIC SELECT 1; END", "SET @autocommit = 0", "UPDATE t SET begin = 1",
    "COMMIT; DROP TABLE t", "SET autocommit = 0, sql_mode = ''", "INSERT INTO rollback_log VALUES (1)",
])
def test_other_statements_are_not_transaction_control(sql):
    assert control_kind(sql) is None


def digest_of(*statements: tuple[int, str], request: int | None = 1) -> Digest:
    digest = Digest()
    for thread, sql in statements:
        digest.add(Statement(sql, thread_id=thread, request=request))
    return digest


def loop_of(digest: Digest, start: str):
    group = next(g for g in digest.groups() if g.fingerprint.startswith(start))
    [repetition] = group.repetitions
    return repetition


def test_control_statements_are_not_query_shapes_but_counted_apart():
    digest = digest_of((7, "SELECT id FROM posts WHERE id = 1"), (7, "BEGIN"),
                       (7, "INSERT INTO t (a) VALUES (1)"), (7, "COMMIT"), (7, "ROLLBACK"))
    assert [g.fingerprint for g in digest.groups()] == ["select id from posts where id = ?",
                                                        "insert into t (a) values(?+)"]
    tracker = digest.transactions
    assert (tracker.begun, tracker.control_statements, tracker.statements_inside, tracker.idle_ends) == (1, 3, 1, 1)


def test_a_loop_inside_begin_commit_is_in_one_transaction_and_one_in_autocommit_in_none():
    inside = digest_of((7, "BEGIN"), *[(7, f"INSERT INTO t (a) VALUES ({n})") for n in range(4)], (7, "COMMIT"))
    assert (loop_of(inside, "insert").in_transaction, loop_of(inside, "insert").transactions) == (4, 1)
    autocommitted = digest_of(*[(7, f"INSERT INTO t (a) VALUES ({n})") for n in range(4)])
    assert (loop_of(autocommitted, "insert").in_transaction, loop_of(autocommitted, "insert").transactions) == (0, 0)


def test_one_transaction_per_row_is_told_apart_from_one_for_all():
    rows = []
    for n in range(3):
        rows += [(7, "START TRANSACTION"), (7, f"UPDATE t SET a = {n} WHERE id = {n}"), (7, "COMMIT")]
    assert (loop_of(digest_of(*rows), "update").in_transaction, loop_of(digest_of(*rows), "update").transactions) \
        == (3, 3)


def test_autocommit_off_opens_a_transaction_implicitly_until_commit_and_set_autocommit_on_ends_it():
    digest = digest_of((7, "SET autocommit = 0"), (7, "INSERT INTO t (a) VALUES (1)"),
                       (7, "INSERT INTO t (a) VALUES (2)"), (7, "COMMIT"), (7, "INSERT INTO t (a) VALUES (3)"),
                       (7, "SET autocommit = 1"), (7, "INSERT INTO t (a) VALUES (4)"))
    repetition = loop_of(digest, "insert")
    assert (repetition.count, repetition.in_transaction, repetition.transactions) == (4, 3, 2)
    assert digest.transactions.begun == 2


def test_state_is_per_connection_even_when_one_request_uses_several():
    # thread 8's INSERTs run while thread 7 holds a transaction open: they are autocommitted
    digest = digest_of((7, "BEGIN"), (7, "INSERT INTO t (a) VALUES (1)"), (8, "INSERT INTO t (a) VALUES (2)"),
                       (8, "INSERT INTO t (a) VALUES (3)"), (7, "COMMIT"))
    assert loop_of(digest, "insert").in_transaction == 1


def test_merged_shards_add_their_counts():
    first = digest_of((2, "BEGIN"), (2, "INSERT INTO t (a) VALUES (1)"), (2, "COMMIT"), request=None)
    second = first.empty_like()
    for sql in ("ROLLBACK", "SELECT 2 FROM t WHERE a = 1"):
        second.add(Statement(sql, thread_id=3))
    first.merge(second)
    assert (first.transactions.begun, first.transactions.control_statements, first.transactions.idle_ends) == (1, 3, 1)


def test_the_summary_counts_transactions_and_their_round_trips_per_request():
    digest = Digest()
    for request in (1, 2):
        for sql in ("BEGIN", "INSERT INTO t (a) VALUES (1)", "COMMIT", "ROLLBACK"):
            digest.add(Statement(sql, thread_id=5, request=request))
    queries = [AnalyzedQuery(group, StatementModel(group.kind)) for group in digest.groups()]
    summary = summarize(queries, SourceInfo("capture", requests=2), transactions=digest.transactions)
    assert (summary.statements, summary.other, summary.round_trips_per_request) == (2, 0, 4.0)
    counts = summary.transactions
    assert (counts.transactions, counts.control_statements, counts.statements_inside, counts.idle_ends) == (2, 6, 2, 2)
    assert (counts.per_request, counts.control_statements_per_request) == (1.0, 3.0)


def batching_findings(*statements: tuple[int, str]):
    from query_audit.advise.rules import bulk_insert, write_loop
    from query_audit.analyze.sql_model import describe
    from query_audit.model import Thresholds

    queries = [AnalyzedQuery(group, describe(group.sample.sql)) for group in digest_of(*statements).groups()]
    return bulk_insert.RULE.check(queries, {}, Thresholds()) + write_loop.RULE.check(queries, {}, Thresholds())


def test_bulk_insert_says_the_loop_ran_in_one_transaction_and_does_not_ask_for_one():
    [finding] = batching_findings((7, "BEGIN"), *[(7, f"INSERT INTO t (a) VALUES ({n})") for n in range(3)],
                                  (7, "COMMIT"))
    assert finding.message == ("3 single-row INSERTs into `t` in request 1, all inside one transaction: one commit, "
                               "but still one round trip each")
    assert "wrap them in one transaction" not in finding.suggestion
    assert (finding.evidence["in_transaction"], finding.evidence["transactions"]) == (3, 1)


def test_bulk_insert_in_autocommit_asks_for_one_transaction_when_rows_stay_separate():
    [finding] = batching_findings(*[(7, f"INSERT INTO t (a) VALUES ({n})") for n in range(3)])
    assert finding.message.endswith("each in autocommit: its own transaction, commit and log flush")
    assert "wrap them in one transaction (START TRANSACTION ... COMMIT)" in finding.suggestion


def test_write_loop_says_how_its_writes_were_committed():
    statements = []
    for n in range(3):
        statements += [(7, "BEGIN"), (7, f"DELETE FROM t WHERE id = {n}"), (7, "COMMIT")]
    [finding] = batching_findings(*statements)
    assert "3 DELETEs of `t` one key at a time in request 1, spread over 3 transactions: a commit each" \
        in finding.message
