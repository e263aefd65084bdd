"""--verify's journal: each index it is about to create is written down first, so nothing it creates can
outlive it, whatever stops it.

The journal is a private state file next to the capture's (`verify-<server>.json`, see `private_files`).
An entry is written *before* the CREATE and removed *after* the DROP. `drop_leftovers` (run when --verify
is interrupted, by `query-audit restore`, and by the next --verify) first stops a CREATE that may still be
running on the server for a dead client, then drops every journaled index that exists.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pymysql

from query_audit.errors import QueryAuditError
from query_audit.identifiers import qualified_name, quote_identifier
from query_audit.private_files import read_private, write_private

WAIT_FOR_CREATE = 30.0  # seconds to wait for a killed CREATE INDEX to finish rolling back


@dataclass(frozen=True)
class JournaledIndex:
    database: str
    table: str
    index: str
    thread_id: int  # the connection that runs the CREATE: a dead client's may still be running it

    def drop_ddl(self) -> str:
        return f"ALTER TABLE {qualified_name(self.database, self.table)} DROP INDEX {quote_identifier(self.index)}"


@dataclass
class IndexJournal:
    path: Path
    entries: list[JournaledIndex] = field(default_factory=list)
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=lambda: os.uname().nodename)

    def add(self, entry: JournaledIndex) -> None:
        self.entries.append(entry)
        self._save()

    def remove(self, entry: JournaledIndex) -> None:
        self.entries = [e for e in self.entries if e != entry]
        self._save()

    def _save(self) -> None:
        if not self.entries:
            self.path.unlink(missing_ok=True)
            return
        document = {"pid": self.pid, "host": self.host, "indexes": [asdict(entry) for entry in self.entries]}
        write_private(self.path, json.dumps(document, indent=2, sort_keys=True))


def read_journal(path: Path) -> IndexJournal | None:
    text = read_private(path, "--verify journal")
    if text is None:
        return None
    try:
        document = json.loads(text)
        entries = [JournaledIndex(str(e["database"]), str(e["table"]), str(e["index"]), int(e["thread_id"]))
                   for e in document["indexes"]]
        return IndexJournal(path, entries, pid=int(document["pid"]), host=str(document["host"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise QueryAuditError(f"the --verify journal {path} is unreadable ({type(exc).__name__}); check the "
                              "indexes it names by hand, then delete it") from None


def drop_leftovers(conn, journal: IndexJournal) -> list[JournaledIndex]:
    """On a fresh connection: stop the journaled CREATEs still running, drop the indexes that exist, and
    empty the journal. Returns the indexes dropped."""
    dropped = []
    for entry in list(journal.entries):
        _stop_running_create(conn, entry)
        if _index_exists(conn, entry):
            with conn.cursor() as cur:
                cur.execute(entry.drop_ddl())
            dropped.append(entry)
        journal.remove(entry)
    return dropped


def _stop_running_create(conn, entry: JournaledIndex) -> None:
    """KILL QUERY the entry's CREATE if its connection still runs it, and wait until it has stopped."""
    deadline = time.monotonic() + WAIT_FOR_CREATE
    killed = False
    while True:
        with conn.cursor() as cur:
            cur.execute("SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = %s", (entry.thread_id,))
            row = cur.fetchone()
        running = row is not None and row[0] and "ADD INDEX" in str(row[0]).upper() \
            and quote_identifier(entry.index) in str(row[0])
        if not running:
            return
        if not killed:
            try:
                with conn.cursor() as cur:
                    cur.execute(f"KILL QUERY {int(entry.thread_id)}")
            except pymysql.err.MySQLError:
                pass  # it ended between the two statements, or is not ours to kill: the wait below tells
            killed = True
        if time.monotonic() > deadline:
            raise QueryAuditError(f"--verify's CREATE of index {entry.index} on {entry.table} is still running "
                                  f"(connection {entry.thread_id}); run `query-audit restore` again when it ends")
        time.sleep(0.1)


def _index_exists(conn, entry: JournaledIndex) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
                    "AND INDEX_NAME = %s LIMIT 1", (entry.database, entry.table, entry.index))
        return cur.fetchone() is not None
