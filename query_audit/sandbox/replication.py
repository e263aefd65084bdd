"""A loopback primary/replica pair of private MariaDB servers, for tests and `make demo`.

The primary writes a row-based binlog (`--log-bin --server-id=1 --binlog-format=ROW`) and has a
replication account; the replica (`--server-id=2 --read-only=1`) follows it by GTID
(`MASTER_USE_GTID=slave_pos`). Both listen on 127.0.0.1 only, each with its own data directory.

    with start_replica_pair() as pair:
        ... write on pair.primary.dsn ...
        pair.wait_for_replica()          # MASTER_GTID_WAIT: the replica has applied all of it
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from query_audit.errors import SandboxError
from query_audit.sandbox.base import Sandbox
from query_audit.sandbox.local import start_local

REPLICATION_USER = "qa_repl"
PRIMARY_OPTIONS = ("--log-bin", "--server-id=1", "--binlog-format=ROW")
REPLICA_OPTIONS = ("--skip-log-bin", "--server-id=2", "--read-only=1")


@dataclass
class ReplicaPair:
    """Two running sandboxes, the second replicating the first. `stop()` stops both."""

    primary: Sandbox
    replica: Sandbox

    def wait_for_replica(self, timeout: float = 30) -> None:
        """Return once the replica has applied everything the primary has binlogged so far."""
        from query_audit.connection import connect, parse_dsn

        with connect(parse_dsn(self.primary.dsn), database="") as conn, conn.cursor() as cur:
            cur.execute("SELECT @@global.gtid_binlog_pos")
            position = cur.fetchone()[0] or ""
        with connect(parse_dsn(self.replica.dsn), database="", read_timeout=timeout + 10) as conn, \
                conn.cursor() as cur:
            cur.execute("SELECT MASTER_GTID_WAIT(%s, %s)", (position, timeout))
            if cur.fetchone()[0] != 0:
                raise SandboxError(f"the replica did not reach GTID {position} within {timeout:.0f} s")

    def stop(self) -> None:
        try:
            self.replica.stop()
        finally:
            self.primary.stop()

    def __enter__(self) -> ReplicaPair:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_replica_pair(base_dir: str | None = None) -> ReplicaPair:
    """Start a primary and a replica from the local server binaries and connect them by GTID.

    Both start at once (initializing a data directory is most of the wait); if either fails, the other
    is stopped before the error surfaces."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        starting = [pool.submit(start_local, base_dir, server_options=options)
                    for options in (PRIMARY_OPTIONS, REPLICA_OPTIONS)]
    started = [future.result() if future.exception() is None else None for future in starting]
    if None in started:
        for info in filter(None, started):
            Sandbox(info).stop()
        raise next(future.exception() for future in starting if future.exception() is not None)
    primary, replica = (Sandbox(info) for info in started)
    try:
        password = secrets.token_hex(12)  # the account is reachable on loopback only, but not without one
        _create_replication_user(primary, password)
        _follow(replica, primary, password)
        pair = ReplicaPair(primary, replica)
        pair.wait_for_replica()
        return pair
    except BaseException:
        replica.stop()
        primary.stop()
        raise


def _create_replication_user(primary: Sandbox, password: str) -> None:
    from query_audit.connection import connect, parse_dsn

    with connect(parse_dsn(primary.dsn), database="") as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{REPLICATION_USER}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
        cur.execute(f"GRANT REPLICATION SLAVE ON *.* TO '{REPLICATION_USER}'@'127.0.0.1'")


def _follow(replica: Sandbox, primary: Sandbox, password: str) -> None:
    from query_audit.connection import connect, parse_dsn

    with connect(parse_dsn(replica.dsn), database="") as conn, conn.cursor() as cur:
        # Both created `test` at start-up; the primary's CREATE DATABASE IF NOT EXISTS replays harmlessly.
        cur.execute(f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={int(primary.info.port)}, "
                    f"MASTER_USER='{REPLICATION_USER}', MASTER_PASSWORD=%s, MASTER_USE_GTID=slave_pos, "
                    "MASTER_CONNECT_RETRY=1", (password,))
        cur.execute("START SLAVE")
