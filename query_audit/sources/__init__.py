"""Statements from files: general logs, slow logs and saved captures, told apart by their content.

`open_sources(paths)` is what `analyze FILE...` calls: it checks every file up front (missing,
directory, unreadable, binary, unknown format: SourceError with one line naming the file), then
streams the statements of all of them, lazily, through one iterator.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import IO

from query_audit import collector
from query_audit.analyze.digest import Digest
from query_audit.capture.noise import NoiseFilter
from query_audit.capture.saved import load_capture
from query_audit.capture.statements import StatementExtractor
from query_audit.errors import SourceError
from query_audit.model import ServerInfo, SourceInfo, Statement
from query_audit.sources.general_log_digest import PROGRESS_EVERY, GeneralLogFile
from query_audit.sources.general_log_file import GeneralLogReader
from query_audit.sources.slow_log_digest import SlowLogFile
from query_audit.sources.slow_log_file import SlowLogReader
from query_audit.sources.two_readers import digest_file

GENERAL_LOG = "general_log"
SLOW_LOG = "slow_log"
SAVED_CAPTURE = "saved_capture"

Progress = Callable[[str, int, int], None]  # the pipeline's progress callback: (stage, done, total)
_SNIFF_BYTES = 64 * 1024
_SNIFF_LINES = 50
_SLOW_MARKERS = ("# Time:", "# User@Host:", "# Query_time:")
_GENERAL_ENTRY = re.compile(
    r"(?:\d{6}\s+\d{1,2}:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*)?\t+ *\d+ [A-Z][A-Za-z ]*(?:\t|$)"
)
_GENERAL_HEADER = re.compile(r"Time\s+Id\s+Command\s+Argument\s*$")


def detect_format(path: str | Path) -> str:
    """"general_log", "slow_log" or "saved_capture", from the first lines of the file (not its name)."""
    return _format_of(_read_head(path), path)


def _digest_statements(statements, digest: Digest, progress: Progress | None) -> None:
    """A source of Statements (a saved capture, stdin): each one to the Digest, with progress now and then."""
    add = digest.add
    for statement in statements:
        add(statement)
        if progress is not None and digest.statements % PROGRESS_EVERY == 0:
            progress("reading statements", digest.statements, 0)

class SourceStream:
    """The statements of one or more files, read lazily, with live counters.

    `statements` is a single iterator over all files in order. `skipped_lines` and `noise_dropped`
    grow while it is consumed; `server` is known only for a saved capture.
    """

    def __init__(self, parts: list, source: SourceInfo, server: ServerInfo | None,
                 readers: list, filters: list, noise: NoiseFilter | None, saved_noise_dropped: int):
        self._parts = parts  # per file: its statements, or a _GeneralLog
        self.statements: Iterator[Statement] = chain.from_iterable(
            _extract(part.reader, part.extractor) if isinstance(part, _GeneralLog) else part for part in parts)
        self.source = source
        self.server = server
        self._readers = readers
        self._filters = filters  # everything with a `noise_dropped` count
        self._noise = noise
        self._saved_noise_dropped = saved_noise_dropped

    def digest_into(self, digest: Digest, progress: Progress | None = None, *,
                    two_readers: bool | None = None) -> None:
        """Add every statement to `digest`: what iterating `statements` into `digest.add` does, faster.

        A general or slow log file's entries go to the Digest as fields (no Statement per entry), and
        a big one is read by two processes when it pays (`two_readers`: None decides by size and idle
        cores, True whenever possible; the Digest is the same either way). Use either this or
        `statements`, not both: the files (or stdin) are read once.
        """
        with collector.paused():  # the reading makes no cycles (collector.py)
            for part in self._parts:
                if isinstance(part, _GeneralLog):
                    digest_file(GeneralLogFile(part.reader, part.extractor), digest, progress, two_readers)
                elif isinstance(part, SlowLogFile):
                    digest_file(part, digest, progress, two_readers)
                else:
                    _digest_statements(part, digest, progress)

    @property
    def skipped_lines(self) -> int:
        return sum(reader.skipped_lines for reader in self._readers)

    @property
    def noise_dropped(self) -> int:
        return self._saved_noise_dropped + sum(item.noise_dropped for item in self._filters)

    @property
    def noise_counts(self) -> dict[str, int]:
        """Dropped statements by noise pattern name (of the files read here, not of saved captures)."""
        return dict(self._noise.dropped) if self._noise is not None else {}


def open_sources(paths: list[str], *, keep_noise: bool = False, noise: NoiseFilter | None = None) -> SourceStream:
    """Check and open every file (`-` is stdin), and stream their statements through one iterator."""
    if not paths:
        raise SourceError("no input file given")
    noise = None if keep_noise else (noise if noise is not None else NoiseFilter())
    kinds: list[str] = []
    parts: list[Iterator[Statement]] = []
    readers: list = []
    filters: list = []
    server = None
    saved_noise = 0

    for path in paths:
        if path == "-":
            kind, handle = _open_stdin()
        else:
            kind, handle = _format_of(_read_head(path), path), None
        kinds.append(kind)
        if kind == SAVED_CAPTURE:
            saved = load_capture(handle if handle is not None else path)
            server = server or saved.server
            saved_noise += saved.noise_dropped
            parts.append(saved.statements)
        elif kind == SLOW_LOG:
            reader = SlowLogReader(handle if handle is not None else path)
            slow_log = SlowLogFile(reader, noise)
            readers.append(reader)
            filters.append(slow_log)
            parts.append(slow_log)
        else:
            reader = GeneralLogReader(handle if handle is not None else path)
            extractor = StatementExtractor(keep_noise=keep_noise, noise=noise)
            readers.append(reader)
            filters.append(extractor)
            parts.append(_GeneralLog(reader, extractor))

    source = SourceInfo(kind=kinds[0] if len(set(kinds)) == 1 else "mixed", files=tuple(paths))
    return SourceStream(parts, source, server, readers, filters, noise, saved_noise)


@dataclass(frozen=True)
class _GeneralLog:
    """A general log file, read once: through `_extract` (Statements) or `digest_general_log` (fields)."""

    reader: GeneralLogReader
    extractor: StatementExtractor


def _extract(reader: GeneralLogReader, extractor: StatementExtractor) -> Iterator[Statement]:
    feed = extractor.feed_fields
    for thread_id, command, argument, time in reader.entries():
        statement = feed(thread_id, command, argument, time)
        if statement is not None:
            yield statement


def _read_head(path: str | Path) -> bytes:
    file = Path(path)
    if not file.exists():
        raise SourceError(f"{path}: no such file")
    if file.is_dir():
        raise SourceError(f"{path}: is a directory, not a log file")
    try:
        with open(file, "rb") as handle:
            return handle.read(_SNIFF_BYTES)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from None


def _format_of(head: bytes, name) -> str:
    if not head.strip():
        raise SourceError(f"{name}: empty file")
    if b"\0" in head:
        raise SourceError(f"{name}: binary data, not a general log, slow log or saved capture")
    text = head.decode("utf-8", errors="replace")
    if text.lstrip().startswith("{"):
        return SAVED_CAPTURE
    lines = text.splitlines()[:_SNIFF_LINES]
    if any(line.startswith(_SLOW_MARKERS) for line in lines):
        return SLOW_LOG
    if any(_GENERAL_ENTRY.match(line) or _GENERAL_HEADER.match(line) for line in lines):
        return GENERAL_LOG
    raise SourceError(f"{name}: not a general log, slow log or saved capture (unrecognised first lines)")


def _open_stdin() -> tuple[str, IO[str]]:
    """Sniff stdin's head, then hand out a text stream that still starts at its first byte."""
    raw = sys.stdin.buffer
    head = raw.read(_SNIFF_BYTES)
    kind = _format_of(head, "stdin")
    whole = io.BufferedReader(_Prefixed(head, raw))
    return kind, io.TextIOWrapper(whole, encoding="utf-8", errors="replace")


class _Prefixed(io.RawIOBase):
    """A raw stream that first serves bytes already read, then the rest of the underlying stream."""

    def __init__(self, prefix: bytes, rest):
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._prefix:
            size = min(len(buffer), len(self._prefix))
            buffer[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
