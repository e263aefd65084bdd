"""Digest: statements grouped by shape, with the per-unit evidence the advisor needs, in flat memory."""

from __future__ import annotations

import random

from query_audit.analyze.digest import Digest, StatementFields, fresh_copy
from query_audit.analyze.fingerprint import query_id
from query_audit.model import Kind, Statement


def digest_of(statements, **options) -> list:
    digest = Digest(**options)
    for statement in statements:
        digest.add(statement)
    return digest.groups()


def by_fingerprint(groups) -> dict:
    return {group.fingerprint: group for group in groups}


def test_groups_come_in_order_of_first_appearance_with_the_first_statement_as_sample():
    groups = digest_of([
        Statement("UPDATE t SET a = 1 WHERE id = 7", thread_id=1),
        Statement("SELECT * FROM t WHERE id = 1", thread_id=1),
        Statement("update t set a = 2 where id = 8", thread_id=1),
    ])
    assert [g.fingerprint for g in groups] == ["update t set a = ? where id = ?", "select * from t where id = ?"]
    assert [g.count for g in groups] == [2, 1]
    assert groups[0].sample.sql == "UPDATE t SET a = 1 WHERE id = 7"
    assert groups[0].id == query_id("update t set a = ? where id = ?")
    assert [g.kind for g in groups] == [Kind.UPDATE, Kind.SELECT]


def test_distinct_values_count_different_literal_sets():
    group, = digest_of([Statement(f"SELECT * FROM t WHERE id = {i % 3}") for i in range(10)])
    assert group.count == 10
    assert group.distinct_values == 3


def test_distinct_values_stop_counting_at_the_cap():
    group, = digest_of([Statement(f"SELECT * FROM t WHERE id = {i}") for i in range(50)], max_values=20)
    assert group.distinct_values == 20
    assert group.count == 50


def test_databases_are_listed_once_each_in_order_seen():
    group, = digest_of([Statement("SELECT 5", database="b"), Statement("SELECT 6", database="a"),
                        Statement("SELECT 7", database="b"), Statement("SELECT 8")])
    assert group.databases == ("b", "a")


def test_timings_are_summed_when_present_and_none_when_never_captured():
    with_timings = digest_of([
        Statement("SELECT * FROM t WHERE a = 1", query_time=0.25, rows_examined=100, rows_sent=1),
        Statement("SELECT * FROM t WHERE a = 2", query_time=0.5, rows_examined=300, rows_sent=0),
        Statement("SELECT * FROM t WHERE a = 3"),
    ])[0]
    assert (with_timings.total_query_time, with_timings.max_query_time) == (0.75, 0.5)
    assert (with_timings.total_rows_examined, with_timings.total_rows_sent) == (400, 1)
    without, = digest_of([Statement("SELECT * FROM t WHERE a = 1")])
    assert (without.total_query_time, without.max_query_time, without.total_rows_examined,
            without.total_rows_sent) == (None, None, None, None)


def test_n_plus_one_in_one_request_is_a_repetition_with_distinct_values_and_samples():
    statements = [Statement("SELECT * FROM orders WHERE user_id = 1", thread_id=9, request=1)]
    statements += [Statement(f"SELECT * FROM items WHERE order_id = {i}", thread_id=9, request=1) for i in range(12)]
    statements += [Statement("SELECT * FROM items WHERE order_id = 5", thread_id=9, request=2)]
    groups = by_fingerprint(digest_of(statements))
    items = groups["select * from items where order_id = ?"]
    assert len(items.repetitions) == 1  # request 2 ran it once: not a repetition
    repetition, = items.repetitions
    assert (repetition.unit, repetition.count, repetition.distinct_values) == ("request 1", 12, 12)
    assert repetition.samples == tuple(f"SELECT * FROM items WHERE order_id = {i}" for i in range(5))  # max_samples
    assert groups["select * from orders where user_id = ?"].repetitions == ()


def test_the_same_values_repeated_is_one_distinct_value_and_one_sample():
    group, = digest_of([Statement("SELECT * FROM settings WHERE k = 'tz'", request=1) for _ in range(4)])
    repetition, = group.repetitions
    assert (repetition.count, repetition.distinct_values, repetition.samples) == (
        4, 1, ("SELECT * FROM settings WHERE k = 'tz'",))


def test_without_a_request_the_unit_is_the_connection():
    group, = digest_of([Statement(f"SELECT * FROM t WHERE id = {i}", thread_id=12) for i in range(3)]
                       + [Statement("SELECT * FROM t WHERE id = 9", thread_id=13)])
    assert [(r.unit, r.count) for r in group.repetitions] == [("thread 12", 3)]


def test_placeholder_executions_count_as_different_values():
    group, = digest_of([Statement("SELECT * FROM t WHERE id = ?", thread_id=3, command="Execute", placeholders=True)
                        for _ in range(4)])
    assert group.distinct_values == 4
    assert group.repetitions[0].distinct_values == 4


def test_reads_after_a_write_in_the_same_unit_are_counted():
    groups = by_fingerprint(digest_of([
        Statement("SELECT * FROM t WHERE id = 1", request=1),   # before any write
        Statement("INSERT INTO t (id) VALUES (2)", request=1),
        Statement("SELECT * FROM t WHERE id = 2", request=1),   # after the write
        Statement("SELECT * FROM t WHERE id = 3", request=2),   # another request: no write there
        Statement("SELECT * FROM t WHERE id = 4", request=1),   # still after the write
    ]))
    assert groups["select * from t where id = ?"].after_write_count == 2
    assert groups["insert into t (id) values(?+)"].after_write_count == 0


def test_connection_units_are_bounded_and_keep_the_busiest():
    statements = [Statement(f"SELECT * FROM t WHERE id = {i}", thread_id=1) for i in range(30)]  # the N+1
    for thread in range(100, 400):  # 300 short connections running it once or twice
        statements += [Statement("SELECT * FROM t WHERE id = 1", thread_id=thread)] * (1 + thread % 2)
    digest = Digest(max_thread_units=4)
    for statement in statements:
        digest.add(statement)
    group = digest._groups["select * from t where id = ?"]
    assert sum(len(shard) for shard in group.units) <= 4 * 4  # pruned, never more than the bound
    repetitions = digest.groups()[0].repetitions
    assert repetitions[0].unit == "thread 1" and repetitions[0].count == 30
    assert digest.groups()[0].count == 30 + sum(1 + thread % 2 for thread in range(100, 400))


def test_request_units_of_a_capture_are_all_kept():
    statements = [Statement(f"SELECT * FROM t WHERE id = {i}", request=request)
                  for request in range(1, 41) for i in range(2)]
    group, = digest_of(statements, max_thread_units=4)
    assert len(group.repetitions) == 40


def test_per_unit_state_is_bounded():
    group, = digest_of([Statement(f"SELECT * FROM t WHERE id = {i}", thread_id=1) for i in range(500)],
                       max_unit_values=16, max_samples=10)
    repetition, = group.repetitions
    assert repetition.count == 500
    assert repetition.distinct_values == 16
    assert len(repetition.samples) == 10


def test_the_written_units_memory_forgets_the_oldest():
    digest = Digest(max_writer_units=10)
    for thread in range(25):
        digest.add(Statement("DELETE FROM t WHERE id = 1", thread_id=thread))
    assert sum(len(shard) for shard in digest._writers) <= 10  # 5 per shard of connections
    assert "thread 24" in digest._writers[0] and "thread 23" in digest._writers[1]


def test_add_fields_counts_like_add_and_builds_only_the_first_sample():
    statements = [Statement(f"SELECT * FROM t WHERE id = {i}", 7, "shop", f"2026-11-26T10:00:0{i}", "Query",
                            None, "app") for i in range(3)]
    by_statement = digest_of(statements)
    digest = Digest()
    for s in statements:
        digest.add_fields(StatementFields(s.sql, s.thread_id, s.database, s.time, s.command, None, s.user,
                                          s.placeholders))
    assert digest.groups() == by_statement
    [group] = by_statement
    assert group.sample == statements[0] and group.count == 3 and group.distinct_values == 3


def test_add_fields_counts_each_placeholder_run_as_different_values():
    digest = Digest()
    for _ in range(3):
        digest.add_fields(StatementFields("SELECT * FROM t WHERE id = ?", 7, None, None, "Execute", None, None, True))
    [group] = digest.groups()
    assert group.distinct_values == 3 and group.sample.placeholders


def test_take_groups_gives_the_groups_and_leaves_the_digest_empty():
    digest = Digest()
    for sql in ("SELECT * FROM a WHERE id = 1", "SELECT * FROM b WHERE id = 2", "SELECT * FROM a WHERE id = 3"):
        digest.add(Statement(sql, thread_id=7))
    listed = digest.groups()
    assert list(digest.take_groups()) == listed and len(listed) == 2
    assert digest.groups() == []


def test_value_keys_are_counted_exactly_however_often_they_repeat():
    """The value keys are stored compactly (repeats dropped only now and then): every count that is read
    must still be the exact number of different value sets, capped, as a set of them would give."""
    rng = random.Random(12)
    for distinct, runs in ((1, 1000), (3, 70), (15, 400), (16, 40), (17, 5000), (40, 2000), (255, 3000),
                           (256, 600), (300, 2000)):
        values = [rng.randrange(distinct) for _ in range(runs)]
        group, = digest_of([Statement(f"SELECT * FROM t WHERE id = {value}", thread_id=1) for value in values])
        seen = len(set(values))
        assert group.distinct_values == min(seen, 256), (distinct, runs)
        repetition, = group.repetitions
        assert repetition.distinct_values == min(seen, 16) and repetition.values_capped == (seen >= 16)


def test_merged_value_keys_count_the_union_exactly():
    rng = random.Random(3)
    for distinct in (10, 150, 300):
        statements = [Statement(f"SELECT * FROM t WHERE id = {rng.randrange(distinct)}", thread_id=1 + rng.randrange(2))
                      for _ in range(1500)]
        whole = Digest()
        shards = [Digest(), Digest()]
        for position, statement in enumerate(statements):
            whole.add_fields(StatementFields(statement.sql, statement.thread_id, None, None, "Query", None, None,
                                             False), position)
            shards[statement.thread_id % 2].add_fields(
                StatementFields(statement.sql, statement.thread_id, None, None, "Query", None, None, False), position)
        shards[0].merge(shards[1])
        assert shards[0].groups() == whole.groups()
        seen = len({statement.sql for statement in statements})
        assert whole.groups()[0].distinct_values == min(seen, 256)


def test_what_outlives_the_reading_is_copied_equal():
    sql = "SELECT * FROM t WHERE id = 1"
    statement = Statement(sql, thread_id=1)
    digest = Digest()
    digest.add(statement)
    group, = digest.take_groups()
    assert group.sample == statement and group.sample.sql is not sql
    assert fresh_copy("é\udcff x") == "é\udcff x" and fresh_copy("") == ""
