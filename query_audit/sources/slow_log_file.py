"""Slow query log files (MySQL, MariaDB, Percona Server), streamed into Statements with their timings.

An entry is a block of `# ` header lines, optional `use db;` and `SET timestamp=N;` lines, then the
statement up to the next entry. The variants:

* MySQL: `# Time: 2024-05-10T17:44:36.400424Z` on every entry, `# User@Host: u[u] @ host []  Id: 12`,
  `# Query_time: ...  Lock_time: ... Rows_sent: ...  Rows_examined: ...` (more with log_slow_extra),
  `use db;` only when the connection's database changed.
* MariaDB: `# Time: 261126 10:00:00` only when the second changes, `# Thread_id: 8  Schema: test
  QC_hit: No`, `# Rows_affected: ...`; `use db;` as for MySQL.
* Percona Server: extra `# Schema: ...  Last_errno: ...`, `# Bytes_sent: ...` lines.

`# administrator command: Quit;` entries are not statements and are skipped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from query_audit.model import Statement
from query_audit.sources._text import parse_text
from query_audit.sources.general_log_file import classic_time

_TIME = re.compile(r"# Time: (?:(\d{6}\s+\d{1,2}:\d\d:\d\d)|(\S+))")
_PAIR = re.compile(r"(\w+): +(?!\w+:)(\S+)")  # `Schema:  QC_hit: No`: an empty value
_USER = re.compile(r"# User@Host: ([^\[\s]*)\[")
_SET_TIMESTAMP = re.compile(r"SET\s+(?:\w+=\d+,)*timestamp=\d+(?:\.\d+)?;\s*$", re.IGNORECASE)
_USE = re.compile(r"use `?([^`;]+)`?;\s*$")  # as the server writes it, lower case
# MariaDB's log_slow_verbosity=query_plan: `# Full_scan: Yes  Full_join: No  Tmp_table: No ...`, kept as flags.
SERVER_FLAGS = ("Full_scan", "Filesort", "Tmp_table", "Tmp_table_on_disk")
_FILE_HEADER = re.compile(r".*, Version: .* started with:$|T[Cc][Pp] [Pp]ort: |Time\s+Id\s+Command\s+Argument$")


class SlowLogReader:
    """An iterator of Statements over one slow log file; `skipped_lines` counts lines it could not use."""

    def __init__(self, source: str | Path | IO[str]):
        self.source = source
        self.skipped_lines = 0
        self._statements = self._read()

    def __iter__(self) -> Iterator[Statement]:
        return self._statements

    def __next__(self) -> Statement:
        return next(self._statements)

    def _read(self) -> Iterator[Statement]:
        return parse_text(self.source, self._parse)

    def _parse(self, lines: IO[str]) -> Iterator[Statement]:
        databases: dict[int, str] = {}  # MySQL writes `use db;` only when a connection's database changes
        time: str | None = None  # MariaDB writes `# Time:` only when the second changes
        entry: dict | None = None  # header fields of the entry being read
        body: list[str] = []  # its statement lines
        in_body = False  # past the header, `use` and `SET timestamp` lines: the rest is the statement
        for line in lines:
            line = line.rstrip("\r\n")
            starts_entry = line.startswith("# User@Host:")
            if starts_entry or line.startswith("# Time:") or _FILE_HEADER.match(line):
                if entry is not None:
                    statement = _statement(entry, body, databases)
                    if statement is not None:
                        yield statement
                entry, body, in_body = None, [], False
                if starts_entry:
                    user = _USER.match(line)
                    entry = {"time": time, "user": user.group(1) if user and user.group(1) else None}
                    _read_pairs(line.split("@ ", 1)[-1], entry)
                elif line.startswith("# Time:"):
                    found = _TIME.match(line)
                    if found:
                        time = classic_time(found.group(1)) if found.group(1) else found.group(2)
                continue
            if entry is None:
                if line.strip():
                    self.skipped_lines += 1
                continue
            if line.startswith("# administrator command:"):  # written after `SET timestamp` too
                entry["admin"] = True
                continue
            if not in_body:
                if line.startswith("# "):
                    _read_pairs(line, entry)
                    continue
                if _SET_TIMESTAMP.match(line):
                    in_body = True
                    continue
                used = _USE.match(line)
                if used:
                    entry["Schema"] = used.group(1)
                    continue
                in_body = True
            body.append(line)
        if entry is not None:
            statement = _statement(entry, body, databases)
            if statement is not None:
                yield statement


def _read_pairs(text: str, entry: dict) -> None:
    for key, value in _PAIR.findall(text):
        entry.setdefault(key, value)


def _number(entry: dict, key: str, kind: type):
    value = entry.get(key)
    if value is None:
        return None
    try:
        number = kind(value)
    except (ValueError, OverflowError):
        return None
    # `nan`, `inf` and 1e999 parse as floats; none is a time, and JSON has no way to write them.
    return number if kind is not float or math.isfinite(number) else None


def _statement(entry: dict, body: list[str], databases: dict[int, str]) -> Statement | None:
    thread_id = _number(entry, "Thread_id", int)
    if thread_id is None:
        thread_id = _number(entry, "Id", int)
    database = entry.get("Schema") or None
    if database is not None and thread_id is not None:
        databases[thread_id] = database
    elif thread_id is not None:
        database = databases.get(thread_id)
    if entry.get("admin"):
        return None
    sql = "\n".join(body).rstrip()
    if sql.endswith(";"):
        sql = sql[:-1].rstrip()
    if not sql:
        return None
    return Statement(sql, thread_id, database, entry.get("time"), "Query", None, entry.get("user"), False,
                     _number(entry, "Query_time", float), _number(entry, "Lock_time", float),
                     _number(entry, "Rows_sent", int), _number(entry, "Rows_examined", int),
                     server_flags=tuple(flag for flag in SERVER_FLAGS if entry.get(flag) == "Yes"))


def iter_slow_log(path: str | Path | IO[str]) -> SlowLogReader:
    """The Statements of a slow log file, lazily; the result's `skipped_lines` counts broken lines."""
    return SlowLogReader(path)
