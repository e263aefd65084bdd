"""Shared fixtures. Tests that talk to a server get a private one, started by the project's own sandbox
code (local mariadbd/mysqld on a free port, temporary data directory), or the server named by
QUERY_AUDIT_TEST_DSN. The shared server on :3306 is never changed by a test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from query_audit.connection import ConnectionSettings, connect, parse_dsn
from query_audit.sandbox import start_sandbox

# Shadow verification starts a sandbox server per CLI run unless told otherwise; the tests that are about
# it turn it on and point it at the session's shadow server (`shadow_settings`), the others run without.
os.environ.setdefault("QUERY_AUDIT_SHADOW", "off")

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
# Recorded MySQL 8 outputs, copied into the repository (fixtures/mysql8/SOURCES.md) so a fresh clone runs
# every test: MySQL 8 cannot be installed here.
REFERENCE = FIXTURES / "mysql8"


@pytest.fixture(scope="session")
def server_settings() -> ConnectionSettings:
    """Connection settings of a server the tests may change (root, database `test`)."""
    dsn = os.environ.get("QUERY_AUDIT_TEST_DSN")
    if dsn:
        yield parse_dsn(dsn)
        return
    with start_sandbox(prefer="local") as sandbox:
        yield parse_dsn(sandbox.dsn)


@pytest.fixture(scope="session")
def shadow_settings() -> ConnectionSettings:
    """A second private server, started once per session: the shadow that judges suggested indexes."""
    with start_sandbox(prefer="local") as sandbox:
        yield parse_dsn(sandbox.dsn)


@pytest.fixture
def server(server_settings):
    """An open root connection to the test server, closed after the test."""
    conn = connect(server_settings)
    yield conn
    conn.close()


@pytest.fixture
def scratch_db(server_settings):
    """A fresh database for one test, dropped afterwards; yields its settings."""
    import uuid
    from dataclasses import replace

    name = "qa_" + uuid.uuid4().hex[:10]
    with connect(server_settings, database="") as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    try:
        yield replace(server_settings, database=name)
    finally:
        # A new connection: a test may have killed every connection it found.
        with connect(server_settings, database="") as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def reference_file(name: str) -> Path:
    """A recorded MySQL 8 output from fixtures/mysql8 (see its SOURCES.md). A missing one is a failure,
    not a skip: the files ship with the repository."""
    path = REFERENCE / name
    assert path.exists(), f"recorded MySQL 8 output {path} is missing from the repository"
    return path


@pytest.fixture(scope="session")
def replica_pair():
    """A private primary and its GTID replica (two local servers, loopback only), once per session.

    Tests that change data wait for the replica with `replica_pair.wait_for_replica()`."""
    from query_audit.sandbox.replication import start_replica_pair

    with start_replica_pair() as pair:
        yield pair
