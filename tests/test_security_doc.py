"""docs/security.md must not drift: its GRANT statements are valid and enough (a capture with the capture
account, EXPLAIN with the EXPLAIN account, on the private MariaDB), and its redaction example loads."""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import endpoint, run_cli

from query_audit.config import load_config
from query_audit.connection import connect

DOC = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()


def sql_block(title: str) -> list[str]:
    """The statements of the ```sql block whose first line is `-- <title>`."""
    block = re.search(r"```sql\n-- " + re.escape(title) + r"\n(.*?)```", DOC, re.S)
    assert block, f"no sql block '-- {title}' in docs/security.md"
    return [line.rstrip(";") for line in block.group(1).splitlines() if line.strip()]


def create_account(root, statements: list[str], user: str, password: str, database: str) -> None:
    with connect(root) as conn, conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql.replace("'change-me'", f"'{password}'").replace("shop.*", f"`{database}`.*")
                        .replace("'qa_capture'", f"'{user}'").replace("'qa_explain'", f"'{user}'"))


@pytest.fixture
def documented_accounts(scratch_db):
    suffix = uuid.uuid4().hex[:6]
    accounts = {}
    for title, name in (("capture account (MariaDB)", "qa_capture"), ("EXPLAIN account", "qa_explain")):
        user, password = f"{name}_{suffix}", uuid.uuid4().hex
        create_account(scratch_db, sql_block(title), user, password, scratch_db.database)
        accounts[name] = replace(scratch_db, user=user, password=password)
    with connect(scratch_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE items (id INT PRIMARY KEY, price INT)")
        cur.execute("INSERT INTO items VALUES " + ",".join(f"({i}, {i % 50})" for i in range(1, 500)))
    yield accounts
    with connect(scratch_db) as conn, conn.cursor() as cur:
        for settings in accounts.values():
            cur.execute(f"DROP USER IF EXISTS '{settings.user}'@'%'")


def test_the_documented_grants_are_enough_to_capture_and_explain(scratch_db, documented_accounts, tmp_path):
    capture_account = replace(documented_accounts["qa_capture"], database=None)  # the DSN names no database
    explain_account = documented_accounts["qa_explain"]

    def run():
        with connect(scratch_db) as conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM items WHERE price = 7")

    env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(tmp_path / "state"))
    with endpoint(run) as url:
        done = run_cli("capture", "--dsn", capture_account.to_dsn(with_password=True),
                       "--explain-dsn", explain_account.to_dsn(with_password=True),
                       "--endpoint", url, "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    (query,) = json.loads(done.stdout)["queries"]
    assert query["explain"] and query["error"] is None  # the EXPLAIN account read the plan
    with connect(scratch_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@global.general_log")
        assert cur.fetchone()[0] == 0  # and the capture account put the log back


def test_the_documented_redact_example_loads(tmp_path):
    block = re.search(r"```toml\n(\[tool.query-audit\]\nredact = .*?)```", DOC, re.S).group(1)
    (tmp_path / "pyproject.toml").write_text(block)
    assert load_config(tmp_path, {}).redact == ("^tok_[0-9a-z]{24}$", "^[A-Z]{2}[0-9]{2}[A-Z0-9]{12,30}$")
