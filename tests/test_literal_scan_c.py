"""The C literal scan (query_audit/analyze/_literal_scan.c) answers exactly what fingerprint._split answers.

It is optional (no compiler, no extension): its tests skip then, except the one that QUERY_AUDIT_REQUIRE_C=1
turns into a failure, for a machine where it must have been built.
"""

from __future__ import annotations

import os
import random

import pytest
from test_fingerprint import IMPROVED_CASES, PT_CASES, TYPED_LITERAL_CASES

from bench.generate import write_log
from query_audit.analyze import fingerprint as fingerprint_module
from query_audit.analyze.fingerprint import _split, fingerprint_and_values
from query_audit.sources import open_sources

try:
    from query_audit.analyze._literal_scan import split as c_split
except ImportError:
    c_split = None

needs_c = pytest.mark.skipif(c_split is None, reason="the C literal scan is not built")

# Each one is a place where the regexes backtrack, look behind or ahead, or read beyond ASCII.
EDGE_CASES = [
    "", "x", "select 1", "1", "-", "+", ".", "'", '"', "`", "\\",
    # Strings: doubled quotes, escapes, no closing quote (backtracking ends at the last doubled quote).
    "'abc'", "'abc", "'abc''", "'a''b''c", "'it''s'", "''", "'''", "''''", "'''''", "'a\\'", "'a\\", "'a''b\\", "'a\\''",
    "'a\\\\'b'", "'\\\n'", "'a\nb'", "'\\''", "'\\'''", '"x""', '"a\\"b"', '"a""b"', "'a\"b'", "\"a'b\"",
    "x = 'a'''", "'a'''b", "'é'", "'𝟘'", "'a' 'b'", "'a''", "a'b", "'a''b'c'",
    # Backquoted names stay; without a closing one backtracking ends at the last doubled one, or at none.
    "`a`", "`a", "`a``", "`a`` b", "``", "```", "````", "`t 2`5", "`x`-5", "`a'b` 'c'", "`--` 5", "`#`1", "`/*`2",
    "`a`` 'x'", "`é٣` ٣",
    # Comments: lazy `/*...*/`, `/*!` kept, `--` only before a space or at the end, `#` to the line's end.
    "/* x", "/*/", "/**/5", "/***/5", "/* a */ 5 /* b */", "/*!40001 5 */", "/*! x", "/*!", "/*", "a/*", "/*/ 5 */6",
    "--", "--\n5", "-- 5", "--5", "--\t5", "--\x1c5", "--\u20035", "--\u00a05", "5--", "a --", "a --\n", "--\n",
    "a --x\n5", "a -- x\n5", "#5\n6", "#", "x#", "# 'a\n'b'", "/*x*/-5", "-5/* 'a */'b'", "'/*' 5 '*/'",
    "-- '\n'a'", "5 -- c\r\n6", "/* '*/ 'x'", "--- 5", "---", "-- -5\n-5",
    # Numbers: the lookahead after them, and backtracking over the fraction and the exponent.
    "12.5e", "12.5e+", "12.5e+3", "12.5e3x", "12.5ex", "12.e", "1e5x", "1e5", "1e", "1e+", "1e-5", "1E5", "1.e5",
    "1.", "1..2", "1.5.5", "1.2.3e4", "0x1g", "0x1G", "0x", "0X1f", "0x1F ", "0b102", "0b12", "0b1", "0B01", "0b",
    "0e1", "0x1.5", "0xe", "0x1e5", "00x1", "0.5", "0.x", "0", "05", "0b1e2", ".5", "..5", ".5e3", ".5e", ".e5",
    ". 5", "5.", "5.$", "5$", "5_", "5a", "$5", "_5", "a.5", "a5", "t1", "t_2024", "db2.t1", "t1.c2 = 7",
    "x = 1.5e-3", "x = 1e5, y = .5, z = 1.", "x+1", "x+ 1", "1+1", "1e5e5", "1e5.5", ".5.5", "5.e", "5.e+",
    # Signs: an operator after an operand (`a-5`, `)-5`, `'a'-5`), a sign elsewhere.
    "-5", "+5", "- 5", "a-5", "a -5", "a - 5", ")-5", "]-5", "?-5", "'a'-5", '"a"-5', "`a`-5", "$-5", "_-5",
    "+-5", "-+5", "--5", "(-5)", "=-5", ",-5", "*-5", "/-5", ".-5", "-.5", "+.5e-3", "-0x1F", "-0b1", "-0b2",
    "-0x1g", "-1.5e", "-1.5e+", "-12.5e3x", "-", "-a", "-'a'", "5-5", "5 -5", "x=-5", "-5-5-5", "a--5",
    # Beyond ASCII: `\d` is any decimal digit, `\w` any letter or digit, `\s` any space.
    "é5", "é-5", "5é", "٣", "x٣", "-٣", "٣.٣e٣", "1e٣", "0x٣", "²5", "5²", "-²", "²", "𝟘", "1𝟘", "𝟘.5", "-𝟘",
    "\U0001d7d8.5e1", "ß 1", "ÿ-1", "\u00a05", "٣x", "a\u0663", "\u0663\u0664", "'\u0663'", "x = ٣٤", "-\u0663.",
    # Line ends: `$` before a final newline, a comment up to a newline.
    "5\n", "-5\n", "1e5\n", "a --\n", "x = 1\n\n", "\n5\n",
    # Long enough to leave the stack buffer.
    "select " + ", ".join(f"'v{i}'" for i in range(3000)),
    "select " + ", ".join(f"{i}.5e{i % 7}" for i in range(3000)) + " /* é */",
    "x" * 10_000 + " = 1",
    "é" * 5000 + " = '𝟘' -- c",
]

# Characters the regexes treat specially, with a few multi-character pieces that start comments,
# strings and numbers, so that short random strings meet them often.
FUZZ_PIECES = list("'\"`\\-+./*#!\n \t0123456789xXbBeE_$aZ)]?") + [
    "é", "\u0663", "²", "𝟘", "\x1c", "\u00a0", "''", "``", "/*", "*/", "/*!", "-- ", "0x", "0b", "1e", "e-", ".5",
]


def python_split(sql: str) -> tuple[str, str]:
    template, literals = _split(sql)
    return template, "\x1f".join(literals)


def assert_same_splits(statements) -> int:
    differing = [sql for sql in statements if c_split(sql) != python_split(sql)]
    assert not differing, [(sql, c_split(sql), python_split(sql)) for sql in differing[:5]]
    return len(statements)


def generated_log_statements(tmp_path, fmt: str) -> list[str]:
    path = tmp_path / f"general-{fmt}.log"
    write_log(path, 20_000, fmt)
    return [statement.sql for statement in open_sources([str(path)], keep_noise=True).statements]


def test_the_extension_is_built_where_required():
    if os.environ.get("QUERY_AUDIT_REQUIRE_C") != "1":
        pytest.skip("QUERY_AUDIT_REQUIRE_C=1 is not set")
    assert c_split is not None, "query_audit.analyze._literal_scan was not built (a compiler and Python headers?)"


@needs_c
@pytest.mark.parametrize("fmt", ["mariadb", "mysql8"])
def test_c_split_equals_python_on_a_generated_log(tmp_path, fmt):
    statements = generated_log_statements(tmp_path, fmt)
    assert len(statements) >= 20_000
    assert_same_splits(statements)


@needs_c
def test_c_split_equals_python_on_the_fingerprint_cases():
    statements = [case[0] for case in PT_CASES + IMPROVED_CASES + TYPED_LITERAL_CASES]
    assert_same_splits(statements)


@needs_c
def test_c_split_equals_python_on_edge_cases():
    assert_same_splits(EDGE_CASES)


@needs_c
def test_c_split_equals_python_on_random_strings():
    generator = random.Random(20261126)
    statements = [
        "".join(generator.choices(FUZZ_PIECES, k=generator.randint(1, 12))) for _ in range(200_000)
    ]
    assert_same_splits(statements)


@needs_c
def test_c_split_returns_the_narrowest_strings():
    # `==` between strs of different kinds is False, so this also guards the differential tests.
    template, literals = c_split("é = 'a'")
    assert (template, literals) == ("é = ?", "'a'")
    assert literals.isascii()


@needs_c
def test_c_split_takes_only_str():
    with pytest.raises(TypeError):
        c_split(b"select 1")


def test_pure_python_path_gives_what_the_c_path_gives(tmp_path, monkeypatch):
    statements = generated_log_statements(tmp_path, "mariadb")[:5000] + EDGE_CASES
    answers = [fingerprint_and_values(sql) for sql in statements]
    monkeypatch.setattr(fingerprint_module, "_c_split", None)
    assert [fingerprint_and_values(sql) for sql in statements] == answers


# The parts of a general log line, each with forms the pattern takes and forms it does not: times (cut
# short, odd spacing, non-ASCII digits), tabs, spaces, thread ids, commands (lower case, digits, two spaces).
LINE_PARTS = [
    ["", "", "261126 21:30:45", "261126  9:30:01", "261126\t9:30:01", "261126 123:30:01", "26112 21:30:45",
     "261126 21:3:45", "2026-11-26T10:00:00.123456Z", "2026-11-26T10:00:00Z", "2026-11-26T10:00:00",
     "2026-11-26T10:00:00.Z", "2026-11-26T10:00:00+01:00", "2026-11-26T10:00:00-0530", "2026-11-26T10:00:00+01:0",
     "2026-11-26T10:00:00.5+01", "2026-11-26T10:00:00+01:0012", "٢٠٢٦-11-26T10:00:00Z", "２６１１２６ 21:30:45",
     "261126\u200321:30:45", "261126\x1c21:30:45"],
    ["\t", "\t\t", "", " \t", "\t \t"],
    ["", "   ", "\t"],
    ["5", "12", "٣", "0", "", "x", "5x"],
    [" ", "", "  ", "\t"],
    ["Query", "Quit", "Init DB", "Change user", "query", "Q", "Query1", "Init  DB", "Init _x", "Init DB ", "", "_x"],
    ["", "\t", "\tSELECT 1", " ", " \t", "\t\tx", "\r", " x", "\tq\r", "1"],
]


@needs_c
def test_c_general_entry_equals_the_regex_on_generated_logs_and_random_lines(tmp_path):
    from query_audit.analyze._literal_scan import general_entry

    from query_audit.sources.general_log_file import _entry_fields

    lines = []
    for fmt in ("mariadb", "mysql8"):
        path = tmp_path / f"{fmt}.log"
        write_log(path, 5_000, fmt)
        lines += path.read_text().splitlines()
    generated = len(lines)
    generator = random.Random(20261130)
    noise = [piece for part in LINE_PARTS for piece in part] + ["é", "𝟘", "-", ":", ".", "+", "Z", "T"]
    for _ in range(200_000):
        parts = [generator.choice(part) for part in LINE_PARTS]
        if generator.random() < 0.3:  # a piece from anywhere, anywhere
            parts.insert(generator.randint(0, len(parts)), generator.choice(noise))
        lines.append("".join(parts))
    different = [line for line in lines if general_entry(line) != _entry_fields(line)]
    assert different == []
    # With their line ends, and by shard (another shard's entry keeps only its classic time).
    for ending in ("\n", "\r\n", "\n\r\n"):
        ended = [line + ending for line in lines[::7]]
        assert [line for line in ended if general_entry(line) != _entry_fields(line)] == []
        for shards in (1, 2, 3):
            for shard in range(shards):
                assert [line for line in ended
                        if general_entry(line, shard, shards) != _entry_fields(line, shard, shards)] == []
    assert sum(general_entry(line) is not None for line in lines[generated:]) > 2_000  # entries among them
