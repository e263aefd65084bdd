"""Proving a printed fix on the server: it parses, it EXPLAINs, and it does what the statements it replaces
did (the same rows for a read; the same table contents for a write, on a scratch copy of the table).

Shared by tests/test_rewrites_proven.py (the sample shop, a write loop) and tests/test_cms_app.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import sqlglot

from query_audit.advise.rewrite import loop_key
from query_audit.analyze.fingerprint import fingerprint
from query_audit.capture.saved import load_capture

REPO = Path(__file__).resolve().parent.parent


def capture(env: dict, dsn: str, base_url: str, paths, tmp_path, *options) -> tuple[dict, list]:
    """Run `query-audit capture` on the endpoints; return the JSON report and the statements it saved."""
    saved = tmp_path / f"capture-{len(list(tmp_path.iterdir()))}.json"
    args = [sys.executable, "-m", "query_audit", "capture", "--dsn", dsn, "--format", "json", "--save", str(saved),
            *options]
    for path in paths:
        args += ["--endpoint", base_url + path]
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), list(load_capture(saved).statements)


def findings(report: dict, rule: str, table: str | None = None) -> list[dict]:
    return [f for f in report["findings"] if f["rule"] == rule and (table is None or f["table"] == table)]


def run(conn, sql: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql)
        return [tuple(row) for row in cur.fetchall()]


def assert_valid(conn, sql: str) -> None:
    """It parses (sqlglot, MySQL dialect) and the server EXPLAINs it."""
    assert sqlglot.parse(sql, read="mysql"), sql
    assert run(conn, "EXPLAIN " + sql), sql


def loop_samples(statements, finding: dict) -> list[str]:
    """The loop's statements the rewrite was built from: the first five distinct texts of its shape."""
    texts = [s.sql for s in statements if fingerprint(s.sql) == finding["fingerprint"]]
    return list(dict.fromkeys(texts))[:5]


def assert_in_list_returns_the_loops_rows(conn, samples: list[str], rewritten: str) -> None:
    """The rewrite returns each loop statement's rows (its SELECT list first, the key after), as a multiset."""
    assert_valid(conn, rewritten)
    loop_rows = [row for sql in samples for row in run(conn, sql)]
    width = len(loop_rows[0]) if loop_rows else 0
    rewritten_rows = run(conn, rewritten)
    assert Counter(row[:width] for row in rewritten_rows) == Counter(loop_rows)


def assert_grouped_rewrite_answers_like_the_loop(conn, samples: list[str], rewritten: str) -> list[str]:
    """An aggregate loop's grouped rewrite gives each key the loop's answer; keys with no rows are missing from
    it, and the loop answered 0 for them. Returns those keys."""
    assert_valid(conn, rewritten)
    key = loop_key(samples)
    by_key = {str(row[-1]): row[:-1] for row in run(conn, rewritten)}
    missing = []
    for sql, value in zip(samples, key.values):
        [answer] = run(conn, sql)
        if value.strip("'") in by_key:
            assert by_key[value.strip("'")] == answer, sql
        else:
            assert answer == (0,), sql
            missing.append(value)
    return missing


def assert_same_rows(conn, original: str, rewritten: str) -> None:
    assert_valid(conn, rewritten)
    rows = Counter(run(conn, original))
    assert rows, "the original returned nothing: nothing was proven"
    assert Counter(run(conn, rewritten)) == rows


def assert_write_has_the_loops_effect(conn, table: str, loop: list[str], rewritten: str, seed: str | None = None):
    """On an empty copy of `table` (filled by `seed`, an INSERT ... SELECT, if given): the loop's statements and
    the rewrite, each from the same start, leave the same rows."""
    assert_valid(conn, rewritten)
    scratch = f"qa_proof_{table}"
    contents = []
    for statements in (loop, [rewritten]):
        run(conn, f"DROP TEMPORARY TABLE IF EXISTS {scratch}")
        run(conn, f"CREATE TEMPORARY TABLE {scratch} LIKE {table}")
        if seed:
            run(conn, seed.format(scratch=scratch))
        for sql in statements:
            run(conn, _on(sql, table, scratch))
        contents.append(sorted(run(conn, f"SELECT * FROM {scratch}")))
    run(conn, f"DROP TEMPORARY TABLE IF EXISTS {scratch}")
    assert contents[0] == contents[1]
    assert contents[0], "the loop wrote nothing: nothing was proven"


def _on(sql: str, table: str, scratch: str) -> str:
    """`sql` with its target table renamed (sqlglot, so only table names change)."""
    tree = sqlglot.parse_one(sql, read="mysql")
    for node in tree.find_all(sqlglot.exp.Table):
        if node.name.lower() == table.lower():
            node.set("this", sqlglot.exp.to_identifier(scratch))
            node.set("db", None)
    return tree.sql(dialect="mysql")


def loop_statements(statements, finding: dict) -> list[str]:
    """Every execution of the loop's shape, in order (a JOIN rewrite stands for all of them)."""
    return [s.sql for s in statements if fingerprint(s.sql) == finding["fingerprint"]]


def assert_join_returns_the_loops_rows(conn, executions: list[str], join_sql: str) -> None:
    """The JOIN returns every row each execution of the loop returned, as many times."""
    assert_valid(conn, join_sql)
    loop_rows = Counter(row for sql in executions for row in run(conn, sql))
    assert loop_rows, "the loop returned nothing: nothing was proven"
    assert Counter(run(conn, join_sql)) == loop_rows
