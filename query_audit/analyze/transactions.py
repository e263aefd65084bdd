"""Transaction control statements, and each connection's transaction state as its statements stream by.

BEGIN, START TRANSACTION, COMMIT, ROLLBACK, SAVEPOINT and `SET autocommit = ...` are not query shapes: the
Digest hands them here instead of grouping them. Per connection (thread id) this keeps whether a
transaction is open, explicitly (BEGIN ... COMMIT) or implicitly (the first statement after
`SET autocommit = 0`), so each statement can be told apart as "inside transaction n" or "autocommitted",
and counts what the report summarizes: transactions, their control round trips, and the COMMITs and
ROLLBACKs sent with no transaction open (a connection pool's "reset on return" does that after every
request: a round trip that changes nothing).

What a connection did before the capture window is unknown: it is taken to be in autocommit (the server's
default) with no transaction open until its statements say otherwise.
"""

from __future__ import annotations

import re

from query_audit import sql_text

# Longer statements are never transaction control: the quick length test keeps the regex off the hot path.
MAX_CONTROL_LENGTH = 120
_CONTROL = re.compile(
    r"""\s*(?:
        (?P<begin>BEGIN(?:\s+WORK)?|START\s+TRANSACTION(?:\s+[\w\s,]*)?)
      | (?P<rollback_to>ROLLBACK(?:\s+WORK)?\s+TO\s+(?:SAVEPOINT\s+)?\S+)
      | (?P<end>COMMIT|ROLLBACK)(?:\s+WORK)?(?P<chain>\s+AND\s+(?:NO\s+)?CHAIN)?(?:\s+(?:NO\s+)?RELEASE)?
      | (?P<savepoint>(?:RELEASE\s+)?SAVEPOINT\s+\S+)
      | (?P<autocommit>SET\s+(?:(?:SESSION|LOCAL)\s+|@@(?:SESSION\.|LOCAL\.)?)?autocommit\s*:?=\s*
            (?P<value>'?\w+'?))
    )\s*;?\s*\Z""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL)
_OFF = ("0", "off", "'off'", "false")


# How a control statement can start: anything else is ruled out without the regex, which matters on the
# Digest's hot path (it asks about every statement; most are SELECT, INSERT, UPDATE).
FIRST_CHARACTERS = frozenset("BbSsCcRr/ \t\r\n")
_HEADS = ("BEGIN", "START", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET", "/*")
SELECT_STARTS = ("SEL", "sel", "Sel")
# The statements drivers send most, answered without the regex.
_EXACT: dict[str, tuple[str, str]] = {}
for _words, _kind in ((("BEGIN", "START TRANSACTION"), ("begin", "")), (("COMMIT",), ("end", "COMMIT")),
                      (("ROLLBACK",), ("end", "ROLLBACK"))):
    for _word in _words:
        _EXACT[_word] = _EXACT[_word.lower()] = _kind


def control_kind(sql: str) -> tuple[str, str] | None:
    """("begin" | "end" | "chain" | "savepoint" | "autocommit", detail) for a transaction control statement,
    else None. `detail` is "COMMIT"/"ROLLBACK" for an end, "on"/"off" for autocommit."""
    exact = _EXACT.get(sql)
    if exact is not None:
        return exact
    if len(sql) > MAX_CONTROL_LENGTH or sql[:1] not in FIRST_CHARACTERS or sql[:3] in SELECT_STARTS:
        return None  # too long, or starts like no control statement does, or like SELECT
    head = sql[:9].upper()
    if not head.startswith(_HEADS) and not head[:1].isspace():
        return None
    if head.startswith("SET") and "AUTOCOMMIT" not in sql.upper():
        return None
    if "/*" in sql or "#" in sql or "--" in sql:
        sql = sql_text.strip_comments(sql)  # comments anywhere, as the server reads them
    found = _CONTROL.match(sql)
    if found is None:
        return None
    if found["begin"]:
        return "begin", ""
    if found["end"]:
        chained = found["chain"] and "NO" not in found["chain"].upper()
        return ("chain" if chained else "end"), found["end"].upper()
    if found["autocommit"]:
        return "autocommit", "off" if found["value"].lower() in _OFF else "on"
    return "savepoint", ""


class TransactionTracker:
    """Transaction state per connection, and the counts the summary reports.

    `inside(thread_id)` is called for every other statement: it returns the number of the transaction the
    statement runs in (0: autocommitted), opening one implicitly on a connection with autocommit off.
    """

    __slots__ = ("_manual", "_serial", "active", "begun", "control_statements", "idle_ends", "open",
                 "statements_inside")

    def __init__(self):
        self.open: dict[int | None, int] = {}  # thread -> the serial of its open transaction (read by the Digest)
        self._manual: set[int | None] = set()  # threads with autocommit off
        self._serial = 0
        self.begun = 0  # transactions started, explicitly or implicitly
        self.control_statements = 0  # BEGIN/COMMIT/ROLLBACK/SAVEPOINT/SET autocommit round trips
        self.idle_ends = 0  # COMMIT/ROLLBACK with no transaction open
        self.statements_inside = 0
        # False while no connection has a transaction open or autocommit off: `inside` would answer 0, so the
        # Digest need not ask (the common case of a log without transactions, kept cheap).
        self.active = False

    def _begin(self, thread_id: int | None) -> int:
        self._serial += 1
        self.begun += 1
        self.open[thread_id] = self._serial
        return self._serial

    def control(self, thread_id: int | None, kind: str, detail: str) -> None:
        self.control_statements += 1
        is_open = thread_id in self.open
        if kind == "begin":
            self._begin(thread_id)  # a BEGIN inside a transaction commits it first: a new one either way
        elif kind in ("end", "chain"):
            if not is_open:
                self.idle_ends += 1
            self.open.pop(thread_id, None)
            if kind == "chain":
                self._begin(thread_id)
        elif kind == "autocommit":
            if detail == "off":
                self._manual.add(thread_id)
            else:
                self._manual.discard(thread_id)
                self.open.pop(thread_id, None)  # SET autocommit = 1 commits the open transaction
        self.active = bool(self.open or self._manual)

    def inside(self, thread_id: int | None) -> int:
        """The transaction a statement of this connection runs in (0: autocommitted), counting it. The Digest
        asks only while `active`."""
        serial = self.open.get(thread_id, 0)
        if not serial and thread_id in self._manual:
            serial = self._begin(thread_id)
            self.active = True
        if serial:
            self.statements_inside += 1
        return serial

    def merge(self, other: TransactionTracker) -> None:
        """Add another shard's counts (its connections are not ours, so their states do not meet)."""
        self.begun += other.begun
        self.control_statements += other.control_statements
        self.idle_ends += other.idle_ends
        self.statements_inside += other.statements_inside
