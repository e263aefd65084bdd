"""The one SQL text lexer (query_audit/sql_text.py): what it reads as comments, strings, names and
placeholders; the hot-path regexes that stay (the fingerprint's, and its C twin) agree with it over a shared
table of tricky statements; each reader that used its own comment rules before now gets the server's; and
no module outside the allowed ones writes a comment regex of its own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from query_audit import sql_text
from query_audit.analyze import fingerprint as fingerprint_module
from query_audit.analyze.attribution import parse_tags, without_tags
from query_audit.analyze.explain_guard import tokenize
from query_audit.analyze.fingerprint import _split, fingerprint, statement_kind
from query_audit.analyze.transactions import control_kind
from query_audit.capture.noise import NoiseFilter
from query_audit.capture.statements import has_placeholders
from query_audit.model import Kind
from query_audit.redact import REDACTED, Redactor

SOURCE = Path(__file__).resolve().parent.parent / "query_audit"

# Statements whose comments, strings and names are easy to misread. All are terminated: a literal or
# comment cut off by a truncated statement is kept as text by the fingerprint (see fingerprint.py).
TRICKY = [
    "SELECT 1 -- c\nFROM t",
    "SELECT 1 --c\nFROM t",
    "SELECT 1 --\tc",
    "SELECT 1 --\x01c\n",
    "SELECT 1 --\u00a0c\n",
    "SELECT a--1 FROM t",
    "SELECT 1 --",
    "SELECT 1 # c\nFROM t",
    "SELECT '#', \"--\" FROM t # '",
    "SELECT '/*' FROM t /* ' */",
    "SELECT 'it''s', 'a\\'b', \"x\"\"y\" FROM t",
    "SELECT `a``b`, `#c`, `--d`, `/*e*/` FROM t",
    "SELECT /*+ NO_ICP(t) */ a FROM t",
    "SELECT /*!40001 SQL_NO_CACHE */ a FROM t",
    "SELECT /*!50100 'x', */ a FROM t",
    "SELECT /*M!100100 'x', */ a FROM t",
    "SELECT /*M! 'x', */ a FROM t",
    "SELECT a FROM t WHERE b = ? AND c = '?' AND `?` = 1 /* ? */ # ?",
    "/* lead */ /* two */ SELECT 1",
    "SELECT 1 /*controller='orders',action='index'*/",
    "SELECT '/*', 1 /*controller='orders'*/",
    "SELECT '\\\\' -- c\n, 2",
    "SELECT 'a\nb' # c",
]


def _kinds(sql: str) -> list[tuple[str, str]]:
    return [(token.kind, token.text) for token in sql_text.tokens(sql) if token.kind != "space"]


def test_every_comment_form_has_its_kind():
    assert _kinds("/* a */ /*+ h */ /*!50100 x */ /*M!100100 y */ # z\n-- w") == [
        ("comment", "/* a */"), ("hint", "/*+ h */"), ("marker", "/*!50100"), ("word", "x"), ("end", "*/"),
        ("marker", "/*M!100100"), ("word", "y"), ("end", "*/"), ("comment", "# z"), ("comment", "-- w")]
    assert _kinds("/*! x */ /*M! y */")[0] == ("marker", "/*!") and _kinds("/*M! y */")[0] == ("marker", "/*M!")


def test_a_word_is_ascii_letters_digits_underscore_dollar_and_every_character_from_u0080():
    word_ascii = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$"
    beyond_ascii = "".join(chr(code) for code in range(0x80, 0x110000) if not 0xD800 <= code <= 0xDFFF)
    assert _kinds(word_ascii + beyond_ascii) == [("word", word_ascii + beyond_ascii)]
    assert _kinds("\ud800") == [("word", "\ud800")]  # a lone surrogate too (it is >= U+0080)
    for code in range(0x80):
        if chr(code) not in word_ascii:
            assert all(kind != "word" for kind, _ in _kinds(chr(code))), hex(code)
    assert sql_text.first_keyword("\u00e9t\u00e9 1") == "\u00c9T\u00c9"


def test_a_double_dash_is_a_comment_only_before_whitespace_a_control_character_or_the_end():
    assert [kind for kind, _ in _kinds("a --x")] == ["word", "punct", "punct", "word"]
    for after in (" ", "\t", "\n", "\x01", "\x7f", ""):
        assert _kinds("a --" + after)[1][0] == "comment", repr(after)
    assert _kinds("a --\u00a0x")[1] == ("punct", "-")  # a no-break space is no space to the server


def test_strings_take_both_escapes_and_names_take_doubled_backquotes():
    assert _kinds("'it''s' 'a\\'b' \"x\"\"y\" `a``b`") == [
        ("string", "'it''s'"), ("string", "'a\\'b'"), ("string", '"x""y"'), ("quoted", "`a``b`")]
    assert _kinds("'open")[0] == ("string", "'open") and _kinds("/* open")[0] == ("comment", "/* open")


def test_placeholders_are_question_marks_outside_strings_names_and_comments():
    sql = "SELECT a FROM t WHERE b = ? AND c = '?' AND `?` = 1 /* ? */ # ?"
    assert sql_text.placeholder_positions(sql) == [sql.index("= ?") + 2]
    assert sql_text.has_placeholders("SELECT /*!50100 ? */")
    assert not sql_text.has_placeholders("SELECT '?', `?`, \"?\" -- ?")


def test_helpers_the_readers_use():
    assert sql_text.strip_comments("/* a */ SELECT /*!40001 SQL_NO_CACHE */ 1 # c") == "SELECT   SQL_NO_CACHE   1"
    assert sql_text.leading_comments_end("/* a */ -- b\n /*!40101 SET */") == len("/* a */ -- b\n ")
    assert sql_text.first_keyword(" ((/* x */ select 1))") == "SELECT"
    assert sql_text.first_keyword("--x\nSELECT 1") is None
    assert sql_text.last_comment("SELECT 1 /* a */ ; ").text == "/* a */"
    assert sql_text.last_comment("SELECT 1 /* a */ , 2") is None
    code = sql_text.code_only("SELECT 'a;' /*!50100 x */ -- ;")
    assert len(code) == len("SELECT 'a;' /*!50100 x */ -- ;") and code.split() == ["SELECT", "x"]


# ---------------------------------------------------------------------------------------------
# The hot-path regexes that stay, held to the lexer
# ---------------------------------------------------------------------------------------------


def _lexer_spans(sql: str) -> dict[str, set[tuple[int, int]]]:
    """Comments, strings and names as the fingerprint must see them: the lexer's, except that a MariaDB
    `/*M!...*/` is a comment there as it is in pt-query-digest (only `/*!...*/` is kept)."""
    spans: dict[str, set[tuple[int, int]]] = {"comment": set(), "string": set(), "ident": set()}
    mariadb_start = None
    for token in sql_text.tokens(sql):
        if token.kind == "marker" and token.text.startswith("/*M!"):
            mariadb_start = token.start
        elif mariadb_start is not None:
            if token.kind == "end":
                spans["comment"].add((mariadb_start, token.end))
                mariadb_start = None
        elif token.kind in sql_text.COMMENT_KINDS:
            spans["comment"].add((token.start, token.end))
        elif token.kind in ("string", "quoted"):
            spans["string" if token.kind == "string" else "ident"].add((token.start, token.end))
    return spans


def _fingerprint_spans(sql: str) -> dict[str, set[tuple[int, int]]]:
    spans: dict[str, set[tuple[int, int]]] = {"comment": set(), "string": set(), "ident": set()}
    for match in fingerprint_module._TOKEN.finditer(sql):
        kind = match.lastgroup
        if kind == "literal" and match.group()[0] not in "'\"":
            continue  # a number: not the lexer's business
        spans["string" if kind == "literal" else kind].add(match.span())
    return spans


@pytest.mark.parametrize("sql", TRICKY)
def test_the_fingerprint_regex_reads_comments_strings_and_names_where_the_lexer_does(sql):
    assert _fingerprint_spans(sql) == _lexer_spans(sql)


@pytest.mark.parametrize("sql", TRICKY)
def test_the_c_literal_scan_answers_what_the_fingerprint_regex_answers(sql):
    c_split = pytest.importorskip("query_audit.analyze._literal_scan").split
    assert c_split(sql)[0] == _split(sql)[0]


@pytest.mark.parametrize("sql", TRICKY)
def test_the_explain_guard_sees_the_lexers_code_tokens(sql):
    assert [token.start for token in tokenize(sql)] == [token.start for token in sql_text.code_tokens(sql)]


# ---------------------------------------------------------------------------------------------
# Behaviour fixes: readers that had comment rules of their own
# ---------------------------------------------------------------------------------------------


def test_a_double_dash_glued_to_a_word_is_no_comment_to_noise_filters_or_statement_kinds():
    assert NoiseFilter().match("-- c\nSET NAMES utf8") == "set names"
    assert NoiseFilter().match("--x\nSET NAMES utf8") is None  # was "set names": `--x` is no comment
    assert statement_kind("-- c\nSELECT 1") == Kind.SELECT
    assert statement_kind("--x\nSELECT 1") == Kind.OTHER  # was SELECT


def test_the_fingerprint_takes_a_double_dash_before_a_control_character_and_not_before_a_no_break_space():
    assert fingerprint("select 1 --\x01c\n") == "select ?"  # was `select ? --\x01c`
    assert fingerprint("select 1 --\u00a0c\n") == "select ? -- c"  # was `select ?`


def test_a_placeholder_inside_an_executable_comment_is_a_placeholder():
    assert has_placeholders("SELECT * FROM t WHERE a = 1 /*!50100 AND b = ? */")  # was False: the server runs it
    assert not has_placeholders("SELECT * FROM t WHERE a = 1 /* AND b = ? */")


def test_a_comment_opener_inside_a_string_hides_no_origin_tag():
    assert parse_tags("SELECT '/*', 1 /*controller='orders'*/") == {"controller": "orders"}  # was {}
    assert without_tags("SELECT '/*', 1 /*controller='orders'*/") == "SELECT '/*', 1"


def test_a_verb_in_a_backquoted_name_is_no_statement_kind():
    assert statement_kind("WITH `delete` AS (SELECT 1) SELECT * FROM `delete`") == Kind.SELECT  # was DELETE
    assert statement_kind("/*!40101 SELECT 1 */") == Kind.SELECT  # was OTHER: the server runs the body


def test_transaction_control_reads_line_comments_as_comments():
    assert control_kind("COMMIT -- pool reset") == ("end", "COMMIT")  # was None
    assert control_kind("COMMIT # reset") == ("end", "COMMIT")  # was None
    assert control_kind("/* a */ COMMIT /* b */") == ("end", "COMMIT")


def test_redaction_finds_account_statements_after_any_leading_comment():
    for lead in ("/* a */ ", "# a\n", "-- a\n", "/*+ h */ "):
        assert REDACTED in Redactor().sql(lead + "CREATE USER u IDENTIFIED BY 'plain'"), lead


# ---------------------------------------------------------------------------------------------
# Structure: one lexer
# ---------------------------------------------------------------------------------------------

# A regex that opens a comment (`/\*`), a `--` comment (`--\s`, `--(?=`, `--[`) or a `#` comment (`#[^`).
_COMMENT_REGEX = re.compile(r"/\\\*|--\\s|--\(\?=|--\[|\\?#\[\^")
# The lexer, and the fingerprint's hot-path regex held to it by the tests above.
_ALLOWED = {"sql_text.py", "analyze/fingerprint.py"}


def test_only_the_lexer_and_the_fingerprint_write_comment_regexes():
    offenders = []
    for path in sorted(SOURCE.rglob("*.py")):
        name = str(path.relative_to(SOURCE))
        if name in _ALLOWED:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _COMMENT_REGEX.search(line):
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert offenders == []
    # The check must see what it forbids (a grep that matches nothing proves nothing).
    for written in (r're.compile(r"/\*.*?\*/")', r'r"--\s[^\n]*"', r'r"--(?=\s)"', r'r"\#[^\n]*"', r'r"#[^\n]*"'):
        assert _COMMENT_REGEX.search(written), written


def test_only_the_lexer_defines_a_placeholder_detector():
    defined = re.compile(r"^\s*def (has_placeholders|placeholder_positions|code_only)\b")
    found = [f"{path.relative_to(SOURCE)}: {line.strip()}" for path in sorted(SOURCE.rglob("*.py"))
             for line in path.read_text().splitlines() if defined.search(line)]
    assert found == ["sql_text.py: def code_only(sql: str) -> str:",
                     "sql_text.py: def placeholder_positions(sql: str) -> list[int]:",
                     "sql_text.py: def has_placeholders(sql: str) -> bool:"]


def test_the_models_fallback_reads_names_and_executable_comments_as_the_server_does():
    from query_audit.analyze.sql_model import describe

    unparsed = describe("SELECT `a#b` FROM t WHERE c LIKE 'x")  # an open string: sqlglot refuses it
    assert not unparsed.parsed and unparsed.tables == ("t",)  # was (): `#b` ... was taken for a comment
    assert describe("/*!40101 SELECT 1 */").kind == Kind.SELECT  # was OTHER
