"""Statements that drivers, ORMs and tools send around the real work, and that we leave out.

The list starts from the seed article's manual filters (SET NAMES, SET time_zone, SET PROFILING,
SHOW STATUS, anything touching the log tables) and adds what connection pools and ORMs send:
pings (`SELECT 1`), session set-up (`SET SESSION TRANSACTION ISOLATION ...`,
`SET sql_mode`, character sets), server introspection (`SELECT @@...`, `SHOW VARIABLES`,
`SELECT VERSION()`, `SHOW FULL TABLES`, `SHOW COLUMNS`...) and `SHOW WARNINGS`.

Transaction control (BEGIN, START TRANSACTION, COMMIT, ROLLBACK, SAVEPOINT, SET autocommit) is deliberately
NOT noise: the Digest tracks each connection's transaction state from it (analyze/transactions.py) to tell
"100 INSERTs in one transaction" from "100 autocommitted INSERTs", and counts it apart from the queries.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from re import _constants, _parser  # to read the noise patterns' first characters (see _first_characters)

from query_audit.errors import QueryAuditError
from query_audit.sql_text import leading_comments_end


@dataclass(frozen=True)
class NoisePattern:
    """A named regex (case-insensitive). `anywhere` patterns may match inside the statement;
    the others must match at its start, after leading comments."""

    name: str
    pattern: str
    anywhere: bool = False


_SESSION = r"(?:(?:SESSION|LOCAL)\s+|@@(?:SESSION\.|LOCAL\.)?)?"


def _set_session(variable: str) -> NoisePattern:
    """`SET [SESSION | LOCAL | @@[SESSION.]]variable`: a session setting that drivers send on connect."""
    return NoisePattern(f"set {variable}", rf"SET\s+{_SESSION}{variable}\b")


def _show_scoped(what: str) -> NoisePattern:
    """`SHOW [GLOBAL | SESSION] what`: server introspection."""
    return NoisePattern(f"show {what.lower()}", rf"SHOW\s+(?:GLOBAL\s+|SESSION\s+)?{what}\b")


DEFAULT_NOISE: tuple[NoisePattern, ...] = (
    # Written to start with `_`, so that the regex engine can jump from one `_` to the next.
    NoisePattern("log tables", r"_log(?!\w)(?:(?<=\bgeneral_log)|(?<=\bslow_log))", anywhere=True),
    NoisePattern("set names", r"SET\s+(?:NAMES|CHARACTER\s+SET|CHARSET)\b"),
    _set_session("time_zone"),
    _set_session("profiling"),
    _set_session("sql_mode"),
    NoisePattern("set character set", rf"SET\s+{_SESSION}(?:character_set_\w+|collation_\w+)\b"),
    NoisePattern("set transaction", r"SET\s+(?:SESSION\s+|LOCAL\s+)?TRANSACTION\b"),
    NoisePattern("set session variable", r"SET\s+(?:SESSION\s+|LOCAL\s+|@@SESSION\.|@@LOCAL\.)(?!autocommit\b)"),
    NoisePattern("select 1", r"SELECT\s+1\s*(?:\+\s*1\s*)?(?:AS\s+[`\"']?\w+[`\"']?\s*)?(?:FROM\s+DUAL\s*)?;?\s*\Z"),
    NoisePattern("select @@variable", r"SELECT\s+@@"),
    NoisePattern(
        "select session function",
        r"SELECT\s+(?:DATABASE|SCHEMA|VERSION|CONNECTION_ID|USER|CURRENT_USER|SESSION_USER)\s*\(\s*\)\s*"
        r"(?:AS\s+\S+\s*)?(?:LIMIT\s+1\s*)?;?\s*\Z",
    ),
    _show_scoped("STATUS"),
    _show_scoped("VARIABLES"),
    NoisePattern("show warnings", r"SHOW\s+(?:WARNINGS|ERRORS|COUNT\s*\(\s*\*\s*\)\s+(?:WARNINGS|ERRORS))\b"),
    NoisePattern("show profiles", r"SHOW\s+PROFILES?\b"),
    NoisePattern("show tables", r"SHOW\s+(?:FULL\s+)?TABLES\b"),
    NoisePattern("show server metadata", r"SHOW\s+(?:COLLATION|CHARACTER\s+SET|CHARSET|ENGINES|DATABASES|PLUGINS)\b"),
    NoisePattern(
        "show table metadata",
        r"SHOW\s+(?:FULL\s+)?(?:COLUMNS|FIELDS|INDEX|INDEXES|KEYS|CREATE\s+TABLE|TABLE\s+STATUS)\b",
    ),
)

# A pattern that starts with a keyword and `\s+`, as the built-in ones do.
_LEADING_KEYWORD = re.compile(r"([A-Za-z]+)\\s\+(.*)\Z", re.DOTALL)


@lru_cache(maxsize=16)
def _anchored_regex(anchored: tuple[NoisePattern, ...]) -> re.Pattern:
    """`_one_alternation` compiled, once per set of patterns: reading the patterns' first characters is
    Python work (~2 ms), and every log file, saved capture and capture makes a NoiseFilter."""
    return re.compile(_one_alternation(anchored), _FLAGS)


def _one_alternation(anchored: tuple[NoisePattern, ...]) -> str:
    """The anchored patterns as one regex, each a named group `p<index>`, the shared leading keyword
    written once: `SET\\s+(?:a|b)|SELECT\\s+(?:c|d)`. A statement then fails after its first word
    instead of once per pattern (SELECTs, most of a log, went from 0.53 to 0.21 µs). Within a keyword the
    patterns keep their order, and statements of different keywords cannot match both, so the first
    pattern that matches is the one the plain alternation would give. After the keyword, a lookahead
    on the characters its patterns can start with (`SELECT\\s+(?=[1@CDSUV])`): a SELECT of real work
    then fails on one test of its next character instead of one per pattern."""
    by_keyword: dict[str, list[str]] = {}
    for index, pattern in enumerate(anchored):
        found = _LEADING_KEYWORD.match(pattern.pattern)
        if not found or _has_top_level_bar(found.group(2)):  # then the plain alternation, in order
            return "|".join(f"(?P<p{index}>{pattern.pattern})" for index, pattern in enumerate(anchored))
        by_keyword.setdefault(found.group(1).upper(), []).append(f"(?P<p{index}>{found.group(2)})")
    return "|".join(f"{keyword}\\s+{_first_character_lookahead('|'.join(branches))}(?:{'|'.join(branches)})"
                    for keyword, branches in by_keyword.items())


def _first_character_lookahead(pattern: str) -> str:
    """`(?=[...])`: a class of the characters a match of `pattern` can start with, written with the
    pattern's own literals, ranges and categories, so that it takes what they take under the same flags
    (IGNORECASE's other cases included); a superset is harmless, only a missing one would not be. Empty
    when that cannot be told (a pattern that can match nothing, `.`, a back-reference, scoped flags...)."""
    try:
        pieces, can_be_empty = _first_characters(_parser.parse(pattern, _FLAGS).data)
    except (_Unknown, re.error):
        return ""
    return "" if can_be_empty or not pieces else f"(?=[{''.join(sorted(pieces))}])"


class _Unknown(Exception):
    """A part of a pattern whose first characters `_first_characters` does not tell."""


_FLAGS = re.IGNORECASE | re.DOTALL  # the noise patterns' flags
_CATEGORIES = {
    _constants.CATEGORY_DIGIT: r"\d", _constants.CATEGORY_NOT_DIGIT: r"\D",
    _constants.CATEGORY_SPACE: r"\s", _constants.CATEGORY_NOT_SPACE: r"\S",
    _constants.CATEGORY_WORD: r"\w", _constants.CATEGORY_NOT_WORD: r"\W",
}
_ZERO_WIDTH = (_constants.AT, _constants.ASSERT, _constants.ASSERT_NOT)
_REPEATS = (_constants.MAX_REPEAT, _constants.MIN_REPEAT, _constants.POSSESSIVE_REPEAT)


def _first_characters(items: list) -> tuple[set[str], bool]:
    """The class pieces that the first character of a match of the parsed `items` is one of, and
    whether the match can be empty. _Unknown for what it does not read."""
    pieces: set[str] = set()
    for op, value in items:
        if op is _constants.LITERAL:
            return pieces | {re.escape(chr(value))}, False
        if op is _constants.IN:
            return pieces | {_class_piece(op_in, value_in) for op_in, value_in in value}, False
        if op in _ZERO_WIDTH:  # takes no character: the next item gives the first one
            continue
        if op is _constants.SUBPATTERN or op is _constants.ATOMIC_GROUP:
            if op is _constants.SUBPATTERN and (value[1] or value[2]):  # (?i:...) and the like
                raise _Unknown
            found, can_be_empty = _first_characters(value[-1] if op is _constants.SUBPATTERN else value)
        elif op is _constants.BRANCH:
            found, can_be_empty = set(), False
            for branch in value[1]:
                branch_found, branch_empty = _first_characters(branch)
                found |= branch_found
                can_be_empty |= branch_empty
        elif op in _REPEATS:
            found, can_be_empty = _first_characters(value[2])
            can_be_empty |= value[0] == 0
        else:
            raise _Unknown
        pieces |= found
        if not can_be_empty:
            return pieces, False
    return pieces, True


def _class_piece(op, value) -> str:
    """One item of a parsed `[...]` written back: a literal, a range or a category."""
    if op is _constants.LITERAL:
        return re.escape(chr(value))
    if op is _constants.RANGE:
        return f"{re.escape(chr(value[0]))}-{re.escape(chr(value[1]))}"
    if op is _constants.CATEGORY and value in _CATEGORIES:
        return _CATEGORIES[value]
    raise _Unknown  # a negated class, among others


def _has_top_level_bar(pattern: str) -> bool:
    """Whether `a|b` splits the whole pattern (then `KEYWORD\\s+` cannot be taken out of it)."""
    depth, escaped, in_class = 0, False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
    return False


class NoiseFilter:
    """Decides which statements are noise, and counts what it dropped by pattern name.

    `extra` adds patterns (regex strings, searched anywhere, or NoisePattern); `ignore_defaults`
    drops the built-in list. An invalid extra regex raises QueryAuditError.
    """

    def __init__(self, patterns: Iterable[NoisePattern] = DEFAULT_NOISE, extra: Iterable[str | NoisePattern] = (),
                 ignore_defaults: bool = False):
        chosen = [] if ignore_defaults else list(patterns)
        for item in extra:
            chosen.append(item if isinstance(item, NoisePattern) else NoisePattern(item, item, anywhere=True))
        for item in chosen:
            try:
                re.compile(item.pattern)
            except re.error as exc:
                raise QueryAuditError(f"invalid noise pattern {item.pattern!r}: {exc}") from None
        self.patterns = tuple(chosen)
        self.dropped: Counter[str] = Counter()
        # One alternation for the anchored patterns: one regex call per statement, not twenty.
        anchored = tuple(p for p in chosen if not p.anywhere)
        self._anchored_names = {f"p{i}": p.name for i, p in enumerate(anchored)}
        self._anchored = _anchored_regex(anchored) if anchored else None
        self._anywhere = tuple((p.name, re.compile(p.pattern, re.IGNORECASE | re.DOTALL)) for p in chosen if p.anywhere)

    def with_zero_counts(self) -> NoiseFilter:
        """The same patterns, counting from zero."""
        other = copy.copy(self)
        other.dropped = Counter()
        return other

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())

    def match(self, sql: str) -> str | None:
        """The name of the first pattern the statement matches, or None. Counts nothing."""
        if self._anchored is not None:
            start = leading_comments_end(sql) if sql[:1] in " \t\r\n/-#" else 0
            found = self._anchored.match(sql, start)
            if found:
                return self._anchored_names[found.lastgroup]
        for name, regex in self._anywhere:
            if regex.search(sql):
                return name
        return None

    def is_noise(self, sql: str) -> bool:
        """True when the statement is noise; counts it under the pattern's name."""
        name = self.match(sql)
        if name is None:
            return False
        self.count(name)
        return True

    def count(self, name: str) -> None:
        """Count one statement dropped by the pattern `name` (what `is_noise` does after `match`)."""
        self.dropped[name] += 1
