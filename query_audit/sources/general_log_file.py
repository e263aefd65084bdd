"""General query log files, streamed line by line into LogRows.

Two line formats exist, and one file may hold both only across server upgrades:

* MariaDB and MySQL <= 5.6: `YYMMDD HH:MM:SS<TAB>` is written only when the second changes; other
  entries start with two tabs. Then the right-aligned thread id, a space, the command, a tab, the
  argument: `261126 21:30:45\t     5 Query\tSELECT 1` / `\t\t     5 Quit\t`.
* MySQL 5.7 and later: an ISO-8601 timestamp on every line (`2026-11-26T10:00:00.123456Z`, or with
  an offset when log_timestamps=SYSTEM): `2026-11-26T10:00:00.123456Z\t   12 Query\tSELECT 1`.

A statement spanning several lines is written raw: a line that does not start an entry continues
the previous one. The 3-line header is repeated after every reopen (FLUSH LOGS, restart). A line
that neither starts nor continues an entry (text before the first entry) is counted as skipped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from query_audit.analyze.digest import SHARDS
from query_audit.model import LogRow
from query_audit.sources._text import parse_text

_ENTRY = re.compile(
    r"(?:(\d{6}\s+\d{1,2}:\d\d:\d\d)|(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?))?"
    r"\t+ *(\d+) ([A-Z][A-Za-z_]*(?: [A-Za-z_]+)*)(?:\t|$)"
)
try:  # `_entry_fields` in C (analyze/_literal_scan.c), built at install where a compiler is: the same answers
    from query_audit.analyze._literal_scan import general_entry as _c_entry_fields
except ImportError:
    _c_entry_fields = None
_HEADER = re.compile(r".*, Version: .* started with:$|T[Cc][Pp] [Pp]ort: |Time\s+Id\s+Command\s+Argument$")


def classic_time(stamp: str) -> str:
    """`261126 9:30:01` (server local time, no zone in the file) as ISO-8601 `2026-11-26T09:30:01`."""
    day, clock = stamp.split()
    hours, minutes, seconds = clock.split(":")
    return f"20{day[0:2]}-{day[2:4]}-{day[4:6]}T{int(hours):02d}:{minutes}:{seconds}"


class GeneralLogReader:
    """An iterator of LogRows over one general log file; `skipped_lines` counts lines it could not use.

    `source` is a path or an open text file (read as it is, not closed here). `entries()` gives the
    same rows as plain `(thread_id, command, argument, time)` tuples: the fast path for a big file.
    """

    def __init__(self, source: str | Path | IO[str]):
        self.source = source
        self.skipped_lines = 0
        self._rows = (LogRow(*entry) for entry in self.entries())
        self._handle: IO[str] | None = None  # the file being read, for `bytes_read`

    @property
    def size(self) -> int:
        """The file's size in bytes (0 for a stream): the total of the progress bar."""
        try:
            return os.path.getsize(self.source) if isinstance(self.source, (str, Path)) else 0
        except OSError:
            return 0

    def bytes_read(self) -> int:
        """How far into the file the reader is, in bytes (ahead by at most one buffer): for progress."""
        try:
            return self._handle.buffer.tell() if self._handle is not None else 0
        except (AttributeError, ValueError, OSError):  # a stream without a byte buffer, or closed
            return 0

    def __iter__(self) -> Iterator[LogRow]:
        return self._rows

    def __next__(self) -> LogRow:
        return next(self._rows)

    def entries(self) -> Iterator[tuple[int, str, str, str | None]]:
        return (entry[1:] for entry in self.numbered_entries())

    def numbered_entries(self, shard: int | None = None) -> Iterator[tuple[int, int, str, str, str | None]]:
        """`(index, thread_id, command, argument, time)`: `index` counts every entry of the file from 0.

        With `shard`, only the entries of that shard's connections (see analyze/digest.py): the
        others are read, as they must be to find where each entry ends, but not yielded.
        """
        return parse_text(self.source, lambda lines: self._parse(lines, shard))

    def _parse(self, lines: IO[str], shard: int | None) -> Iterator[tuple[int, int, str, str, str | None]]:
        self._handle = lines
        entry = _c_entry_fields or _entry_fields
        header = _HEADER.match
        last_stamp = None  # the classic format's last written second, raw and as ISO-8601
        last_time = None
        index = -1
        # The entry being read, yielded when the next one starts: its fields, and its continuation
        # lines (None for the usual one-line statement). `thread` is None when there is none, or when
        # it belongs to another shard; `inside` tells whether lines now continue an entry at all.
        thread = command = argument = time = None
        more: list[str] | None = None
        inside = False
        for line in lines:
            # An entry of another shard comes back without its fields (thread None): it costs no strs.
            found = entry(line, shard, SHARDS)
            if found is None:
                line = line.rstrip("\r\n")
                if header(line):
                    if thread is not None:
                        yield index, thread, command, _joined(argument, more), time
                        thread, more = None, None
                    inside = False
                elif thread is not None:
                    if more is None:
                        more = [line]
                    else:
                        more.append(line)
                elif not inside and line.strip():
                    self.skipped_lines += 1
                continue
            if thread is not None:
                yield index, thread, command, argument if more is None else _joined(argument, more), time
                more = None
            index += 1
            inside = True
            classic, iso, thread, command, argument = found
            if iso is not None:
                time = iso
            elif classic is not None:
                if classic != last_stamp:
                    last_stamp, last_time = classic, classic_time(classic)
                time = last_time
            else:
                time = last_time
        if thread is not None:
            yield index, thread, command, _joined(argument, more), time


def _entry_fields(line: str, shard: int | None = None, shards: int = SHARDS) -> tuple | None:
    """A line (with or without its line end) that starts an entry as (classic time, ISO time, thread id,
    command, the rest of the line), or None: `_ENTRY`'s match, which the C version gives without a match
    object. With `shard`, an entry whose thread id is of another shard (`shard_of`: `thread % shards`) is
    `(classic time, None, None, None, None)`: its reader needs only the time that later entries may take."""
    line = line.rstrip("\r\n")
    found = _ENTRY.match(line)
    if found is None:
        return None
    classic, iso, thread, command = found.groups()
    thread = int(thread)
    if shard is not None and thread % shards != shard:
        return classic, None, None, None, None
    return classic, iso, thread, command, line[found.end():]


def _joined(first: str, more: list[str] | None) -> str:
    """A multi-line statement; trailing blank lines belong to the log, not to it."""
    if more is None:
        return first
    return "\n".join([first, *more]).rstrip()


def iter_general_log(path_or_file: str | Path | IO[str]) -> GeneralLogReader:
    """The LogRows of a general log file, lazily; the result's `skipped_lines` counts broken lines."""
    return GeneralLogReader(path_or_file)
