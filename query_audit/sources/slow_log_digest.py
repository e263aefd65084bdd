"""The hot loop of `analyze` on a big slow log: entries to the Digest as plain fields, with their timings.

A `SlowLogFile` is read once, either as Statements (iterating it: what `SourceStream.statements`
gives) or into a Digest by `read`, where a Statement is built only for each shape's first sample;
by shard of connections too, so that two_readers.py can read a big one on two cores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from query_audit.analyze.digest import Digest
from query_audit.capture.noise import NoiseFilter
from query_audit.model import Statement
from query_audit.sources.general_log_digest import PROGRESS_EVERY
from query_audit.sources.slow_log_file import SlowLogReader

Progress = Callable[[str, int, int], None]


class SlowLogFile:
    """The statements of a slow log minus the noise, counting what it dropped."""

    def __init__(self, reader: SlowLogReader, noise: NoiseFilter | None):
        self.reader = reader
        self.source = reader.source
        self.noise = noise
        self.noise_dropped = 0

    def __iter__(self) -> Iterator[Statement]:
        is_noise = self.noise.is_noise if self.noise is not None else None
        for statement in self.reader:
            if is_noise is not None and is_noise(statement.sql):
                self.noise_dropped += 1
                continue
            yield statement

    def read(self, digest: Digest, progress: Progress | None = None, shard: int | None = None) -> None:
        """Entries -> Digest, each statement at its entry's position in the file (with `shard`, only
        that shard's connections)."""
        is_noise = self.noise.is_noise if self.noise is not None else None
        add = digest.add_timed_fields
        every = PROGRESS_EVERY
        start = digest.position
        last = -1  # the index of the last entry read here
        dropped = 0
        for index, fields, query_time, lock_time, sent, examined, flags in self.reader.numbered_entries(shard):
            last = index
            if is_noise is not None and is_noise(fields.sql):
                dropped += 1
                continue
            add(fields, start + index, query_time, lock_time, sent, examined, flags)
            if progress is not None and digest.statements % every == 0:
                progress("reading statements", digest.statements, 0)
        self.noise_dropped += dropped
        digest.position = start + last + 1  # with a shard, `merge` takes the later of the two readers' ends

    def fresh(self) -> SlowLogFile:
        return SlowLogFile(SlowLogReader(self.source), self.noise.with_zero_counts() if self.noise else None)

    def counts(self) -> tuple[int, Counter]:
        return self.noise_dropped, self.noise.dropped if self.noise is not None else Counter()

    def add_counts(self, noise_dropped: int, by_pattern: Counter) -> None:
        self.noise_dropped += noise_dropped
        if self.noise is not None:
            self.noise.dropped.update(by_pattern)
