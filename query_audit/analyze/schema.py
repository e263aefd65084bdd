"""The schema of the tables statements touch: indexes, columns, foreign keys, size and engine, from
information_schema.

One query per information_schema table (TABLES, COLUMNS, STATISTICS, KEY_COLUMN_USAGE) covers every
wanted table at once.
Views, unknown tables and tables the account cannot see are simply absent from the result.

Table names are case-sensitive on Linux (`lower_case_table_names=0`), but information_schema compares
them case-insensitively on MariaDB; so the server returns candidates and the exact match is made
here, relaxed only where the server itself folds case (`lower_case_table_names` 1 or 2).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import pymysql

from query_audit.driver import error_text, is_connection_lost
from query_audit.errors import ConnectionFailed, QueryAuditError
from query_audit.model import Column, ForeignKey, Index, IndexColumn, SchemaMap, TableSchema

# Keep each IN list well below max_allowed_packet and the server's expression limits.
_CHUNK = 500


def load_schema(conn, tables: set[tuple[str, str]]) -> SchemaMap:
    """Schema of each wanted `(database, table)` that exists as a base table, keyed as asked.

    An empty database name means the connection's current database. Raises ConnectionFailed if
    the connection is lost, QueryAuditError if information_schema cannot be read.
    """
    wanted = {(db or "", name) for db, name in tables if name}
    if not wanted:
        return {}
    try:
        with conn.cursor() as cur:
            return _load(cur, wanted)
    except pymysql.err.MySQLError as exc:
        message = _one_line(exc)
        if is_connection_lost(exc):
            raise ConnectionFailed(f"lost the connection while reading the schema: {message}") from None
        raise QueryAuditError(f"cannot read information_schema: {message}") from None


def _load(cur, wanted: set[tuple[str, str]]) -> SchemaMap:
    cur.execute("SELECT DATABASE(), @@lower_case_table_names")
    current_db, lower_case = cur.fetchone()
    # MySQL 8 caches TABLE_ROWS and CARDINALITY for a day by default; ask for fresh figures. MariaDB
    # has no such cache (and no such variable).
    try:
        cur.execute("SET SESSION information_schema_stats_expiry = 0")
    except pymysql.err.OperationalError:
        pass

    # What the server will be asked about (current database filled in) -> the keys the caller used.
    asked: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for db, name in wanted:
        asked[(db or _text(current_db) or "", name)].append((db, name))
    asked.pop(("", ""), None)
    lookups = [key for key in asked if key[0]]
    if not lookups:
        return {}

    fold = int(lower_case or 0) != 0
    tables_rows = _select(cur, _TABLES_SQL, lookups)
    found: dict[tuple[str, str], tuple[str, str]] = {}  # server's (db, name) -> asked (db, name)
    for key in lookups:
        match = _match(key, [(r[0], r[1]) for r in tables_rows], fold)
        if match:
            found[match] = key
    if not found:
        return {}

    server_keys = list(found)
    columns, indexes, foreign_keys = (_columns(cur, server_keys), _indexes(cur, server_keys),
                                      _foreign_keys(cur, server_keys))
    schemas: SchemaMap = {}
    for db, name, engine, rows, row_format in tables_rows:
        server_key = (db, name)
        if server_key not in found:
            continue
        schema = TableSchema(database=db, name=name, rows=_int(rows) or 0, columns=tuple(columns[server_key]),
                             indexes=indexes[server_key], engine=engine or "",
                             foreign_keys=foreign_keys[server_key], row_format=row_format or "")
        for caller_key in asked[found[server_key]]:
            schemas[caller_key] = schema
    return schemas


def _columns(cur, server_keys: list[tuple[str, str]]) -> dict[tuple[str, str], list[Column]]:
    columns = defaultdict(list)
    for db, name, column, data_type, column_type, nullable, extra, length, charset in _select(
            cur, _COLUMNS_SQL, server_keys):
        columns[(db, name)].append(Column(column, data_type.lower(), column_type, nullable == "YES",
                                          "auto_increment" in (extra or "").lower(), _int(length), charset))
    return columns


def _indexes(cur, server_keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[Index, ...]]:
    """Each table's indexes, the primary key first, then by name."""
    index_parts = defaultdict(lambda: defaultdict(list))
    uniqueness = {}
    for db, name, index, non_unique, _seq, column, sub_part, cardinality in _select(cur, _STATISTICS_SQL,
                                                                                   server_keys):
        # A functional index part (MySQL 8.0.13+) has no column name.
        part = IndexColumn(column if column is not None else "(expression)", _int(sub_part), _int(cardinality))
        index_parts[(db, name)][index].append(part)
        uniqueness[(db, name, index)] = not int(non_unique)
    indexes = defaultdict(tuple)
    for (db, name), parts_by_index in index_parts.items():
        found = [Index(index, tuple(parts), uniqueness[(db, name, index)]) for index, parts in parts_by_index.items()]
        indexes[(db, name)] = tuple(sorted(found, key=lambda i: (not i.primary, i.name)))
    return indexes


def _foreign_keys(cur, server_keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[ForeignKey, ...]]:
    key_parts = defaultdict(lambda: defaultdict(list))
    for db, name, constraint, _position, column, referenced_db, referenced_table, referenced_column in _select(
            cur, _FOREIGN_KEYS_SQL, server_keys):
        key_parts[(db, name)][constraint].append((column, referenced_db, referenced_table, referenced_column))
    foreign_keys = defaultdict(tuple)
    for server_key, by_constraint in key_parts.items():
        foreign_keys[server_key] = tuple(
            ForeignKey(tuple(p[0] for p in parts), parts[0][1], parts[0][2], tuple(p[3] for p in parts))
            for _, parts in sorted(by_constraint.items()))
    return foreign_keys


_TABLES_SQL = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, ENGINE, TABLE_ROWS, ROW_FORMAT FROM information_schema.TABLES "
    "WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND {where}"
)
_COLUMNS_SQL = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, EXTRA, "
    "CHARACTER_MAXIMUM_LENGTH, CHARACTER_SET_NAME "
    "FROM information_schema.COLUMNS WHERE {where} ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
)
_STATISTICS_SQL = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, CARDINALITY "
    "FROM information_schema.STATISTICS WHERE {where} "
    "ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
)

_FOREIGN_KEYS_SQL = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION, COLUMN_NAME, REFERENCED_TABLE_SCHEMA, "
    "REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
    "WHERE REFERENCED_TABLE_NAME IS NOT NULL AND {where} "
    "ORDER BY TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION"
)


def _select(cur, template: str, keys: list[tuple[str, str]]) -> list[tuple]:
    """Rows of `template` for the given (database, table) pairs, in chunks, text columns decoded."""
    rows: list[tuple] = []
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        databases = sorted({db for db, _ in chunk})
        names = sorted({name for _, name in chunk})
        where = "TABLE_SCHEMA IN ({}) AND TABLE_NAME IN ({})".format(
            ", ".join(["%s"] * len(databases)), ", ".join(["%s"] * len(names)))
        cur.execute(template.format(where=where), databases + names)
        rows.extend(tuple(_text(value) for value in row) for row in cur.fetchall())
    wanted = {(db.lower(), name.lower()) for db, name in keys}
    return [row for row in rows if (row[0].lower(), row[1].lower()) in wanted]


def _match(key: tuple[str, str], candidates: Iterable[tuple[str, str]], fold: bool) -> tuple[str, str] | None:
    candidates = list(candidates)
    if key in candidates:
        return key
    if fold:
        for candidate in candidates:
            if (candidate[0].lower(), candidate[1].lower()) == (key[0].lower(), key[1].lower()):
                return candidate
    return None


def _text(value):
    # MySQL 8 returns some information_schema columns as binary strings.
    return value.decode("utf-8", errors="replace") if isinstance(value, (bytes, bytearray)) else value


def _int(value) -> int | None:
    return int(value) if value is not None else None


def _one_line(exc: Exception) -> str:
    return error_text(exc)[:300]
