"""Secrets in captured statements never reach a report (any format), a report file or a saved capture,
and redaction leaves fingerprints and query ids exactly as they were (baselines stay stable)."""

from __future__ import annotations

import json
import os
import stat
import uuid

import pytest
from conftest import endpoint, run_cli, write_general_log

from query_audit.analyze.fingerprint import fingerprint, query_id
from query_audit.connection import connect
from query_audit.redact import Redactor

BCRYPT = "$2y$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
NATIVE_HASH = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"

# statement -> (secrets that must go, ordinary values that must stay)
CASES = {
    "CREATE USER 'bob'@'%' IDENTIFIED BY 'Sup3rS3cret!'": (["Sup3rS3cret!"], []),
    f"ALTER USER bob IDENTIFIED WITH mysql_native_password AS '{NATIVE_HASH}'": ([NATIVE_HASH], []),
    "ALTER USER 'bob'@'%' IDENTIFIED BY 'n3w-Pass' REPLACE 'old-Pass'": (["n3w-Pass", "old-Pass"], []),
    "CREATE USER x IDENTIFIED WITH caching_sha2_password AS 0x2441243030352467524B": (["2441243030352467524B"], []),
    "CREATE USER 'm'@'%' IDENTIFIED BY PASSWORD '*A4B6157319038724E3560894F7F932C8886EBFCF'":
        (["A4B6157319038724E3560894F7F932C8886EBFCF"], []),
    "CREATE USER m2 IDENTIFIED VIA ed25519 USING PASSWORD('edPass1')": (["edPass1"], []),
    "GRANT SELECT ON shop.* TO 'app'@'%' IDENTIFIED BY 'grantPw9'": (["grantPw9"], []),
    "SET PASSWORD FOR 'app'@'%' = PASSWORD('hunter2')": (["hunter2"], []),
    "/* from the app */ SET PASSWORD = 'hunter3'": (["hunter3"], []),
    "CHANGE MASTER TO MASTER_HOST='db1', MASTER_PASSWORD='replPw7'": (["replPw7"], []),
    f"SELECT id FROM users WHERE password_hash = '{BCRYPT}' AND email = 'ann@example.com'":
        ([BCRYPT], ["ann@example.com"]),
    f"UPDATE sessions SET token = '{JWT}' WHERE id = 3": ([JWT], []),
    "INSERT INTO api_keys (k, note) VALUES ('sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'primary key of the shop')":
        (["sk_live_4eC39HqLyjWDarjtT1zdp7dc"], ["primary key of the shop"]),
    "SELECT * FROM t WHERE k = 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRg=='":
        (["Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRg=="], []),
    "SELECT * FROM t WHERE h = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'":
        (["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"], []),
    # Ordinary values stay: words, slugs, UUIDs (32 hex digits), dates, numbers, e-mails.
    "SELECT * FROM posts WHERE slug = 'a-very-long-article-slug-about-mysql-indexes-and-plans' "
    "AND id = '550e8400-e29b-41d4-a716-446655440000' AND h = '550e8400e29b41d4a716446655440000' "
    "AND created_at > '2024-01-05 10:00:00'":
        ([], ["a-very-long-article-slug-about-mysql-indexes-and-plans", "550e8400-e29b-41d4-a716-446655440000",
              "550e8400e29b41d4a716446655440000", "2024-01-05 10:00:00"]),
    # Quotes hidden in identifiers and comments do not shift what counts as a literal.
    f"SELECT `it's` FROM t -- it's\nWHERE a = '{JWT}'": ([JWT], ["`it's`"]),
}


@pytest.mark.parametrize("sql", sorted(CASES))
def test_secrets_go_ordinary_values_stay_and_the_fingerprint_is_unchanged(sql):
    secrets, kept = CASES[sql]
    redacted = Redactor().sql(sql)
    for secret in secrets:
        assert secret not in redacted
    for value in kept:
        assert value in redacted
    assert fingerprint(redacted) == fingerprint(sql)
    assert query_id(fingerprint(redacted)) == query_id(fingerprint(sql))


def test_project_patterns_add_to_the_defaults():
    sql = "SELECT * FROM orders WHERE coupon = 'tok_abcdefghijklmnopqrstuvwx' AND note = 'tok'"
    assert "tok_abc" in Redactor().sql(sql)
    redacted = Redactor(("^tok_[a-z]{24}$",)).sql(sql)
    assert "tok_abc" not in redacted and "'tok'" in redacted


def test_a_literal_cut_off_by_a_truncated_statement_is_redacted_too():
    assert JWT[:40] not in Redactor().sql(f"SELECT * FROM s WHERE token = '{JWT[:60]}")


# ---------------------------------------------------------------------------------------------
# Every format, every file
# ---------------------------------------------------------------------------------------------

SECRETS = [BCRYPT, JWT, "Sup3rS3cret!", "hunter2"] + [f"sk_live_{n:02d}eC39HqLyjWDarjtT1zdp7" for n in range(6)]


def workload() -> list[str]:
    """What an application with secrets in its statements sends: account statements, a login by hash,
    and an N+1 over API keys (whose IN-list rewrite would quote every key)."""
    statements = [
        "CREATE USER 'bob'@'%' IDENTIFIED BY 'Sup3rS3cret!'",
        "SET PASSWORD FOR 'bob'@'%' = PASSWORD('hunter2')",
        f"SELECT id, email FROM users WHERE password_hash = '{BCRYPT}'",
        f"UPDATE users SET session_token = '{JWT}' WHERE email = 'ann@example.com'",
    ]
    statements += [f"SELECT id FROM users WHERE api_key = '{key}'" for key in SECRETS[4:]]
    return statements


@pytest.fixture
def users_db(scratch_db):
    """Tables the workload reads, without the indexes it needs (so findings quote its statements)."""
    with connect(scratch_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100), password_hash VARCHAR(100), "
                    "session_token TEXT, api_key VARCHAR(64))")
        cur.execute("INSERT INTO users VALUES " + ",".join(
            f"({i}, 'u{i}@example.com', 'h{i}', NULL, 'k{i}')" for i in range(1, 3000)))
    return scratch_db


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} in {where}"


@pytest.mark.parametrize("fmt", ["text", "rich", "markdown", "json", "sarif", "junit", "github"])
def test_no_secret_in_any_format_or_report_file(users_db, tmp_path, fmt):
    log = tmp_path / "general.log"
    write_general_log(log, users_db.database, "app", workload())
    report = tmp_path / f"report.{fmt}"
    done = run_cli("analyze", str(log), "--dsn", users_db.to_dsn(), "--format", fmt, "-v", "--output", str(report))
    assert done.returncode == 0, done.stderr
    text = report.read_text()
    assert "users" in text  # the report does talk about the statements
    assert_no_secret(text + done.stderr, f"the {fmt} report")
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    stdout = run_cli("analyze", str(log), "--dsn", users_db.to_dsn(), "--format", fmt, "-v")
    assert_no_secret(stdout.stdout + stdout.stderr, f"the {fmt} output")


def test_query_ids_are_those_of_the_original_statements(users_db, tmp_path):
    log = tmp_path / "general.log"
    write_general_log(log, users_db.database, "app", workload())
    report = json.loads(run_cli("analyze", str(log), "--format", "json").stdout)
    expected = {query_id(fingerprint(sql)) for sql in workload()}
    assert {q["id"] for q in report["queries"]} == expected
    assert "<redacted>" in json.dumps(report["queries"])


def test_a_redaction_pattern_from_the_project_configuration(users_db, tmp_path):
    (tmp_path / ".query-audit.toml").write_text('redact = ["^k-[0-9]{6}$"]\n')
    log = tmp_path / "general.log"
    write_general_log(log, users_db.database, "app", ["SELECT id FROM users WHERE api_key = 'k-123456'"])
    done = run_cli("analyze", str(log), "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "k-123456" not in done.stdout and "<redacted>" in done.stdout
    (tmp_path / ".query-audit.toml").write_text('redact = ["(unclosed"]\n')
    done = run_cli("analyze", str(log), "--format", "json", cwd=tmp_path)
    assert done.returncode == 2 and "redact" in done.stderr and "Traceback" not in done.stderr


def secret_app(settings):
    """An endpoint whose statements carry a password hash, a session token and API keys."""

    def run():
        with connect(settings) as conn, conn.cursor() as cur:
            for sql in workload()[2:]:
                cur.execute(sql)
                cur.fetchall()

    return endpoint(run, "/login")


def test_saved_capture_and_report_file_hold_no_secret_and_are_private(users_db, tmp_path):
    saved, report = tmp_path / "capture.json", tmp_path / "report.json"
    saved.write_text("old")
    saved.chmod(0o644)  # an existing file is made private too
    env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(tmp_path / "state"))
    with secret_app(users_db) as url:
        done = run_cli("capture", "--dsn", users_db.to_dsn(), "--endpoint", url, "--save", str(saved),
                       "--format", "json", "--output", str(report), env=env)
    assert done.returncode == 0, done.stderr
    for path in (saved, report):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert_no_secret(path.read_text(), path.name)
    statements = json.loads(saved.read_text())["statements"]
    assert len(statements) == len(workload()) - 2 and "<redacted>" in statements[0]["sql"]
    # Read back, the redacted capture gives the same query ids as the live report: baselines hold.
    again = json.loads(run_cli("analyze", str(saved), "--format", "json").stdout)
    assert {q["id"] for q in again["queries"]} == {q["id"] for q in json.loads(report.read_text())["queries"]}
    assert {q["id"] for q in again["queries"]} == {query_id(fingerprint(sql)) for sql in workload()[2:]}


def test_the_secret_statements_are_not_lost(tmp_path):
    """Redaction changes literals only: every statement is still there, with its kind and its tables."""
    db = "qa_" + uuid.uuid4().hex[:6]
    log = tmp_path / "general.log"
    write_general_log(log, db, "app", workload())
    report = json.loads(run_cli("analyze", str(log), "--format", "json").stdout)
    assert report["summary"]["statements"] == len(workload())
    assert {tuple(q["tables"]) for q in report["queries"] if q["kind"] == "select"} == {("users",)}


def test_the_routing_rules_evidence_quotes_statements_redacted():
    """read_after_write_on_replica and write_on_replica quote whole statements from the request traces:
    those are redacted like the samples are."""
    import json

    from query_audit.capture.session import CaptureResult
    from query_audit.model import ServerRole, SourceInfo, Statement
    from query_audit.pipeline import AnalysisOptions, analyze_stream
    from query_audit.report import Format, render

    def at(n, sql, server, thread):
        return Statement(sql, thread, "shop", f"2026-11-30T10:00:00.{n:06d}Z", request=1, server=server)

    statements = (at(1, f"UPDATE users SET password_hash = '{BCRYPT}' WHERE id = 7", "primary", 1),
                  at(2, "SELECT password_hash FROM users WHERE id = 7", "replica1", 2),
                  at(3, f"UPDATE users SET api_token = '{JWT}' WHERE id = 7", "replica1", 2))
    roles = (ServerRole("primary", "db1:3306", 100, False), ServerRole("replica1", "db2:3306", 100, True))
    source = SourceInfo(kind="capture", endpoints=("POST /users/7",), requests=1, servers=roles)
    report = analyze_stream(CaptureResult(statements, source, None, 0, ()), AnalysisOptions())
    rules = {f.rule for f in report.findings}
    assert {"read_after_write_on_replica", "write_on_replica"} <= rules
    for fmt in (Format.JSON, Format.TEXT):
        text = render(report, fmt)
        assert BCRYPT not in text and JWT not in text, fmt
    assert "password_hash" in json.dumps([f.evidence for f in report.findings], default=str)


def _redacted_lexeme_by_lexeme(redactor: Redactor, sql: str) -> str:
    """The reference: every lexeme of `sql` (sql_text.LEXEME) in turn, each string literal checked against
    every pattern one by one (what Redactor.sql did before it skipped plain runs and joined the defaults)."""
    import re

    from query_audit.redact import _ACCOUNT_STATEMENT, DEFAULT_PATTERNS, REDACTED
    from query_audit.sql_text import LEXEME, leading_comments_end

    patterns = [re.compile(p) for p in DEFAULT_PATTERNS + redactor.extra]
    account = _ACCOUNT_STATEMENT.match(sql, leading_comments_end(sql)) is not None

    def one(match):
        literal = match.group()
        if account and match.lastgroup == "word" and re.fullmatch(r"0x[0-9A-Fa-f]+", literal):
            return "0x00"
        if match.lastgroup != "string":
            return literal
        closed = len(literal) > 1 and literal[-1] == literal[0]
        body = literal[1:-1] if closed else literal[1:]
        if account or any(pattern.search(body) for pattern in patterns):
            return literal[0] + REDACTED + (literal[0] if closed else "")
        return literal

    return LEXEME.sub(one, sql)


def test_skipping_plain_runs_redacts_what_a_pass_over_every_lexeme_does():
    """Comments, quoted names, `--`, `*/` and executable comments can hide a quote or open a string: the
    fast pass must find the same string literals as the lexer, on crafted statements and mutations."""
    import random

    pieces = ["SELECT", " ", "CREATE USER ", "GRANT ", "0xAB", "0x", "a-b", "--", "-- x", "\n", "/*", "*/", "/*!50100", "/*+ hint */", "#", "`n'm`",
              "'", '"', "\\", "''", f"'{BCRYPT}'", f'"{JWT}"', "'plain'", "x*y", "1/2", "$", "é", "?", "'a\\'b'",
              f"'{NATIVE_HASH}", "-", "*", "/", "`"]
    # A literal of each default pattern, and their fixed parts alone: the test before the full pass (what a
    # literal matching a default pattern must hold) must let each through.
    pieces += ["'sk_live_4eC39HqLyjWDarjt'", "'pk_test_4eC39HqLyjWDarjt'", "'eyJhbGciOiJ9.eyJzdWIiOi.'",
               f"'ghp_{'aB3' * 12}'", "'xoxb-1'", "'glpat-x'",
               "'AKIAIOSFODNN7EXAMPLE'", f"'{'9f86d0' * 7}'", f"'{'Zm9vYmFy' * 4}'", "'$argon2id$v'",
               f"'$1$salt${'a' * 22}'", "'pbkdf2_sha256$x'", "AKIA", "eyJ", "_live_", "xox", "9f86d081884c7d659a2f"]
    rng = random.Random(12)
    redactor, extra = Redactor(), Redactor(("^plain$",))
    for _ in range(20_000):
        sql = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        assert redactor.sql(sql) == _redacted_lexeme_by_lexeme(redactor, sql), sql
        assert extra.sql(sql) == _redacted_lexeme_by_lexeme(extra, sql), sql
