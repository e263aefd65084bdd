"""The saved-capture file round-trips, never holds a password, and broken inputs fail with one line.
Also: how `open_sources` tells files apart and streams them."""

from __future__ import annotations

import io
import json
import sys

import pytest
from conftest import reference_file

from query_audit.capture.saved import SavedCapture, load_capture, save_capture
from query_audit.connection import ConnectionSettings
from query_audit.errors import SourceError
from query_audit.model import ServerInfo, SourceInfo, Statement
from query_audit.sources import detect_format, open_sources

STATEMENTS = (
    Statement("SELECT * FROM t WHERE id = 1", thread_id=12, database="shop", time="2026-11-26T10:00:00.000001Z",
              request=1, user="app"),
    Statement("SELECT * FROM t WHERE id = ?", thread_id=12, database="shop", command="Execute", request=2,
              user="app", placeholders=True),
    Statement("UPDATE t SET a = 1 WHERE id = 2", thread_id=13, query_time=0.002, lock_time=0.0001, rows_sent=0,
              rows_examined=1),
)
SERVER = ServerInfo("mariadb", "10.11.19", "Debian 12")
SOURCE = SourceInfo(kind="capture", endpoints=("GET http://localhost:8000/orders",), requests=2,
                    window_start="2026-11-26T10:00:00.000000Z", window_end="2026-11-26T10:00:01.000000Z")


def test_a_saved_capture_loads_back_equal(tmp_path):
    path = tmp_path / "capture.json"
    save_capture(path, STATEMENTS, server=SERVER, source=SOURCE, noise_dropped=4)
    assert load_capture(path) == SavedCapture(statements=STATEMENTS, server=SERVER, source=SOURCE, noise_dropped=4)


def test_the_file_has_the_documented_shape(tmp_path):
    path = tmp_path / "capture.json"
    save_capture(path, STATEMENTS, server=None, source=SOURCE, noise_dropped=0)
    document = json.loads(path.read_text())
    assert list(document)[:2] == ["format", "version"]
    assert (document["format"], document["version"], document["server"]) == ("query-audit-capture", 1, None)
    first = document["statements"][0]
    assert first == {"sql": "SELECT * FROM t WHERE id = 1", "thread_id": 12, "database": "shop",
                     "time": "2026-11-26T10:00:00.000001Z", "command": "Query", "request": 1, "user": "app",
                     "placeholders": False}  # timings that were not captured are left out
    assert document["statements"][2]["rows_examined"] == 1


def test_a_saved_capture_never_contains_the_password(tmp_path):
    settings = ConnectionSettings(user="app", password="s3cret-Pa55")
    path = tmp_path / "capture.json"
    save_capture(path, STATEMENTS, server=SERVER, source=SourceInfo(kind="capture", command=settings.describe()),
                 noise_dropped=0)
    assert "s3cret-Pa55" not in path.read_text()


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not a query-audit capture: invalid JSON"),
    ('{"format": "something-else", "statements": []}', "is not a query-audit capture"),
    ('{"format": "query-audit-capture", "version": 99, "statements": []}', "version 99 is not supported"),
    ('{"format": "query-audit-capture", "version": 1}', "broken capture"),
    ('{"format": "query-audit-capture", "version": 1, "statements": [{"thread_id": 1}]}', "broken capture"),
    ('{"format": "query-audit-capture", "version": 1, "statements": [{"sql": "SELECT 1", "bogus": 1}]}',
     None),  # unknown statement keys are ignored: newer writers may add fields
])
def test_broken_or_foreign_files_raise_a_one_line_source_error(tmp_path, content, message):
    path = tmp_path / "capture.json"
    path.write_text(content)
    if message is None:
        assert load_capture(path).statements == (Statement("SELECT 1"),)
        return
    with pytest.raises(SourceError) as error:
        load_capture(path)
    assert message in str(error.value)
    assert "\n" not in str(error.value) and str(path) in str(error.value)


# ---------------------------------------------------------------------------------------------
# open_sources and detect_format
# ---------------------------------------------------------------------------------------------

GENERAL = ("/usr/sbin/mariadbd, Version: 10.11.19-MariaDB. started with:\nTcp port: 0  Unix socket: /tmp/s\n"
           "Time\t\t    Id Command\tArgument\n"
           "261126 10:00:00\t     5 Connect\tapp@localhost on shop using TCP/IP\n"
           "\t\t     5 Query\tSET NAMES utf8mb4\n"
           "\t\t     5 Query\tSELECT * FROM orders WHERE id = 3\n"
           "\t\t     5 Execute\tSELECT * FROM orders WHERE id = 4\n")


def write(tmp_path, name, text) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_formats_are_detected_by_content_not_by_name(tmp_path):
    general = write(tmp_path, "capture.json", GENERAL)
    saved = tmp_path / "slow.log"
    save_capture(saved, STATEMENTS, server=SERVER, source=SOURCE, noise_dropped=0)
    assert detect_format(general) == "general_log"
    assert detect_format(saved) == "saved_capture"
    assert detect_format(reference_file("slow_log_file_mysql8.0.36_excerpt.log")) == "slow_log"
    assert detect_format(reference_file("general_log_file_mysql8.0.19_windows.log")) == "general_log"


def test_one_lazy_stream_over_several_files_with_live_counters(tmp_path):
    general = write(tmp_path, "a.log", GENERAL + "stray line after nothing\n")
    saved = tmp_path / "b.json"
    save_capture(saved, STATEMENTS, server=SERVER, source=SOURCE, noise_dropped=4)
    stream = open_sources([general, str(saved)])
    assert stream.source.kind == "mixed" and stream.source.files == (general, str(saved))
    assert stream.server == SERVER
    assert stream.noise_dropped == 4  # the saved capture's; the log file is not read yet
    statements = list(stream.statements)
    assert [s.sql for s in statements][:2] == ["SELECT * FROM orders WHERE id = 3",
                                               "SELECT * FROM orders WHERE id = 4\nstray line after nothing"]
    assert len(statements) == 2 + len(STATEMENTS)
    assert statements[0].database == "shop" and statements[1].command == "Execute"
    assert stream.noise_dropped == 5
    assert stream.noise_counts == {"set names": 1}


def test_a_general_log_alone_is_of_kind_general_log_and_has_no_server(tmp_path):
    stream = open_sources([write(tmp_path, "a.log", GENERAL)])
    assert (stream.source.kind, stream.server) == ("general_log", None)
    assert stream.skipped_lines == 0


def test_skipped_lines_are_counted_across_files(tmp_path):
    broken = write(tmp_path, "a.log", "Time\t\t    Id Command\tArgument\nnot a log line\n" + GENERAL)
    stream = open_sources([broken])
    list(stream.statements)
    assert stream.skipped_lines == 1


@pytest.mark.parametrize("make, message", [
    (lambda tmp: str(tmp / "missing.log"), "no such file"),
    (lambda tmp: str(tmp), "is a directory"),
    (lambda tmp: write(tmp, "empty.log", ""), "empty file"),
    (lambda tmp: (tmp / "bin.log").write_bytes(b"\x7fELF\x00\x01\x02garbage") and str(tmp / "bin.log"), "binary data"),
    (lambda tmp: write(tmp, "notes.txt", "just some notes\nabout nothing\n"), "not a general log, slow log or saved"),
])
def test_unusable_inputs_raise_one_line_naming_the_file(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(SourceError) as error:
        open_sources([path])
    assert message in str(error.value)
    assert path in str(error.value) and "\n" not in str(error.value)


def test_unreadable_file_is_a_source_error(tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    path = write(tmp_path, "locked.log", GENERAL)
    os.chmod(path, 0)
    with pytest.raises(SourceError, match="cannot read"):
        open_sources([path])


def test_dash_reads_standard_input(monkeypatch):
    fake_stdin = io.TextIOWrapper(io.BytesIO(GENERAL.encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", fake_stdin)
    stream = open_sources(["-"])
    assert stream.source.kind == "general_log"
    assert [s.sql for s in stream.statements] == ["SELECT * FROM orders WHERE id = 3",
                                                  "SELECT * FROM orders WHERE id = 4"]


def test_keep_noise_keeps_everything(tmp_path):
    stream = open_sources([write(tmp_path, "a.log", GENERAL)], keep_noise=True)
    assert next(s.sql for s in stream.statements) == "SET NAMES utf8mb4"
    assert stream.noise_dropped == 0


def _groups_by_adding_each_statement(paths) -> list:
    from query_audit.analyze.digest import Digest

    stream = open_sources(paths)
    digest = Digest()
    for statement in stream.statements:
        digest.add(statement)
    return digest.groups(), stream.noise_dropped, stream.skipped_lines


def test_digest_into_groups_exactly_like_adding_each_statement(tmp_path):
    from bench.generate import write_log
    from query_audit.analyze.digest import Digest

    generated = tmp_path / "generated.log"
    write_log(generated, 3_000, "mariadb")  # pooled and short-lived connections, Init DB, prepared, noise
    saved = tmp_path / "b.json"
    save_capture(saved, STATEMENTS, server=SERVER, source=SOURCE, noise_dropped=4)
    paths = [str(generated), write(tmp_path, "a.log", GENERAL + "stray line\n"), str(saved),
             str(reference_file("general_log_file_mysql8.0.19_windows.log"))]
    expected = _groups_by_adding_each_statement(paths)

    stream = open_sources(paths)
    digest = Digest()
    stream.digest_into(digest)
    assert (digest.groups(), stream.noise_dropped, stream.skipped_lines) == expected
    assert len(expected[0]) > 100 and any(group.databases for group in expected[0])
    assert digest.statements > 3_000 - expected[1] - 100
