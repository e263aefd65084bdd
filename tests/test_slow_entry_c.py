"""A slow log's usual entry is read alike by the C match (analyze/_literal_scan.c's `slow_entry`), by the
pattern (`slow_log_file._usual_entry`) and line by line (`_lines`), on generated logs and mutated entries.

The C match is optional (no compiler, no extension): the tests that need it skip then.
"""

from __future__ import annotations

import io
import random
import re

import pytest

from bench.generate import write_slow_log
from query_audit.analyze.digest import SHARDS, shard_of
from query_audit.sources import slow_log_file
from query_audit.sources.slow_log_file import _usual_entry, iter_slow_log

try:
    from query_audit.analyze._literal_scan import slow_entry as c_slow_entry
except ImportError:
    c_slow_entry = None

needs_c = pytest.mark.skipif(c_slow_entry is None, reason="the C extension is not built")

# The lines of an entry, each with the forms the usual pattern takes and forms it does not: cut short,
# odd spacing, tabs, CR, non-ASCII digits and letters (all three kinds of str), figures no float or int
# can hold, fields out of order, what MySQL's log_slow_extra, MariaDB's verbosity and Percona add, the file's
# header written again after a statement.
ENTRY_PARTS = [
    ["", "", "# Time: 2026-11-26T09:00:00.000350Z\n", "# Time: 261126  9:00:00\n", "# Time: 261126 10:00:00\n",
     "# Time: 261126\t9:00:00\n", "# Time: 26112 9:00:00\n", "# Time: 2026-11-26T09:00:00Z \r\n", "# Time: 2026-11\n",
     "# Time: ２０２６-11-26T09:00:00Z\n", "# Time: 261126 9:00:00 junk\n", "# Time:\n", "# Time: 261126 9:0:00\n",
     "# Time: 2026-11-26T09\u200300Z\n", "# Time: 261126 123:00:00\n", "# Time: 2026-\n", "# Time: 261126 9:00:00\r\n"],
    ["# User@Host: app[app] @ web1 [10.0.0.5]  Id:    14\n", "# User@Host: app[app] @ web1 [10.0.0.5]\n",
     "# User@Host: [] @ localhost []\n", "# User@Host: root[root] @ localhost []  Id: 8\n",
     "# User@Host: a b[a] @ h []\n", "# User@Host: app[app] @  [10.0.0.5]  Id:\n",
     "# User@Host: app[app] @ web1 [10.0.0.5]  Id: ١٢\n", "# User@Host: app[app] @ web1 [10.0.0.5]  Id: 12x\n",
     "# User@Host: app[app] @ web1 [10.0.0.5]Id: 12\n", "# User@Host: app[a@p] @ web1 [10.0.0.5]\n",
     "# User@Host: app[app] @ web1 [::1]\n", "# User@Host: é[é] @ h [1]   \n", "# User@Host: 𝟘[x] @ h [1]\n",
     "# User@Host: app[app] @ web1 [10.0.0.5]  Id: 14 \r\n", "# User@Host: a[a] @ h []  Id: " + "9" * 5000 + "\n",
     "# User@Host: a[a] @ h []  Id: 18446744073709551616\n", "# User@Host: a[a] @ h []\tId: 3\n", "# User@Host:\n"],
    ["", "", "# Thread_id: 14  Schema: shop  QC_hit: No\n", "# Thread_id: 8  Schema:   QC_hit: No\n",
     "# Thread_id: 8  Schema: QC_hit: No\n", "# Thread_id: 8  Schema: a:b  QC_hit: Yes\n",
     "# Thread_id: 8  Schema: sh:  QC_hit: No\n", "# Thread_id: 8  Schema: shop\tQC_hit: No\n",
     "# Thread_id: x  Schema: shop  QC_hit: No\n", "# Thread_id: 8  Schema: shop  QC_hit: \n",
     "# Thread_id: 8  Schema: shop  QC_hit: No  \n", "# Thread_id: 8  Schema: é٣  QC_hit: No\n",
     "# Thread_id: 8 Schema: s QC_hit: N\r\n", "# Thread_id: 0  Schema: s  QC_hit: No\n"],
    ["# Query_time: 0.000231  Lock_time: 0.000038 Rows_sent: 58  Rows_examined: 754\n",
     "# Query_time: 1  Lock_time: 0 Rows_sent: 0  Rows_examined: 0\n",
     "# Query_time: 1.  Lock_time: 0 Rows_sent: 0  Rows_examined: 0\n",
     "# Query_time: 0.1 Lock_time: 0.0 Rows_sent: 1 Rows_examined: 2 Thread_id: 12 Errno: 0 Killed: 0\n",
     "# Query_time: 0.1 Lock_time: 0.0 Rows_sent: 1 Rows_examined: 2 Thread_id: 12 Schema: x\n",
     "# Query_time: 0.1 Lock_time: 0.0 Rows_sent: 1 Rows_examined: 2 Thread_id: 12 aSchema: x\n",
     "# Query_time: 0.1 Lock_time: 0.0 Rows_sent: 1 Rows_examined: 2 Thread_id: 12x\n",
     "# Query_time: 0.1 Lock_time: 0.0 Rows_sent: 1 Rows_examined: 2 Thread_id: 12 \r\n",
     "# Query_time: nan  Lock_time: 0 Rows_sent: 0  Rows_examined: 0\n",
     "# Query_time: 1e999  Lock_time: 0 Rows_sent: 0  Rows_examined: 0\n",
     "# Query_time: " + "9" * 400 + "  Lock_time: 0 Rows_sent: 0  Rows_examined: 0\n",
     "# Query_time: 1  Lock_time: 0." + "9" * 400 + " Rows_sent: 0  Rows_examined: 0\n",
     "# Query_time: 1  Lock_time: 0 Rows_sent: " + "9" * 5000 + "  Rows_examined: 0\n",
     "# Query_time: ٠.٥  Lock_time: 0 Rows_sent: ٣  Rows_examined: 𝟘\n",
     "# Query_time: 0.000231\tLock_time: 0.000038 Rows_sent: 58  Rows_examined: 754\n",
     "# Query_time: 0.000231  Lock_time: 0.000038 Rows_sent: 58  Rows_examined: 754 \r\n",
     "# Query_time: 0.000231  Lock_time: 0.000038 Rows_sent: 58  Rows_examined: 754x\n",
     "# Query_time: 0.0000000000000000000001  Lock_time: 123456789012345678.5 Rows_sent: 1  Rows_examined: 1\n",
     "# Query_time: 0.123456789012345  Lock_time: 1234567890.12345 Rows_sent: 999999999999999999  "
     "Rows_examined: 1000000000000000000\n",
     "# Query_time: 9007199254740993  Lock_time: 0.30000000000000004 Rows_sent: 1  Rows_examined: 1\n",
     "# Query_time: 0.1  Lock_time: 0.0\n", "# Query_time: 0.5  Lock_time: 0.1  Rows_sent: 1  Rows_examined: 1  \n"],
    ["", "", "# Rows_affected: 0  Bytes_sent: 2380\n", "# Rows_affected: 0\n", "# Rows_affected: 0  Bytes_sent: 23 \n",
     "# Rows_affected: x  Bytes_sent: 1\n", "# Full_scan: Yes  Full_join: No  Tmp_table: No  Tmp_table_on_disk: No\n",
     "# Schema: billing  Last_errno: 0  Killed: 0\n", "# Bytes_sent: 1234  Tmp_tables: 0  Tmp_disk_tables: 0\n"],
    ["", "", "use shop;\n", "use `shop`;\n", "use a;b;\n", "use ;\n", "use shop; \n", "use é;\n", "USE shop;\n",
     "use shop;\r\n", "use ١;\n"],
    ["SET timestamp=1795683600;\n", "SET timestamp=1795683600;\n", "SET timestamp=1795683600.5;\n",
     "SET timestamp=;\n", "SET last_insert_id=5,timestamp=1;\n", "set timestamp=1;\n", ""],
    ["SELECT 1;\n", "SELECT * FROM t WHERE id = 5;\n", "SELECT 1\n", "select 2 ;  \n", ";\n", "\n", " ;\n",
     "# administrator command: Quit;\n", "Time x\n", "SELECT 'x started with:'\n", "x, Version: 1 started with:\n",
     "SELECT 1;\r\n", "SELECT\n  1;\n", "SELECT é ;\u3000\n", "SELECT 1;\x1c\n", "SELECT '𝟘';;\n", "SELECT ١", "",
     "SELECT 1;\n/usr/sbin/mysqld, Version: 8.0.36 (MySQL). started with:\nTcp port: 3306  Unix socket: /tmp/s\n"
     "Time                 Id Command    Argument\n"],
]
NOISE = ["\n", "\r", " ", "\t", "#", ":", "[", "]", "@", ";", "`", ".", "5", "٣", "é", "𝟘", "\u3000", "T", "S", "Id: 3 "]


def mutated_logs(count: int, seed: int) -> list[str]:
    """Short logs of a few entries made of ENTRY_PARTS (most lines in their first form, a usual one), some with
    a character or a few added or removed."""
    generator = random.Random(seed)
    logs = []
    for _ in range(count):
        text = "".join("".join(part[0] if generator.random() < 0.7 else generator.choice(part) for part in ENTRY_PARTS)
                       for _ in range(generator.randint(1, 3)))
        for _ in range(generator.choice((0, 0, 1, 2))):
            at = generator.randint(0, len(text))
            if generator.random() < 0.5:
                text = text[:at] + generator.choice(NOISE) + text[at:]
            else:
                text = text[:at] + text[at + generator.randint(1, 3):]
        logs.append(text)
    return logs


def line_starts(text: str) -> list[int]:
    return [0] + [found.end() for found in re.finditer("\n", text)]


@pytest.fixture(scope="module")
def generated_logs(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("slow")
    logs = []
    for fmt in ("mariadb", "mysql8"):
        write_slow_log(folder / f"{fmt}.log", 3_000, fmt)
        logs.append((folder / f"{fmt}.log").read_text())
    return logs


@needs_c
def test_c_slow_entry_equals_the_pattern_on_generated_logs_and_mutated_entries(generated_logs):
    logs = generated_logs + mutated_logs(20_000, 20261130)
    different = [(text, at) for text in logs for at in line_starts(text)
                 if c_slow_entry(text, at) != _usual_entry(text, at)]
    assert different == []
    # By shard (another shard's entry keeps only where it ends and its time), for each of 1, 2, 3 shards.
    for shards in (1, 2, 3):
        for shard in range(shards):
            assert [(text, at) for text in logs for at in line_starts(text)
                    if c_slow_entry(text, at, shard, shards) != _usual_entry(text, at, shard, shards)] == []
    assert c_slow_entry(logs[1], 0, None, 2) == _usual_entry(logs[1], 0)
    # Runs of entries of another shard are skipped in one call: most of the other shard's entries in all.
    skipped = [c_slow_entry(generated_logs[1], at, 1, 2) for at in line_starts(generated_logs[1])]
    assert sum(found is not None and found[-1] > 0 for found in skipped) > 1_000
    assert any(found is not None and found[-1] > 1 for found in skipped)
    usual = sum(_usual_entry(text, 0) is not None for text in logs[2:])
    assert 2_000 < usual < 18_000  # both usual entries and others among the mutated ones
    assert sum(_usual_entry(generated_logs[1], at) is not None for at in line_starts(generated_logs[1])) > 2_900


@needs_c
def test_c_slow_entry_reads_figures_as_float_and_int_do():
    for query_time in ("0.000231", "0.1", "1", "0.30000000000000004", "123456789012345", "1234567890123456",
                       "0.0000000000000000000001", "9007199254740993", "1." + "5" * 40, "٠.٥"):
        text = (f"# User@Host: a[a] @ h []\n# Query_time: {query_time}  Lock_time: {query_time} Rows_sent: 1  "
                f"Rows_examined: 1\nSET timestamp=1;\nSELECT 1;\n")
        found = c_slow_entry(text, 0)
        assert found[6:8] == (float(query_time), float(query_time)) == _usual_entry(text, 0)[6:8]
    with pytest.raises(TypeError):
        c_slow_entry(b"# User@Host:", 0)
    with pytest.raises(ValueError):
        c_slow_entry("SELECT 1;\n", 0, 2, 2)
    assert c_slow_entry("SELECT 1;\n", 99) is None


def read_all(text: str) -> tuple[list, int]:
    reader = iter_slow_log(io.StringIO(text))
    return list(reader.numbered_entries()), reader.skipped_lines


def test_usual_entries_read_as_their_lines_read(generated_logs, monkeypatch):
    """What `_block` reads in one match is what `_lines` reads of the same lines, on whole mutated logs."""
    logs = generated_logs + ["".join(mutated_logs(40, seed)) for seed in range(150)]
    fast = [read_all(text) for text in logs]
    monkeypatch.setattr(slow_log_file, "_c_usual_entry", None)
    assert [read_all(text) for text in logs] == fast
    monkeypatch.setattr(slow_log_file, "_usual_entry", lambda text, position, shard, shards: None)
    assert [read_all(text) for text in logs] == fast


def read_by_shard(text: str, shard: int) -> list:
    return list(iter_slow_log(io.StringIO(text)).numbered_entries(shard))


def test_each_shard_reads_its_entries_as_one_reader_reads_them(generated_logs, monkeypatch):
    """Read by shard, the entries are those of one reader's read of that shard's connections (their place,
    time and database too), with the C match, with the pattern, and line by line."""
    logs = generated_logs + ["".join(mutated_logs(40, seed)) for seed in range(150)]
    whole = [read_all(text)[0] for text in logs]
    expected = [[[entry for entry in entries if shard_of(entry[1].thread_id) == shard] for shard in range(SHARDS)]
                for entries in whole]
    assert all(shards[0] and shards[1] for shards in expected[:2])
    assert [[read_by_shard(text, shard) for shard in range(SHARDS)] for text in logs] == expected
    monkeypatch.setattr(slow_log_file, "_c_usual_entry", None)
    assert [[read_by_shard(text, shard) for shard in range(SHARDS)] for text in logs] == expected
    monkeypatch.setattr(slow_log_file, "_usual_entry", lambda text, position, shard, shards: None)
    assert [[read_by_shard(text, shard) for shard in range(SHARDS)] for text in logs] == expected


def test_figures_no_float_or_int_holds_are_no_figures_in_the_usual_form():
    text = ("# User@Host: a[a] @ h []  Id: 3\n# Query_time: " + "9" * 400 + "  Lock_time: 0.5 Rows_sent: "
            + "9" * 5000 + "  Rows_examined: 2\nSET timestamp=1;\nSELECT 1;\n")
    statement, = iter_slow_log(io.StringIO(text))
    assert (statement.sql, statement.thread_id, statement.query_time, statement.lock_time, statement.rows_sent,
            statement.rows_examined) == ("SELECT 1", 3, None, 0.5, None, 2)
