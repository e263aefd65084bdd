"""A big general or slow log is read by two processes, one per shard of connections, and their Digests are
merged: the result must be exactly what one process builds, whatever the bounds prune."""

from __future__ import annotations

import gc
import os
import re
from pathlib import Path

import pytest

from bench.generate import write_log, write_slow_log
from query_audit import processes
from query_audit.analyze.digest import Digest
from query_audit.model import Statement
from query_audit.sources import general_log_digest, open_sources, slow_log_digest, two_readers
from query_audit.sources.general_log_digest import GeneralLogFile

# Small bounds, so that pruning, caps and the written-units memory all act on a small file.
TIGHT = {"max_values": 8, "max_thread_units": 2, "max_unit_values": 4, "max_samples": 2, "max_writer_units": 6}
# Generated statements a log: hundreds of shapes, connections in both shards, noise; every read of it is a
# test's cost (each file is read some sixty times), so no bigger than that needs.
STATEMENTS = 5_000


def read(path, two_readers, **bounds):
    stream = open_sources([str(path)])
    digest = Digest(**bounds)
    stream.digest_into(digest, two_readers=two_readers)
    return (digest.groups(), digest.statements, digest.position, stream.noise_dropped, stream.noise_counts,
            stream.skipped_lines)


def sharded(stream):
    """The first file of a stream as two_readers.py reads it."""
    part = stream._parts[0]
    return part if isinstance(part, slow_log_digest.SlowLogFile) else GeneralLogFile(part.reader, part.extractor)


@pytest.fixture(scope="module", params=["general-mariadb", "general-mysql8", "slow-mariadb", "slow-mysql8"])
def generated(request, tmp_path_factory):
    kind, fmt = request.param.split("-")
    path = tmp_path_factory.mktemp("logs") / f"{request.param}.log"
    # pooled and short-lived connections, multi-line, prepared, noise
    (write_log if kind == "general" else write_slow_log)(path, STATEMENTS, fmt)
    text = path.read_text()
    path.write_text("a stray line before the header\n" + text)
    return path


@pytest.mark.parametrize("bounds", [{}, TIGHT], ids=["default bounds", "tight bounds"])
def test_two_readers_build_exactly_the_digest_of_one(generated, bounds):
    one = read(generated, False, **bounds)
    two = read(generated, True, **bounds)
    assert two == one
    groups, statements, _, noise_dropped, noise_counts, skipped = one
    assert len(groups) > 100 and statements > 0.75 * STATEMENTS and noise_dropped > 0 and skipped == 1
    assert any(len(group.repetitions) >= 2 for group in groups)  # units of both shards in one group


def test_when_the_second_reader_dies_this_process_reads_its_shard(generated, monkeypatch):
    parent, shard_one = os.getpid(), two_readers._shard_one_here

    def dies_in_the_child(file, theirs):
        if os.getpid() != parent:
            os._exit(9)
        return shard_one(file, theirs)

    monkeypatch.setattr(two_readers, "_shard_one_here", dies_in_the_child)
    assert read(generated, True, **TIGHT) == read(generated, False, **TIGHT)


def test_the_second_reader_leaves_the_objects_it_inherits_out_of_its_collections(generated, monkeypatch, tmp_path):
    """Frozen at the fork: its garbage collector does not write into (and so copy) every inherited page.
    This process takes them back at once."""
    frozen_in_child = tmp_path / "frozen"
    shard_one = two_readers._shard_one_here

    def noting_the_frozen(file, theirs):
        frozen_in_child.write_text(str(gc.get_freeze_count()))
        return shard_one(file, theirs)

    monkeypatch.setattr(two_readers, "_shard_one_here", noting_the_frozen)
    assert read(generated, True) == read(generated, False)
    assert int(frozen_in_child.read_text()) > 10_000  # the modules' objects, among others
    assert gc.get_freeze_count() == 0


def test_two_readers_only_for_a_big_file_by_path_into_an_empty_digest(generated, monkeypatch):
    source = sharded(open_sources([str(generated)])).source
    assert two_readers.two_readers_possible(source, Digest())
    used = Digest()
    used.add(Statement("SELECT 1", thread_id=1))
    assert not two_readers.two_readers_possible(source, used)
    with open(generated) as handle:
        assert not two_readers.two_readers_possible(handle, Digest())
    monkeypatch.delenv(processes.READERS_VARIABLE, raising=False)
    monkeypatch.setattr(processes, "usable_cpus", lambda: 2)
    monkeypatch.setattr(processes, "idle_cpus", lambda **_: 2.0)
    monkeypatch.setattr(two_readers, "TWO_READERS_MIN_BYTES", generated.stat().st_size)
    assert two_readers.two_readers_pay(source)
    monkeypatch.setattr(two_readers, "TWO_READERS_MIN_BYTES", generated.stat().st_size + 1)
    assert not two_readers.two_readers_pay(source)


def test_a_busy_second_core_or_a_single_one_means_one_reader(generated, monkeypatch):
    monkeypatch.delenv(processes.READERS_VARIABLE, raising=False)
    monkeypatch.setattr(two_readers, "TWO_READERS_MIN_BYTES", 0)
    source = str(generated)
    monkeypatch.setattr(processes, "usable_cpus", lambda: 2)
    monkeypatch.setattr(processes, "idle_cpus", lambda **_: 1.2)  # another process keeps a core mostly busy
    assert not two_readers.two_readers_pay(source)
    monkeypatch.setattr(processes, "usable_cpus", lambda: 1)  # the affinity mask allows one
    monkeypatch.setattr(processes, "idle_cpus", lambda **_: 8.0)
    assert not two_readers.two_readers_pay(source)
    monkeypatch.setenv(processes.READERS_VARIABLE, "2")  # the override, for benchmarks
    assert two_readers.two_readers_pay(source)
    monkeypatch.setattr(processes, "usable_cpus", lambda: 2)
    monkeypatch.setenv(processes.READERS_VARIABLE, "1")
    assert not two_readers.two_readers_pay(source)


def test_the_idle_cpu_and_core_count_are_read_without_raising_where_the_system_lacks_a_source(monkeypatch):
    assert 1 <= processes.usable_cpus() <= (os.cpu_count() or 1)
    assert 0.0 <= processes.idle_cpus(0.01) <= (os.cpu_count() or 1) + 0.01
    # macOS: no sched_getaffinity, no /proc/stat; Python < 3.13: no process_cpu_count
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.delattr(os, "process_cpu_count", raising=False)
    monkeypatch.setattr(processes, "_cpu_times", lambda: None)
    assert processes.usable_cpus() == (os.cpu_count() or 1)
    assert processes.idle_cpus(0.01) == max(0.0, (os.cpu_count() or 1) - os.getloadavg()[0])


def test_idle_cpu_counts_this_process_s_own_cpu_as_idle():
    """Measured from the process's start, this process's own CPU (it was busy starting) is idle for the
    second reader: the decision is the one a sample taken while it slept would give."""
    before = processes.CpuSample(10.0, 1.0, (1_000, 500))
    # Two CPUs over one second: half of the jiffies idle, the busy core this process's.
    assert before.idle_until(processes.CpuSample(11.0, 2.0, (1_200, 600)), 2) == 2.0
    # The same, but the busy core another process's: one CPU idle.
    assert before.idle_until(processes.CpuSample(11.0, 1.0, (1_200, 600)), 2) == 1.0
    # This process busy a quarter of the time, another one all of it.
    assert before.idle_until(processes.CpuSample(11.0, 1.25, (1_200, 550)), 2) == 0.75
    assert before.idle_until(processes.CpuSample(11.0, 2.0, (1_200, 700)), 2) == 2.0  # never more than all
    assert before.idle_until(processes.CpuSample(11.0, 2.0, (1_000, 500)), 2) is None  # /proc/stat did not move
    assert before.idle_until(processes.CpuSample(11.0, 2.0, None), 2) is None


def test_idle_cpu_waits_only_for_what_the_time_since_the_start_lacks(monkeypatch):
    slept = []
    monkeypatch.setattr(processes.time, "sleep", slept.append)
    if processes._start_sample().jiffies is None:
        pytest.skip("no /proc/stat here")
    started = processes.CpuSample.now()
    monkeypatch.setattr(processes, "_IMPORT_SAMPLE", started._replace(wall=started.wall - 0.5))
    assert 0.0 <= processes.idle_cpus(0.05) <= (os.cpu_count() or 1)
    assert slept == []  # half a second since the start: no wait
    monkeypatch.setattr(processes, "_IMPORT_SAMPLE", processes.CpuSample.now())
    processes.idle_cpus(60.0)
    assert len(slept) == 1 and 59.0 < slept[0] <= 60.0  # just started: the rest of the sample's time
    monkeypatch.setattr(processes, "_IMPORT_SAMPLE", started._replace(wall=started.wall - 1_000))
    processes.idle_cpus(60.0)
    assert len(slept) == 2 and slept[1] > 59.0  # long ago: sampled again, from now


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
    monkeypatch.setattr(slow_log_digest, "PROGRESS_EVERY", 100)
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
        two_readers.digest_in_two(sharded(stream), Digest(), interrupted)
    assert len(forked) == 1
    with pytest.raises(ChildProcessError):  # the child was ended and collected: nothing is left to wait for
        os.waitpid(forked[0], os.WNOHANG)


@pytest.mark.parametrize("failing", ["tempfile.TemporaryFile", "os.fork"])
def test_without_a_temporary_file_or_a_fork_one_process_reads_it_all(generated, monkeypatch, failing):
    def fails(*_, **__):
        raise OSError(28, "No space left on device")

    module, name = failing.split(".")
    monkeypatch.setattr(getattr(processes, module), name, fails)
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
def test_the_fast_path_gives_the_groups_of_one_statement_at_a_time(generated):
    """digest_into hands entries to the Digest as fields; adding each Statement gives the same groups."""
    by_statement = Digest(**TIGHT)
    stream = open_sources([str(generated)])
    for statement in stream.statements:
        by_statement.add(statement)
    groups, statements, _, noise_dropped, _, skipped = read(generated, False, **TIGHT)
    assert (by_statement.groups(), by_statement.statements, stream.noise_dropped, stream.skipped_lines) == (
        groups, statements, noise_dropped, skipped)


def test_without_fork_or_an_affinity_mask_one_process_reads_it_all(generated, monkeypatch):
    """Windows has no fork, macOS no sched_getaffinity (and no fork-safe system libraries): a general or
    slow log is read by one process there, with the same result, and nothing raises, even when forced."""
    one = read(generated, False, **TIGHT)
    monkeypatch.setattr(two_readers, "TWO_READERS_MIN_BYTES", 0)
    monkeypatch.setenv(processes.READERS_VARIABLE, "2")
    monkeypatch.delattr(os, "process_cpu_count", raising=False)
    assert processes.can_fork() == hasattr(os, "sched_getaffinity")  # Linux: yes
    for missing in ("sched_getaffinity", "fork"):
        with monkeypatch.context() as system:
            system.delattr(os, missing)
            if missing != "fork":  # fork exists, and must not be called
                system.setattr(os, "fork", lambda: pytest.fail("forked without an affinity mask"))
            assert not processes.can_fork()
            assert not two_readers.two_readers_possible(str(generated), Digest())
            assert processes.usable_cpus() >= 1
            assert read(generated, True, **TIGHT) == one
            assert read(generated, None, **TIGHT) == one


def test_a_second_reader_that_fails_writes_no_traceback(generated, monkeypatch, capfd):
    """The child's failure is its exit code, never a traceback on the user's terminal (here the parent,
    reading the shard itself with the same broken reader, raises; the CLI reports that in one line)."""
    def fails(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(two_readers, "_shard_one_here", fails)  # in the forked child as well
    with pytest.raises(OSError):
        read(generated, True, **TIGHT)
    out, err = capfd.readouterr()
    assert "Traceback" not in err + out and "shard 1" not in err


def test_the_fast_path_keeps_its_details_to_itself():
    """The shard count lives in analyze/digest.py (readers ask `shard_of`), fields are read by name, and
    processes are started through multiprocessing, not by hand."""
    sources = Path(two_readers.__file__).parent
    for path in sources.glob("*.py"):
        text = path.read_text()
        assert "% SHARDS" not in text, path
        assert not re.search(r"\bfields\[\d", text), path
        assert "os.fork(" not in text and "os._exit(" not in text and "os.waitpid(" not in text, path


class _CollectorProbe(Digest):
    """A Digest that notes, at every statement, whether the cyclic garbage collector is on."""

    def __init__(self, **bounds):
        super().__init__(**bounds)
        self.collector_on: set[bool] = set()

    def add_fields(self, *args, **kwargs):
        self.collector_on.add(gc.isenabled())
        return super().add_fields(*args, **kwargs)


@pytest.mark.parametrize("bounds", [{}, TIGHT], ids=["default bounds", "tight bounds"])
def test_the_reading_makes_no_cycles_so_it_runs_without_the_collector(generated, bounds):
    """collector.paused switches the collector off while a log is read. That is right only while the
    reading leaves no cyclic garbage behind (which would otherwise pile up until the reading ends)."""
    assert gc.isenabled()
    gc.collect()
    digest = _CollectorProbe(**bounds)
    open_sources([str(generated)]).digest_into(digest, two_readers=False)
    assert digest.collector_on == {False}  # off at every statement
    assert gc.isenabled()  # and on again afterwards
    assert len(list(digest.take_groups())) > 100  # what the pipeline does next
    assert gc.collect() == 0  # no object of the reading was only reachable through a cycle


def test_a_collector_that_was_off_stays_off(generated):
    gc.disable()
    try:
        read(generated, False)
        assert not gc.isenabled()
    finally:
        gc.enable()
