"""Same general log, same answer: our classes and counts for SELECT/INSERT/UPDATE/DELETE equal
pt-query-digest's, on a log written by a real MariaDB session and on a generated one; and we also
count the prepared statements (Execute rows) that pt-query-digest leaves out."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from test_general_log_file import mariadb_log  # noqa: F401  (the real log fixture)

from query_audit.analyze.digest import Digest
from query_audit.analyze.fingerprint import fingerprint, statement_kind
from query_audit.capture.statements import StatementExtractor
from query_audit.model import Kind
from query_audit.sources import open_sources
from query_audit.sources.general_log_file import iter_general_log

PT = shutil.which("pt-query-digest")
pytestmark = pytest.mark.skipif(PT is None, reason="pt-query-digest (percona-toolkit) is not installed")
COMPARED = (Kind.SELECT, Kind.INSERT, Kind.UPDATE, Kind.DELETE)
REPO = Path(__file__).resolve().parent.parent


def pt_classes(log: Path, kind: str = "genlog") -> list[dict]:
    result = subprocess.run([PT, "--type", kind, "--output", "json", "--limit", "100%:100000", str(log)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)["classes"]


def pt_counts(log: Path, kind: str = "genlog") -> dict[str, int]:
    """{fingerprint of the class's example, by our rules: count} for the compared kinds."""
    counts = {}
    for cls in pt_classes(log, kind):
        example = cls["example"]["query"]
        if statement_kind(example) in COMPARED:
            counts[fingerprint(example)] = cls["query_count"]
    return counts


def our_counts(log: Path, commands: tuple[str, ...] = ("Query",)) -> dict[str, int]:
    extractor = StatementExtractor(keep_noise=True)  # pt-query-digest filters nothing
    digest = Digest()
    for row in iter_general_log(log):
        statement = extractor.feed(row)
        if statement is not None and statement.command in commands:
            digest.add(statement)
    return {g.fingerprint: g.count for g in digest.groups() if g.kind in COMPARED}


def generated_log(path: Path, statements: int, fmt: str = "mariadb", slow: bool = False) -> Path:
    """bench/generate.py's traffic, without the tables whose names differ only by digits (pt merges those)."""
    spec = importlib.util.spec_from_file_location("bench_generate", REPO / "bench" / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    generate.TABLES = [table for table in generate.TABLES if not any(ch.isdigit() for ch in table)]
    (generate.write_slow_log if slow else generate.write_log)(path, statements, fmt, seed=11)
    return path


def our_file_counts(log: Path, keep_noise: bool = True) -> dict[str, int]:
    """What `analyze` counts, through the same fast path (`digest_into`)."""
    digest = Digest()
    open_sources([str(log)], keep_noise=keep_noise).digest_into(digest)
    return {g.fingerprint: g.count for g in digest.groups() if g.kind in COMPARED}


def test_real_mariadb_log_has_the_same_classes_and_counts(mariadb_log):  # noqa: F811
    ours, theirs = our_counts(mariadb_log), pt_counts(mariadb_log)
    assert ours == theirs
    assert sum(theirs.values()) >= 15  # the workload's reads and writes were all compared


def test_generated_log_has_the_same_classes_and_counts(tmp_path):
    log = generated_log(tmp_path / "generated.log", 5000)
    ours, theirs = our_counts(log), pt_counts(log)
    assert len(theirs) > 50  # many shapes
    assert ours == theirs


def test_we_also_count_the_execute_statements_pt_drops(mariadb_log):  # noqa: F811
    with_executes = our_counts(mariadb_log, commands=("Query", "Execute"))
    shape = "select total from orders where id = ? and user_id > ?"
    assert with_executes[shape] == 3  # three binary-protocol executions
    assert shape not in pt_counts(mariadb_log)
    assert not any("user_id >" in cls["example"]["query"] for cls in pt_classes(mariadb_log))
    # The SQL-level EXECUTE's row too: pt sees only its `EXECUTE s USING @x` Query row.
    assert with_executes["select total from orders where id = ?"] == 1


def test_digits_inside_identifiers_split_what_pt_merges(tmp_path):
    log = tmp_path / "digits.log"
    log.write_text("Time\t\t    Id Command\tArgument\n"
                   "261126 10:00:00\t     5 Query\tSELECT * FROM orders_2024 WHERE id = 1\n"
                   "\t\t     5 Query\tSELECT * FROM orders_2025 WHERE id = 2\n")
    assert list(pt_counts(log).values()) == [2]
    assert our_counts(log) == {"select * from orders_2024 where id = ?": 1, "select * from orders_2025 where id = ?": 1}


@pytest.mark.parametrize("fmt", ["mariadb", "mysql8"])
def test_generated_slow_log_has_the_same_classes_and_counts(tmp_path, fmt):
    """Slow logs in MariaDB's and MySQL 8's format: pt-query-digest filters nothing, so neither do we
    here; with our noise filter on, only the noise's classes go (`SELECT 1` here), the rest is equal."""
    log = generated_log(tmp_path / "slow.log", 5000, fmt, slow=True)
    theirs = pt_counts(log, "slowlog")
    assert len(theirs) > 50 and sum(theirs.values()) > 4000
    assert our_file_counts(log) == theirs
    filtered = our_file_counts(log, keep_noise=False)
    assert filtered == {shape: count for shape, count in theirs.items() if shape != "select ?"}
