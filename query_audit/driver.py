"""The one boundary to PyMySQL's errors: the server's error code, its message, and "the connection is gone".

PyMySQL raises `MySQLError(code, message)`; every module reads the code and the message through here, by
the names of `pymysql.constants.ER` (server errors) and `pymysql.constants.CR` (client errors), never by
`exc.args` or a bare number. Sites that need a different notion of "lost" (a reconnect, a DDL that may
still be running) build their set from the names below and say why next to it.
"""

from __future__ import annotations

import pymysql
from pymysql.constants import CR, ER

# MariaDB's ER_CONNECTION_KILLED ("Connection was killed"): not in PyMySQL's ER, which follows MySQL.
CONNECTION_KILLED = 1927
# PyMySQL raises some errors without a server code (e.g. InterfaceError(0, "")); 0 names that case.
NO_CODE = 0

# The client no longer has a connection: gone away, lost during a query, lost with an extended reason.
SERVER_LOST = frozenset({CR.CR_SERVER_GONE_ERROR, CR.CR_SERVER_LOST, CR.CR_SERVER_LOST_EXTENDED})

# Refused for want of a privilege: SUPER-like, a table, a database, the user/password itself.
SPECIFIC_ACCESS_DENIED = ER.SPECIFIC_ACCESS_DENIED_ERROR
TABLE_ACCESS_DENIED = ER.TABLEACCESS_DENIED_ERROR
COLUMN_ACCESS_DENIED = ER.COLUMNACCESS_DENIED_ERROR
DATABASE_ACCESS_DENIED = ER.DBACCESS_DENIED_ERROR
USER_ACCESS_DENIED = ER.ACCESS_DENIED_ERROR
TABLE_OR_DATABASE_DENIED = frozenset({TABLE_ACCESS_DENIED, DATABASE_ACCESS_DENIED, USER_ACCESS_DENIED})


def error_code(exc: BaseException) -> int | None:
    """The MySQL/MariaDB error number PyMySQL attached, or None when there is none."""
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def error_text(exc: BaseException) -> str:
    """The first line of the server's message (without the code), or of the exception's text; may be ''."""
    args = getattr(exc, "args", ())
    text = str(args[1]) if len(args) > 1 else str(exc)
    return (text.splitlines() or [""])[0]


def is_connection_lost(exc: BaseException) -> bool:
    """The connection cannot be used any more: PyMySQL's InterfaceError (closed socket) or a lost-server code."""
    return isinstance(exc, pymysql.err.InterfaceError) or error_code(exc) in SERVER_LOST

# MySQL's ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION (5.6+): not in PyMySQL's ER. With ER.READ_ONLY_TRANSACTION
# (1207) it is how a server refuses a statement inside START TRANSACTION READ ONLY.
CANT_EXECUTE_IN_READ_ONLY_TRANSACTION = 1792
READ_ONLY_REFUSED = frozenset({CANT_EXECUTE_IN_READ_ONLY_TRANSACTION, ER.READ_ONLY_TRANSACTION})
