"""SQL text as MySQL/MariaDB lex it: the one place that knows where comments, strings and names are.

Every reader of raw SQL text asks here (noise filters, the capture's placeholder test, redaction, statement
kinds, transaction control, the origin tag, EXPLAIN's guard and placeholder filling). The rules are the
server's, under the sql_mode the tool sets:

- comments: `/* ... */`, `# ...` to the end of the line, and `-- ` only when the dashes are followed by
  whitespace, a control character or the end (`--x` is two minus signs);
- executable comments `/*!...*/`, `/*!50100 ...*/`, MariaDB's `/*M!...*/` and `/*M!100100 ...*/`: their body
  is code, so the lexer yields a `marker` token for the opening, the body's tokens, and an `end` token;
- optimizer hints `/*+ ... */`: a `hint` token (a comment to everyone but the optimizer);
- strings in single or double quotes, with both escapes (`''` and backslash), and backquoted names
  with doubled backquotes; anything unterminated runs to the end (the server refuses it);
- `?` outside all of these: a `placeholder` token.

Two hot paths keep regexes of their own, held to this lexer by tests over a shared table of tricky
statements (tests/test_sql_text.py): the fingerprint's literal scanner (and its C twin), and nothing else.

>>> [token.kind for token in tokens("SELECT `a``b` -- note\\n FROM t WHERE x = ? /*!50100 AND 1 */")][:6]
['word', 'space', 'quoted', 'space', 'comment', 'space']
>>> strip_comments("SELECT 1 /* c */ -- d")
'SELECT 1'
>>> first_keyword("/* app */ (SELECT 1)")
'SELECT'
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

# MySQL names take letters, digits, _, $ and any character from U+0080: every character but the other ASCII
# ones. Written as that complement because a class reaching U+10FFFF costs re ~2 ms to compile, at every start.
_WORD = r"[^\x00-#%-/:-@\[-^`{-\x7f]+"
# One alternation, tried in order at each position (the server's order): comments and quotes first.
# MariaDB's lexer takes a `--` comment when the next character is a space or a control character.
_LEXEME = re.compile(
    r"(?P<space>[ \t\r\n\f\v]+)"
    r"|(?P<marker>/\*M?!\d*)"
    r"|(?P<hint>/\*\+.*?(?:\*/|\Z))"
    r"|(?P<comment>/\*.*?(?:\*/|\Z)|#[^\n]*|--(?=[\x00-\x20\x7f]|\Z)[^\n]*)"
    r"|(?P<end>\*/)"
    r"|(?P<quoted>`(?:[^`]|``)*(?:`|\Z))"
    r"|(?P<string>'(?:[^'\\]|\\(?:.|\Z)|'')*(?:'|\Z)|\"(?:[^\"\\]|\\(?:.|\Z)|\"\")*(?:\"|\Z))"
    rf"|(?P<word>{_WORD})"
    r"|(?P<placeholder>\?)"
    r"|(?P<punct>.)",
    re.DOTALL,
)
LEXEME = _LEXEME  # for a caller that rewrites tokens in one `LEXEME.sub` pass (redaction)
_LEADING_WORD = re.compile(_WORD)  # at offset 0 nothing but a word can start with a word character

COMMENT_KINDS = frozenset({"comment", "hint"})
# What is not code: whitespace, comments, and the opening and closing of an executable comment.
NOT_CODE = frozenset({"space", "comment", "hint", "marker", "end"})
_BLANKED = frozenset({"comment", "hint", "marker", "end", "quoted", "string"})


class Token(NamedTuple):
    kind: str  # space, marker, hint, comment, end, quoted, string, word, placeholder, punct
    text: str  # as written
    start: int
    end: int  # offset just after the token


def tokens(sql: str, start: int = 0) -> Iterator[Token]:
    """Every token of `sql` from `start`, whitespace and comments included."""
    for match in _LEXEME.finditer(sql, start):
        yield Token(match.lastgroup, match.group(), match.start(), match.end())


def code_tokens(sql: str) -> Iterator[Token]:
    """The tokens the server executes: comments dropped, executable comments' bodies kept."""
    return (token for token in tokens(sql) if token.kind not in NOT_CODE)


def code_only(sql: str) -> str:
    """`sql` with string literals, quoted names and comments blanked (same length), so `?`, `;` and keywords
    can be found by position. The bodies of executable comments stay: the server executes them."""
    return _LEXEME.sub(_blank_unless_code, sql)


def _blank_unless_code(match: re.Match) -> str:
    return " " * (match.end() - match.start()) if match.lastgroup in _BLANKED else match.group()


def strip_comments(sql: str) -> str:
    """`sql` with each comment (hints too) made one space and executable comments opened (their bodies
    kept), stripped at both ends."""
    return _LEXEME.sub(_space_for_comment, sql).strip()


def _space_for_comment(match: re.Match) -> str:
    kind = match.lastgroup
    if kind in COMMENT_KINDS:
        return " "
    return " " if kind in ("marker", "end") else match.group()


def leading_comments_end(sql: str) -> int:
    """The offset after the whitespace and comments (not executable ones) that start `sql`."""
    for token in tokens(sql):
        if token.kind not in ("space", "comment", "hint"):
            return token.start
    return len(sql)


def first_code_token(sql: str) -> Token | None:
    """The first token the server executes (an executable comment's body counts), or None."""
    return next(code_tokens(sql), None)


def first_keyword(sql: str) -> str | None:
    """The first word the server executes, upper-cased, opening parentheses skipped; None when the
    statement starts with anything else."""
    word = _LEADING_WORD.match(sql)
    if word:  # the usual statement: no need to lex it
        return word.group().upper()
    for token in code_tokens(sql):
        if token.kind == "word":
            return token.text.upper()
        if token.text != "(":
            return None
    return None


def last_comment(sql: str) -> Token | None:
    """The statement's trailing comment (only whitespace and `;` after it), or None."""
    last = None
    for token in tokens(sql):
        if token.kind in COMMENT_KINDS:
            last = token
        elif token.kind != "space" and token.text != ";":
            last = None
    return last


def placeholder_positions(sql: str) -> list[int]:
    """Offsets of the `?` markers that are placeholders (not inside strings, names or comments)."""
    if "?" not in sql:
        return []
    return [token.start for token in tokens(sql) if token.kind == "placeholder"]


def has_placeholders(sql: str) -> bool:
    """True when `?` occurs outside strings, quoted names and comments (a MariaDB Execute row)."""
    return "?" in sql and any(token.kind == "placeholder" for token in tokens(sql))
