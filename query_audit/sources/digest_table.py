"""The server's own workload: performance_schema.events_statements_summary_by_digest, read once.

`analyze --digests --dsn ...` is what a team on Aurora/RDS runs first: every statement shape the server
ran since it started (or since the table was truncated), with its count, total and max time, rows examined
and sent, and how often it used no index. Each digest row becomes a QueryGroup like a capture's, so the
rest of the pipeline (EXPLAIN, the rules, the profile ranked by total time) runs unchanged:

- the statement to EXPLAIN is MySQL 8's QUERY_SAMPLE_TEXT; where there is none (MariaDB) the latest
  SQL_TEXT of that digest still in events_statements_history(_long); else DIGEST_TEXT, whose `?` are
  filled like a prepared statement's (a text cut at performance_schema_max_digest_length is never
  EXPLAINed);
- SUM_NO_INDEX_USED / SUM_NO_GOOD_INDEX_USED become the group's server_flags, so a scan is reported
  from the server's own count even when there is no plan;
- rows of one fingerprint in several schemas are one group (a query id is the fingerprint's).

A snapshot (`--snapshot FILE`) saves the table; `--since FILE` subtracts it, to measure one deploy or
one load test. MAX_TIMER_WAIT cannot be subtracted: it is the server's maximum since its start, capped at
the time spent since the snapshot.
Binary-protocol prepared statements have no digest on MariaDB 10.11, so they are not in this table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pymysql

from query_audit.analyze.fingerprint import fingerprint, query_id, statement_kind
from query_audit.capture.general_log_table import as_text, utc_iso
from query_audit.capture.ps_events import is_truncated
from query_audit.capture.timings import PICOSECONDS_PER_SECOND
from query_audit.driver import TABLE_OR_DATABASE_DENIED, error_code
from query_audit.errors import MissingPrivilege, QueryAuditError, SourceError
from query_audit.model import QueryGroup, ServerInfo, SourceInfo, Statement

SNAPSHOT_FORMAT = "query-audit-digests"
DIGEST_QUERY = "SELECT * FROM performance_schema.events_statements_summary_by_digest WHERE DIGEST IS NOT NULL"
HISTORY_SAMPLES = ("SELECT CURRENT_SCHEMA, DIGEST, SQL_TEXT FROM performance_schema.{table} "
                   "WHERE DIGEST IS NOT NULL AND SQL_TEXT IS NOT NULL ORDER BY TIMER_START")
SAMPLE_TABLES = ("events_statements_history_long", "events_statements_history")
ACCESS_DENIED = TABLE_OR_DATABASE_DENIED  # reading needs no SUPER: only table / db / user refusals


@dataclass(frozen=True)
class DigestRow:
    """One row of events_statements_summary_by_digest; times in picoseconds, as the server gives them."""

    schema: str | None
    digest: str
    digest_text: str
    count: int
    sum_timer_wait: int
    max_timer_wait: int
    sum_rows_examined: int
    sum_rows_sent: int
    sum_no_index_used: int
    sum_no_good_index_used: int
    first_seen: str
    last_seen: str
    sample_text: str | None = None  # MySQL 8.0.3+: QUERY_SAMPLE_TEXT

    @classmethod
    def from_columns(cls, row: dict) -> DigestRow:
        """From a row keyed by the server's column names (MariaDB has no QUERY_SAMPLE_TEXT)."""
        number = lambda name: int(row.get(name) or 0)  # noqa: E731
        sample = row.get("QUERY_SAMPLE_TEXT")
        return cls(schema=as_text(row.get("SCHEMA_NAME")) or None, digest=as_text(row["DIGEST"]),
                   digest_text=as_text(row.get("DIGEST_TEXT")), count=number("COUNT_STAR"),
                   sum_timer_wait=number("SUM_TIMER_WAIT"), max_timer_wait=number("MAX_TIMER_WAIT"),
                   sum_rows_examined=number("SUM_ROWS_EXAMINED"), sum_rows_sent=number("SUM_ROWS_SENT"),
                   sum_no_index_used=number("SUM_NO_INDEX_USED"),
                   sum_no_good_index_used=number("SUM_NO_GOOD_INDEX_USED"),
                   first_seen=as_text(row.get("FIRST_SEEN")), last_seen=as_text(row.get("LAST_SEEN")),
                   sample_text=as_text(sample) if sample else None)

    def minus(self, before: DigestRow) -> DigestRow:
        """What ran since `before` (the same schema and digest); a lower count means the table was reset."""
        if before.count > self.count:
            return self
        spent = self.sum_timer_wait - before.sum_timer_wait
        # The maximum cannot be subtracted: it is the server's since its start, at most what was spent since.
        return replace(self, count=self.count - before.count, sum_timer_wait=spent,
                       max_timer_wait=min(self.max_timer_wait, spent),
                       sum_rows_examined=self.sum_rows_examined - before.sum_rows_examined,
                       sum_rows_sent=self.sum_rows_sent - before.sum_rows_sent,
                       sum_no_index_used=self.sum_no_index_used - before.sum_no_index_used,
                       sum_no_good_index_used=self.sum_no_good_index_used - before.sum_no_good_index_used)


def read_digests(conn) -> tuple[list[DigestRow], dict[tuple[str | None, str], str], int]:
    """The digest rows, sample texts from the history tables by (schema, digest), and the text limit."""
    try:
        with conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute("SELECT @@global.performance_schema AS on_, @@global.performance_schema_max_sql_text_length "
                        "AS text_limit")
            state = cur.fetchone()
            if not int(state["on_"]):
                raise QueryAuditError("performance_schema is OFF on this server, so it keeps no statement digests; "
                                      "start it with --performance-schema=ON (RDS/Aurora: performance_schema=1 in "
                                      "the DB parameter group, then reboot)")
            cur.execute(DIGEST_QUERY)
            rows = [DigestRow.from_columns(row) for row in cur.fetchall()]
            samples = _history_samples(cur)
    except pymysql.err.MySQLError as exc:
        if error_code(exc) in ACCESS_DENIED:
            raise MissingPrivilege("reading statement digests needs SELECT on performance_schema.*") from None
        raise QueryAuditError(f"cannot read performance_schema's digests: {exc.args[-1]}") from None
    return rows, samples, int(state["text_limit"] or 1024)


def _history_samples(cur) -> dict[tuple[str | None, str], str]:
    samples: dict[tuple[str | None, str], str] = {}
    for table in SAMPLE_TABLES:
        try:
            cur.execute(HISTORY_SAMPLES.format(table=table))
        except pymysql.err.MySQLError:
            continue  # a history table the account cannot read: DIGEST_TEXT will do
        for row in cur.fetchall():
            key = (as_text(row["CURRENT_SCHEMA"]) or None, as_text(row["DIGEST"]))
            samples.setdefault(key, as_text(row["SQL_TEXT"]))  # history_long first, oldest first
    return samples


def subtract(now: list[DigestRow], before: list[DigestRow]) -> list[DigestRow]:
    """The rows of `now` minus the snapshot `before`; digests that did not run since are left out."""
    earlier = {(row.schema, row.digest): row for row in before}
    result = []
    for row in now:
        old = earlier.get((row.schema, row.digest))
        row = row.minus(old) if old is not None else row
        if row.count > 0:
            result.append(row)
    return result


def query_groups(rows: list[DigestRow], samples: dict[tuple[str | None, str], str],
                 sql_text_limit: int) -> list[QueryGroup]:
    """One QueryGroup per fingerprint, busiest (total time) first."""
    merged: dict[str, QueryGroup] = {}
    for row in rows:
        group = _group(row, samples.get((row.schema, row.digest)), sql_text_limit)
        same = merged.get(group.id)
        merged[group.id] = group if same is None else _merge(same, group)
    return sorted(merged.values(), key=lambda g: (-(g.total_query_time or 0.0), g.id))


def _group(row: DigestRow, history_sample: str | None, sql_text_limit: int) -> QueryGroup:
    sql, cut = row.sample_text or history_sample, False
    if sql is not None:
        cut = is_truncated(sql, sql_text_limit)
    if sql is None or cut:
        sql, cut = row.digest_text, row.digest_text.endswith("...")
    statement = Statement(sql, database=row.schema, placeholders="?" in sql and not (row.sample_text or history_sample),
                          truncated=cut)
    shape = fingerprint(sql)
    flags = tuple((name, count) for name, count in (("NO_GOOD_INDEX_USED", row.sum_no_good_index_used),
                                                    ("NO_INDEX_USED", row.sum_no_index_used)) if count)
    return QueryGroup(id=query_id(shape), fingerprint=shape, kind=statement_kind(sql), count=row.count,
                      sample=statement, databases=(row.schema,) if row.schema else (),
                      total_query_time=row.sum_timer_wait / PICOSECONDS_PER_SECOND,
                      max_query_time=row.max_timer_wait / PICOSECONDS_PER_SECOND,
                      total_rows_examined=row.sum_rows_examined, total_rows_sent=row.sum_rows_sent,
                      server_flags=flags)


def _merge(one: QueryGroup, other: QueryGroup) -> QueryGroup:
    flags: dict[str, int] = dict(one.server_flags)
    for name, count in other.server_flags:
        flags[name] = flags.get(name, 0) + count
    return replace(one, count=one.count + other.count,
                   databases=tuple(dict.fromkeys(one.databases + other.databases)),
                   total_query_time=(one.total_query_time or 0.0) + (other.total_query_time or 0.0),
                   max_query_time=max(one.max_query_time or 0.0, other.max_query_time or 0.0),
                   total_rows_examined=(one.total_rows_examined or 0) + (other.total_rows_examined or 0),
                   total_rows_sent=(one.total_rows_sent or 0) + (other.total_rows_sent or 0),
                   server_flags=tuple(sorted(flags.items())))


# ------------------------------------------------------------------------------------------------
# Snapshots: save the table, subtract it later
# ------------------------------------------------------------------------------------------------


def save_snapshot(path: str | Path, rows: list[DigestRow], server: str) -> None:
    document = {"format": SNAPSHOT_FORMAT, "version": 1, "server": server,
                "taken_at": utc_iso(datetime.now(UTC)), "rows": [asdict(row) for row in rows]}
    try:
        Path(path).write_text(json.dumps(document, indent=1, sort_keys=True))
    except OSError as exc:
        raise QueryAuditError(f"cannot write {path}: {exc.strerror}") from None


def load_snapshot(path: str | Path) -> tuple[list[DigestRow], str, str]:
    """The rows of a snapshot, the server it was taken on, and when."""
    try:
        document = json.loads(Path(path).read_text())
        if document.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"not a {SNAPSHOT_FORMAT} file")
        return [DigestRow(**row) for row in document["rows"]], document["server"], document["taken_at"]
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SourceError(f"{path}: not a digest snapshot ({exc})") from None


@dataclass(frozen=True)
class DigestSource:
    """What the pipeline needs of a statement source, for the digest table (the groups come ready)."""

    source: SourceInfo
    server: ServerInfo | None
    noise_dropped: int = 0
    skipped_lines: int = 0
