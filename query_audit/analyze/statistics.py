"""Statistics: what the server already knows about how many rows a value matches, and a bounded count
where it knows nothing.

Three sources, tried in this order by the advisor (advise/estimates.py), each named in the report:
- measured: `SELECT COUNT(*) FROM (SELECT 1 FROM t WHERE c = <captured value> LIMIT cap) x`, run once per
  (table, columns, values) under a time limit per statement (`SET STATEMENT max_statement_time=S FOR`
  on MariaDB, `/*+ MAX_EXECUTION_TIME(ms) */` on MySQL 8) and a time budget per capture; above a table
  size cap it counts over a deterministic sample (the first N rows in primary-key order) and scales.
- statistics: MariaDB's engine-independent statistics (`mysql.column_stats`: avg_frequency, nulls_ratio,
  JSON_HB histograms; `mysql.index_stats`), MySQL 8 histograms (`information_schema.COLUMN_STATISTICS`),
  and `information_schema.STATISTICS.CARDINALITY` (read with the schema).
- guessed: none of the above (the advisor's fixed fractions).

Every query here is a read; none is sent unless the table is known from information_schema, and values
go through the driver's escaping (they come from captured statements: hostile input).
"""

from __future__ import annotations

import base64
import json
import time
from collections import defaultdict
from dataclasses import dataclass, replace

from query_audit.identifiers import quote_identifier as _quote
from query_audit.model import ColumnStatistics, HistogramBucket, IndexStatistics, Measurement, SchemaMap, TableSchema

MARIADB_COLUMN_STATS = "mysql.column_stats"
MYSQL_HISTOGRAMS = "information_schema.COLUMN_STATISTICS"
MYSQL_HISTOGRAM_STRING = 42  # MySQL 8 keeps the first 42 characters of a string in a histogram


@dataclass(frozen=True)
class MeasureLimits:
    """Bounds of the measurement: rows counted at most, seconds per statement, seconds per capture, and the
    table size from which a sample of `sample_rows` rows is counted instead of the table."""

    count_cap: int = 100_000
    statement_seconds: float = 2.0
    budget_seconds: float = 10.0
    size_cap: int = 1_000_000
    sample_rows: int = 200_000


# ---------------------------------------------------------------------------------------------
# Reading the server's statistics
# ---------------------------------------------------------------------------------------------


def load_statistics(conn, schemas: SchemaMap, flavor: str) -> SchemaMap:
    """`schemas` with the column and index statistics the server holds for them (none is an answer too).

    An account without access to mysql.* simply gets none: statistics improve estimates, they are never
    required.
    """
    from pymysql.err import MySQLError  # here, not above: see `measure`

    tables = {(schema.database, schema.name) for schema in schemas.values() if schema.database}
    if not tables:
        return schemas
    columns: dict[tuple[str, str], list[ColumnStatistics]] = defaultdict(list)
    indexes: dict[tuple[str, str], list[IndexStatistics]] = defaultdict(list)
    readers = (_mariadb_column_stats, _mariadb_index_stats) if flavor == "mariadb" else (_mysql_histograms,)
    for reader in readers:
        try:
            with conn.cursor() as cur:
                reader(cur, sorted(tables), columns, indexes)
        except MySQLError:
            continue  # no privilege on mysql.*, or no such table on this version
    return {key: replace(schema, column_stats=tuple(columns.get((schema.database, schema.name), ())),
                         index_stats=tuple(indexes.get((schema.database, schema.name), ())))
            for key, schema in schemas.items()}


def _where(tables: list[tuple[str, str]], db_column: str, table_column: str) -> tuple[str, list]:
    pairs = " OR ".join(f"({db_column} = %s AND {table_column} = %s)" for _ in tables)
    return pairs, [value for pair in tables for value in pair]


def _mariadb_column_stats(cur, tables, columns, _indexes) -> None:
    where, args = _where(tables, "db_name", "table_name")
    cur.execute("SELECT db_name, table_name, column_name, avg_frequency, nulls_ratio, hist_type, histogram "
                f"FROM mysql.column_stats WHERE {where}", args)
    for db, table, column, frequency, nulls, hist_type, histogram in cur.fetchall():
        buckets = parse_json_hb(histogram) if _text(hist_type) == "JSON_HB" else ()
        columns[(_text(db), _text(table))].append(ColumnStatistics(
            _text(column), MARIADB_COLUMN_STATS, _float(frequency), _float(nulls), buckets))


def _mariadb_index_stats(cur, tables, _columns, indexes) -> None:
    where, args = _where(tables, "db_name", "table_name")
    cur.execute(f"SELECT db_name, table_name, index_name, prefix_arity, avg_frequency FROM mysql.index_stats "
                f"WHERE {where}", args)
    for db, table, index, prefix, frequency in cur.fetchall():
        if frequency is not None:
            indexes[(_text(db), _text(table))].append(IndexStatistics(_text(index), int(prefix), float(frequency)))


def _mysql_histograms(cur, tables, columns, _indexes) -> None:
    where, args = _where(tables, "SCHEMA_NAME", "TABLE_NAME")
    cur.execute(f"SELECT SCHEMA_NAME, TABLE_NAME, COLUMN_NAME, HISTOGRAM FROM {MYSQL_HISTOGRAMS} WHERE {where}",
                args)
    for db, table, column, histogram in cur.fetchall():
        columns[(_text(db), _text(table))].append(parse_mysql_histogram(_text(column), histogram))


def parse_mysql_histogram(column: str, document) -> ColumnStatistics:
    """A MySQL 8 histogram (singleton: `[value, cumulative]`; equi-height: `[low, high, cumulative, ndv]`)."""
    data = json.loads(_text(document)) if not isinstance(document, dict) else document
    buckets, previous = [], 0.0
    for bucket in data.get("buckets") or ():
        if len(bucket) == 2:
            low = high = _histogram_value(bucket[0])
            cumulative, distinct = float(bucket[1]), 1
        else:
            low, high = _histogram_value(bucket[0]), _histogram_value(bucket[1])
            cumulative, distinct = float(bucket[2]), int(bucket[3]) if len(bucket) > 3 else 1
        buckets.append(HistogramBucket(low, high, max(cumulative - previous, 0.0), max(distinct, 1)))
        previous = cumulative
    return ColumnStatistics(column, MYSQL_HISTOGRAMS, None, _float(data.get("null-values")), tuple(buckets))


def _histogram_value(value) -> str:
    """Strings are stored as `base64:type254:<base64>`; numbers and dates as themselves."""
    if isinstance(value, str) and value.startswith("base64:"):
        encoded = value.split(":", 2)[2] if value.count(":") >= 2 else ""
        return base64.b64decode(encoded).decode("utf-8", errors="replace")
    return str(value)


def parse_json_hb(document) -> tuple[HistogramBucket, ...]:
    """MariaDB 10.8+ JSON_HB: `histogram_hb: [{start, size, ndv}, ..., {start, end, size, ndv}]`."""
    try:
        data = json.loads(_text(document) or "{}")
    except ValueError:
        return ()
    items = data.get("histogram_hb") or []
    buckets = []
    for number, item in enumerate(items):
        following = items[number + 1]["start"] if number + 1 < len(items) else item.get("end", item["start"])
        buckets.append(HistogramBucket(str(item["start"]), str(following), float(item.get("size", 0.0)),
                                       max(int(item.get("ndv", 1)), 1)))
    return tuple(buckets)


def _ordered(value: str):
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def histogram_share(stats: ColumnStatistics, value: str) -> float | None:
    """The share of rows equal to `value`, from the histogram; None when there is none."""
    if not stats.histogram:
        return None
    if stats.source == MYSQL_HISTOGRAMS:
        value = value[:MYSQL_HISTOGRAM_STRING]
    wanted = _ordered(value)
    # The last bucket that holds the value: MariaDB's JSON_HB buckets end where the next starts.
    found = None
    for bucket in stats.histogram:
        if _ordered(bucket.low) <= wanted <= _ordered(bucket.high):
            found = bucket
    if found is None:
        return 0.0
    return found.share if found.low == found.high else found.share / found.distinct


# ---------------------------------------------------------------------------------------------
# The bounded measurement
# ---------------------------------------------------------------------------------------------


def measurement_sql(schema: TableSchema, columns: tuple[str, ...], flavor: str, limits: MeasureLimits) -> str:
    """The read-only, time-limited count of rows matching `columns = %s ...` (values bound by the driver).

    Above the size cap, the count runs over the first `sample_rows` rows (primary-key order: deterministic).
    """
    source = f"{_quote(schema.database)}.{_quote(schema.name)}"
    condition = " AND ".join(f"{_quote(column)} = %s" for column in columns)
    hint = f"/*+ MAX_EXECUTION_TIME({int(limits.statement_seconds * 1000)}) */ " if flavor != "mariadb" else ""
    if schema.rows > limits.size_cap:
        picked = ", ".join(_quote(column) for column in columns)
        inner = f"SELECT {picked} FROM {source} LIMIT {limits.sample_rows}"
        sql = f"SELECT {hint}COUNT(*) FROM ({inner}) sampled WHERE {condition}"
    else:
        sql = f"SELECT {hint}COUNT(*) FROM (SELECT 1 FROM {source} WHERE {condition} LIMIT {limits.count_cap}) x"
    if flavor == "mariadb":
        sql = f"SET STATEMENT max_statement_time={limits.statement_seconds:g} FOR {sql}"
    return sql


class Budget:
    """Seconds left for measurements in this capture."""

    def __init__(self, seconds: float):
        self.left = seconds

    def spend(self, seconds: float) -> None:
        self.left -= seconds


def measure(conn, schema: TableSchema, columns: tuple[str, ...], values: tuple[str, ...], flavor: str,
            limits: MeasureLimits, budget: Budget) -> Measurement:
    """Count the rows the captured values match, within the limits; the error says why when it could not."""
    # The driver is imported only where a connection is used: a static analysis reads `histogram_share`
    # (advise/estimates.py) through this module, and PyMySQL with ssl and cryptography is ~10 MB of memory.
    from pymysql.err import MySQLError

    from query_audit.driver import error_text

    if budget.left <= 0:
        return Measurement(columns, values, None, error="the measurement time budget was spent")
    sql = measurement_sql(schema, columns, flavor, limits)
    started = time.monotonic()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, values)
            (count,) = cur.fetchone()
    except MySQLError as exc:
        budget.spend(time.monotonic() - started)
        return Measurement(columns, values, None, seconds=time.monotonic() - started,
                           error=f"the count failed: {error_text(exc)[:200]}")
    seconds = time.monotonic() - started
    budget.spend(seconds)
    count = int(count)
    if schema.rows > limits.size_cap:
        scaled = round(count * schema.rows / max(limits.sample_rows, 1))
        return Measurement(columns, values, scaled, sampled=limits.sample_rows, seconds=seconds)
    return Measurement(columns, values, count, at_least=count >= limits.count_cap, seconds=seconds)


def _text(value):
    return value.decode("utf-8", errors="replace") if isinstance(value, (bytes, bytearray)) else value


def _float(value) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
