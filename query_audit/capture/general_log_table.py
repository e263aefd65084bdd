"""Read the rows of `mysql.general_log` that a capture window holds.

The table is ENGINE=CSV: every read scans the whole log, whatever the WHERE, so a capture reads it
exactly once, streaming (SSCursor) in case the log was already on and is large. MySQL 8 stores the
argument as MEDIUMBLOB (bytes), MariaDB as MEDIUMTEXT (str): both become str here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pymysql.cursors

from query_audit.model import LogRow

LOG_QUERY = ("SELECT event_time, user_host, thread_id, command_type, argument "
             "FROM mysql.general_log WHERE event_time >= %s")


def as_text(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def utc_iso(moment: datetime) -> str:
    """The one time format of captured statements: ISO-8601 with microseconds, in UTC."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def read_log_rows(conn, since: datetime) -> Iterator[tuple[datetime, LogRow]]:
    """Rows logged at or after `since` (the server's clock, session time zone +00:00), in log order."""
    with conn.cursor(pymysql.cursors.SSCursor) as cur:
        cur.execute(LOG_QUERY, (since,))
        for event_time, user_host, thread_id, command, argument in cur:
            yield event_time, LogRow(
                thread_id=int(thread_id),
                command=as_text(command),
                argument=as_text(argument),
                time=utc_iso(event_time),
                user_host=as_text(user_host),
            )
