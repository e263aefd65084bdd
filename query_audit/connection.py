"""Connection settings (DSN, environment, option files), connecting, and telling which server it is.

Settings come, lowest precedence first, from an option file's `[client]` group (`--defaults-file`, else
`~/.my.cnf`, as the mysql client reads them), then from a DSN (`--dsn`, else `QUERY_AUDIT_DSN`):
`mysql://user:password@host:port/database?socket=/path&ssl_ca=/path`. The password is kept out of
every repr, message and saved file: use `describe()` to name a server.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from query_audit.errors import ConnectionFailed, QueryAuditError
from query_audit.model import ServerInfo

if TYPE_CHECKING:
    import pymysql

DSN_ENV = "QUERY_AUDIT_DSN"  # read by cli.py only (the --dsn option's envvar); a --run child never sees it
DSN_SCHEMES = ("mysql", "mariadb", "mysql+pymysql")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
SSL_OPTIONS = ("ssl_ca", "ssl_cert", "ssl_key", "ssl_verify_cert", "ssl_verify_identity")


@dataclass(frozen=True)
class ConnectionSettings:
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = field(default="", repr=False)
    database: str | None = None
    socket: str | None = None
    ssl: dict = field(default_factory=dict, hash=False)

    @property
    def address(self) -> str:
        """`host:port`, or the socket path for a local socket: which server, never who or with what."""
        return self.socket if self.socket and self.host in ("localhost", "") else f"{self.host}:{self.port}"

    def describe(self) -> str:
        """`user@host:port/db` without the password, for messages and reports."""
        return f"{self.user}@{self.address}/{self.database or ''}"

    def to_dsn(self, with_password: bool = False) -> str:
        """A DSN for these settings; the password only when asked (to hand to a child process)."""
        from urllib.parse import quote

        auth = quote(self.user, safe="")
        if with_password and self.password:
            auth += ":" + quote(self.password, safe="")
        query = f"?socket={quote(self.socket)}" if self.socket else ""
        return f"mysql://{auth}@{self.host}:{self.port}/{quote(self.database or '', safe='')}{query}"


def parse_dsn(dsn: str, base: ConnectionSettings | None = None) -> ConnectionSettings:
    """Overlay the parts a DSN names on `base`. Raises QueryAuditError (no password in it) if malformed."""
    base = base or ConnectionSettings()
    try:
        parts = urlsplit(dsn)
        port = parts.port
    except ValueError:
        # The parser's own message quotes the text it took for a port: with a `#` or `/` in the password,
        # that is part of the password. Say what is wrong without echoing any of the DSN.
        raise QueryAuditError("invalid DSN: the host or port part is malformed (a password with # / ? @ : "
                              "must be URL-quoted, e.g. # as %23); expected "
                              "mysql://user:password@host:port/database") from None
    if parts.scheme not in DSN_SCHEMES:
        raise QueryAuditError(
            f"invalid DSN scheme {parts.scheme!r}; expected mysql://user:password@host:port/database"
        )
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    changes: dict = {}
    if parts.hostname:
        changes["host"] = unquote(parts.hostname)
    if port:
        changes["port"] = port
    if parts.username is not None:
        changes["user"] = unquote(parts.username)
    if parts.password is not None:
        changes["password"] = unquote(parts.password)
    database = unquote(parts.path.lstrip("/"))
    if database:
        changes["database"] = database
    socket = options.get("socket") or options.get("unix_socket")
    if socket:
        changes["socket"] = socket
        changes.setdefault("host", "localhost")
    ssl = {key: options[key] for key in SSL_OPTIONS if key in options}
    if options.get("ssl") in ("1", "true", "required") or ssl:
        changes["ssl"] = ssl or {"ssl": True}
    return replace(base, **changes)


def read_option_file(path: Path, base: ConnectionSettings | None = None) -> ConnectionSettings:
    """Read the `[client]` group of a MySQL option file, as the mysql client does."""
    base = base or ConnectionSettings()
    parser = configparser.ConfigParser(allow_no_value=True, interpolation=None, strict=False)
    try:
        text = path.read_text()
    except OSError as exc:
        raise QueryAuditError(f"cannot read option file {path}: {exc.strerror}") from None
    # Option files may have `!include` lines and options before any group; configparser wants neither.
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("!")]
    try:
        parser.read_string("\n".join(lines))
    except configparser.Error:
        raise QueryAuditError(f"cannot parse option file {path}: expected [client] with key=value lines") from None
    if not parser.has_section("client"):
        return base
    group = parser["client"]

    def value(key: str) -> str | None:
        raw = group.get(key)
        if raw is None:
            return None
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
            raw = raw[1:-1]
        return raw

    changes: dict = {}
    for key, attr in (("host", "host"), ("user", "user"), ("password", "password"), ("socket", "socket"),
                      ("database", "database")):
        if value(key) is not None:
            changes[attr] = value(key)
    if value("port"):
        try:
            changes["port"] = int(value("port"))
        except ValueError:
            raise QueryAuditError(f"option file {path}: port must be a number") from None
    return replace(base, **changes)


NO_SERVER = ("no server given: use --dsn mysql://user@host:port/database, the QUERY_AUDIT_DSN environment "
             "variable, --defaults-file, or a [client] group in ~/.my.cnf (query-audit never guesses a server)")


def resolve_settings(dsn: str | None = None, defaults_file: str | None = None, home: Path | None = None, *,
                     required: bool = False) -> ConnectionSettings:
    """Settings from a DSN over an option file's, in the mysql client's order. `dsn` is --dsn, or
    QUERY_AUDIT_DSN (DSN_ENV), which the command line reads (click's envvar): nothing here reads it again.

    `required`: a command that changes a server's settings must be told which server; without a DSN, an
    explicit option file or a `[client]` group in ~/.my.cnf it raises instead of trying root@127.0.0.1:3306.
    """
    settings = ConnectionSettings()
    if defaults_file:
        settings = read_option_file(Path(defaults_file), settings)
    else:
        my_cnf = (home or Path.home()) / ".my.cnf"
        if my_cnf.is_file():
            settings = read_option_file(my_cnf, settings)
    if required and not (dsn or defaults_file or settings != ConnectionSettings()):
        raise QueryAuditError(NO_SERVER)
    if dsn:
        settings = parse_dsn(dsn, settings)
    return settings


def _connect_error_reason(code: int | None) -> str:
    """What a MySQL error code that means "cannot use this server" says, whatever the server's wording.
    PyMySQL is imported here, not at the top: reading a log file without a server never loads it
    (~50 ms and ~20 MB with its crypto backend)."""
    from pymysql.constants import CR, ER

    reasons = {
        ER.DBACCESS_DENIED_ERROR: "access denied to database",
        ER.ACCESS_DENIED_ERROR: "access denied (bad user or password)",
        ER.BAD_DB_ERROR: "unknown database",
        CR.CR_CONNECTION_ERROR: "cannot connect through the socket",
        CR.CR_CONN_HOST_ERROR: "cannot connect (is the server running?)",
        CR.CR_UNKNOWN_HOST: "unknown host",
        CR.CR_SERVER_GONE_ERROR: "server has gone away",
        CR.CR_SERVER_LOST: "lost connection to the server",
    }
    return reasons.get(code, "connection failed")


def connect(settings: ConnectionSettings, *, database: str | None = None, read_timeout: int | None = 60,
            autocommit: bool = True) -> pymysql.connections.Connection:
    """Open a connection, or raise ConnectionFailed with one line naming the server (no password)."""
    import pymysql

    kwargs = dict(
        user=settings.user,
        password=settings.password,
        database=database if database is not None else settings.database,
        charset="utf8mb4",
        autocommit=autocommit,
        connect_timeout=10,
        read_timeout=read_timeout,
        write_timeout=read_timeout,
    )
    if settings.socket:
        kwargs["unix_socket"] = settings.socket
    else:
        kwargs["host"] = settings.host
        kwargs["port"] = settings.port
    if settings.ssl:
        kwargs["ssl"] = {k: v for k, v in settings.ssl.items() if k != "ssl"} or {"ssl": True}
    elif settings.socket or settings.host in LOOPBACK_HOSTS:
        # Without SSL options PyMySQL tries TLS where the server offers it, and builds a default SSL
        # context for every connection to do so (~19 ms, most of a connect): on this machine's own
        # server TLS protects nothing. Elsewhere that opportunistic TLS stays.
        kwargs["ssl_disabled"] = True
    try:
        return pymysql.connect(**kwargs)
    except pymysql.err.MySQLError as exc:
        raise ConnectionFailed(connection_error_message(settings, exc)) from None
    except (OSError, ValueError) as exc:
        raise ConnectionFailed(f"cannot connect to {settings.describe()}: {exc}") from None


def connection_error_message(settings: ConnectionSettings, exc: Exception) -> str:
    from query_audit.driver import error_code

    code = error_code(exc)
    # Not driver.error_text: the password is masked in the whole message before its first line is taken,
    # so a password with a line break in it cannot leave a piece behind.
    detail = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if settings.password:
        detail = detail.replace(settings.password, "***")
    detail = detail.splitlines()[0] if detail else ""
    reason = _connect_error_reason(code)
    return f"cannot connect to {settings.describe()}: {reason}" + (f" ({detail})" if detail else "")


def detect_server(conn) -> ServerInfo:
    """MySQL, MariaDB or Aurora MySQL (which announces itself by its `aurora_version` variable)."""
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION(), @@version_comment")
        version, comment = cur.fetchone()
        cur.execute("SHOW VARIABLES LIKE 'aurora_version'")
        aurora = cur.fetchone()
    return server_info_from(version, comment or "", aurora[1] if aurora else None)


def server_info_from(version: str, comment: str = "", aurora_version: str | None = None) -> ServerInfo:
    if aurora_version:
        return ServerInfo("aurora-mysql", f"{version} (Aurora {aurora_version})", comment)
    if "mariadb" in version.lower() or "mariadb" in comment.lower():
        return ServerInfo("mariadb", version.split("-MariaDB")[0], comment)
    return ServerInfo("mysql", version, comment)
