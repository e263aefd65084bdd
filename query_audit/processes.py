"""A second process for the big jobs: whether one pays, and how it is forked and answers.

A big log is read by two processes (sources/two_readers.py), and its many statements are modelled by two
(analyze/model_in_two.py), when a second core is idle now: on a machine whose other cores are busy, a
second process costs more CPU and ends later than one. The idle CPU is measured from /proc/stat, since
the package's import or a moment the caller chose, with this process's own CPU counted as idle (so usually
without waiting); else from the load average. The child is forked (it starts with this process's modules
and data, at no cost) and answers through an unnamed temporary file: its memory is given back before this
process reads the answer, so the two never hold their work and the copy at the same time.
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
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import query_audit

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

# Two processes need one core each: besides the one this process takes, this much of a core must be idle.
IDLE_CORE_NEEDED = 0.5
IDLE_SAMPLE_SECONDS = 0.05
READERS_VARIABLE = "QUERY_AUDIT_READERS"  # `1` or `2` overrides the decision (benchmarks, tests)


def can_fork() -> bool:
    """Whether a second process can be forked here (it needs the first one's state, not a fresh start).

    Where `os.fork` exists (multiprocessing's fork context exists exactly there) and so does an affinity
    mask: Linux and the BSDs. Not on Windows (no fork) nor on macOS, whose system libraries are not
    fork-safe (multiprocessing starts by spawn there) and which has no `os.sched_getaffinity`: one process.
    """
    return hasattr(os, "fork") and hasattr(os, "sched_getaffinity")


def forced_processes() -> int | None:
    """1 or 2 when QUERY_AUDIT_READERS fixes how many processes read and model a big log, else None."""
    forced = os.environ.get(READERS_VARIABLE, "").strip()
    return int(forced) if forced in ("1", "2") else None


def second_core_idle(since: CpuSample | None = None) -> bool:
    """Whether a second process would have a core of its own: two allowed, and one idle besides this one's
    (measured from `since`, by default from the process's start)."""
    return usable_cpus() >= 2 and idle_cpus(since=since) >= 1 + IDLE_CORE_NEEDED


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


def idle_cpus(seconds: float = IDLE_SAMPLE_SECONDS, since: CpuSample | None = None) -> float:
    """How many CPUs were idle over the last moment (at least `seconds`): /proc/stat read at `since` (by
    default at import), or again if that is long ago, and now (Linux; sleeping only what is missing of
    `seconds`), else the CPU count minus the 1-minute load average; the CPU count when neither can be read."""
    cpus = os.cpu_count() or 1
    before = since or _IMPORT_SAMPLE
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


class NoChild(Exception):
    """No child could be started (no temporary directory, no more processes): do it all here."""


def beside_a_child(child_work: Callable[[], object], own_work: Callable[[], object], name: str) -> tuple:
    """(`own_work()`, `child_work()`'s result or None): the child's work in a forked child while this process
    does its own. None when the child ended without a whole answer (killed, out of memory, an error, no
    room for its file): the caller does that work itself. NoChild, before `own_work` runs, when no child
    could be started. On the way out early (an error, Ctrl-C) the child is ended and collected."""
    with contextlib.ExitStack() as cleanup:
        try:
            answer = cleanup.enter_context(tempfile.TemporaryFile(prefix="query-audit-"))
            child = _start_forked(_answering, (child_work, answer.fileno()), name)
        except OSError:
            raise NoChild from None
        try:
            mine = own_work()
            child.join()
        finally:
            if child.exitcode is None:
                child.kill()
                child.join()
        theirs = _read_answer(answer) if child.exitcode == 0 else None
        child.close()
    return mine, theirs


def _answering(child_work: Callable[[], object], answer: int) -> None:
    """In the forked child: `child_work()`'s result into the file `answer`. Its exit code (multiprocessing's:
    0 when this returns) says whether the whole answer is there."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # on Ctrl-C the parent reports, the child just stops
    try:
        _write_answer(answer, child_work())
    except Exception:  # noqa: BLE001 - no traceback from here: exit 1, and the parent does the work itself
        sys.exit(1)


def _start_forked(target: Callable, args: tuple, name: str) -> BaseProcess:
    """A forked child running `target(*args)`. Fork, not spawn: the child starts with this process's modules,
    data and file positions, at no cost; it answers through a temporary file (`_write_answer`) rather than a
    pipe, so its memory is given back before this process reads the answer. OSError when it cannot start."""
    import multiprocessing  # here: 10-20 ms to import, for big inputs only

    for stream in (sys.stdout, sys.stderr):  # a fork copies unwritten output, and the child would write it too
        if stream is not None:
            stream.flush()
    child = multiprocessing.get_context("fork").Process(target=target, args=args, name=name, daemon=True)
    # The child's garbage collector would walk every object it inherits (the modules, sqlglot's among them),
    # writing into each one's header: a private copy of every page they are on. Frozen, they are left alone;
    # this process takes them back at once.
    gc.freeze()
    try:
        child.start()
    finally:
        gc.unfreeze()
    return child


def _read_answer(answer) -> object | None:
    """What a forked child wrote with `_write_answer`, or None when it is not all there."""
    answer.seek(0)
    try:
        return pickle.load(answer)
    except (EOFError, pickle.UnpicklingError):
        return None


def _write_answer(answer: int, result: object) -> None:
    """In a forked child: `result` into the file descriptor `answer` (no memo of every object sent: the
    answers have no cycles, and memory stays low)."""
    with open(answer, "wb", closefd=False) as out:
        pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.fast = True
        pickler.dump(result)
