"""The server's logging settings: read them, check we may change them, switch the general log on, and
put back exactly what was there, from memory or from the state file left by an interrupted capture.

The state file is written *before* anything changes, so a capture killed at any point (SIGKILL, a
crash, a lost machine) leaves what `query-audit restore` needs. It never holds a password.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pymysql

from query_audit.connection import ConnectionSettings, connect
from query_audit.driver import SPECIFIC_ACCESS_DENIED, TABLE_OR_DATABASE_DENIED, error_code
from query_audit.errors import ConnectionFailed, MissingPrivilege, QueryAuditError
from query_audit.private_files import read_private, write_private

STATE_DIR_ENV = "QUERY_AUDIT_STATE_DIR"
ACCESS_DENIED = {SPECIFIC_ACCESS_DENIED, *TABLE_OR_DATABASE_DENIED}  # need SUPER / table / db / user denied


@dataclass(frozen=True)
class LogSettings:
    """The global values a capture may change. `log_output` is a set: FILE, TABLE, NONE (NONE wins)."""

    general_log: bool
    log_output: str

    @property
    def outputs(self) -> set[str]:
        return {part.strip().upper() for part in self.log_output.split(",") if part.strip()}

    @property
    def logs_to_table(self) -> bool:
        return self.general_log and "TABLE" in self.outputs and "NONE" not in self.outputs

    def with_table_output(self) -> LogSettings:
        """The general log on, TABLE added to the outputs already there (NONE would silence them all)."""
        outputs = (self.outputs - {"NONE"}) | {"TABLE"}
        return LogSettings(True, ",".join(sorted(outputs)))


def read_log_settings(conn) -> LogSettings:
    with conn.cursor() as cur:
        cur.execute("SELECT @@global.general_log, @@global.log_output")
        general_log, log_output = cur.fetchone()
    return LogSettings(bool(int(general_log)), str(log_output))


def apply_log_settings(conn, settings: LogSettings) -> None:
    """Set both globals. Order matters on the way back: the log goes off before its output changes."""
    with conn.cursor() as cur:
        if settings.general_log:
            cur.execute("SET GLOBAL log_output = %s", (settings.log_output,))
            cur.execute("SET GLOBAL general_log = 1")
        else:
            cur.execute("SET GLOBAL general_log = 0")
            cur.execute("SET GLOBAL log_output = %s", (settings.log_output,))


def is_managed_service(conn) -> str | None:
    """'Aurora' or 'RDS' when the server is Amazon's managed MySQL, where SET GLOBAL is never granted."""
    with conn.cursor() as cur:
        cur.execute("SHOW VARIABLES LIKE 'aurora_version'")
        if cur.fetchone():
            return "Aurora"
        cur.execute("SELECT @@basedir")
        basedir = cur.fetchone()[0] or ""
    return "RDS" if basedir.startswith("/rdsdbbin") else None


def privilege_hint(flavor: str, managed: str | None) -> str:
    needed = "SYSTEM_VARIABLES_ADMIN or SUPER" if flavor != "mariadb" else "SUPER"
    hint = f"turning on the general log needs the {needed} privilege"
    if managed:
        hint += (f"; {managed} grants it to no one: set general_log=1 and log_output=TABLE in the DB parameter "
                 "group, then run capture again (it only reads when the log is already on)")
    return hint


def check_can_capture(conn, flavor: str, current: LogSettings) -> None:
    """Fail before changing anything if we could not switch the log on, or could not read it.

    The probe sets log_output to the value it already has: it needs the same privilege as the real
    change and changes nothing. When the log already writes to the table, no SET is needed at all.
    """
    with conn.cursor() as cur:
        try:
            cur.execute("SELECT 1 FROM mysql.general_log LIMIT 0")
        except pymysql.err.MySQLError as exc:
            if error_code(exc) in ACCESS_DENIED:
                raise MissingPrivilege("reading the general log needs SELECT on mysql.general_log") from None
            raise
        if current.logs_to_table:
            return
        try:
            cur.execute("SET GLOBAL log_output = @@global.log_output")
        except pymysql.err.MySQLError as exc:
            if error_code(exc) in ACCESS_DENIED:
                raise MissingPrivilege(privilege_hint(flavor, is_managed_service(conn)) + "; nothing was changed") \
                    from None
            raise


# ------------------------------------------------------------------------------------------------
# The state file
# ------------------------------------------------------------------------------------------------


def state_dir(environ=os.environ) -> Path:
    if environ.get(STATE_DIR_ENV):
        return Path(environ[STATE_DIR_ENV])
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "query-audit"


def state_path(settings: ConnectionSettings, environ=os.environ, kind: str = "capture") -> Path:
    """One state file per server (and kind: `capture`, `verify`), so runs against different servers never
    restore each other's values."""
    where = settings.socket if settings.socket and settings.host in ("localhost", "") else \
        f"{settings.host}_{settings.port}"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", where).strip("_")
    return state_dir(environ) / f"{kind}-{name}.json"


@dataclass(frozen=True)
class SavedState:
    server: str  # settings.describe(): where the values belong (no password)
    previous: LogSettings | None  # None: the general log was not changed (a performance_schema capture)
    pid: int
    host: str
    started_at: str
    performance_schema: dict | None = None  # ps_settings.PsSettings.to_dict() of what a capture changed

    def describe(self) -> str:
        """What restoring this state puts back, for messages."""
        parts = []
        if self.previous is not None:
            parts.append(f"general_log={'ON' if self.previous.general_log else 'OFF'} and "
                         f"log_output={self.previous.log_output}")
        if self.performance_schema is not None:
            consumers = self.performance_schema.get("consumers", {})
            parts.append("the performance_schema consumers (" + ", ".join(
                f"{name}={'YES' if on else 'NO'}" for name, on in consumers.items()) + ")"
                + (" and setup_actors" if self.performance_schema.get("actors") is not None else ""))
        return " and ".join(parts) or "nothing"

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SavedState:
        data = json.loads(text)
        previous = None
        if data["previous"] is not None:
            general_log, log_output = data["previous"]["general_log"], data["previous"]["log_output"]
            if not isinstance(general_log, bool) or not isinstance(log_output, str):
                raise TypeError("general_log must be true/false, log_output a string")
            previous = LogSettings(general_log, log_output)
        performance_schema = data.get("performance_schema")
        if not isinstance(data["pid"], int) or not isinstance(performance_schema, dict | None):
            raise TypeError("pid must be a number, performance_schema an object")
        return cls(server=str(data["server"]), previous=previous, pid=data["pid"], host=str(data["host"]),
                   started_at=str(data["started_at"]), performance_schema=performance_schema)


def write_state(path: Path, settings: ConnectionSettings, previous: LogSettings | None,
                performance_schema: dict | None = None) -> SavedState:
    state = SavedState(server=settings.describe(), previous=previous, pid=os.getpid(), host=os.uname().nodename,
                       started_at=datetime.now(UTC).isoformat(timespec="seconds"),
                       performance_schema=performance_schema)
    # 0600 in a 0700 directory, atomically: a crash leaves the old file or the new one, never half of one.
    write_private(path, state.to_json())
    return state


def read_state(path: Path) -> SavedState | None:
    text = read_private(path)  # refuses a planted symlink or another user's file
    if text is None:
        return None
    try:
        return SavedState.from_json(text)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise QueryAuditError(f"the state file {path} is unreadable ({type(exc).__name__}); check the server's "
                              "general_log and log_output by hand, then delete it") from None


def owner_is_running(state: SavedState) -> bool:
    """True if the capture that wrote the state file is still alive on this machine."""
    if state.host != os.uname().nodename or state.pid == os.getpid():
        return False
    try:
        os.kill(state.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def restore_from_state(settings: ConnectionSettings, path: Path) -> SavedState | None:
    """Put back the values a state file holds and remove it; None when there was nothing to restore.

    Returns the state with the values really applied: restoring may only reduce logging (see
    `reduced_to`), so a planted or stale file can never switch the general log on.
    """
    state = read_state(path)
    if state is None:
        return None
    if owner_is_running(state):
        raise QueryAuditError(f"a capture (pid {state.pid}) is still running against {state.server}; "
                              "stop it first (it restores the settings itself)")
    conn = connect_with_retry(settings)
    try:
        target = reduced_to(read_log_settings(conn), state.previous, path) if state.previous is not None else None
        if target is not None:
            apply_log_settings(conn, target)
        if state.performance_schema is not None:
            from query_audit.capture.ps_settings import PsSettings, apply_ps_settings, reduced

            consumers = reduced(PsSettings.from_dict(state.performance_schema))
            if consumers is not None:
                apply_ps_settings(conn, consumers)
    finally:
        conn.close()
    path.unlink(missing_ok=True)
    return replace(state, previous=target)


def reduced_to(current: LogSettings, saved: LogSettings, path: Path) -> LogSettings:
    """What restoring `saved` may set, given the server's `current` values: never more logging.

    A capture only ever switches general_log ON and adds TABLE (dropping NONE), so putting it back only
    switches the log OFF and removes TABLE (or restores NONE). general_log goes ON only if it is ON now;
    a log_output naming an output the server does not write to now is not what a capture leaves behind,
    and is refused rather than applied.
    """
    outputs = saved.outputs - {"NONE"}
    if not outputs <= current.outputs or not saved.outputs or not saved.outputs <= {"FILE", "TABLE", "NONE"}:
        raise QueryAuditError(f"the state file {path} asks for log_output={saved.log_output} while the server has "
                              f"{current.log_output}: a capture never leaves that, so it is not applied; check "
                              "general_log and log_output by hand, then delete the file")
    return LogSettings(current.general_log and saved.general_log, saved.log_output)


def connect_with_retry(settings: ConnectionSettings, attempts: int = 5, delay: float = 0.5):
    """A new connection for restoring: the old one may have been killed; the server may be restarting."""
    for attempt in range(attempts):
        try:
            return connect(settings, read_timeout=30)
        except ConnectionFailed:
            if attempt == attempts - 1:
                raise
            time.sleep(delay * (attempt + 1))
