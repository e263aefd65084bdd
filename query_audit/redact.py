"""Secrets out of captured statements, before anything keeps or prints them.

Only the *contents* of string literals are replaced (`'s3cret'` -> `'<redacted>'`), and in account
statements hex literals too (`AS 0x2441...` -> `AS 0x00`): a fingerprint turns every literal into `?`,
so fingerprints, query ids and baselines are exactly what they were (except for a literal cut off by
the end of a truncated statement, which a fingerprint keeps as text: redacted all the same). Redacted:
- every literal of a statement that manages accounts or replication credentials: CREATE/ALTER USER,
  GRANT, SET PASSWORD, CHANGE MASTER / REPLICATION SOURCE, START SLAVE/REPLICA, CREATE/ALTER SERVER;
- any literal whose contents match a secret pattern: `DEFAULT_PATTERNS` (password hashes, JWTs, API
  keys, long mixed-case or hex tokens; not ordinary values such as words, slugs, UUIDs or e-mails)
  plus the project's own (`[tool.query-audit] redact = [...]`).

The pipeline redacts each group's sample and repetition samples once (the digest has already taken the
fingerprint), and a saved capture redacts every statement it writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import partial

from query_audit.model import QueryGroup, Repetition, Statement
from query_audit.sql_text import LEXEME, leading_comments_end

REDACTED = "<redacted>"

DEFAULT_PATTERNS = (
    r"^\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}$",  # bcrypt
    r"^\$argon2(id|i|d)\$",  # argon2
    r"^\$[156]\$[^$]{1,16}\$[./A-Za-z0-9]{22,}",  # md5/sha-crypt
    r"^(pbkdf2_sha256|pbkdf2_sha1|bcrypt_sha256|scrypt|sha1)\$",  # Django / Werkzeug hashers
    r"^\*[0-9A-Fa-f]{40}$",  # mysql_native_password
    r"^eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*$",  # a JWT
    r"^(sk|pk|rk)_(live|test)_[A-Za-z0-9]{16,}|^gh[pousr]_[A-Za-z0-9]{30,}|^xox[abprs]-|^glpat-|^AKIA[0-9A-Z]{16}$",
    r"^[0-9A-Fa-f]{40,}$",  # hex tokens of 160 bits and more (a UUID's 32 digits stay)
    r"^(?=.*[a-z])(?=.*[A-Z])(?=.*[0-9])[A-Za-z0-9+/_-]{32,}={0,2}$",  # long base64/base64url tokens
)

_ACCOUNT_STATEMENT = re.compile(
    r"(CREATE\s+(OR\s+REPLACE\s+)?USER|ALTER\s+USER|GRANT|SET\s+PASSWORD|CHANGE\s+(MASTER|REPLICATION\s+SOURCE)"
    r"|START\s+(SLAVE|REPLICA)|(CREATE|ALTER)\s+(OR\s+REPLACE\s+)?SERVER)\b", re.IGNORECASE)
# A hex literal is a word to the lexer (query_audit.sql_text), which also keeps what can hide a quote
# (names, comments) out of the strings; executable comments' bodies are code, lexed like the rest.
_HEX = re.compile(r"0x[0-9A-Fa-f]+")
# Outside an account statement only string literals change. A run of characters none of which can start a
# comment, a quoted name or a string (nor end a comment) is whole words, spaces and punctuation, so each
# match takes such a run (`plain`, kept as it is) with the lexeme after it: the callback runs once per
# comment, quoted name, string or one of those characters, not once per word. (Possessive: a run never
# gives characters back; the last run of a text, with no lexeme after it, is `tail`.)
_PLAIN_RUN = re.compile(r"(?P<plain>[^/#*`'\"-]*+)(?:" + LEXEME.pattern + r")|(?P<tail>[^/#*`'\"-]+)\Z",
                        LEXEME.flags)
# The default patterns as one alternation: one search per literal instead of one per pattern (a search of
# A|B finds a match exactly when A or B does). The project's own stay apart: their groups and flags are theirs.
_DEFAULT_SECRET = re.compile("|".join(f"(?:{pattern})" for pattern in DEFAULT_PATTERNS))
# What a literal matching a default pattern must hold, so a statement without any of it has nothing to redact
# (outside account statements): a `$` (the crypt and Django hashes), the fixed prefixes (JWT, Stripe, Slack,
# GitLab, AWS), or a run of 32 token characters (hex and base64 tokens, GitHub's and MySQL's hashes).
# tests/test_redact.py holds it to the full pass on mutations built from every pattern.
_MAY_HOLD_A_DEFAULT_SECRET = re.compile(r"\$|eyJ|_live_|_test_|xox|glpat-|AKIA|[-A-Za-z0-9+/_]{32}")


@dataclass(frozen=True)
class Redactor:
    """Redacts with `DEFAULT_PATTERNS` plus the project's `extra` regexes (matched against a literal's
    contents with `re.search`)."""

    extra: tuple[str, ...] = ()

    def __post_init__(self):
        patterns = (_DEFAULT_SECRET, *(re.compile(p) for p in self.extra))
        # Called once per string literal: without project patterns, the one search itself.
        object.__setattr__(self, "_is_secret", patterns[0].search if len(patterns) == 1 else
                           partial(_any_search, patterns))
        # The project's own patterns may match anything: then every statement takes the full pass.
        object.__setattr__(self, "_may_hold_a_secret", _MAY_HOLD_A_DEFAULT_SECRET.search if len(patterns) == 1
                           else lambda sql: True)

    def sql(self, sql: str) -> str:
        """`sql` with the secrets in its literals replaced; the same text when it has none."""
        if "'" not in sql and '"' not in sql and "0x" not in sql.lower():
            return sql
        # A statement starting with a letter starts with a word: no comment before it to skip.
        start = 0 if sql[0].isascii() and sql[0].isalpha() else leading_comments_end(sql)
        if _ACCOUNT_STATEMENT.match(sql, start) is not None:
            return LEXEME.sub(_redact_account_literal, sql)
        if not self._may_hold_a_secret(sql):
            return sql
        is_secret = self._is_secret

        def redact_secret(match: re.Match) -> str:
            if match.lastgroup != "string":
                return match.group()
            plain, literal = match.group("plain", "string")
            closed = len(literal) > 1 and literal[-1] == literal[0]
            if is_secret(literal[1:-1] if closed else literal[1:]):
                return plain + literal[0] + REDACTED + (literal[0] if closed else "")
            return match.group()

        redacted = _PLAIN_RUN.sub(redact_secret, sql)
        # The text itself when nothing was redacted: a copy of each of a big log's samples is ~13 MB.
        return sql if redacted == sql else redacted

    def statement(self, statement: Statement) -> Statement:
        redacted = self.sql(statement.sql)
        return statement if redacted == statement.sql else replace(statement, sql=redacted)

    def group(self, group: QueryGroup) -> QueryGroup:
        """The group with its samples redacted: the same objects where nothing changed (a big log's groups
        hold ~20,000 repetitions, most without a secret or a sample, and copying them cost more than
        reading them)."""
        repetitions = tuple(map(self._repetition, group.repetitions))
        sample = self.statement(group.sample)
        # A fingerprint keeps a literal only when it is cut off (a truncated statement): redact that too.
        fingerprint = self.sql(group.fingerprint)
        if sample is group.sample and fingerprint is group.fingerprint and all(
                new is old for new, old in zip(repetitions, group.repetitions)):
            return group
        return replace(group, sample=sample, repetitions=repetitions, fingerprint=fingerprint)

    def _repetition(self, repetition: Repetition) -> Repetition:
        samples = tuple(map(self.sql, repetition.samples))
        if all(new is old for new, old in zip(samples, repetition.samples)):
            return repetition
        return replace(repetition, samples=samples)

    def statements(self, statements: Iterable[Statement]) -> list[Statement]:
        return [self.statement(statement) for statement in statements]


def _redact_account_literal(match: re.Match) -> str:
    """In an account statement every string literal and every hex literal is a credential."""
    if match.lastgroup == "string":
        literal = match.group()
        closed = len(literal) > 1 and literal[-1] == literal[0]
        return literal[0] + REDACTED + (literal[0] if closed else "")
    if match.lastgroup == "word" and _HEX.fullmatch(match.group()):
        return "0x00"
    return match.group()


def _any_search(patterns: tuple[re.Pattern, ...], body: str) -> bool:
    return any(pattern.search(body) for pattern in patterns)

