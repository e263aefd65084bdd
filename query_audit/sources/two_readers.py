"""One log file read by two processes, one per shard of connections, when that pays.

`digest_in_two` forks a child (a multiprocessing Process of the fork context: where there is no fork,
or no fork-safe one, one process reads) that digests the connections of shard 1 while this process digests
shard 0; the child writes its Digest to an unnamed temporary file and ends, and `Digest.merge` puts
the two together, exactly as one process would have built it (see analyze/digest.py). A file rather
than a pipe: the child's memory is given back before this process reads its answer, so the two never
hold their digests and the copy at the same time. Both processes read every line (only a line tells
where an entry ends and whose it is), but an entry of the other shard is only recognised, its fields
not made (general_log_file.py); the split saves the rest: noise filtering, fingerprints and grouping,
most of the work. The objects the child inherits are frozen at the fork (`gc.freeze`), so that its
garbage collector does not copy every page they are on.

Whether it pays (`two_readers_pay`): a big file, and a second core that is idle now. Both readers
parse every line, so on a machine whose other cores are busy two readers cost more CPU and end later
than one: the idle CPU is measured before forking (/proc/stat since the package's import, with this
process's own CPU counted as idle, so usually without waiting; else the load average).
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

import query_audit
from query_audit.analyze.digest import SHARDS, Digest
from query_audit.errors import SourceError

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

Progress = Callable[[str, int, int], None]
# Below this size the file is read in a fraction of a second: a second process is not worth its start.
TWO_READERS_MIN_BYTES = 4 * 2**20
# Two readers need one core each: besides the one this process takes, this much of a core must be idle.
IDLE_CORE_NEEDED = 0.5
IDLE_SAMPLE_SECONDS = 0.05
READERS_VARIABLE = "QUERY_AUDIT_READERS"  # `1` or `2` overrides the decision (benchmarks, tests)


class ShardedFile(Protocol):
    """A log file and its filters, readable by shard: what each of the two processes runs."""

    source: str | Path | object  # a path, when two processes can read it

    def read(self, digest: Digest, progress: Progress | None = None, shard: int | None = None) -> None:
        """Digest the file (only `shard`'s connections, when given), counting noise here."""

    def fresh(self) -> ShardedFile:
        """The same file and filters, read again from the start, with counts from zero."""

    def counts(self) -> tuple[int, Counter]:
        """Noise dropped, in all and by pattern name."""

    def add_counts(self, noise_dropped: int, by_pattern: Counter) -> None:
        """Add another reader's noise counts to these."""


def digest_file(file: ShardedFile, digest: Digest, progress: Progress | None = None,
                two_readers: bool | None = None) -> None:
    """Digest one file, by two processes when possible and `two_readers` (None: when it pays)."""
    if two_readers_possible(file.source, digest) and (two_readers_pay(file.source) if two_readers is None
                                                      else two_readers):
        digest_in_two(file, digest, progress)
    else:
        file.read(digest, progress)


def two_readers_possible(source, digest: Digest) -> bool:
    """Whether a file can be read by two processes: given by path (the child opens it again), on a
    system with fork (not Windows), into an empty Digest (`merge` needs the two to hold different shards only)."""
    return can_fork() and isinstance(source, (str, Path)) and not digest.statements


def can_fork() -> bool:
    """Whether a second reader can be forked here (it needs the first one's state, not a fresh start).

    Where `os.fork` exists (multiprocessing's fork context exists exactly there) and so does an affinity
    mask: Linux and the BSDs. Not on Windows (no fork) nor on macOS, whose system libraries are not
    fork-safe (multiprocessing starts by spawn there) and which has no `os.sched_getaffinity`: one reader.
    """
    return hasattr(os, "fork") and hasattr(os, "sched_getaffinity")


def two_readers_pay(source) -> bool:
    """Whether a second process is worth it: a big file, and a second core idle to run it on."""
    forced = os.environ.get(READERS_VARIABLE, "").strip()
    if forced in ("1", "2"):
        return forced == "2"
    try:
        if os.path.getsize(source) < TWO_READERS_MIN_BYTES:
            return False
    except OSError:
        return False  # the reader reports it, as for one process
    return usable_cpus() >= 2 and idle_cpus() >= 1 + IDLE_CORE_NEEDED


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask where the system has one (Linux), else all."""
    if hasattr(os, "process_cpu_count"):  # Python 3.13+
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):  # absent on macOS and Windows
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class CpuSample(NamedTuple):
    """What idle CPU is measured from: when (monotonic seconds), this process's CPU seconds by then, and
    /proc/stat's (all, idle) jiffies (None where there is none)."""

    wall: float
    own_cpu: float
    jiffies: tuple[int, int] | None

    @classmethod
    def now(cls) -> CpuSample:
        return cls(time.monotonic(), time.process_time(), _cpu_times())

    def idle_until(self, later: CpuSample, cpus: int) -> float | None:
        """The CPUs idle between the two samples, counting the one this process used as idle (it is the
        one that reads next), or None when /proc/stat could not be read or did not move."""
        if self.jiffies is None or later.jiffies is None or later.jiffies[0] <= self.jiffies[0]:
            return None
        idle = cpus * (later.jiffies[1] - self.jiffies[1]) / (later.jiffies[0] - self.jiffies[0])
        own = (later.own_cpu - self.own_cpu) / max(later.wall - self.wall, 1e-9)
        return min(float(cpus), idle + own)


def idle_cpus(seconds: float = IDLE_SAMPLE_SECONDS) -> float:
    """How many CPUs were idle over the last moment (at least `seconds`): /proc/stat read at import, or
    again if that is long ago, and now (Linux; sleeping only what is missing of `seconds`), else the CPU
    count minus the 1-minute load average; the CPU count when neither can be read."""
    cpus = os.cpu_count() or 1
    before = _IMPORT_SAMPLE
    if time.monotonic() - before.wall > IDLE_SAMPLE_MAX_AGE or before.jiffies is None:
        before = CpuSample.now()
    if before.jiffies is not None:
        missing = seconds - (time.monotonic() - before.wall)
        if missing > 0:
            time.sleep(missing)
        idle = before.idle_until(CpuSample.now(), cpus)
        if idle is not None:
            return idle
    try:
        return max(0.0, cpus - os.getloadavg()[0])
    except (AttributeError, OSError):  # no load average (Windows)
        return float(cpus)


def _cpu_times(first_line: bytes | None = None) -> tuple[int, int] | None:
    """(all, idle) jiffies of all CPUs from /proc/stat's first line (read now, unless given), or None where
    there is none."""
    try:
        if first_line is None:
            with open("/proc/stat", "rb") as stat:
                first_line = stat.readline()
        jiffies = [int(value) for value in first_line.split()[1:]]
    except (OSError, ValueError):
        return None
    if len(jiffies) < 5:
        return None
    return sum(jiffies[:8]), jiffies[3] + jiffies[4]  # user..steal; idle + iowait (guest is inside user)


def _start_sample() -> CpuSample:
    """The sample the package took as it was imported (query_audit/__init__.py), else one taken now."""
    started = getattr(query_audit, "STARTED", None)
    if started is None:
        return CpuSample.now()
    wall, own_cpu, first_line = started
    return CpuSample(wall, own_cpu, _cpu_times(first_line) if first_line is not None else None)


# Taken at the process's start: by the time a big file is read, usually long enough ago to measure from
# without sleeping. Too old (a long run before it), it says little of now: sampled again.
_IMPORT_SAMPLE = _start_sample()
IDLE_SAMPLE_MAX_AGE = 2.0


def digest_in_two(file: ShardedFile, digest: Digest, progress: Progress | None = None) -> None:
    """`file.read` with a forked child doing shard 1: the same Digest, in about 60% of the time.

    If the child fails without an answer (killed, out of memory, no room for its file), this process
    reads shard 1 itself; if there is no child at all (no temporary file, no fork), it reads everything.
    """
    theirs = digest.empty_like()  # shard 1's, from the same starting position
    with contextlib.ExitStack() as cleanup:
        try:
            answer = cleanup.enter_context(tempfile.TemporaryFile(prefix="query-audit-"))
            child = _start_child(file, theirs, answer)
        except OSError:  # no temporary directory, or no more processes: one reader does it all
            file.read(digest, progress)
            return
        try:
            # With a total (bytes of the file, which this process reads whole, skipping the child's entries) the
            # figure is already both readers'; a count of statements is this shard's: about half of both.
            both = None if progress is None else (
                lambda stage, done, total: progress(stage, done if total else done * SHARDS, total))
            file.read(digest, both, shard=0)
            child.join()
        finally:
            if child.exitcode is None:  # leaving early (an error, Ctrl-C): end it, and collect it
                child.kill()
                child.join()
        result = _answer(answer) if child.exitcode == 0 else None
        child.close()
    if result is None:
        result = _shard_one_here(file, theirs)
    if result[0] == "error":
        raise SourceError(result[1])
    _, shard_one, noise_dropped, by_pattern = result
    digest.merge(shard_one)
    file.add_counts(noise_dropped, by_pattern)


def _start_child(file: ShardedFile, theirs: Digest, answer) -> BaseProcess:
    """The forked child that reads shard 1 (`_child`). Fork, not spawn: the child starts with this process's
    modules, filters and file position, at no cost; it answers through `answer` rather than a pipe, so its
    memory is given back before this process reads the answer. OSError when it cannot be started."""
    import multiprocessing  # here: 10-20 ms to import, for big files only

    for stream in (sys.stdout, sys.stderr):  # a fork copies unwritten output, and the child would write it too
        if stream is not None:
            stream.flush()
    child = multiprocessing.get_context("fork").Process(target=_child, args=(file, theirs, answer.fileno()),
                                                        name="query-audit shard 1", daemon=True)
    # The child's garbage collector would walk every object it inherits (the modules, sqlglot's among them),
    # writing into each one's header: a private copy of every page they are on. Frozen, they are left alone;
    # this process takes them back at once.
    gc.freeze()
    try:
        child.start()
    finally:
        gc.unfreeze()
    return child


def _answer(answer) -> tuple | None:
    answer.seek(0)
    try:
        return pickle.load(answer)
    except (EOFError, pickle.UnpicklingError):
        return None


def _child(file: ShardedFile, theirs: Digest, answer: int) -> None:
    """In the forked child: digest shard 1 and write ("ok", Digest, noise dropped, by pattern) or ("error",
    message) to the file `answer`. Its exit code (multiprocessing's: 0 when this returns) says whether the
    whole answer is there."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # on Ctrl-C the parent reports, the child just stops
    try:
        result = _shard_one_here(file, theirs)
        with open(answer, "wb", closefd=False) as out:
            pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
            pickler.fast = True  # no memo of every object sent: the Digest has no cycles, and memory stays low
            pickler.dump(result)
    except Exception:  # noqa: BLE001 - no traceback from here: exit 1, and the parent reads shard 1 itself
        sys.exit(1)


def _shard_one_here(file: ShardedFile, theirs: Digest) -> tuple:
    """Shard 1 of the file into `theirs` (empty), with its own reader and filters (counts from zero)."""
    mine = file.fresh()
    try:
        mine.read(theirs, None, shard=1)
    except SourceError as exc:
        return "error", str(exc)
    theirs.forget_caches()
    return ("ok", theirs, *mine.counts())
