"""Statement fingerprints: the shape of a statement with its values taken out.

The rules are pt-query-digest's (the de-facto standard, so users can cross-reference its reports):
comments stripped (but `/*!...*/` kept), strings, numbers, hex/bit literals, NULL, TRUE and FALSE
to `?`, `IN (...)` / `VALUES (...)` lists of literals to `(?+)`, only the first row of a multi-row
INSERT, whitespace collapsed, lower case, `LIMIT a, b` and `LIMIT a OFFSET b` to `limit ?`,
`use db` to `use ?`, `call p(...)` to `call p`.

Where pt-query-digest is wrong we do better: digits inside identifiers stay (`t_2024`, `db2`,
backquoted names), so `orders_2023` and `orders_2024` are two shapes, not one; a `--` needs the
space MySQL requires to start a comment; an `ON DUPLICATE KEY UPDATE` after a multi-row VALUES stays.

This runs on every statement of a log file, so it is regex-only (no parser), and the second half of
the work (normalizing the statement once its literals are out) is cached by that template: every
statement of one shape shares it.

>>> fingerprint("SELECT * FROM t_2024 WHERE id IN (1, 2, 3) AND name = 'x' LIMIT 10, 20")
'select * from t_2024 where id in(?+) and name = ? limit ?'
>>> query_id("select * from t where id = ?")
'86A4FD498C70095E35FC3906162972DA'
"""

from __future__ import annotations

import hashlib
import re

from query_audit import sql_text
from query_audit.model import Kind

try:  # `_split` in C (_literal_scan.c), built at install where a compiler is: the same answers, 10x faster
    from query_audit.analyze._literal_scan import split as _c_split
except ImportError:
    _c_split = None

# One literal: a quoted string, or a decimal/hex/bit number with an optional sign attached to it. (NULL, TRUE
# and FALSE become `?` in `_normalize_template`: letters are too common to start a literal here, and a
# statement shape then serves all its NULLs.) The pattern starts with one character class so that the regex
# engine can skip every other position quickly; the lookbehinds then look at the character before that first
# one, which keeps digits that belong to an identifier (`t_2024`, `db2.t1`) out of it. A string's prefix
# (`x'1F'`, `_utf8mb4'a'`) is folded into its `?` later, in `_normalize_template`.
_NUMBER = r"(?:0[xX][0-9a-fA-F]+|0[bB][01]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(?![\w$])"
_LITERAL_BODY = rf"""
    [-+'"\d.]
    (?:
        (?<=')(?:[^'\\]|\\.|'')*'
      | (?<=")(?:[^"\\]|\\.|"")*"
      | (?<=[+-])(?<![\w$)\]?'"`][+-]){_NUMBER}
      | (?<=0)(?<![\w$.]0)(?:[xX][0-9a-fA-F]+|[bB][01]+)(?![\w$])
      | (?<=\d)(?<![\w$.]\d)\d*(?:\.\d*)?(?:[eE][+-]?\d+)?(?![\w$])
      | (?<=\.)(?<![\w$.]\.)\d+(?:[eE][+-]?\d+)?(?![\w$])
    )
"""
# Splitting on a capturing group gives the text between literals and the literals in one pass.
_LITERAL_SPLIT = re.compile(f"({_LITERAL_BODY})", re.VERBOSE | re.DOTALL)

# Comments and backquoted identifiers must be recognised together with the literals: a `--` inside
# a string is no comment, a `'` inside a comment is no string, and `t 2` in backquotes is a name.
_TOKEN = re.compile(
    rf"""
    (?P<ident>`(?:[^`]|``)*`)
  | (?P<comment>/\*(?!!).*?\*/|--(?=[\x00-\x20\x7f]|\Z)[^\n]*|\#[^\n]*)
  | (?P<literal>{_LITERAL_BODY})
    """,
    re.VERBOSE | re.DOTALL,
)

_MULTI_ROW_VALUES = re.compile(
    r"(\bvalues?\s*\((?:[^()]|\([^()]*\))*\))(?:\s*,\s*\((?:[^()]|\([^()]*\))*\))+"
)
_LIST_OF_LITERALS = re.compile(r"\b(in|values?)(?:[\s,]*\([\s?,]*\))+")
_LIMIT = re.compile(r"\blimit \?(?:, ?\?| offset \?)?")
_ASC = re.compile(r"\s+asc\b")
_UNION_REPEAT = re.compile(r"\b(select\s.*?)(?:(\sunion(?:\sall)?)\s\1)+")
_NULL_TRUE_FALSE = re.compile(r"(?<![\w$.@`])(?:null|true|false)(?![\w$`])")
# What a literal's `?` absorbs: a string's prefix (x'1F', b'01', N'a', _utf8mb4'a', no space allowed
# there) and the SQL-standard typed literals (DATE'2024-01-01', TIME '10:00', TIMESTAMP'...', which
# MariaDB writes for a prepared statement's date parameters); pt-fingerprint leaves `timestamp?`.
_STRING_PREFIX = re.compile(r"(?<![\w$.@`])(?:[xbn]|_[a-z0-9]+|(?:date|time|timestamp)\s*)\?")
_ODBC_LITERAL = re.compile(r"\{\s*(?:d|t|ts)\s+\?\s*\}")  # {d '2024-01-01'}, {ts '...'}
_USE = re.compile(r"use \S+")
_CALL = re.compile(r"call\s+([^\s(]+)")
_MYSQLDUMP = re.compile(r"SELECT /\*!\? SQL_NO_CACHE \*/ \* FROM `")  # its version number is a `?` by now

_TEMPLATE_CACHE: dict[str, str] = {}
_TEMPLATE_CACHE_SIZE = 20_000  # shapes, not statements: a log rarely has more than a few thousand


MAX_FINGERPRINTED_CHARS = 1024 * 1024


def fingerprint(sql: str) -> str:
    """The statement's shape, as pt-query-digest would print it (see the module docstring)."""
    return _normalize(_split(sql)[0])


def fingerprint_and_values(sql: str) -> tuple[str, str]:
    """`(fingerprint(sql), values)` with one scan of the statement: `values` is a cheap key of its literal
    values, to count distinct value sets of one shape.

    A statement over MAX_FINGERPRINTED_CHARS (normalizing takes about 50 bytes of memory per byte of it)
    is fingerprinted by its head, cut after its last `)` there: a multi-row INSERT, the usual giant, keeps
    the fingerprint it would have had (only its first row counts); its values key is a digest of all of it.
    """
    if len(sql) > MAX_FINGERPRINTED_CHARS:
        head = sql[:MAX_FINGERPRINTED_CHARS]
        cut = head.rfind(")")
        head = head[:cut + 1] if cut > MAX_FINGERPRINTED_CHARS // 2 else head
        return fingerprint_and_values(head)[0], hashlib.md5(sql.encode("utf-8", "surrogatepass")).hexdigest()
    if _c_split is not None:
        template, values = _c_split(sql)
        shape = _TEMPLATE_CACHE.get(template)  # `_normalize`'s cache, asked here: one call less per statement
        return shape if shape is not None else _normalize(template), values
    template, literals = _split(sql)
    return _normalize(template), "\x1f".join(literals)


def forget_shapes() -> None:
    """Empty the cache of shapes (when a reading is over: ~3 MB at 1M statements, scattered among the
    memory the reading freed, which it would keep from being used again)."""
    _TEMPLATE_CACHE.clear()


def literal_pieces(sql: str) -> tuple[list[str], list[str]]:
    """The text around the literals, and the literals, as they are written (comments stay):
    `sql == pieces[0] + literals[0] + pieces[1] + ... + pieces[-1]`. Statements of one template have
    equal pieces, so their literals line up by position."""
    if not ("`" in sql or "/*" in sql or "--" in sql or "#" in sql):
        parts = _LITERAL_SPLIT.split(sql)
        return parts[0::2], parts[1::2]
    pieces, literals, start = [], [], 0
    for match in _TOKEN.finditer(sql):
        if match.lastgroup == "literal":
            pieces.append(sql[start:match.start()])
            literals.append(match.group())
            start = match.end()
    pieces.append(sql[start:])
    return pieces, literals


def query_id(fingerprint: str) -> str:
    """pt-query-digest's query ID of a fingerprint (its `make_checksum`: the MD5 in upper-case hex)."""
    return hashlib.md5(fingerprint.encode("utf-8", "surrogatepass")).hexdigest().upper()


def _split(sql: str) -> tuple[str, list[str]]:
    """The statement with `?` for each literal and comments removed, and the literals themselves."""
    if not ("`" in sql or "/*" in sql or "--" in sql or "#" in sql):
        parts = _LITERAL_SPLIT.split(sql)
        return "?".join(parts[0::2]), parts[1::2]
    literals: list[str] = []

    def replace(match: re.Match) -> str:
        kind = match.lastgroup
        if kind == "ident":
            return match.group()
        if kind == "comment":
            return " "
        literals.append(match.group())
        return "?"

    return _TOKEN.sub(replace, sql), literals


def _normalize(template: str) -> str:
    cached = _TEMPLATE_CACHE.get(template)
    if cached is None:
        if len(_TEMPLATE_CACHE) >= _TEMPLATE_CACHE_SIZE:
            _TEMPLATE_CACHE.clear()
        cached = _TEMPLATE_CACHE[template] = _normalize_template(template)
    return cached


def _normalize_template(template: str) -> str:
    if _MYSQLDUMP.match(template):
        return "mysqldump"
    text = " ".join(template.split()).lower()
    if _USE.fullmatch(text):
        return "use ?"
    call = _CALL.match(text)
    if call:
        return "call " + call.group(1)
    if "null" in text or "true" in text or "false" in text:
        text = _NULL_TRUE_FALSE.sub("?", text)
    if "?" in text:
        text = _STRING_PREFIX.sub("?", text)
        if "{" in text:
            text = _ODBC_LITERAL.sub("?", text)
    if "value" in text:
        text = _MULTI_ROW_VALUES.sub(r"\1", text)
    if "(" in text:
        text = _LIST_OF_LITERALS.sub(r"\1(?+)", text)
    if " union " in text:
        text = _UNION_REPEAT.sub(r"\1 /*repeat\2*/", text)
    if "limit ?" in text:
        text = _LIMIT.sub("limit ?", text)
    order_by = text.find("order by ")
    if order_by >= 0 and " asc" in text:
        text = text[:order_by] + _ASC.sub("", text[order_by:])
    return text


# ---------------------------------------------------------------------------------------------
# Statement kind
# ---------------------------------------------------------------------------------------------

_VERBS = {
    "select": Kind.SELECT,
    "insert": Kind.INSERT,
    "update": Kind.UPDATE,
    "delete": Kind.DELETE,
    "replace": Kind.REPLACE,
}


def statement_kind(sql: str) -> Kind:
    """What the statement does, from its first keyword (leading comments and parentheses skipped).

    `WITH ... SELECT` is a select (and `WITH ... UPDATE` an update); `INSERT ... SELECT` an insert.
    """
    word = sql_text.first_keyword(sql)
    if word == "WITH":
        return _kind_after_with(sql)
    return _VERBS.get(word.lower(), Kind.OTHER) if word else Kind.OTHER


def _kind_after_with(sql: str) -> Kind:
    """The first verb outside the common table expressions' parentheses."""
    depth = 0
    for token in sql_text.code_tokens(sql):
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            depth -= 1
        elif depth <= 0 and token.kind == "word" and token.text.lower() in _VERBS:
            return _VERBS[token.text.lower()]
    return Kind.OTHER
