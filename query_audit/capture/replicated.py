"""A capture on a primary and its replicas at once: where each statement of each request ran.

Each server is captured the way `session.py` captures one, with the same safety order, on its own:
its settings read and proven changeable, its own state file written before anything changes, its own
settings put back. All servers are prepared before the first request and all are restored on every
way out (an error on one server never skips another's restore; SIGINT/SIGTERM unwind through it).

Each server's clock is read around each request (servers need not agree on the time), and each
replica's position (Seconds_Behind_Master and GTIDs) is read right after it. A replica's general log
also shows the statements its replication threads apply; those are the primary's, not the
application's, and are left out (the threads of `system user`, logged as `[<replication_slave>]`),
as are the primary's `Binlog Dump` threads that feed the replicas.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace

from query_audit.capture.control import ControlConnection, Window
from query_audit.capture.general_log_table import read_log_rows
from query_audit.capture.log_settings import (
    apply_log_settings,
    check_can_capture,
    read_log_settings,
    restore_from_state,
    state_path,
    write_state,
)
from query_audit.capture.plan import CapturePlan, CaptureResult
from query_audit.capture.replay import command_failure, run_command, send
from query_audit.capture.session import restore_log_settings, statements_in_windows
from query_audit.capture.timings import attach_timings, read_statement_history
from query_audit.connection import ConnectionSettings, detect_server
from query_audit.errors import EndpointFailed
from query_audit.interrupts import signals_blocked, signals_raise_interrupted
from query_audit.model import ReplicaLag, ServerRole

PRIMARY = "primary"
# Threads that are the servers' own replication, never the application: the replica's I/O and SQL
# threads (and parallel workers), the primary's dump threads.
REPLICATION_COMMANDS = ("Slave_IO", "Slave_SQL", "Slave_worker", "Binlog Dump", "Binlog Dump GTID",
                        "Replica_IO", "Replica_SQL", "Replica_worker")
REPLICATION_USER_HOST = "[<replication_slave>]"  # MariaDB's user_host of replicated statements


def server_labels(replicas: int) -> list[str]:
    return [PRIMARY] + [f"replica{number}" for number in range(1, replicas + 1)]


@dataclass
class _Server:
    """One server of the capture: its connection, what was there before, and what it logged."""

    label: str
    settings: ConnectionSettings
    control: ControlConnection
    notes: list
    previous: object = None
    changed: bool = False

    def prepare(self) -> None:
        """Steps 1 and 2 of the safety order (session.py), on this server alone."""
        path = state_path(self.settings)
        stale = restore_from_state(self.settings, path)
        if stale is not None:
            self.notes.append(f"{self.label}: a state file from an interrupted capture (pid {stale.pid}) was found "
                              "and its values restored first")
        self.previous = read_log_settings(self.control.conn)
        check_can_capture(self.control.conn, detect_server(self.control.conn).flavor, self.previous)
        if self.previous.logs_to_table:
            self.notes.append(f"{self.label}: the general log was already on with TABLE output: nothing was changed")
            return
        write_state(path, self.settings, self.previous)
        self.changed = True
        apply_log_settings(self.control.conn, self.previous.with_table_output())

    def restore(self) -> None:
        if not self.changed:
            return
        with signals_blocked():
            restore_log_settings(self.settings, self.previous)
            state_path(self.settings).unlink(missing_ok=True)
        self.changed = False

    def scalar(self, sql: str):
        def query(conn):
            with conn.cursor() as cur:
                cur.execute(sql)
                row = cur.fetchone()
                return row[0] if row else None

        return self.control.run(query)

    def role(self) -> ServerRole:
        max_connections = self.scalar("SELECT @@global.max_connections")
        read_only = self.scalar("SELECT @@global.read_only")
        return ServerRole(self.label, self.settings.describe(),
                          int(max_connections) if max_connections is not None else None,
                          bool(int(read_only)) if read_only is not None else None)

    def replication_threads(self) -> set[int]:
        marks = ", ".join(["%s"] * len(REPLICATION_COMMANDS))

        def query(conn):
            with conn.cursor() as cur:
                cur.execute(f"SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND IN ({marks}) "
                            "OR USER = 'system user'", REPLICATION_COMMANDS)
                return {int(row[0]) for row in cur.fetchall()}

        return self.control.run(query)


def run_replicated_capture(primary: ConnectionSettings, replicas: list[ConnectionSettings], plan: CapturePlan,
                           progress=None) -> CaptureResult:
    """Capture `plan` on the primary and every replica; each statement keeps its server's label."""
    progress = progress or (lambda stage, done, total: None)
    notes: list[str] = []
    with ExitStack() as stack:
        servers = []
        for label, settings in zip(server_labels(len(replicas)), [primary, *replicas]):
            control = ControlConnection(settings)
            stack.callback(control.close)
            servers.append(_Server(label, settings, control, notes))
        server_info = detect_server(servers[0].control.conn)
        roles = tuple(server.role() for server in servers)
        with signals_raise_interrupted(), _restoring_all(servers):
            for server in servers:
                server.prepare()
            windows, outcomes, lag = _replay_everywhere(servers, plan, progress)
            logged = [_read_server(server, windows[server.label]) for server in servers]
    statements = []
    for server, (rows, history, excluded) in zip(servers, logged):
        found, noise, outside = statements_in_windows(rows, windows[server.label],
                                                       server.control.thread_ids | excluded, plan, server.settings)
        found, timings_note = attach_timings(found, history)
        notes.append(f"{server.label}: {timings_note}")
        if outside:
            notes.append(f"{server.label}: {outside} statements of other connections ran outside the request "
                         "windows and were left out")
        statements.append(([replace(s, server=server.label) for s in found], noise))
    merged = sorted((s for found, _ in statements for s in found), key=lambda s: (s.time or "", s.server or ""))
    first, last = windows[PRIMARY][0], windows[PRIMARY][-1]
    source = plan.source_info(first.start, last.end, len(windows[PRIMARY]), servers=roles, lag=tuple(lag))
    return CaptureResult(tuple(merged), source, server_info, sum(noise for _, noise in statements), tuple(outcomes),
                         tuple(notes))


@contextmanager
def _restoring_all(servers: list[_Server]):
    """Every server restored on the way out (one failing never skips the next), with the cleanup signals
    held from the first restore to the last, so a second Ctrl-C cannot cut the sequence half-way."""
    try:
        yield
    finally:
        failures = []
        with signals_blocked():
            for server in servers:
                try:
                    server.restore()  # a no-op for a server prepare() never changed
                except Exception as exc:  # noqa: BLE001 - the next server is restored all the same
                    failures.append(exc)
        if failures:
            raise failures[0]


def _read_server(server: _Server, windows: list[Window]):
    """The log rows since the first window, the statement history, and the replication threads to drop."""
    excluded = server.replication_threads()
    rows = server.control.run(lambda conn: [(at, row) for at, row in read_log_rows(conn, windows[0].start)
                                            if REPLICATION_USER_HOST not in row.user_host])
    history = server.control.run(lambda conn: read_statement_history(conn, server.control.thread_ids))
    return rows, history, excluded


def _replay_everywhere(servers: list[_Server], plan: CapturePlan, progress):
    """Send each request once, reading every server's clock around it and each replica's position after."""
    windows: dict[str, list[Window]] = {server.label: [] for server in servers}
    outcomes, lag = [], []
    jobs = [(None, None)] if plan.command is not None else \
        [(number, request) for number, request in enumerate(
            (r for _ in range(plan.repeat) for r in plan.requests), 1)]
    for done, (number, request) in enumerate(jobs, 1):
        opened = {server.label: Window(number, server.control.now()) for server in servers}
        outcomes.append(run_command(plan.command, plan.timeout) if request is None else send(request, plan.timeout))
        failure = command_failure(outcomes[-1]) if request is None else None
        if failure:  # its statements may be half of what it sends: no report, and never a passing gate
            raise EndpointFailed(f"{failure}: {plan.command}; nothing was analyzed")
        for server in servers:
            opened[server.label].end = server.control.now()
            windows[server.label].append(opened[server.label])
        lag.extend(replica_positions(servers, number or 1))
        progress("replaying requests", done, len(jobs))
    return windows, outcomes, lag


def replica_positions(servers: list[_Server], request: int) -> list[ReplicaLag]:
    if len(servers) < 2:
        return []
    import pymysql

    try:  # gtid_binlog_pos is MariaDB's; MySQL has gtid_executed instead
        primary_gtid = servers[0].scalar("SELECT @@global.gtid_binlog_pos")
    except pymysql.err.MySQLError:
        primary_gtid = servers[0].scalar("SELECT @@global.gtid_executed")
    return [_position(server, request, primary_gtid) for server in servers[1:]]


def _position(server: _Server, request: int, primary_gtid) -> ReplicaLag:
    def query(conn):
        import pymysql

        with conn.cursor(pymysql.cursors.DictCursor) as cur:
            try:
                cur.execute("SHOW SLAVE STATUS")
            except pymysql.err.MySQLError:  # MySQL 8.4 knows only the new name
                cur.execute("SHOW REPLICA STATUS")
            return cur.fetchone() or {}

    status = server.control.run(query)
    behind = status.get("Seconds_Behind_Master", status.get("Seconds_Behind_Source"))
    gtid = status.get("Gtid_IO_Pos") or status.get("Executed_Gtid_Set")
    if "Gtid_IO_Pos" in status:
        gtid = server.scalar("SELECT @@global.gtid_slave_pos")  # applied, not only received
    return ReplicaLag(request, server.label, int(behind) if behind is not None else None,
                      str(gtid) if gtid else None, str(primary_gtid) if primary_gtid else None)
