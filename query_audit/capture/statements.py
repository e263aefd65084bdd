"""From general-log rows to the statements a client sent.

Used by both the capture from `mysql.general_log` and the general log files, so the two agree on
what a statement is: a `Query` or `Execute` row. Everything else (Connect, Init DB, Prepare,
Close stmt, Quit, Ping...) only updates what we know about the connection: its database and user.
A SQL-level `PREPARE x FROM ...`, `EXECUTE x` or `DEALLOCATE PREPARE x` Query row is not a statement
either: the server logs the Prepare/Execute rows for it, and the Execute row is the real work.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable

from query_audit.analyze.digest import StatementFields, new_statement_fields
from query_audit.capture.noise import NoiseFilter
from query_audit.model import LogRow, Statement
from query_audit.sql_text import has_placeholders

STATEMENT_COMMANDS = frozenset({"Query", "Execute"})

# `root@localhost on shop using TCP/IP`, MariaDB's `app@host as anonymous on shop`, an empty
# database (`root@localhost on  using Socket`), and old servers' `root@localhost on shop`.
_CONNECT = re.compile(r"(?P<user>[^@\s]*)@(?P<host>\S*)(?: as \S+)? on (?P<db>\S*)")
# user_host of a log table row: `app[app] @ localhost [127.0.0.1]` (the first name is the login).
_USER_HOST = re.compile(r"\s*([^\[\s@]*)\[")
_USE = re.compile(r"\s*use\s+(`(?:[^`]|``)+`|[^\s;`]+)\s*;?\s*\Z", re.IGNORECASE)
_SQL_PREPARED = re.compile(r"\s*(?:PREPARE|EXECUTE|DEALLOCATE|DROP\s+PREPARE)\s", re.IGNORECASE)
# The first letters of the Query rows that need a closer look: PREPARE, EXECUTE, DEALLOCATE, DROP, USE.
_SPECIAL_START = frozenset("PpEeDdUu \t\r\n")


class _Thread:
    __slots__ = ("database", "user")

    def __init__(self, database: str | None = None, user: str | None = None):
        self.database = database
        self.user = user


class StatementExtractor:
    """Turns LogRows into Statements, one row at a time, tracking each connection's database and user.

    `users`, when given, keeps only the rows of those client users (a connection whose Connect row
    is not in the log has an unknown user, and is dropped then). `exclude_threads` drops the rows
    of those connections (the tool's own). Noise goes through `noise` unless `keep_noise`.
    """

    def __init__(self, *, keep_noise: bool = False, noise: NoiseFilter | None = None,
                 exclude_threads: Iterable[int] = (), users: Iterable[str] | None = None):
        self.noise = None if keep_noise else (noise if noise is not None else NoiseFilter())
        self.exclude_threads = set(exclude_threads)
        self.users = frozenset(users) if users else None
        self.noise_dropped = 0
        self._threads: dict[int, _Thread] = {}

    def with_same_filters(self) -> StatementExtractor:
        """A new extractor that keeps and drops what this one does, knowing no connection yet and
        counting from zero (its noise filter is a copy, with its own counts)."""
        other = copy.copy(self)
        other.noise_dropped = 0
        other._threads = {}
        if self.noise is not None:
            other.noise = self.noise.with_zero_counts()
        return other

    def feed(self, row: LogRow, request: int | None = None) -> Statement | None:
        """The statement this row is, or None when it is not one (or is filtered out)."""
        return self.feed_fields(row.thread_id, row.command, row.argument, row.time, row.user_host, request)

    def feed_fields(self, thread_id: int, command: str, argument: str, time: str | None = None,
                    user_host: str = "", request: int | None = None) -> Statement | None:
        """`feed` for a row given as its fields: a log file's reader saves building a LogRow per line."""
        fields = self.statement_fields(thread_id, command, argument, time, user_host, request)
        return Statement(*fields) if fields is not None else None

    def statement_fields(self, thread_id: int, command: str, argument: str, time: str | None = None,
                         user_host: str = "", request: int | None = None) -> StatementFields | None:
        """`feed_fields` without building the Statement: its first 8 fields, or None.

        The fast path of a big log file, where a record per statement costs more than the rest.
        """
        if thread_id in self.exclude_threads:
            return None
        if command in STATEMENT_COMMANDS:
            return self._statement(thread_id, command, argument, time, user_host, request)
        if command == "Connect" or command == "Change user":
            self._connect(thread_id, argument)
        elif command == "Init DB":
            self._thread(thread_id).database = argument.strip() or None
        elif command == "Quit":
            self._threads.pop(thread_id, None)  # thread ids are reused; and this keeps memory flat
        return None

    def _thread(self, thread_id: int) -> _Thread:
        thread = self._threads.get(thread_id)
        if thread is None:
            thread = self._threads[thread_id] = _Thread()
        return thread

    def _connect(self, thread_id: int, argument: str) -> None:
        match = _CONNECT.match(argument)
        if match is None:  # `Access denied for user ...`: no session follows
            return
        self._threads[thread_id] = _Thread(match.group("db") or None, match.group("user") or None)

    def _statement(self, thread_id: int, command: str, sql: str, time: str | None, user_host: str,
                   request: int | None) -> StatementFields | None:
        thread = self._threads.get(thread_id)
        if thread is None:
            thread = self._threads[thread_id] = _Thread()
        user = thread.user
        if user_host:
            found = _USER_HOST.match(user_host)
            if found and found.group(1):
                user = thread.user = found.group(1)
        if self.users is not None and user not in self.users:
            return None
        if command == "Query" and (not sql or sql[0] in _SPECIAL_START):
            if not sql.strip() or _SQL_PREPARED.match(sql):
                return None
            used = _USE.match(sql)
            if used:
                thread.database = used.group(1).strip("`").replace("``", "`")
        noise = self.noise
        if noise is not None and (name := noise.match(sql)) is not None:  # `is_noise`, one call less a statement
            noise.count(name)
            self.noise_dropped += 1
            return None
        return new_statement_fields((sql, thread_id, thread.database, time, command, request, user,
                                     command == "Execute" and has_placeholders(sql)))
