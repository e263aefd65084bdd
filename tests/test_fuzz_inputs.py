"""Input that cannot crash: seeded, mutated inputs through every reader, and the regressions they found.

Each run feeds 2,000 mutated inputs to each of six readers (12,000 in all, a few seconds): a MariaDB
general log, a MySQL 8 general log, a slow log, a saved capture (text and structure mutations), the
fingerprint and the SQL model. A reader may refuse an input only with the project's own error
(QueryAuditError, a one-line message); anything else is a crash, and the test names the seed and the
input. The mutator is a few lines of our own rather than hypothesis: a fixed seed replays exactly, the
inputs are cheap enough for 12,000 a run, and a crasher found here is kept below as a plain test case.
Another seed: QUERY_AUDIT_FUZZ_SEED=n.
"""

from __future__ import annotations

import functools
import json
import math
import os
import random

import pytest

from query_audit.analyze.digest import Digest
from query_audit.analyze.fingerprint import fingerprint_and_values, statement_kind
from query_audit.analyze.sql_model import describe
from query_audit.capture.saved import load_capture
from query_audit.errors import QueryAuditError
from query_audit.sources import open_sources

SEED = int(os.environ.get("QUERY_AUDIT_FUZZ_SEED", "20261130"))
PER_READER = 2000

MARIADB_GENERAL = (
    "/usr/sbin/mariadbd, Version: 10.11.6-MariaDB-0+deb12u1 (Debian 12). started with:\n"
    "Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\n"
    "Time\t\t    Id Command\tArgument\n"
    "261126 10:00:00\t    5 Connect\tapp@localhost on shop using TCP/IP\n"
    "\t\t    5 Query\tSELECT * FROM orders WHERE customer_id = 42 ORDER BY id\n"
    "\t\t    5 Prepare\tSELECT name FROM items WHERE id = ?\n"
    "\t\t    5 Execute\tSELECT name FROM items WHERE id = 7\n"
    "261126 10:00:01\t    6 Init DB\tbilling\n"
    "\t\t    6 Query\tINSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')\n"
    "\t\t    6 Query\tUPDATE invoices\n   SET paid = 1\n WHERE id IN (1, 2, 3)\n"
    "\t\t    5 Quit\t\n"
)
MYSQL8_GENERAL = (
    "/usr/sbin/mysqld, Version: 8.0.36 (MySQL Community Server - GPL). started with:\n"
    "Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock\n"
    "Time                 Id Command    Argument\n"
    "2026-11-26T10:00:00.000001Z\t   8 Connect\tapp@localhost on shop using SSL/TLS\n"
    "2026-11-26T10:00:00.000002Z\t   8 Query\tSELECT id FROM users WHERE email = 'a@b.c' LIMIT 1\n"
    "2026-11-26T10:00:00.000003+01:00\t   8 Execute\tDELETE FROM sessions WHERE id = 9\n"
    "2026-11-26T10:00:00.000004Z\t   8 Query\tSELECT u.name,\n  COUNT(*) FROM users u GROUP BY u.name\n"
    "2026-11-26T10:00:00.000005Z\t   8 Quit\t\n"
)
SLOW_LOG = (
    "# Time: 2026-11-26T10:00:00.000100Z\n"
    "# User@Host: app[app] @ web1 [10.0.0.5]  Id:    31\n"
    "# Schema: shop  Last_errno: 0  Killed: 0\n"
    "# Query_time: 1.500000  Lock_time: 0.000100  Rows_sent: 10  Rows_examined: 250000\n"
    "SET timestamp=1795687200;\n"
    "SELECT * FROM orders ORDER BY created_at DESC LIMIT 10;\n"
    "# Time: 261126 10:00:02\n"
    "# User@Host: root[root] @ localhost []\n"
    "# Thread_id: 5  Schema: billing  QC_hit: No\n"
    "# Query_time: 0.200000  Lock_time: 0.000000  Rows_sent: 1  Rows_examined: 1\n"
    "use billing;\n"
    "SELECT * FROM invoices WHERE id = 5;\n"
)
SAVED_CAPTURE = {
    "format": "query-audit-capture", "version": 1,
    "server": {"flavor": "mariadb", "version": "10.11.6", "version_comment": "Debian 12"},
    "source": {"kind": "capture", "endpoints": ["GET http://localhost/x"], "command": None, "files": [],
               "window_start": "2026-11-26T10:00:00.000000Z", "window_end": "2026-11-26T10:00:01.000000Z",
               "requests": 1},
    "noise_dropped": 2,
    "statements": [
        {"sql": "SELECT * FROM orders WHERE id = 1", "thread_id": 5, "database": "shop",
         "time": "2026-11-26T10:00:00.100000Z", "command": "Query", "request": 1, "user": "app",
         "placeholders": False, "query_time": 0.01, "rows_examined": 1},
        {"sql": "SELECT name FROM items WHERE id = ?", "thread_id": 5, "database": "shop", "command": "Execute",
         "request": 1, "placeholders": True},
    ],
}
STATEMENTS = (
    "SELECT a, b FROM t1 JOIN t2 ON t1.id = t2.t1_id WHERE t1.x = 5 AND t2.y IN (1, 2) ORDER BY a DESC LIMIT 10",
    "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y') ON DUPLICATE KEY UPDATE b = VALUES(b)",
    "UPDATE t SET a = a + 1 WHERE id = 7 AND name LIKE '%x%'",
    "DELETE FROM t WHERE created < NOW() - INTERVAL 1 DAY",
    "WITH c AS (SELECT id FROM t WHERE k = 'v') SELECT * FROM c, (SELECT 1) d",
    "SELECT /*+ MAX_EXECUTION_TIME(1) */ `we``ird`.* FROM `db`.`we``ird` WHERE x <> 'it''s' -- c\n",
    "REPLACE INTO t VALUES (1); CALL p(1, 'a'); LOAD DATA INFILE 'f' INTO TABLE t",
)
# Pieces that break parsers: quotes, comments, escapes, separators, numbers at the edges, control bytes.
TOKENS = ("'", '"', "`", "\\", "/*", "*/", "/*!", "-- ", "#", "\n", "\r", "\t", "\x00", "(", ")", ";", ",", "?",
          "nan", "inf", "-1", "1e999", "99999999999999999999", "0x", "\u00e9", "\ud800", "\U0001f600", " ",
          "# Time:", "# User@Host:", "# Query_time: ", "\t\t    5 Query\t", "261126 10:00:00\t", "SELECT",
          "VALUES", "IN (", "UNION SELECT", "{", "}", "[", "]", ":", "null", "true", "\ufeff")


def mutate(text: str, rng: random.Random) -> str:
    """Up to four edits: insert a token, delete, duplicate or swap a range, cut the end, flip a char."""
    for _ in range(rng.randint(1, 4)):
        size = len(text)
        at = rng.randint(0, size)
        action = rng.randrange(6)
        if action == 0:
            text = text[:at] + rng.choice(TOKENS) * rng.choice((1, 1, 2, 50)) + text[at:]
        elif action == 1:
            text = text[:at] + text[at + rng.randint(1, 40):]
        elif action == 2:
            text = text[:at] + text[at:at + rng.randint(1, 80)] * rng.randint(2, 5) + text[at:]
        elif action == 3:
            text = text[:at]
        elif action == 4 and size:
            other = rng.randrange(size)
            text = text[:at] + text[other:other + 30] + text[at:]
        else:
            text = text[:at] + chr(rng.choice((0, 9, 10, 13, 39, 92, 96, rng.randrange(32, 0x2FFF)))) + text[at + 1:]
    return text


ODD_VALUES = (None, True, 0, -1, 2**70, 1.5, math.nan, math.inf, "", "x", "0.5", [], {}, [1, "a"], {"sql": 1},
              [[[[]]]], "SELECT 1")


def mutate_structure(document, rng: random.Random):
    """A copy of a saved capture with a few values (or whole keys) replaced by values of other types."""
    document = json.loads(json.dumps(document))
    for _ in range(rng.randint(1, 3)):
        statements = document.get("statements") if isinstance(document.get("statements"), list) else []
        holders = [item for item in (document, document.get("server"), document.get("source"), *statements)
                   if isinstance(item, dict) and item]
        holder = rng.choice(holders)
        key = rng.choice(list(holder))
        if rng.random() < 0.15:
            del holder[key]
        else:
            holder[key] = rng.choice(ODD_VALUES)
    return document


@functools.lru_cache(maxsize=4096)
def model_once(sql: str):
    """Most mutated files still hold the seed's statements: model each text once (the model is fuzzed on
    its own below), so the file readers get their 2,000 inputs in seconds."""
    return describe(sql)


def read_file(path) -> list:
    """What `analyze FILE` does with a file before EXPLAIN: detect, read, group, then model each shape."""
    stream = open_sources([str(path)])
    digest = Digest()
    stream.digest_into(digest, two_readers=False)
    groups = digest.groups()
    for group in groups:
        model_once(group.sample.sql)
    return groups


def survives(call, *args) -> None:
    try:
        call(*args)
    except QueryAuditError as exc:
        assert "\n" not in str(exc), f"a multi-line error: {exc!s:.300}"


@pytest.mark.parametrize(("name", "seed_text"), [("mariadb_general", MARIADB_GENERAL), ("mysql8_general",
                                                 MYSQL8_GENERAL), ("slow_log", SLOW_LOG),
                                                ("saved_capture", json.dumps(SAVED_CAPTURE))])
def test_mutated_files_never_crash_a_reader(tmp_path, name, seed_text):
    rng = random.Random(f"{SEED}-{name}")
    path = tmp_path / "input.log"
    for number in range(PER_READER):
        if name == "saved_capture" and number % 2:
            text = json.dumps(mutate_structure(SAVED_CAPTURE, rng))
        else:
            text = mutate(seed_text, rng)
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            survives(read_file, path)
        except Exception as exc:  # noqa: BLE001 - the point: name the input that crashed
            raise AssertionError(f"seed {SEED}, {name} input {number} crashed with {type(exc).__name__}: "
                                 f"{exc!s:.200}\ninput: {text!r:.2000}") from exc


@pytest.mark.parametrize("reader", ["fingerprint", "sql_model"])
def test_mutated_statements_never_crash_the_fingerprint_or_the_model(reader):
    rng = random.Random(f"{SEED}-{reader}")
    for number in range(PER_READER):
        sql = mutate(rng.choice(STATEMENTS), rng)
        try:
            if reader == "fingerprint":
                shape, _values = fingerprint_and_values(sql)
                statement_kind(sql)
                assert isinstance(shape, str)
            else:
                model = describe(sql)
                assert model.parsed or model.error
        except Exception as exc:  # noqa: BLE001
            raise AssertionError(f"seed {SEED}, {reader} input {number} crashed with {type(exc).__name__}: "
                                 f"{exc!s:.200}\ninput: {sql!r:.2000}") from exc


# ------------------------------------------------------------------------------------------------
# Crashers found by probes and by the fuzzer, kept as they were
# ------------------------------------------------------------------------------------------------

def _capture(**statement) -> str:
    return json.dumps({"format": "query-audit-capture", "version": 1,
                       "statements": [{"sql": "SELECT 1", **statement}]})


REGRESSIONS = {
    "string query_time": _capture(query_time="0.5"),
    "string thread_id": _capture(thread_id="7"),
    "bool request": _capture(request=True),
    "NaN query_time": _capture(query_time=math.nan),
    "statement not an object": '{"format": "query-audit-capture", "version": 1, "statements": [[1]]}',
    "statements not a list": '{"format": "query-audit-capture", "version": 1, "statements": {"a": 1}}',
    "source without kind": ('{"format": "query-audit-capture", "version": 1, "statements": [], '
                            '"source": {"files": ["a"]}}'),
    "server without version": ('{"format": "query-audit-capture", "version": 1, "statements": [], '
                               '"server": {"flavor": "x"}}'),
    # Found by this fuzzer against the code before validation (each crashed with the error named):
    "source a number (AttributeError)": ('{"format": "query-audit-capture", "version": 1, "statements": [], '
                                         '"source": 1180591620717411303424}'),
    "noise_dropped Infinity (OverflowError)": ('{"format": "query-audit-capture", "version": 1, "statements": [], '
                                               '"noise_dropped": Infinity}'),
    "rows_examined a list (TypeError)": _capture(rows_examined=[]),
    "thread_id a nested list (unhashable)": _capture(thread_id=[[[[]]]]),
    "database a list (unhashable)": _capture(database=[]),
    "user a huge number": _capture(user=2**70),
    "100,000-deep array": ('{"format": "query-audit-capture", "version": 1, "statements": '
                           + "[" * 100_000 + "]" * 100_000 + "}"),
}


@pytest.mark.parametrize("text", REGRESSIONS.values(), ids=REGRESSIONS.keys())
def test_broken_saved_captures_are_one_line_errors(tmp_path, text):
    path = tmp_path / "capture.json"
    path.write_text(text)
    with pytest.raises(QueryAuditError) as caught:
        load_capture(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_a_slow_log_with_nan_and_infinite_times_gives_none_never_nan(tmp_path):
    from query_audit.pipeline import AnalysisOptions, analyze_stream
    from query_audit.report import Format, render

    path = tmp_path / "slow.log"
    path.write_text(SLOW_LOG.replace("Query_time: 1.500000  Lock_time: 0.000100", "Query_time: nan  Lock_time: inf")
                    .replace("Query_time: 0.200000", "Query_time: 1e999"))
    statements = list(open_sources([str(path)]).statements)
    assert [s.query_time for s in statements] == [None, None] and statements[0].lock_time is None
    report = analyze_stream(open_sources([str(path)]), AnalysisOptions())
    for fmt in (Format.JSON, Format.SARIF):
        text = render(report, fmt)
        assert "NaN" not in text and "Infinity" not in text
        json.loads(text)


def test_deeply_nested_sql_is_a_model_with_a_reason_not_a_recursion_error():
    for sql in ("SELECT * FROM t WHERE a = " + "(" * 5000 + "1" + ")" * 5000,
                "SELECT " + "(" * 5000 + "SELECT 1" + ")" * 5000,
                "SELECT * FROM t WHERE " + "NOT " * 5000 + "a = 1"):
        model = describe(sql)
        assert model.parsed or model.error
        fingerprint_and_values(sql)


def test_a_statement_over_the_parse_limit_is_fingerprinted_counted_and_not_parsed():
    from query_audit.analyze.sql_model import MAX_PARSED_CHARS, shortened

    rows = ", ".join(f"({i}, 'x{i}')" for i in range(MAX_PARSED_CHARS // 8))
    sql = f"INSERT INTO t (a, b) VALUES {rows}"
    model = describe(sql)
    assert not model.parsed and "over the 64 KB limit for parsing" in model.error
    assert model.kind.value == "insert" and model.tables == ("t",)
    assert fingerprint_and_values(sql)[0] == "insert into t (a, b) values(?+)"
    assert len(shortened(sql)) < 4200 and "more characters not shown" in shortened(sql)


def test_a_statement_over_the_parse_limit_is_not_explained_on_a_server(scratch_db, tmp_path):
    from query_audit.connection import connect
    from query_audit.pipeline import AnalysisOptions, analyze_stream

    with connect(scratch_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, a INT)")
    huge = "SELECT * FROM t WHERE a IN (" + ", ".join(str(i) for i in range(20_000)) + ")"
    path = tmp_path / "capture.json"
    path.write_text(json.dumps({"format": "query-audit-capture", "version": 1, "statements": [
        {"sql": huge, "database": scratch_db.database}]}))
    report = analyze_stream(open_sources([str(path)]), AnalysisOptions(settings=scratch_db))
    [query] = report.queries
    assert query.plan is None and "over the 64 KB limit for parsing" in query.error
    assert len(query.group.sample.sql) < 4200  # the report shows its head, not 100 KB
    assert report.server.address == scratch_db.address
