"""A big general log is read by two processes, one per shard of connections, and their Digests are
merged: the result must be exactly what one process builds, whatever the bounds prune."""

from __future__ import annotations

import os

import pytest

from bench.generate import write_log
from query_audit.analyze.digest import Digest
from query_audit.model import Statement
from query_audit.sources import general_log_digest, open_sources

# Small bounds, so that pruning, caps and the written-units memory all act on a small file.
TIGHT = {"max_values": 8, "max_thread_units": 2, "max_unit_values": 4, "max_samples": 2, "max_writer_units": 6}


def read(path, two_readers, **bounds):
    stream = open_sources([str(path)])
    digest = Digest(**bounds)
    stream.digest_into(digest, two_readers=two_readers)
    return (digest.groups(), digest.statements, digest.position, stream.noise_dropped, stream.noise_counts,
            stream.skipped_lines)


@pytest.fixture(scope="module", params=["mariadb", "mysql8"])
def generated(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("logs") / f"general-{request.param}.log"
    write_log(path, 20_000, request.param)  # pooled and short-lived connections, multi-line, prepared, noise
    text = path.read_text()
    path.write_text("a stray line before the header\n" + text)
    return path


@pytest.mark.parametrize("bounds", [{}, TIGHT], ids=["default bounds", "tight bounds"])
def test_two_readers_build_exactly_the_digest_of_one(generated, bounds):
    one = read(generated, False, **bounds)
    two = read(generated, True, **bounds)
    assert two == one
    groups, statements, _, noise_dropped, noise_counts, skipped = one
    assert len(groups) > 100 and statements > 15_000 and noise_dropped > 0 and skipped == 1
    assert any(len(group.repetitions) >= 2 for group in groups)  # units of both shards in one group


def test_when_the_second_reader_dies_this_process_reads_its_shard(generated, monkeypatch):
    def dies(*_):
        os._exit(9)

    monkeypatch.setattr(general_log_digest, "_child", dies)
    assert read(generated, True, **TIGHT) == read(generated, False, **TIGHT)


def test_two_readers_only_for_a_big_file_by_path_into_an_empty_digest(generated, monkeypatch):
    reader = open_sources([str(generated)])._parts[0].reader
    assert general_log_digest.two_readers_possible(reader, Digest())
    used = Digest()
    used.add(Statement("SELECT 1", thread_id=1))
    assert not general_log_digest.two_readers_possible(reader, used)
    with open(generated) as handle:
        assert not general_log_digest.two_readers_possible(type(reader)(handle), Digest())
    monkeypatch.setattr(general_log_digest, "TWO_READERS_MIN_BYTES", generated.stat().st_size)
    assert general_log_digest.two_readers_pay(reader) == (len(os.sched_getaffinity(0)) >= 2)
    monkeypatch.setattr(general_log_digest, "TWO_READERS_MIN_BYTES", generated.stat().st_size + 1)
    assert not general_log_digest.two_readers_pay(reader)


def test_a_second_file_is_read_by_one_process_into_the_digest_of_the_first(generated):
    """Two readers need an empty Digest: the second file goes on in this process, and the result is
    still the one of a single reader."""
    def read_both(two_readers):
        stream = open_sources([str(generated), str(generated)])
        digest = Digest(**TIGHT)
        stream.digest_into(digest, two_readers=two_readers)
        return digest.groups(), digest.statements, stream.noise_dropped, stream.skipped_lines

    assert read_both(True) == read_both(False)


def test_merge_refuses_digests_that_share_a_shard():
    first, second = Digest(), Digest()
    first.add(Statement("SELECT * FROM t WHERE id = 1", thread_id=2))
    second.add(Statement("SELECT * FROM t WHERE id = 2", thread_id=4))  # shard 0 as well
    with pytest.raises(ValueError, match="shard 0"):
        first.merge(second)


def test_merge_orders_groups_units_and_databases_by_position():
    statements = [Statement("SELECT * FROM a WHERE id = 1", thread_id=1, database="late"),
                  Statement("SELECT * FROM b WHERE id = 1", thread_id=2, database="early"),
                  Statement("SELECT * FROM a WHERE id = 2", thread_id=2, database="early"),
                  Statement("SELECT * FROM a WHERE id = 3", thread_id=1, database="late"),
                  Statement("SELECT * FROM a WHERE id = 4", thread_id=2, database="other")]
    whole, shards = Digest(), [Digest(), Digest()]
    for position, statement in enumerate(statements):
        whole.add(statement)
        shard = shards[statement.thread_id % 2]
        shard.position = position
        shard.add(statement)
    shards[0].merge(shards[1])
    assert shards[0].groups() == whole.groups()
    first = whole.groups()[0]
    assert first.databases == ("late", "early", "other")
    assert [rep.unit for rep in first.repetitions] == ["thread 1", "thread 2"]


def test_an_interrupt_while_reading_ends_the_second_reader_too(generated, monkeypatch):
    monkeypatch.setattr(general_log_digest, "PROGRESS_EVERY", 100)
    forked = []
    fork = os.fork

    def recording_fork():
        pid = fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", recording_fork)
    stream = open_sources([str(generated)])

    def interrupted(stage, done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        general_log_digest.digest_general_log_in_two(stream._parts[0].reader, stream._parts[0].extractor,
                                                     Digest(), interrupted)
    assert len(forked) == 1
    with pytest.raises(ChildProcessError):  # the child was ended and collected: nothing is left to wait for
        os.waitpid(forked[0], os.WNOHANG)


@pytest.mark.parametrize("failing", ["tempfile.TemporaryFile", "os.fork"])
def test_without_a_temporary_file_or_a_fork_one_process_reads_it_all(generated, monkeypatch, failing):
    def fails(*_, **__):
        raise OSError(28, "No space left on device")

    module, name = failing.split(".")
    monkeypatch.setattr(getattr(general_log_digest, module), name, fails)
    assert read(generated, True, **TIGHT) == read(generated, False, **TIGHT)


def test_a_general_log_file_reports_its_progress_in_bytes_of_its_size(tmp_path, monkeypatch):
    from query_audit.capture.statements import StatementExtractor
    from query_audit.sources.general_log_digest import READING, digest_general_log
    from query_audit.sources.general_log_file import GeneralLogReader

    monkeypatch.setattr(general_log_digest, "PROGRESS_EVERY", 1000)
    path = tmp_path / "general.log"
    path.write_text("".join(f"2026-11-26T10:00:00.{n:06d}Z\t   {n % 7} Query\tSELECT {n}\n" for n in range(30_000)))
    reader = GeneralLogReader(path)
    seen = []
    digest_general_log(reader, StatementExtractor(), Digest(), lambda stage, done, total: seen.append((stage, done, total)))
    assert seen and {stage for stage, _, _ in seen} == {READING}
    assert {total for _, _, total in seen} == {path.stat().st_size}
    dones = [done for _, done, _ in seen]
    assert dones == sorted(dones) and 0 < dones[0] < dones[-1] <= path.stat().st_size
