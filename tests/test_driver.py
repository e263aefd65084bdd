"""The driver boundary (query_audit/driver.py) on real PyMySQL exceptions from the private test server, and the
rule that no other module reads a MySQL error code by hand."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pymysql
import pytest
from pymysql.constants import CR, ER

from query_audit import driver
from query_audit.capture.control import LOST_CONNECTION
from query_audit.connection import connect
from query_audit.driver import error_code, error_text, is_connection_lost

SOURCE = Path(__file__).resolve().parent.parent / "query_audit"


def _raised(conn, sql: str) -> Exception:
    with pytest.raises(pymysql.err.MySQLError) as caught, conn.cursor() as cur:
        cur.execute(sql)
    return caught.value


def test_a_missing_table_is_1146_with_the_servers_one_line_message_and_not_a_lost_connection(scratch_db):
    with connect(scratch_db) as conn:
        exc = _raised(conn, "SELECT * FROM no_such_table")
    assert error_code(exc) == ER.NO_SUCH_TABLE == 1146
    assert error_text(exc) == f"Table '{scratch_db.database}.no_such_table' doesn't exist"
    assert not is_connection_lost(exc)


def test_a_killed_connection_is_lost_on_the_query_that_finds_out_and_on_every_one_after(server_settings, server):
    victim = connect(server_settings)
    with server.cursor() as cur:
        cur.execute(f"KILL {victim.thread_id()}")
    first = _raised(victim, "SELECT 1")
    assert error_code(first) == CR.CR_SERVER_LOST
    assert is_connection_lost(first) and error_code(first) in LOST_CONNECTION
    # PyMySQL closed the socket: InterfaceError(0, '') has no server code, and is still "lost".
    after = _raised(victim, "SELECT 1")
    assert isinstance(after, pymysql.err.InterfaceError) and error_code(after) == driver.NO_CODE
    assert is_connection_lost(after) and (error_code(after) or driver.NO_CODE) in LOST_CONNECTION


def test_a_table_the_user_may_not_read_is_an_access_denied_code(server_settings, server, scratch_db):
    with server.cursor() as cur:
        cur.execute("DROP USER IF EXISTS 'qa_driver'@'%'")
        cur.execute("CREATE USER 'qa_driver'@'%' IDENTIFIED BY 'Drv-pw-7'")
        cur.execute(f"GRANT USAGE ON `{scratch_db.database}`.* TO 'qa_driver'@'%'")
    try:
        with connect(replace(server_settings, user="qa_driver", password="Drv-pw-7", database="")) as conn:
            exc = _raised(conn, "SELECT * FROM mysql.user")
        assert error_code(exc) == ER.TABLEACCESS_DENIED_ERROR
        assert error_code(exc) in driver.TABLE_OR_DATABASE_DENIED and not is_connection_lost(exc)
    finally:
        with server.cursor() as cur:
            cur.execute("DROP USER 'qa_driver'@'%'")


def test_an_exception_without_a_code_has_none_and_its_first_line():
    assert error_code(ValueError("bad value\nsecond line")) is None
    assert error_text(ValueError("bad value\nsecond line")) == "bad value"
    assert error_text(ValueError()) == ""
    assert not is_connection_lost(ValueError("x"))


def test_only_the_driver_module_reads_a_code_out_of_exc_args_or_names_a_lost_connection_code():
    reads_code = re.compile(r"\.args\s*\[\s*0\s*\]|\.args\s*\[\s*0\s*:")
    lost_literal = re.compile(r"\b(2006|2013|2055|1927)\b")
    offenders = []
    for path in sorted(SOURCE.rglob("*.py")):
        if path.name == "driver.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if reads_code.search(code) or lost_literal.search(code):
                offenders.append(f"{path.relative_to(SOURCE)}:{number}: {line.strip()}")
    assert offenders == []
    # The check itself must see what it forbids (a grep that matches nothing proves nothing).
    assert reads_code.search("code = exc.args[0]") and lost_literal.search("{2006, 2013}")
