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

from query_audit.model import QueryGroup, Statement
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


@dataclass(frozen=True)
class Redactor:
    """Redacts with `DEFAULT_PATTERNS` plus the project's `extra` regexes (matched against a literal's
    contents with `re.search`)."""

    extra: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "_patterns", tuple(re.compile(p) for p in DEFAULT_PATTERNS + tuple(self.extra)))

    def sql(self, sql: str) -> str:
        """`sql` with the secrets in its literals replaced; the same text when it has none."""
        if "'" not in sql and '"' not in sql and "0x" not in sql.lower():
            return sql
        account = _ACCOUNT_STATEMENT.match(sql, leading_comments_end(sql)) is not None

        def replace_literal(match: re.Match) -> str:
            if match.lastgroup == "string":
                literal = match.group()
                closed = len(literal) > 1 and literal[-1] == literal[0]
                body = literal[1:-1] if closed else literal[1:]
                if account or any(pattern.search(body) for pattern in self._patterns):
                    return literal[0] + REDACTED + (literal[0] if closed else "")
            elif account and match.lastgroup == "word" and _HEX.fullmatch(match.group()):
                return "0x00"
            return match.group(0)

        redacted = LEXEME.sub(replace_literal, sql)
        # The text itself when nothing was redacted: a copy of each of a big log's samples is ~13 MB.
        return sql if redacted == sql else redacted

    def statement(self, statement: Statement) -> Statement:
        redacted = self.sql(statement.sql)
        return statement if redacted == statement.sql else replace(statement, sql=redacted)

    def group(self, group: QueryGroup) -> QueryGroup:
        repetitions = tuple(replace(r, samples=tuple(self.sql(s) for s in r.samples)) for r in group.repetitions)
        # A fingerprint keeps a literal only when it is cut off (a truncated statement): redact that too.
        return replace(group, sample=self.statement(group.sample), repetitions=repetitions,
                       fingerprint=self.sql(group.fingerprint))

    def statements(self, statements: Iterable[Statement]) -> list[Statement]:
        return [self.statement(statement) for statement in statements]

