"""The hot loop of `analyze` on a big general log, and the same loop on two cores.

`digest_general_log` hands each entry of the file to the Digest as plain fields (no Statement per
line). `digest_general_log_in_two` forks a child that digests the connections of shard 1 while this
process digests shard 0; the child writes its Digest to an unnamed temporary file and ends, and
`Digest.merge` puts the two together, exactly as one process would have built it (see
analyze/digest.py). A file rather than a pipe: the child's memory is given back before this process
reads its answer, so the two never hold their digests and the copy at the same time. Both processes
parse every line (only a line tells where an entry ends and whose it is), so the split saves the
rest: noise filtering, fingerprints and grouping, about 80% of the work.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from query_audit.analyze.digest import Digest
from query_audit.capture.statements import StatementExtractor
from query_audit.errors import SourceError
from query_audit.sources.general_log_file import GeneralLogReader

Progress = Callable[[str, int, int], None]
PROGRESS_EVERY = 50_000  # statements between two progress reports
# Below this size the file is read in a fraction of a second: a second process is not worth its start.
TWO_READERS_MIN_BYTES = 4 * 2**20


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
            # (sql, thread_id, database, time, command, request, user, placeholders); request is None here
            add_fields(fields[0], thread_id, fields[2], time, command, fields[6], fields[7], start + index)
            if progress is not None and digest.statements % every == 0:
                progress(READING, reader.bytes_read(), reader.size)
    digest.position = start + last + 1  # with a shard, `merge` takes the later of the two readers' ends


def two_readers_possible(reader: GeneralLogReader, digest: Digest) -> bool:
    """Whether this file can be read by two processes: given by path (the child opens it again), on a
    system with fork, into an empty Digest (`merge` needs the two to hold different shards only)."""
    return hasattr(os, "fork") and isinstance(reader.source, (str, Path)) and not digest.statements


def two_readers_pay(reader: GeneralLogReader) -> bool:
    """Whether a second process is worth it: a big file, and two cores or more to run on."""
    if len(os.sched_getaffinity(0)) < 2:
        return False
    try:
        return os.path.getsize(reader.source) >= TWO_READERS_MIN_BYTES
    except OSError:
        return False  # the reader reports it, as for one process


def digest_general_log_in_two(reader: GeneralLogReader, extractor: StatementExtractor, digest: Digest,
                              progress: Progress | None = None) -> None:
    """`digest_general_log` with a forked child doing shard 1: the same Digest, in about 60% of the time.

    If the child fails without an answer (killed, out of memory, no room for its file), this process
    reads shard 1 itself; if there is no child at all (no temporary file, no fork), it reads everything.
    """
    theirs = digest.empty_like()  # shard 1's, from the same starting position
    with contextlib.ExitStack() as cleanup:
        try:
            answer = cleanup.enter_context(tempfile.TemporaryFile(prefix="query-audit-"))
            child = os.fork()
        except OSError:  # no temporary directory, or no more processes: one reader does it all
            digest_general_log(reader, extractor, digest, progress)
            return
        if child == 0:
            _child(reader, extractor, theirs, answer.fileno())  # never returns
        ended = False
        try:
            # This process reads the whole file (skipping shard 1's entries), so its bytes are the progress of both.
            both = progress
            digest_general_log(reader, extractor, digest, both, shard=0)
            _, status = os.waitpid(child, 0)
            ended = True
        finally:
            if not ended:
                _reap(child)
        result = _answer(answer) if os.waitstatus_to_exitcode(status) == 0 else None
    if result is None:
        result = _shard_one_here(reader, extractor, theirs)
    if result[0] == "error":
        raise SourceError(result[1])
    _, shard_one, noise_dropped, dropped = result
    digest.merge(shard_one)
    extractor.noise_dropped += noise_dropped
    if extractor.noise is not None:
        extractor.noise.dropped.update(dropped)


def _answer(answer) -> tuple | None:
    answer.seek(0)
    try:
        return pickle.load(answer)
    except (EOFError, pickle.UnpicklingError):
        return None


def _child(reader: GeneralLogReader, extractor: StatementExtractor, theirs: Digest, answer: int) -> None:
    """In the forked child: digest shard 1, write ("ok", Digest, noise dropped, by pattern) or ("error",
    message) to the file `answer`, and leave without running anything of the parent's (no atexit, no
    buffered output). Exit status 0 only when the whole answer is written."""
    status = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # on Ctrl-C the parent reports, the child just stops
        result = _shard_one_here(reader, extractor, theirs)
        with open(answer, "wb", closefd=False) as out:
            pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
            pickler.fast = True  # no memo of every object sent: the Digest has no cycles, and memory stays low
            pickler.dump(result)
        status = 0
    finally:
        os._exit(status)


def _shard_one_here(reader: GeneralLogReader, extractor: StatementExtractor, theirs: Digest) -> tuple:
    """Shard 1 of the file into `theirs` (empty), with its own reader and extractor (counts from zero)."""
    mine = extractor.with_same_filters()
    try:
        digest_general_log(GeneralLogReader(reader.source), mine, theirs, shard=1)
    except SourceError as exc:
        return "error", str(exc)
    theirs.forget_caches()
    return "ok", theirs, mine.noise_dropped, mine.noise.dropped if mine.noise is not None else Counter()


def _reap(child: int) -> None:
    """End the child if it still runs (this process is leaving early: an error, Ctrl-C) and collect it."""
    try:
        os.kill(child, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(child, 0)
