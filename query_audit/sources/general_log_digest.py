"""The hot loop of `analyze` on a big general log.

`digest_general_log` hands each entry of the file to the Digest as plain fields (no Statement per
line), all of them or one shard's connections; `GeneralLogFile` is what two_readers.py needs to read
a big file on two cores (there the split saves noise filtering, fingerprints and grouping, about 80%
of the work: both processes parse every line).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from query_audit.analyze.digest import Digest
from query_audit.capture.statements import StatementExtractor
from query_audit.sources.general_log_file import GeneralLogReader

Progress = Callable[[str, int, int], None]
PROGRESS_EVERY = 50_000  # statements between two progress reports
READING = "reading the log (bytes)"  # the progress stage of a general log file: bytes read of its size


def digest_general_log(reader: GeneralLogReader, extractor: StatementExtractor, digest: Digest,
                       progress: Progress | None = None, shard: int | None = None) -> None:
    """Entries -> statement fields -> Digest, each statement at its entry's position in the file.

    With `shard`, only the connections of that shard (the reader skips the others' entries).
    """
    fields_of = extractor.statement_fields
    add_fields = digest.add_fields
    every = PROGRESS_EVERY
    start = digest.position
    last = -1  # the index of the file's last entry of this shard
    for index, thread_id, command, argument, time in reader.numbered_entries(shard):
        last = index
        fields = fields_of(thread_id, command, argument, time)
        if fields is not None:
            add_fields(fields, start + index)
            if progress is not None and digest.statements % every == 0:
                progress(READING, reader.bytes_read(), reader.size)
    digest.position = start + last + 1  # with a shard, `merge` takes the later of the two readers' ends


class GeneralLogFile:
    """A general log file and its extractor, read by shard (two_readers.ShardedFile)."""

    def __init__(self, reader: GeneralLogReader, extractor: StatementExtractor):
        self.reader, self.extractor = reader, extractor
        self.source = reader.source

    def read(self, digest: Digest, progress: Progress | None = None, shard: int | None = None) -> None:
        digest_general_log(self.reader, self.extractor, digest, progress, shard)

    def fresh(self) -> GeneralLogFile:
        return GeneralLogFile(GeneralLogReader(self.source), self.extractor.with_same_filters())

    def counts(self) -> tuple[int, Counter]:
        noise = self.extractor.noise
        return self.extractor.noise_dropped, noise.dropped if noise is not None else Counter()

    def add_counts(self, noise_dropped: int, by_pattern: Counter) -> None:
        self.extractor.noise_dropped += noise_dropped
        if self.extractor.noise is not None:
            self.extractor.noise.dropped.update(by_pattern)
