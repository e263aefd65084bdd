"""`analyze --digests` on the command line: usage errors are one line and exit 2, a snapshot round-trips
against the private test server, and a table reset between snapshot and now is taken as it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from query_audit.connection import connect
from query_audit.sources.digest_table import DigestRow, subtract

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path):
    env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(tmp_path / "state"), NO_COLOR="1")
    env.pop("QUERY_AUDIT_DSN", None)
    return env


def cli(env, *args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "query_audit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.parametrize("args, says", [
    (["analyze"], "nothing to analyze"),
    (["analyze", "--digests", "some.log", "--dsn", "mysql://root@127.0.0.1:9/x"], "not both"),
    (["analyze", "--digests", "--dsn", "mysql://root@127.0.0.1:9/x", "--snapshot", "a", "--since", "b"], "not both"),
    (["analyze", "some.log", "--since", "b"], "go with --digests"),
])
def test_usage_errors_are_one_line_and_exit_2(env, args, says):
    done = cli(env, *args)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr.lower() and "Traceback" not in done.stderr


def test_a_snapshot_and_since_measure_only_what_ran_in_between(scratch_db, env, tmp_path):
    with connect(scratch_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE items (id INT PRIMARY KEY, colour INT)")
        cur.execute("INSERT INTO items SELECT seq, seq % 7 FROM seq_1_to_2000")
    snapshot = tmp_path / "before.json"
    saved = cli(env, "analyze", "--digests", "--dsn", scratch_db.to_dsn(), "--snapshot", str(snapshot))
    assert saved.returncode == 0 and "written to" in saved.stderr, saved.stderr
    assert set(json.loads(snapshot.read_text())) == {"format", "version", "server", "taken_at", "rows"}
    with connect(scratch_db) as conn, conn.cursor() as cur:
        for colour in range(5):
            cur.execute(f"SELECT COUNT(*) FROM items WHERE colour = {colour}")
    done = cli(env, "analyze", "--digests", "--dsn", scratch_db.to_dsn(), "--since", str(snapshot), "--format",
               "json", "--top", "5")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    [query] = [q for q in report["queries"] if q["fingerprint"] == "select count(*) from items where colour = ?"]
    assert query["count"] == 5 and query["timing"]["rows_examined"] == 5 * 2000
    assert query["timing"]["max"] <= query["timing"]["total"]
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    bad = cli(env, "analyze", "--digests", "--dsn", scratch_db.to_dsn(), "--since", str(broken))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_a_digest_counted_lower_than_in_the_snapshot_was_reset_and_is_taken_as_it_is():
    row = DigestRow("shop", "abc", "SELECT ?", count=3, sum_timer_wait=30, max_timer_wait=20, sum_rows_examined=3,
                    sum_rows_sent=3, sum_no_index_used=0, sum_no_good_index_used=0, first_seen="", last_seen="")
    before = replace(row, count=10, sum_timer_wait=100)
    assert subtract([row], [before]) == [row]
    assert subtract([row], [row]) == []
