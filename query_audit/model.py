"""The data passed between the pipeline's stages: capture -> analyze -> advise -> report.

Every stage takes and returns these frozen records; dicts appear only at the serialization edge
(`query_audit.report.json_format`). Keep field names stable: the JSON report is built from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Kind(str, Enum):
    """What a statement does, as the report's `kind` field names it."""

    SELECT = "select"
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    REPLACE = "replace"
    OTHER = "other"

    @property
    def is_write(self) -> bool:
        return self in (Kind.INSERT, Kind.UPDATE, Kind.DELETE, Kind.REPLACE)


class Severity(str, Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for the most severe, so `sorted(key=...)` puts HIGH first."""
        return ("high", "medium", "low", "info").index(self.value)


# ---------------------------------------------------------------------------------------------
# Capture: what the server logged
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogRow:
    """One entry of a general log, from the `mysql.general_log` table or a general log file.

    `command` is the server's command type as logged (Query, Execute, Prepare, Connect, Init DB, Quit...).
    `time` is an ISO-8601 string in UTC where known (files in the old format repeat it only per second).
    """

    thread_id: int
    command: str
    argument: str
    time: str | None = None
    user_host: str = ""


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement a client sent, with where and when it ran.

    `request` numbers the replayed HTTP request (or command run) that caused it, from 1; None when
    the statement comes from a log file. `placeholders` is True for a prepared statement logged with
    its `?` markers still in it (MariaDB's Execute rows), which cannot be EXPLAINed as it stands.
    Timings come from the slow log or performance_schema where captured, else stay None.
    """

    sql: str
    thread_id: int | None = None
    database: str | None = None
    time: str | None = None
    command: str = "Query"
    request: int | None = None
    user: str | None = None
    placeholders: bool = False
    query_time: float | None = None
    lock_time: float | None = None
    rows_sent: int | None = None
    rows_examined: int | None = None
    # The server's own verdicts on this execution, named as the source spells them: a slow log's
    # `Full_scan`, `Filesort`, `Tmp_table`, `Tmp_table_on_disk` (MariaDB, log_slow_verbosity=query_plan)
    # or performance_schema's `NO_INDEX_USED`, `NO_GOOD_INDEX_USED`.
    server_flags: tuple[str, ...] = ()
    # performance_schema cut SQL_TEXT at performance_schema_max_sql_text_length: never EXPLAINed.
    truncated: bool = False


# ---------------------------------------------------------------------------------------------
# Analyze: statements grouped by shape, their SQL model, the schema and the plan
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Repetition:
    """How often one statement shape ran inside one unit of work.

    A unit is one replayed request in a capture, or one connection (thread) in a log file.
    `distinct_values` counts different literal sets: 10 runs with 10 different ids is an N+1,
    10 runs with the same id is a cache candidate.
    """

    unit: str
    count: int
    distinct_values: int
    samples: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QueryGroup:
    """All statements of one fingerprint."""

    id: str
    fingerprint: str
    kind: Kind
    count: int
    sample: Statement
    distinct_values: int = 1
    databases: tuple[str, ...] = ()
    repetitions: tuple[Repetition, ...] = ()
    # Reads that came after a write in the same unit must see that write: not for a replica.
    after_write_count: int = 0
    total_query_time: float | None = None
    max_query_time: float | None = None
    total_rows_examined: int | None = None
    total_rows_sent: int | None = None
    # Every unit the shape ran in, once or more (as far as the Digest still tracks them), in order:
    # `repetitions` holds only those where it ran twice or more.
    units: tuple[str, ...] = ()
    # How many executions carried each of Statement.server_flags, e.g. (("Full_scan", 3),).
    server_flags: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ColumnUse:
    """One use of one column by a statement, resolved to its real table.

    role is one of:
      eq, in, range, is_null         - sargable predicates (an index can seek on them)
      like_prefix                    - LIKE 'abc%': sargable as a range
      join                           - equality with a column of another table (detail: other table.column)
      order, group                   - ORDER BY / GROUP BY (detail: "asc" or "desc")
      select                         - read by the SELECT list
      set                            - written by UPDATE ... SET / INSERT column list
      not_sargable                   - in WHERE but no index can help; `reason` says why
                                       (function, leading wildcard, negation, type mismatch, or)
    `scope` numbers the SELECT scope (0 is the outermost); subqueries and UNION branches get their own.
    """

    table: str
    column: str
    role: str
    scope: int = 0
    detail: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StatementModel:
    """What one distinct statement does, from sqlglot: tables, columns and their roles.

    `parsed` is False when sqlglot could not parse it, or returned an opaque Command (REPLACE, CALL,
    LOCK...): then `error` says why and the tables are a best effort from a fallback.
    """

    kind: Kind
    tables: tuple[str, ...] = ()
    target_table: str | None = None
    columns: tuple[ColumnUse, ...] = ()
    limit: int | None = None
    insert_rows: int = 0
    has_where: bool = False
    parsed: bool = True
    error: str | None = None

    def uses(self, table: str, *roles: str) -> tuple[ColumnUse, ...]:
        return tuple(c for c in self.columns if c.table == table and (not roles or c.role in roles))


@dataclass(frozen=True, slots=True)
class IndexColumn:
    name: str
    sub_part: int | None = None  # prefix length of a prefix index
    cardinality: int | None = None


@dataclass(frozen=True, slots=True)
class Index:
    name: str
    columns: tuple[IndexColumn, ...]
    unique: bool = False

    @property
    def primary(self) -> bool:
        return self.name == "PRIMARY"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    data_type: str  # int, varchar, datetime... (information_schema DATA_TYPE)
    column_type: str = ""  # int(10) unsigned, varchar(255)...
    nullable: bool = True


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """A FOREIGN KEY constraint: `columns` of its table point to `referenced_columns` of another."""

    columns: tuple[str, ...]
    referenced_database: str
    referenced_table: str
    referenced_columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IndexUsage:
    """performance_schema's count of I/O through each index of a table since the server started
    (table_io_waits_summary_by_index_usage.COUNT_STAR), and how long that is."""

    counts: tuple[tuple[str, int], ...]  # (INDEX_NAME, COUNT_STAR); the no-index row is left out
    table_io: int  # every row of the table, the no-index row included: 0 means the table was never read
    uptime_seconds: int


@dataclass(frozen=True, slots=True)
class TableSchema:
    database: str
    name: str
    rows: int  # the server's estimate (information_schema.TABLES.TABLE_ROWS)
    columns: tuple[Column, ...] = ()
    indexes: tuple[Index, ...] = ()
    engine: str = "InnoDB"
    foreign_keys: tuple[ForeignKey, ...] = ()
    index_usage: IndexUsage | None = None  # where performance_schema counts it (analyze/index_usage.py)

    def foreign_key_of(self, column: str) -> ForeignKey | None:
        """The single-column foreign key on `column`, if there is one."""
        for key in self.foreign_keys:
            if len(key.columns) == 1 and key.columns[0].lower() == column.lower():
                return key
        return None

    @property
    def primary_key(self) -> tuple[str, ...]:
        for index in self.indexes:
            if index.primary:
                return index.column_names
        return ()

    @property
    def secondary_indexes(self) -> tuple[Index, ...]:
        return tuple(i for i in self.indexes if not i.primary)

    def column(self, name: str) -> Column | None:
        for column in self.columns:
            if column.name.lower() == name.lower():
                return column
        return None


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One table access of an EXPLAIN, in one model for MySQL 8 and MariaDB, traditional or JSON.

    access_type is the `type` column (ALL, index, range, ref, eq_ref, const, system, ...) or None
    where the server printed NULL (for example the INSERT row of INSERT ... SELECT).
    """

    table: str | None
    access_type: str | None
    select_id: int | None = None
    select_type: str = "SIMPLE"
    possible_keys: tuple[str, ...] = ()
    key: str | None = None
    key_len: str | None = None
    ref: str | None = None
    rows: int | None = None
    filtered: float | None = None
    extra: str = ""
    using_filesort: bool = False
    using_temporary: bool = False
    using_index: bool = False  # covering index: the rows are never read


@dataclass(frozen=True, slots=True)
class Plan:
    rows: tuple[PlanRow, ...]
    format: str = "traditional"  # the EXPLAIN format the rows came from: traditional or json
    explained_sql: str = ""  # what was EXPLAINed (placeholders filled, where there were any)
    filled_placeholders: bool = False


@dataclass(frozen=True, slots=True)
class AnalyzedQuery:
    """A query group with everything known about it: the input of the advisor and of the report."""

    group: QueryGroup
    model: StatementModel
    plan: Plan | None = None
    error: str | None = None  # why there is no plan (no --dsn, EXPLAIN refused, ...)


def table_key(table: str, default_db: str | None) -> tuple[str, str]:
    """(database, table) for a table name as a statement wrote it (`orders` or `shop.orders`)."""
    if "." in table:
        database, name = table.split(".", 1)
        return database, name
    return default_db or "", table


SchemaMap = dict[tuple[str, str], TableSchema]


# ---------------------------------------------------------------------------------------------
# Advise and report
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a pattern becomes a finding. Defaults are documented in the README; config overrides them."""

    n_plus_one: int = 3  # same SELECT shape, different values, this many times in one unit
    bulk_insert: int = 3  # single-row INSERTs of one shape in one unit
    write_loop: int = 3  # UPDATE/DELETE of one shape by key in one unit
    full_scan_rows: int = 1000  # a full scan of a smaller table is at most `info`
    large_scan_rows: int = 100_000  # a full scan of a larger table is `high`
    index_writes_low: int = 20  # write_amplification: index entries per unit from which it is `low`, not `info`
    index_writes_medium: int = 200  # ... and from which it is `medium`


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of advice, with its evidence. Rules return these; they never print.

    `query_id` is the query the finding is about (for a merged missing_index, the first of
    `query_ids`). `evidence` holds plain values (the plan row, rows before/after...) for the report.
    `verified` is None unless `--verify` created the index and EXPLAINed again.
    """

    rule: str
    severity: Severity
    message: str
    table: str | None = None
    columns: tuple[str, ...] = ()
    query_id: str | None = None
    query_ids: tuple[str, ...] = ()
    fingerprint: str | None = None
    count: int = 1
    suggestion: str = ""
    ddl: str | None = None
    evidence: dict = field(default_factory=dict, hash=False, compare=False)
    verified: bool | None = None

    @property
    def baseline_key(self) -> tuple[str, str, str]:
        """What a CI baseline matches on: never line numbers or row estimates."""
        return (self.rule, self.table or "", self.query_id or "")


@dataclass(frozen=True, slots=True)
class ServerInfo:
    flavor: str  # mysql | mariadb | aurora-mysql
    version: str
    version_comment: str = ""


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """Where the statements came from."""

    kind: str  # capture | general_log | slow_log | saved_capture | mixed
    endpoints: tuple[str, ...] = ()
    command: str | None = None
    files: tuple[str, ...] = ()
    window_start: str | None = None
    window_end: str | None = None
    requests: int = 0
    # For a live capture, what the statements were read from: general_log or performance_schema.
    via: str | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    statements: int = 0
    distinct: int = 0
    reads: int = 0
    writes: int = 0
    other: int = 0
    noise_dropped: int = 0
    skipped_lines: int = 0
    requests: int = 0
    round_trips_per_request: float | None = None
    replica_eligible_reads: int = 0
    db_time_per_request: float | None = None  # seconds, when timings were captured
    pool_size_estimate: dict | None = None


@dataclass(frozen=True, slots=True)
class Report:
    server: ServerInfo | None
    source: SourceInfo
    summary: Summary
    queries: tuple[AnalyzedQuery, ...]
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()  # things the user should know (placeholders filled, EXPLAIN skipped...)
    version: int = 1
