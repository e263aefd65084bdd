"""One log file read by two processes, one per shard of connections, when that pays.

`digest_in_two` forks a child (query_audit/processes.py: where there is no fork, or no fork-safe one,
one process reads) that digests the connections of shard 1 while this process digests shard 0; the child
writes its Digest to an unnamed temporary file and ends, and `Digest.merge` puts the two together,
exactly as one process would have built it (see analyze/digest.py). Both processes read every line (only
a line tells where an entry ends and whose it is), but an entry of the other shard is only recognised,
its fields not made (general_log_file.py); the split saves the rest: noise filtering, fingerprints and
grouping, most of the work.

Whether it pays (`two_readers_pay`): a big file, and a second core that is idle now (processes.py).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from query_audit.analyze.digest import SHARDS, Digest
from query_audit.errors import SourceError
from query_audit.processes import NoChild, beside_a_child, can_fork, forced_processes, second_core_idle

Progress = Callable[[str, int, int], None]
# Below this size the file is read in a fraction of a second: a second process is not worth its start.
TWO_READERS_MIN_BYTES = 4 * 2**20


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


def two_readers_pay(source) -> bool:
    """Whether a second process is worth it: a big file, and a second core idle to run it on."""
    forced = forced_processes()
    if forced is not None:
        return forced == 2
    try:
        if os.path.getsize(source) < TWO_READERS_MIN_BYTES:
            return False
    except OSError:
        return False  # the reader reports it, as for one process
    return second_core_idle()


def digest_in_two(file: ShardedFile, digest: Digest, progress: Progress | None = None) -> None:
    """`file.read` with a forked child doing shard 1: the same Digest, in about 60% of the time.

    If the child fails without an answer (killed, out of memory, no room for its file), this process
    reads shard 1 itself; if there is no child at all (no temporary file, no fork), it reads everything.
    """
    theirs = digest.empty_like()  # shard 1's, from the same starting position
    # With a total (bytes of the file, which this process reads whole, skipping the child's entries) the
    # figure is already both readers'; a count of statements is this shard's: about half of both.
    both = None if progress is None else (
        lambda stage, done, total: progress(stage, done if total else done * SHARDS, total))
    try:
        _, result = beside_a_child(lambda: _shard_one_here(file, theirs),
                                   lambda: file.read(digest, both, shard=0), "query-audit shard 1")
    except NoChild:
        file.read(digest, progress)
        return
    if result is None:
        result = _shard_one_here(file, theirs)
    if result[0] == "error":
        raise SourceError(result[1])
    _, shard_one, noise_dropped, by_pattern = result
    digest.merge(shard_one)
    file.add_counts(noise_dropped, by_pattern)


def _shard_one_here(file: ShardedFile, theirs: Digest) -> tuple:
    """Shard 1 of the file into `theirs` (empty), with its own reader and filters (counts from zero)."""
    mine = file.fresh()
    try:
        mine.read(theirs, None, shard=1)
    except SourceError as exc:
        return "error", str(exc)
    theirs.forget_caches()
    return ("ok", theirs, *mine.counts())
