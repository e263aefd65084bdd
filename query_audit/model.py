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
    # Which server of a replicated capture ran it (`primary`, `replica1`, ...); None for one server.
    server: str | None = None
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
    # Runs inside a transaction (BEGIN ... COMMIT, or autocommit off), and how many transactions they
    # spanned: 10 INSERTs in 1 transaction commit once; in autocommit, 10 times.
    in_transaction: int = 0
    transactions: int = 0
    # True when distinct_values reached the Digest's cap (`max_unit_values`): there were at least that many.
    values_capped: bool = False


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
    # Units (connections of a log) where the shape ran twice or more but whose record the Digest dropped to
    # bound memory: the loop may have run there too, and `repetitions` no longer shows them.
    pruned_repeated_units: int = 0
    # (server, statements) of a replicated capture: where this shape ran; empty for one server.
    servers: tuple[tuple[str, int], ...] = ()
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
    # Calls sqlglot could not type (its Anonymous functions: stored functions, UDFs, or built-ins it does
    # not know) and qualified calls, as written (`f`, `db.f`): the EXPLAIN guard's second opinion.
    untyped_calls: tuple[str, ...] = ()
    # (alias, table as written) for every stored table the statement reads, in any query block, in the
    # order the blocks are numbered; an unaliased table is its own alias. The one alias resolution:
    # EXPLAIN's placeholder filling and the plan-row lookup read it (analyze/sql_model.py builds it).
    aliases: tuple[tuple[str, str], ...] = ()

    def uses(self, table: str, *roles: str) -> tuple[ColumnUse, ...]:
        return tuple(c for c in self.columns if c.table == table and (not roles or c.role in roles))

    def tables_named(self, alias: str) -> tuple[str, ...]:
        """The tables (as written) that `alias` stands for: those it names exactly, else those it names
        ignoring case; several when two query blocks give one alias to different tables."""
        exact = tuple(dict.fromkeys(table for name, table in self.aliases if name == alias))
        if exact:
            return exact
        lowered = alias.lower()
        return tuple(dict.fromkeys(table for name, table in self.aliases if name.lower() == lowered))


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
    auto_increment: bool = False
    max_length: int | None = None  # characters of a CHAR/VARCHAR/TEXT column (CHARACTER_MAXIMUM_LENGTH)
    charset: str | None = None  # utf8mb4, latin1... (None for numbers and binary types)


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """A FOREIGN KEY constraint: `columns` of its table point to `referenced_columns` of another."""

    columns: tuple[str, ...]
    referenced_database: str
    referenced_table: str
    referenced_columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HistogramBucket:
    """One bucket of a column histogram: values from `low` to `high` (equal for a singleton), holding
    `share` of the table's rows over `distinct` values."""

    low: str
    high: str
    share: float
    distinct: int = 1


@dataclass(frozen=True, slots=True)
class ColumnStatistics:
    """What the server's statistics say about one column (MariaDB mysql.column_stats, MySQL 8 histograms).

    `rows_per_value` is the rows one equality returns on average (MariaDB's avg_frequency); `source`
    names the table it came from, for the report.
    """

    column: str
    source: str
    rows_per_value: float | None = None
    nulls_ratio: float | None = None
    histogram: tuple[HistogramBucket, ...] = ()


@dataclass(frozen=True, slots=True)
class IndexStatistics:
    """MariaDB mysql.index_stats: rows per distinct value of the first `prefix` columns of an index."""

    index: str
    prefix: int
    rows_per_value: float


@dataclass(frozen=True, slots=True)
class Measurement:
    """A bounded count of the rows a captured equality returns (`SELECT COUNT(*) ... LIMIT cap`).

    `rows` counts matches; `at_least` is True when the count reached the cap. `sampled` is the number of
    rows counted over when the table was above the size cap (a deterministic first-N sample), else None.
    `error` says why there is no figure (time budget spent, refused).
    """

    columns: tuple[str, ...]
    values: tuple[str, ...]
    rows: int | None
    at_least: bool = False
    sampled: int | None = None
    seconds: float = 0.0
    error: str | None = None


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
    row_format: str = ""  # Dynamic, Compressed, Compact, Redundant: sets the key-length limit
    # What the server's statistics and the bounded measurements say (analyze/statistics.py).
    column_stats: tuple[ColumnStatistics, ...] = ()
    index_stats: tuple[IndexStatistics, ...] = ()
    measured: tuple[Measurement, ...] = ()
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

    def column_statistics(self, name: str) -> ColumnStatistics | None:
        return next((stats for stats in self.column_stats if stats.column.lower() == name.lower()), None)


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
    # MariaDB's rowid filter (`ref|filter`, key `a|b`, rows `5 (3%)`): the filter's index, and the share
    # of the `rows` it keeps before they are read.
    rowid_filter: str | None = None
    rowid_filter_percent: float | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    rows: tuple[PlanRow, ...]
    format: str = "traditional"  # the EXPLAIN format the rows came from: traditional or json
    explained_sql: str = ""  # what was EXPLAINed (placeholders filled, where there were any)
    filled_placeholders: bool = False


@dataclass(frozen=True, slots=True)
class Origin:
    """Where in the application a statement came from, as its own SQL comment says (sqlcommenter's
    `/*controller='orders',file='app.js%3A42'*/` or Rails query log tags `/*controller:posts,action:index*/`).

    `file` and `line` name the source line when the tag carries one; `route`, `controller` and `action`
    the endpoint otherwise. All None when the statement carries no such comment.
    """

    route: str | None = None
    controller: str | None = None
    action: str | None = None
    file: str | None = None
    line: int | None = None
    application: str | None = None
    framework: str | None = None

    @property
    def endpoint(self) -> str | None:
        """`orders#index` (controller and action), else the route, else None: a name for the caller."""
        if self.controller and self.action:
            return f"{self.controller}#{self.action}"
        return self.route or self.controller or self.action


@dataclass(frozen=True, slots=True)
class AnalyzedQuery:
    """A query group with everything known about it: the input of the advisor and of the report."""

    group: QueryGroup
    model: StatementModel
    plan: Plan | None = None
    error: str | None = None  # why there is no plan (no --dsn, EXPLAIN refused, ...)
    origin: Origin | None = None  # where in the application the sample came from, when its comment says


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


# The rules whose new findings fail the CI gate when neither --fail-on nor the configuration names others.
# Here, not in gate/baseline.py, so the configuration's defaults do not import the gate at every start.
DEFAULT_FAIL_ON = ("full_table_scan",)


@dataclass(frozen=True, slots=True)
class AddedIndex:
    """The index a finding adds, as `--verify` and the shadow create, judge and drop it."""

    name: str
    database: str  # "" when unknown (the connection's default database)
    table: str  # as the server names it (the finding's `table` is as the statements name it)
    ddl: str  # ALTER TABLE `db`.`table` ADD INDEX ...
    rows_before: int  # rows one execution examines without it
    unusable: tuple[tuple[str, str], ...] = ()  # (column, why no index can serve its condition)


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of advice, with its evidence. Rules return these; they never print.

    `query_id` is the query the finding is about (for a merged missing_index, the first of
    `query_ids`). `evidence` holds plain values (the plan row, rows before/after...) for the report;
    the stages after the advisor read the typed fields (`rows_examined`, `index`), not the evidence.
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
    origin: Origin | None = None  # the origin of the finding's query (attribution comments), if known
    rows_examined: int | None = field(default=None, compare=False)  # per execution, where known: ranks findings
    index: AddedIndex | None = field(default=None, compare=False)  # the index a missing_index finding adds

    @property
    def baseline_key(self) -> tuple[str, str, str]:
        """What a CI baseline matches on: never line numbers or row estimates."""
        return (self.rule, self.table or "", self.query_id or "")


@dataclass(frozen=True, slots=True)
class ServerInfo:
    flavor: str  # mysql | mariadb | aurora-mysql
    version: str
    version_comment: str = ""
    address: str = ""  # host:port (or socket path) the tool connected to; never the user or password


@dataclass(frozen=True, slots=True)
class ServerRole:
    """One server of a replicated capture: its label in the report, where it is, and its limits."""

    label: str  # primary | replica1 | replica2 ...
    address: str  # user@host:port/db, never a password
    max_connections: int | None = None
    read_only: bool | None = None


@dataclass(frozen=True, slots=True)
class ReplicaLag:
    """A replica's position, read right after one request (SHOW SLAVE STATUS / SHOW REPLICA STATUS)."""

    request: int
    server: str
    seconds_behind: int | None  # Seconds_Behind_Master (Source); None while replication is stopped
    replica_gtid: str | None = None  # MariaDB gtid_slave_pos, MySQL Executed_Gtid_Set
    primary_gtid: str | None = None  # the primary's gtid_binlog_pos / gtid_executed at the same moment


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
    servers: tuple[ServerRole, ...] = ()  # a capture with --replica-dsn: the primary first
    lag: tuple[ReplicaLag, ...] = ()
    # For a live capture, what the statements were read from: general_log or performance_schema.
    via: str | None = None


@dataclass(frozen=True, slots=True)
class TransactionSummary:
    """Transactions and their control statements (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, SET autocommit), which
    are counted here and not listed as query shapes. `idle_ends` counts COMMITs/ROLLBACKs sent with no
    transaction open (a pool's reset on return): round trips that change nothing."""

    transactions: int = 0
    control_statements: int = 0
    statements_inside: int = 0
    idle_ends: int = 0
    per_request: float | None = None
    control_statements_per_request: float | None = None


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
    transactions: TransactionSummary = field(default_factory=TransactionSummary)
    routing: tuple[RequestRouting, ...] = ()  # per request of a replicated capture


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One captured statement in the order it ran, for the HTML report's waterfall.

    `unit` is the request (or connection) it belongs to, as the Digest names units; `position` its
    place in the capture; `time` when the server logged it; `query_time` its duration where
    performance_schema or the slow log measured it, else None (the waterfall then draws by order).
    """

    query_id: str
    unit: str
    position: int
    time: str | None = None
    query_time: float | None = None
    rows_examined: int | None = None


@dataclass(frozen=True, slots=True)
class RequestRouting:
    """Where one request's statements went, and how far behind each replica was right after it."""

    request: int
    endpoint: str | None
    statements: tuple[tuple[str, int], ...]  # (server label, statements), the primary first
    lag: tuple[ReplicaLag, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanFigure:
    """One figure of a capacity plan: its value (None when unknown), unit, and how it was reached."""

    name: str
    value: float | None
    unit: str
    how: str  # the formula with its inputs, or why the figure is unknown


@dataclass(frozen=True, slots=True)
class BoundingWrite:
    """A write shape on the writer, at the target load: the writer cannot scale out, so these bound it."""

    query_id: str
    fingerprint: str
    table: str | None
    per_second: float
    share: float  # of the writer's write statements per second
    db_seconds_per_second: float | None = None


@dataclass(frozen=True, slots=True)
class CapacityPlan:
    """What the captured endpoints need at a target load: figures, the writes that bound them, assumptions."""

    target_rps: float
    figures: tuple[PlanFigure, ...]
    bounding_writes: tuple[BoundingWrite, ...] = ()
    assumptions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Report:
    server: ServerInfo | None
    source: SourceInfo
    summary: Summary
    queries: tuple[AnalyzedQuery, ...]
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()  # things the user should know (placeholders filled, EXPLAIN skipped...)
    version: int = 1
    timeline: tuple[TimelineEntry, ...] = ()  # a capture's statements in order (the HTML waterfall)
    capacity: CapacityPlan | None = None  # with --target-rps / --target-rpm
