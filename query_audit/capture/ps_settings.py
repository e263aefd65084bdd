"""performance_schema's statement consumers (and, with --client-user, its actors): read them, check we
may change them, switch the statement history on, and put back exactly what was there.

The twin of `log_settings.py` for `capture --source performance-schema`: the same safety order (prove
the change is allowed, write the state file, change, restore on every path out) and the same state
file, which gains a `performance_schema` entry (`PsSettings.to_dict`).

What is changed, only where it is needed:
- setup_consumers: global_instrumentation, thread_instrumentation, events_statements_current and
  events_statements_history_long switched on (the history records nothing unless all four are on).
- With --client-user, when the history had to be switched on: setup_actors so that only that account's
  new connections record history (HISTORY='NO' on the rows there, one row for the account with
  HISTORY='YES'), and threads.HISTORY/INSTRUMENTED of the connections already open (pooled ones keep
  what they had at connect). Other accounts' instrumentation (digests, current statements) is untouched.
No SUPER is needed: UPDATE (and INSERT/DELETE for setup_actors) on performance_schema is enough.
"""

from __future__ import annotations

from dataclasses import dataclass

import pymysql

from query_audit.capture.general_log_table import as_text
from query_audit.driver import COLUMN_ACCESS_DENIED, SPECIFIC_ACCESS_DENIED, TABLE_OR_DATABASE_DENIED, error_code
from query_audit.errors import MissingPrivilege, QueryAuditError

CONSUMERS = ("global_instrumentation", "thread_instrumentation", "events_statements_current",
             "events_statements_history_long")
# performance_schema's setup tables are granted per table or column, so a column grant refusal counts too.
ACCESS_DENIED = {SPECIFIC_ACCESS_DENIED, COLUMN_ACCESS_DENIED, *TABLE_OR_DATABASE_DENIED}
NOT_STARTED = ("performance_schema is OFF on this server and can only be switched on at start: "
               "--performance-schema=ON (MariaDB, my.cnf), or performance_schema=1 in the DB parameter group "
               "(RDS/Aurora; needs a reboot)")


@dataclass(frozen=True)
class PsSettings:
    """What a capture may change. `actors` and `threads` are None/() when they are not to be touched.

    consumers: (NAME, enabled) of CONSUMERS; actors: setup_actors rows (HOST, USER, ROLE, ENABLED,
    HISTORY); threads: (THREAD_ID, INSTRUMENTED, HISTORY) of open connections whose values change.
    """

    consumers: tuple[tuple[str, bool], ...]
    actors: tuple[tuple[str, str, str, str, str], ...] | None = None
    threads: tuple[tuple[int, str, str], ...] = ()

    @property
    def history_on(self) -> bool:
        return all(enabled for _, enabled in self.consumers)

    @property
    def disabled(self) -> list[str]:
        return [name for name, enabled in self.consumers if not enabled]

    def to_dict(self) -> dict:
        return {"consumers": {name: enabled for name, enabled in self.consumers},
                "actors": [list(row) for row in self.actors] if self.actors is not None else None,
                "threads": [list(row) for row in self.threads]}

    @classmethod
    def from_dict(cls, data: dict) -> PsSettings:
        actors = data.get("actors")
        return cls(consumers=tuple((str(name), bool(on)) for name, on in data["consumers"].items()),
                   actors=tuple(tuple(str(v) for v in row) for row in actors) if actors is not None else None,
                   threads=tuple((int(t), str(i), str(h)) for t, i, h in data.get("threads", ())))


def enable_hint(disabled: list[str]) -> str:
    quoted = ", ".join(f"'{name}'" for name in disabled)
    return f"UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME IN ({quoted})"


def read_ps_settings(conn, client_user: str | None = None) -> PsSettings:
    """The consumers; with a client user also setup_actors and the open connections' flags."""
    with conn.cursor() as cur:
        cur.execute("SELECT @@global.performance_schema")
        if not int(cur.fetchone()[0]):
            raise QueryAuditError(NOT_STARTED)
        cur.execute("SELECT NAME, ENABLED FROM performance_schema.setup_consumers")
        found = {as_text(name): as_text(state).upper() == "YES" for name, state in cur.fetchall()}
        consumers = tuple((name, found.get(name, False)) for name in CONSUMERS)
        if client_user is None:
            return PsSettings(consumers)
        cur.execute("SELECT HOST, USER, ROLE, ENABLED, HISTORY FROM performance_schema.setup_actors")
        actors = tuple(tuple(as_text(v) for v in row) for row in cur.fetchall())
        cur.execute("SELECT THREAD_ID, INSTRUMENTED, HISTORY FROM performance_schema.threads "
                    "WHERE TYPE = 'FOREGROUND' AND PROCESSLIST_ID IS NOT NULL AND PROCESSLIST_ID <> CONNECTION_ID()")
        threads = tuple((int(t), as_text(i), as_text(h)) for t, i, h in cur.fetchall())
    return PsSettings(consumers, actors, threads)


def plan_change(current: PsSettings, client_user: str | None, conn=None) -> PsSettings | None:
    """The settings to apply, or None when the history is already recorded (then nothing changes).

    `current` must come from read_ps_settings(conn, client_user); `conn` tells the open connections' users.
    """
    if current.history_on:
        return None
    consumers = tuple((name, True) for name, _ in current.consumers)
    if client_user is None or current.actors is None:
        return PsSettings(consumers)
    actors = tuple((h, u, r, e, "NO") for h, u, r, e, _ in current.actors if u != client_user)
    actors += (("%", client_user, "%", "YES", "YES"),)
    users = _thread_users(conn, [t for t, _, _ in current.threads]) if conn is not None else {}
    threads = tuple((t, "YES", "YES") if users.get(t) == client_user else (t, i, "NO")
                    for t, i, _ in current.threads)
    return PsSettings(consumers, actors, threads)


def _thread_users(conn, thread_ids: list[int]) -> dict[int, str]:
    if not thread_ids:
        return {}
    with conn.cursor() as cur:
        cur.execute("SELECT THREAD_ID, PROCESSLIST_USER FROM performance_schema.threads WHERE THREAD_ID IN ("
                    + ", ".join(["%s"] * len(thread_ids)) + ")", thread_ids)
        return {int(t): as_text(u) for t, u in cur.fetchall()}


def state_to_save(current: PsSettings, target: PsSettings) -> PsSettings:
    """What `restore` must put back: the consumers and actors as they were, and the previous flags of
    exactly the threads the target changes."""
    changed = {t for t, i, h in target.threads}
    previous = {t: (i, h) for t, i, h in current.threads}
    threads = tuple((t, *previous[t]) for t in sorted(changed) if t in previous and previous[t] != _flags(target, t))
    return PsSettings(current.consumers, current.actors if target.actors is not None else None, threads)


def _flags(settings: PsSettings, thread_id: int) -> tuple[str, str] | None:
    return next(((i, h) for t, i, h in settings.threads if t == thread_id), None)


def check_can_change(conn, current: PsSettings, client_user: str | None) -> None:
    """Fail before changing anything when the account may not update what the capture would change.

    Each probe changes nothing (its WHERE matches no row) but needs the privilege of the real change.
    """
    probes = [("setup_consumers", "UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE 1 = 0")]
    if client_user:
        probes += [
            ("threads", "UPDATE performance_schema.threads SET HISTORY = 'YES' WHERE 1 = 0"),
            ("setup_actors", "UPDATE performance_schema.setup_actors SET HISTORY = 'YES' WHERE 1 = 0"),
            ("setup_actors", "DELETE FROM performance_schema.setup_actors WHERE 1 = 0"),
            ("setup_actors", "INSERT INTO performance_schema.setup_actors "
                             "SELECT * FROM performance_schema.setup_actors WHERE 1 = 0"),
        ]
    with conn.cursor() as cur:
        for table, probe in probes:
            try:
                cur.execute(probe)
            except pymysql.err.MySQLError as exc:
                if error_code(exc) in ACCESS_DENIED:
                    verb = probe.split()[0]
                    raise MissingPrivilege(
                        f"the performance_schema consumer(s) {', '.join(current.disabled)} are off and this account "
                        f"may not {verb} performance_schema.{table}; grant SELECT, UPDATE, INSERT, DELETE on "
                        f"performance_schema.* or run {enable_hint(current.disabled)}; nothing was changed") from None
                raise


def reduced(saved: PsSettings) -> PsSettings | None:
    """What a state file may put back: like the log settings (log_settings.reduced_to), never more
    recording. A capture only switches statement consumers on, so a restore only switches them off; the
    actors and threads it saved go back only with a consumer switched off (then they record nothing more
    than before). A file that switches nothing off (planted, or not written by a capture) puts back nothing."""
    off = tuple((name, False) for name, enabled in saved.consumers if name in CONSUMERS and not enabled)
    return PsSettings(off, saved.actors, saved.threads) if off else None


def apply_ps_settings(conn, settings: PsSettings) -> None:
    """Set what `settings` holds. On the way back (a restore) actors and threads go first, so the
    history stops recording the others' statements only once the consumers are back too."""
    with conn.cursor() as cur:
        if settings.actors is not None:
            cur.execute("DELETE FROM performance_schema.setup_actors")
            for row in settings.actors:
                cur.execute("INSERT INTO performance_schema.setup_actors (HOST, USER, ROLE, ENABLED, HISTORY) "
                            "VALUES (%s, %s, %s, %s, %s)", row)
        for thread_id, instrumented, history in settings.threads:
            cur.execute("UPDATE performance_schema.threads SET INSTRUMENTED = %s, HISTORY = %s WHERE THREAD_ID = %s",
                        (instrumented, history, thread_id))
        for name, enabled in settings.consumers:
            cur.execute("UPDATE performance_schema.setup_consumers SET ENABLED = %s WHERE NAME = %s",
                        ("YES" if enabled else "NO", name))


def restored_matches(conn, previous: PsSettings) -> bool:
    """True when the consumers (and actors, where they were saved) are back to `previous`."""
    now = read_ps_settings(conn, "" if previous.actors is not None else None)
    if now.consumers != previous.consumers:
        return False
    return previous.actors is None or sorted(now.actors or ()) == sorted(previous.actors)
