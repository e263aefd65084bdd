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

An entry as the servers usually write it is read in one pass: by the C extension's `slow_entry` where
it is built (analyze/_literal_scan.c), else by one compiled pattern (_USUAL_ENTRY, `_usual_entry`), with
the same answers. Any other is read line by line, where the lines written on every entry
(`# User@Host:`, `# Thread_id:`, `# Query_time:`) each have their own pattern, and any other `# ` line,
or one of them in an unexpected form, is read pair by pair (`Key: value`, the first of a key wins). Both
ways give the same fields (tests read mutated logs both ways). `numbered_entries` gives each entry as
plain fields, the fast path into the Digest (see slow_log_digest.py); iterating gives Statements.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from query_audit.analyze.digest import SHARDS, StatementFields, new_statement_fields, shard_of
from query_audit.model import Statement
from query_audit.sources._text import parse_text
from query_audit.sources.general_log_file import classic_time

_TIME = re.compile(r"# Time: (?:(\d{6}\s+\d{1,2}:\d\d:\d\d)|(\S+))")
_USER = re.compile(r"# User@Host: ([^\[\s]*)\[")
# What is read of an entry's header: these keys, each as `Key: value` (`Schema:  QC_hit: No`: no value).
_PAIR = re.compile(r"(?<!\w)(Thread_id|Id|Schema|Query_time|Lock_time|Rows_sent|Rows_examined|Full_scan|Filesort"
                   r"|Tmp_table|Tmp_table_on_disk): +(?!\w+:)(\S+)")
# The usual forms of the lines on every entry, read with one match each (anything else: _PAIR).
_MYSQL_USER_HOST = re.compile(r"# User@Host: ([^\[\s]*)\[[^\]@]*\] @ [^\[\]:@]*\[[^\]:]*\](?: +Id: +(\d+))? *\Z")
_MARIADB_THREAD = re.compile(r"# Thread_id: +(\d+) +Schema: +(?:(?!\w+:)(\S+) +)?QC_hit: +\w+ *\Z")
_FLOAT, _INT = r"(\d+(?:\.\d+)?)(?!\S)", r"(\d+)(?!\S)"
_QUERY_TIME = re.compile(rf"# Query_time: +{_FLOAT} +Lock_time: +{_FLOAT} +Rows_sent: +{_INT} +Rows_examined: +{_INT}")
_SET_TIMESTAMP = re.compile(r"SET\s+(?:\w+=\d+,)*timestamp=\d+(?:\.\d+)?;\s*$", re.IGNORECASE)
_USE = re.compile(r"use `?([^`;]+)`?;\s*$")  # as the server writes it, lower case
# MariaDB's log_slow_verbosity=query_plan: `# Full_scan: Yes  Full_join: No  Tmp_table: No ...`, kept as flags.
SERVER_FLAGS = ("Full_scan", "Filesort", "Tmp_table", "Tmp_table_on_disk")
_FILE_HEADER = re.compile(r".*, Version: .* started with:$|T[Cc][Pp] [Pp]ort: |Time\s+Id\s+Command\s+Argument$")
# A whole entry as MySQL and MariaDB usually write it, in one match: each line in the form the patterns
# above read it in (anything else fails the match, and `_lines` reads the entry), a one-line statement,
# then the next entry or the end of the block. Groups: classic time, ISO time, user, Id, Thread_id,
# Schema, the four figures, log_slow_extra's Thread_id, `use`, the statement.
_USUAL_ENTRY = re.compile(
    r"(?:# Time: (?:(\d{6}[ \t]+\d{1,2}:\d\d:\d\d)|(\d{4}-\S*))[^\r\n]*\n)?"
    r"# User@Host: ([^\[\s]*)\[[^\]@\n]*\] @ [^\[\]:@\n]*\[[^\]:\n]*\](?: +Id: +(\d+))? *\n"
    r"(?:# Thread_id: +(\d+) +Schema: +(?:(?!\w+:)(\S+) +)?QC_hit: +\w+ *\n)?"
    rf"# Query_time: +{_FLOAT} +Lock_time: +{_FLOAT} +Rows_sent: +{_INT} +Rows_examined: +{_INT}"
    r"(?: +Thread_id: +(\d+)(?!\S)(?![^\r\n]*(?<!\w)Schema:)[^\r\n]*)? *\n"
    r"(?:# Rows_affected: +\d+ +Bytes_sent: +\d+ *\n)?"
    r"(?:use ([^`;\r\n]+);\n)?"
    r"SET timestamp=\d+;\n"
    r"((?!#|T)[^\r\n]*)(?<!started with:)\n"
    r"(?=# Time:|# User@Host:|\Z)"
)
try:  # `_usual_entry` in C (analyze/_literal_scan.c), built at install where a compiler is: the same answers
    from query_audit.analyze._literal_scan import slow_entry as _c_usual_entry
except ImportError:
    _c_usual_entry = None
# Figures this long or shorter are ones `float` and `int` always take (finite, under int's digit limit).
_SHORT_FIGURE = 300
_OTHER_SHARD = (None,) * 8  # an entry of another shard: no user, thread, ..., statement (see `_usual_entry`)
_BOUNDARY = re.compile(r"\n(?=# User@Host:|# Time:)")  # a line that always ends the entry before it
_BLOCK_CHARS = 1 << 20

# (index, fields, query_time, lock_time, rows_sent, rows_examined, flags): the entry's place in the file
# (counting every entry from 0), its statement, its timings, and the SERVER_FLAGS it says Yes to (an entry
# that has them is read line by line).
SlowEntry = tuple[int, StatementFields, "float | None", "float | None", "int | None", "int | None", "tuple[str, ...]"]

UsualEntry = tuple[int, "str | None", "str | None", "str | None", "int | None", "str | None", float, float, int, int,
                   str, int]


class _Entry:
    """The entry being read: its header's fields as written (the first of a key wins), and its lines."""

    __slots__ = ("admin", "body", "connection", "flags", "in_body", "index", "lock_time", "more", "query_time",
                 "rows_examined", "rows_sent", "schema", "thread", "time", "user")

    def __init__(self, index: int, time: str | None, user: str | None):
        self.index, self.time, self.user = index, time, user
        self.thread = self.connection = self.schema = None  # Thread_id, Id, Schema
        self.query_time = self.lock_time = self.rows_sent = self.rows_examined = None
        self.admin = self.in_body = False
        self.flags: tuple[str, ...] = ()  # SERVER_FLAGS said Yes (MariaDB's log_slow_verbosity=query_plan)
        self.body: str | None = None  # the statement's first line; `more` the others (usually none)
        self.more: list[str] | None = None

    def add_line(self, line: str) -> None:
        if self.body is None:
            self.body = line
        elif self.more is None:
            self.more = [line]
        else:
            self.more.append(line)

    def read_pairs(self, text: str) -> None:
        for key, value in _PAIR.findall(text):
            if key == "Query_time":
                self.query_time = self.query_time or value
            elif key == "Lock_time":
                self.lock_time = self.lock_time or value
            elif key == "Rows_sent":
                self.rows_sent = self.rows_sent or value
            elif key == "Rows_examined":
                self.rows_examined = self.rows_examined or value
            elif key == "Thread_id":
                self.thread = self.thread or value
            elif key == "Id":
                self.connection = self.connection or value
            elif key == "Schema":
                self.schema = self.schema or value
            elif value == "Yes" and key not in self.flags:
                self.flags += (key,)


class SlowLogReader:
    """An iterator of Statements over one slow log file; `skipped_lines` counts lines it could not use."""

    def __init__(self, source: str | Path | IO[str]):
        self.source = source
        self.skipped_lines = 0
        self._statements = (_statement(entry) for entry in self.numbered_entries())

    def __iter__(self) -> Iterator[Statement]:
        return self._statements

    def __next__(self) -> Statement:
        return next(self._statements)

    def numbered_entries(self, shard: int | None = None) -> Iterator[SlowEntry]:
        """The statements as SlowEntry tuples; `index` counts every entry of the file from 0.

        With `shard`, only the statements of that shard's connections (see analyze/digest.py): the
        others' lines are read, as they must be to find where each entry ends, but not yielded.
        """
        return parse_text(self.source, lambda lines: self._parse(lines, shard))

    def _parse(self, text: IO[str], shard: int | None) -> Iterator[SlowEntry]:
        """Blocks of the file cut before a line that starts an entry; in each, the usual entries are
        read by one match each (_USUAL_ENTRY), and anything else line by line (`_lines`)."""
        state = _State()
        rest = ""
        while True:
            block = text.read(_BLOCK_CHARS)
            whole = rest + block
            if block:
                cut = max(whole.rfind("\n# User@Host:"), whole.rfind("\n# Time:")) + 1
                if cut <= 0:
                    rest = whole  # an entry longer than a block: read on
                    continue
                whole, rest = whole[:cut], whole[cut:]
            yield from self._block(whole, state, shard)
            if not block:
                return

    def _block(self, text: str, state: _State, shard: int | None) -> Iterator[SlowEntry]:
        usual = _c_usual_entry or _usual_entry
        boundary = _BOUNDARY.search
        databases = state.databases
        shards = SHARDS
        index = state.index  # here, and in `state` around `_lines` and at the end
        position, size = 0, len(text)
        while position < size:
            found = usual(text, position, shard, shards)
            if found is None:  # up to the next line that starts an entry, line by line
                after = boundary(text, position)
                end = after.start() + 1 if after is not None else size
                lines = text[position:end].split("\n")
                if lines[-1] == "":
                    lines.pop()
                state.index = index
                yield from self._lines(lines, state, shard)
                index = state.index
                position = end
                continue
            (position, classic, iso, user, thread_id, database, query_time, lock_time, sent, examined, sql,
             skipped) = found
            if iso is not None:  # MySQL: on every entry
                state.time = iso
            elif classic is not None:
                state.take_time(classic, None)
            if sql is None:  # only entries of other shards (read with `shard`): their count and time
                index += skipped
                continue
            index += skipped + 1
            if thread_id is not None:
                if database is not None:
                    databases[thread_id] = database
                else:
                    database = databases.get(thread_id)
            if sql:
                fields = new_statement_fields((sql, thread_id, database, state.time, "Query", None, user, False))
                yield index, fields, query_time, lock_time, sent, examined, ()
        state.index = index

    def _lines(self, lines: list[str], state: _State, shard: int | None) -> Iterator[SlowEntry]:
        """Entries read line by line: what `_block` cannot read in one match (and text around them)."""
        entry: _Entry | None = None
        for line in lines:
            line = line.rstrip("\r\n")
            if line[:2] == "# ":
                tag = line[2:6]
                if tag == "User" and line.startswith("# User@Host:"):
                    if entry is not None:
                        fields = _finish(entry, state.databases, shard)
                        if fields is not None:
                            yield fields
                    state.index += 1
                    entry = _user_host(line, state.index, state.time)
                    continue
                if tag == "Time" and line.startswith("# Time:") or line.endswith("started with:") and (
                        _FILE_HEADER.match(line)):
                    if entry is not None:
                        fields = _finish(entry, state.databases, shard)
                        if fields is not None:
                            yield fields
                        entry = None
                    if tag == "Time":
                        state.read_time(line)
                    continue
                if entry is None:
                    self.skipped_lines += 1
                    continue
                if tag == "admi" and line.startswith("# administrator command:"):  # after `SET timestamp` too
                    entry.admin = True
                    continue
                if not entry.in_body:
                    _header_line(entry, tag, line)
                    continue
            elif (line[:1] == "T" or line.endswith("started with:")) and _FILE_HEADER.match(line):
                if entry is not None:
                    fields = _finish(entry, state.databases, shard)
                    if fields is not None:
                        yield fields
                    entry = None
                continue
            elif entry is None:
                if line.strip():
                    self.skipped_lines += 1
                continue
            elif not entry.in_body:
                if _SET_TIMESTAMP.match(line):
                    entry.in_body = True
                    continue
                used = _USE.match(line)
                if used:
                    entry.schema = used.group(1)
                    continue
                entry.in_body = True
            entry.add_line(line)
        if entry is not None:
            fields = _finish(entry, state.databases, shard)
            if fields is not None:
                yield fields


def _usual_entry(text: str, position: int, shard: int | None = None, shards: int = SHARDS) -> UsualEntry | None:
    """The entry at `position` if `_USUAL_ENTRY` matches it there, or None: (where it ends, classic time,
    ISO time, user, thread id, database, query time, lock time, rows sent, rows examined, statement without
    its `;`, 0). None too for a figure `float` or `int` cannot give (`_lines` reads those as no figure).

    With `shard`, the entries of other shards (`thread % shards`, 0 without a thread) from `position` on are
    skipped (their fields made only when their figures are long enough for `float` or `int` to refuse them:
    then the match stops there), counted in the last field, and the next entry is read; the time is the
    latest of them all (later entries without one take it). When no entry follows them: (where they end,
    time, None, ..., None, how many). Their reader needs no more (each connection's database is only ever
    looked up by an entry of that connection, so of its shard)."""
    skipped, classic, iso = 0, None, None
    while (found := _USUAL_ENTRY.match(text, position)) is not None:
        if found.group(1) or found.group(2):
            classic, iso = found.group(1, 2)
        of_this_shard = shard is None or _shard_of_match(found, shards) == shard
        if not of_this_shard and _short_figures(found):  # surely read: skipped without making its fields
            skipped += 1
            position = found.end()
            continue
        fields = _usual_fields(found)
        if fields is None:
            break
        if of_this_shard:
            return found.end(), classic, iso, *fields, skipped
        skipped += 1
        position = found.end()
    return (position, classic, iso, *_OTHER_SHARD, skipped) if skipped else None


def _thread_of_match(found: re.Match) -> str | None:
    return found.group(5) or found.group(11) or found.group(4)  # Thread_id, log_slow_extra's, Id


def _shard_of_match(found: re.Match, shards: int) -> int:
    """The shard of a `_USUAL_ENTRY` match's thread (`thread % shards`, 0 without one), from its digits."""
    thread = _thread_of_match(found)
    if not thread:
        return 0
    remainder = 0
    for digit in thread:  # int() refuses over 4,300 digits
        remainder = (remainder * 10 + int(digit)) % shards
    return remainder


def _short_figures(found: re.Match) -> bool:
    """Whether the thread id and figures of a `_USUAL_ENTRY` match are short enough that `float` and `int`
    surely take them."""
    return max(len(_thread_of_match(found) or ""), *map(len, found.group(7, 8, 9, 10))) <= _SHORT_FIGURE


def _usual_fields(found: re.Match) -> tuple | None:
    """(user, thread id, database, query time, lock time, rows sent, rows examined, statement) of a
    `_USUAL_ENTRY` match, or None for a figure `float` or `int` cannot give."""
    (_, _, user, connection, thread, schema, query_time, lock_time, sent, examined, extra_thread, used,
     sql) = found.groups()
    thread = thread or extra_thread or connection
    try:
        query_time, lock_time, sent, examined = float(query_time), float(lock_time), int(sent), int(examined)
        thread_id = int(thread) if thread else None
    except ValueError:  # over 4,300 digits
        return None
    if query_time == math.inf or lock_time == math.inf:  # 300 digits and more (never NaN: digits only)
        return None
    sql = sql.rstrip()
    if sql.endswith(";"):
        sql = sql[:-1].rstrip()
    return user or None, thread_id, used or schema, query_time, lock_time, sent, examined, sql


class _State:
    """What one entry leaves to the next: the time (MariaDB writes `# Time:` only when the second
    changes), each connection's database (MySQL writes `use db;` only when it changes), the count."""

    __slots__ = ("databases", "index", "last_stamp", "last_time", "time")

    def __init__(self):
        self.databases: dict[int, str] = {}
        self.time: str | None = None
        self.last_stamp = self.last_time = None  # the last classic stamp, raw and as ISO-8601
        self.index = -1

    def read_time(self, line: str) -> None:
        """A `# Time:` line: MySQL's ISO-8601 time, or MariaDB's classic one (local, as ISO-8601)."""
        found = _TIME.match(line)
        if found:
            self.take_time(*found.groups())

    def take_time(self, classic: str | None, iso: str | None) -> None:
        if classic is None:
            self.time = iso
        else:
            if classic != self.last_stamp:
                self.last_stamp, self.last_time = classic, classic_time(classic)
            self.time = self.last_time


def _user_host(line: str, index: int, time: str | None) -> _Entry:
    """A new entry from its `# User@Host:` line: the user, and MySQL's `Id:`."""
    usual = _MYSQL_USER_HOST.match(line)
    if usual is not None:
        entry = _Entry(index, time, usual.group(1) or None)
        entry.connection = usual.group(2)
        return entry
    user = _USER.match(line)
    entry = _Entry(index, time, user.group(1) or None if user else None)
    entry.read_pairs(line.split("@ ", 1)[-1])
    return entry


def _header_line(entry: _Entry, tag: str, line: str) -> None:
    """A `# ` line between `# User@Host:` and the statement."""
    if tag == "Quer" and entry.query_time is None:
        usual = _QUERY_TIME.match(line)
        if usual is not None:
            entry.query_time, locked, sent, examined = usual.groups()
            entry.lock_time = entry.lock_time or locked
            entry.rows_sent = entry.rows_sent or sent
            entry.rows_examined = entry.rows_examined or examined
            if usual.end() < len(line):  # MySQL's log_slow_extra: Thread_id and more
                entry.read_pairs(line[usual.end():])
            return
    elif tag == "Thre" and entry.thread is None and entry.schema is None:
        usual = _MARIADB_THREAD.match(line)
        if usual is not None:
            entry.thread, entry.schema = usual.groups()
            return
    entry.read_pairs(line)


def _finish(entry: _Entry, databases: dict[int, str], shard: int | None) -> SlowEntry | None:
    """The entry's statement as fields, or None (an administrator command, no SQL, another shard)."""
    thread_id = _number(entry.thread, int)
    if thread_id is None:
        thread_id = _number(entry.connection, int)
    database = entry.schema or None
    if thread_id is not None:
        if database is not None:
            databases[thread_id] = database
        else:
            database = databases.get(thread_id)
    if entry.admin or entry.body is None:
        return None
    if shard is not None and shard_of(thread_id) != shard:
        return None
    sql = entry.body if entry.more is None else "\n".join([entry.body, *entry.more])
    sql = sql.rstrip()
    if sql.endswith(";"):
        sql = sql[:-1].rstrip()
    if not sql:
        return None
    return (entry.index, new_statement_fields((sql, thread_id, database, entry.time, "Query", None, entry.user, False)),
            _number(entry.query_time, float), _number(entry.lock_time, float), _number(entry.rows_sent, int),
            _number(entry.rows_examined, int), entry.flags)


def _number(value: str | None, kind: type):
    if value is None:
        return None
    try:
        number = kind(value)
    except (ValueError, OverflowError):
        return None
    # `nan`, `inf` and 1e999 parse as floats; none is a time, and JSON has no way to write them.
    return number if kind is not float or math.isfinite(number) else None


def _statement(entry: SlowEntry) -> Statement:
    _, fields, query_time, lock_time, rows_sent, rows_examined, flags = entry
    return Statement(*fields, query_time, lock_time, rows_sent, rows_examined, server_flags=flags)


def iter_slow_log(path: str | Path | IO[str]) -> SlowLogReader:
    """The Statements of a slow log file, lazily; the result's `skipped_lines` counts broken lines."""
    return SlowLogReader(path)
