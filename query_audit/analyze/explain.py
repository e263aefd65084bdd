"""EXPLAIN: the plan of each distinct statement, as one `Plan` model for MySQL 8 and MariaDB.

`parse_traditional` turns either server's output into `PlanRow`s. `explain_query` runs
EXPLAIN safely on a live server.

The rows are returned as the server printed them; the advisor interprets them. Known MariaDB 10.11
traps it must know about (checked on 10.11 here):
- `EXPLAIN INSERT ... VALUES` prints type ALL with rows NULL: there is no scan, only the insert.
  Its JSON form has no access_type at all (access_type None).
- `EXPLAIN UPDATE ... WHERE unindexed_col = ?` prints type `index`, key PRIMARY: a full scan of the
  clustered index, which is still a full table scan.
- The traditional `rows` column arrives as text ('199'); it is converted to int here.

Safety of `explain_query` (it runs on servers that matter):
- EXPLAIN runs the functions of derived tables, CTEs and subqueries: `explain_guard` refuses every
  statement with a call it cannot prove to be an inert built-in (stored functions, UDFs, sequences,
  SLEEP, GET_LOCK, ...), and bounds the connection's time and lock waits. See its docstring.
- Only SELECT/INSERT/UPDATE/DELETE/REPLACE are explained, and the text sent always starts with
  `EXPLAIN `; a statement that itself starts with EXPLAIN, ANALYZE or anything else (including inside
  a leading `/*! ... */`, which the server executes) is refused: `EXPLAIN ANALYZE` (MySQL) and
  `ANALYZE stmt` (MariaDB) would run it. Several statements in one, and `INTO OUTFILE/DUMPFILE`,
  are refused too.
- Each EXPLAIN runs inside `START TRANSACTION READ ONLY` ... `ROLLBACK`. Servers refuse EXPLAIN of a
  write, and of a locking read (`FOR UPDATE`), in a read-only transaction: MariaDB 10.11 answers error
  1792 (measured here); MySQL 8 checks the same when it opens tables for writing. Those are explained
  again inside a plain `START TRANSACTION` ... `ROLLBACK`, only ever after the guard proved every call in
  them inert: EXPLAIN never executes the write itself, and what it evaluates (subqueries, built-ins)
  writes nothing. EXPLAINing the equivalent SELECT instead would lose the write's own plan (MariaDB's
  UPDATE scans the PRIMARY index where the SELECT does not), which the write rules read. The connection
  must not be inside a transaction of its own (START TRANSACTION would commit it); `connection.connect`
  opens autocommit connections.

Format: the traditional one, stated explicitly on MySQL (`FORMAT=TRADITIONAL`; newer MySQL versions
changed the default) and MariaDB's plain EXPLAIN (traditional). JSON is not asked for as well: it
would double the round trips, and the traditional rows already carry every field of `PlanRow` on
both servers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pymysql
import sqlglot
from sqlglot import exp

from query_audit.analyze import explain_guard as guard
from query_audit.driver import READ_ONLY_REFUSED, error_code, is_connection_lost
from query_audit.errors import ConnectionFailed, QueryAuditError
from query_audit.identifiers import quote_identifier as _quote
from query_audit.model import Kind, Plan, PlanRow, QueryGroup, SchemaMap, StatementModel, table_key
from query_audit.sql_text import code_only, placeholder_positions

# ---------------------------------------------------------------------------------------------
# Traditional EXPLAIN
# ---------------------------------------------------------------------------------------------


def parse_traditional(columns: list[str], rows: list[tuple]) -> Plan:
    """Plan from a traditional EXPLAIN result set: MySQL 8 (12 columns) or MariaDB (10, or 11 with
    `filtered` or `partitions`). Columns are matched by name; NULL is None.

    >>> plan = parse_traditional(["id", "select_type", "table", "type", "possible_keys", "key", "key_len",
    ...                           "ref", "rows", "Extra"], [(1, "SIMPLE", "o", "ALL", None, None, None, None,
    ...                           "199", "Using where; Using filesort")])
    >>> plan.rows[0].access_type, plan.rows[0].rows, plan.rows[0].using_filesort
    ('ALL', 199, True)
    """
    names = [str(c).lower() for c in columns]
    plan_rows = []
    for row in rows:
        values = dict(zip(names, row))
        extra = _text(values.get("extra")) or ""
        access_type, _ = _split_filter(values.get("type"))
        key, filter_key = _split_filter(values.get("key"))
        key_len, _ = _split_filter(values.get("key_len"))
        examined, percent = parse_rows(values.get("rows"))
        plan_rows.append(PlanRow(
            table=_text(values.get("table")),
            access_type=access_type,
            select_id=_int(values.get("id")),
            select_type=_text(values.get("select_type")) or "SIMPLE",
            possible_keys=tuple(k for k in (_text(values.get("possible_keys")) or "").split(",") if k),
            key=key,
            key_len=key_len,
            ref=_text(values.get("ref")),
            rows=examined,
            filtered=_float(values.get("filtered")),
            extra=extra,
            **_extra_flags(extra),
            rowid_filter=filter_key,
            rowid_filter_percent=percent,
        ))
    return Plan(rows=tuple(plan_rows), format="traditional")


_ROWS_WITH_FILTER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:\((\d+(?:\.\d+)?)%\))?\s*$")


def parse_rows(value) -> tuple[int | None, float | None]:
    """The `rows` column in every form the servers print: `199`, 199, NULL, and MariaDB's rowid filter
    `5 (3%)` (5 rows read through the key, of which the filter keeps 3% before reading them).

    >>> parse_rows("5 (3%)"), parse_rows("199"), parse_rows(None)
    ((5, 3.0), (199, None), (None, None))
    """
    text = _text(value)
    if text is None or isinstance(text, (int, float)):
        return _int(text), None
    match = _ROWS_WITH_FILTER.match(str(text))
    if not match:
        return _int(text), None
    return _int(match.group(1)), _float(match.group(2))


def _split_filter(value) -> tuple[str | None, str | None]:
    """MariaDB prints a rowid filter as a second part: type `ref|filter`, key `a|b`, key_len `5|4`."""
    text = _text(value)
    if not isinstance(text, str) or "|" not in text:
        return text, None
    first, second = text.split("|", 1)
    return first or None, second or None


def _extra_flags(extra: str) -> dict:
    parts = [part.strip() for part in extra.split(";")]
    return {
        "using_filesort": "Using filesort" in parts,
        "using_temporary": "Using temporary" in parts,
        # Covering: "Using index", and its loose-scan forms (for group-by, for skip scan). Not "Using
        # index condition", which is index condition pushdown and still reads the rows.
        "using_index": any(part == "Using index" or part.startswith("Using index for ") for part in parts),
    }


# ---------------------------------------------------------------------------------------------
# explain_query
# ---------------------------------------------------------------------------------------------

_EXPLAINABLE_KINDS = {Kind.SELECT, Kind.INSERT, Kind.UPDATE, Kind.DELETE, Kind.REPLACE}
_EXPLAINABLE_WORDS = {"SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "REPLACE", "("}


def explain_query(conn, group: QueryGroup, model: StatementModel,
                  schemas: SchemaMap, hint: str | None = None) -> tuple[Plan | None, str | None]:
    """The plan of the group's sample statement, or None and the reason there is none.

    Server errors (privilege, unknown table, syntax) become the reason; a lost connection raises
    ConnectionFailed. `?` placeholders (a MariaDB Execute logged with them) are filled with a value
    sampled from the compared column, else a default of the column's type.
    """
    statement = group.sample
    if statement.truncated:  # half a statement: its plan would be another statement's, or an error
        return None, "not EXPLAINed: performance_schema cut its text at performance_schema_max_sql_text_length"
    sql = statement.sql.strip().rstrip(";").rstrip()
    refusal = _refusal(sql, model)
    if refusal:
        return None, refusal
    database = statement.database or (group.databases[0] if group.databases else None)
    views = guard.session_views(conn)  # hardens the connection on first use
    refusal = views if isinstance(views, str) else guard.refusal(sql, model, views, conn, database)
    if refusal:
        return None, refusal
    if not database and any("." not in table for table in model.tables):
        return None, "database unknown for unqualified tables; cannot EXPLAIN"

    if database:
        try:
            conn.select_db(database)
        except pymysql.err.MySQLError as exc:
            if is_connection_lost(exc):
                raise ConnectionFailed(f"lost the connection during EXPLAIN: {_one_line(exc)}") from None
            return None, f"cannot use database {database}: {_one_line(exc)}"
    try:
        filled = False
        # Flagged by the capture (a MariaDB Execute), but a `?` outside strings can only be a placeholder.
        if statement.placeholders or placeholder_positions(sql):
            sql = fill_placeholders(conn, sql, model, schemas, database)
            filled = True
            refusal = guard.refusal(sql, model, views, conn, database)  # the filled values: proven, not assumed
            if refusal:
                return None, refusal
        text = ("EXPLAIN " if guard.is_mariadb(conn) else "EXPLAIN FORMAT=TRADITIONAL ") + with_hint(sql, hint)
        columns, rows = _run_explain(conn, text)
    except pymysql.err.MySQLError as exc:
        if is_connection_lost(exc):
            raise ConnectionFailed(f"lost the connection during EXPLAIN: {_one_line(exc)}") from None
        return None, f"EXPLAIN failed: {_one_line(exc)}"
    plan = parse_traditional(columns, rows)
    return Plan(rows=plan.rows, format="traditional", explained_sql=sql, filled_placeholders=filled), None


_HINTABLE = re.compile(r"\b(SELECT|UPDATE|DELETE|INSERT|REPLACE)\b", re.IGNORECASE)


def with_hint(sql: str, hint: str | None) -> str:
    """`sql` with an optimizer hint comment (`/*+ ... */`) right after its first statement keyword, where
    MySQL reads hints; keywords inside strings and comments are skipped.

    >>> with_hint("SELECT * FROM t WHERE a = 'SELECT'", "SET_VAR(optimizer_switch='use_invisible_indexes=on')")
    "SELECT /*+ SET_VAR(optimizer_switch='use_invisible_indexes=on') */ * FROM t WHERE a = 'SELECT'"
    """
    if not hint:
        return sql
    match = _HINTABLE.search(code_only(sql))
    if match is None:
        return sql
    return f"{sql[:match.end()]} /*+ {hint} */{sql[match.end():]}"


def _refusal(sql: str, model: StatementModel) -> str | None:
    """Why this statement must not be EXPLAINed, or None."""
    if model.kind not in _EXPLAINABLE_KINDS:
        return f"not explained: {model.kind.value} statements have no plan"
    code = code_only(sql)
    words = code.replace("(", " ( ").split()
    first = words[0].upper() if words else ""
    if first in ("EXPLAIN", "ANALYZE", "DESCRIBE", "DESC"):
        return f"not explained: the statement starts with {first}, which would run it"
    if first not in _EXPLAINABLE_WORDS:
        return f"not explained: a statement starting with {first or 'nothing'} has no plan"
    if ";" in code:
        return "not explained: several statements in one"
    if re.search(r"\bINTO\s+(OUTFILE|DUMPFILE)\b", code, re.IGNORECASE):
        return "not explained: SELECT ... INTO OUTFILE writes a file"
    return None


def _run_explain(conn, text: str) -> tuple[list[str], list[tuple]]:
    """EXPLAIN in a read-only transaction, or a rolled-back one where the server refuses read-only
    (writes: only ever reached after `explain_guard` proved every call in them inert), with a time limit."""
    if not text.startswith("EXPLAIN ") or text.split()[1].upper() in ("ANALYZE", "EXPLAIN"):
        raise QueryAuditError("refusing to send anything but a plain EXPLAIN")  # a bug here, never input
    text = guard.bounded(conn, text)
    try:
        return _explain_in_transaction(conn, text, "START TRANSACTION READ ONLY")
    except pymysql.err.MySQLError as exc:
        if error_code(exc) not in READ_ONLY_REFUSED:
            raise
    return _explain_in_transaction(conn, text, "START TRANSACTION")


def _explain_in_transaction(conn, text: str, start: str) -> tuple[list[str], list[tuple]]:
    with conn.cursor() as cur:
        cur.execute(start)
        try:
            cur.execute(text)
            columns = [d[0] for d in cur.description or ()]
            return columns, list(cur.fetchall())
        finally:
            cur.execute("ROLLBACK")


# ---------------------------------------------------------------------------------------------
# Filling placeholders
# ---------------------------------------------------------------------------------------------


def fill_placeholders(conn, sql: str, model: StatementModel, schemas: SchemaMap, database: str | None) -> str:
    """`sql` with each `?` replaced by a representative literal.

    A `?` compared with a column gets a value sampled from that column (`SELECT col FROM db.t WHERE col
    IS NOT NULL LIMIT 1`), or a default of the column's type; `LIMIT ?` gets 10 and `OFFSET ?` 0;
    anything else '0' (MySQL converts it to a number where one is needed).
    """
    positions = placeholder_positions(sql)
    targets = _placeholder_targets(sql, positions, model, schemas, database)
    if len(targets) != len(positions):  # sqlglot could not see them all: no column context
        targets = [_limit_context(sql, position) for position in positions]
    samples: dict[tuple, str] = {}
    pieces, last = [], 0
    for position, target in zip(positions, targets):
        pieces.append(sql[last:position])
        pieces.append(_literal_for(conn, target, schemas, samples))
        last = position + 1
    pieces.append(sql[last:])
    return "".join(pieces)


@dataclass(frozen=True)
class _Target:
    """What a placeholder stands for: a column of a table (compared, or written), or a LIMIT."""

    table_key: tuple[str, str] | None = None
    column: str | None = None
    sample: bool = False  # compared with the column: a real value makes the plan realistic
    literal: str | None = None  # fixed text (LIMIT/OFFSET)


def _limit_context(sql: str, position: int) -> _Target:
    """Without a parse tree: LIMIT/OFFSET placeholders by the words before them, others unknown."""
    before = code_only(sql[:position]).rstrip().upper()
    if re.search(r"\bOFFSET$", before):
        return _Target(literal="0")
    if re.search(r"\bLIMIT(\s+[\w?]+\s*,)?$", before):
        return _Target(literal="10")
    return _Target()


def _placeholder_targets(sql: str, positions: list[int], model: StatementModel, schemas: SchemaMap,
                         database: str | None) -> list[_Target]:
    """One target per placeholder, in text order, from sqlglot's tree of the statement.

    The tree's order is not the text's (sqlglot keeps LIMIT before WHERE), so each `?` is first
    renamed `:qa<n>` by its position, and matched back by that name.
    """
    marked, last = [], 0
    for number, position in enumerate(positions):
        marked.append(f"{sql[last:position]} :qa{number} ")
        last = position + 1
    marked.append(sql[last:])
    try:
        tree = sqlglot.parse_one("".join(marked), read="mysql")
    except Exception:  # noqa: BLE001 - sqlglot raises assorted errors; no tree means no column context
        return []

    def key_of(column) -> tuple[str, str] | None:
        if column.table:
            named = model.tables_named(column.table)  # the model's aliases: the marked copy has the same
            return table_key(named[0], database) if named else None
        for name in model.tables:  # the schema says which table has the column
            schema = schemas.get(table_key(name, database))
            if schema is None or schema.column(column.name) is not None:
                return table_key(name, database)
        return None

    targets: dict[str, _Target] = {}
    for node in tree.find_all(exp.Placeholder):
        parent = node.parent
        while isinstance(parent, (exp.Paren, exp.Neg, exp.Cast)):
            parent = parent.parent
        targets[node.name] = _target_of(parent, tree, node, key_of, schemas, database)
    wanted = [f"qa{number}" for number in range(len(positions))]
    return [targets[name] for name in wanted] if set(wanted) <= set(targets) else []


_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.Like, exp.In, exp.Between)


def _target_of(parent, tree, node, key_of, schemas: SchemaMap, database: str | None) -> _Target:
    """A placeholder's target from the expression it sits in."""
    if isinstance(parent, (exp.Limit, exp.Offset)):
        return _Target(literal="0" if isinstance(parent, exp.Offset) else "10")
    if isinstance(parent, _COMPARISONS):
        subject = parent.this
        while isinstance(subject, exp.Paren):
            subject = subject.this
        other = parent.args.get("expression")
        column = subject if isinstance(subject, exp.Column) else other if isinstance(other, exp.Column) else None
        if column is not None:
            return _Target(key_of(column), column.name, sample=True)
    if isinstance(parent, exp.Tuple) and isinstance(parent.parent, exp.Values):
        return _insert_target(tree, parent, node, schemas, database)
    return _Target()


def _insert_target(tree, row, node, schemas: SchemaMap, database: str | None) -> _Target:
    """The column an INSERT ... VALUES (?, ...) placeholder is written to (a typed default will do)."""
    target = tree.this
    table = target.this if isinstance(target, exp.Schema) else target
    if not isinstance(table, exp.Table):
        return _Target()
    key = table_key(f"{table.db}.{table.name}" if table.db else table.name, database)
    index = next((i for i, item in enumerate(row.expressions) if item is node), None)
    if index is None:
        return _Target()
    if isinstance(target, exp.Schema):
        names = [identifier.name for identifier in target.expressions]
    else:
        schema = schemas.get(key)
        names = [column.name for column in schema.columns] if schema else []
    return _Target(key, names[index]) if index < len(names) else _Target()


def _literal_for(conn, target: _Target, schemas: SchemaMap, samples: dict) -> str:
    if target.literal is not None:
        return target.literal
    if target.table_key is None or target.column is None:
        return "'0'"
    if target.sample:
        cache_key = (target.table_key, target.column.lower())
        if cache_key not in samples:
            samples[cache_key] = _sample(conn, target.table_key, target.column)
        if samples[cache_key] is not None:
            return samples[cache_key]
    schema = schemas.get(target.table_key)
    column = schema.column(target.column) if schema else None
    return _typed_default(column.data_type if column else "")


def _sample(conn, key: tuple[str, str], column: str) -> str | None:
    """A real value of the column as an SQL literal, or None (empty table, no such column, refused)."""
    database, table = key
    source = f"{_quote(database)}.{_quote(table)}" if database else _quote(table)
    with conn.cursor() as cur:
        try:
            sample = f"SELECT {_quote(column)} FROM {source} WHERE {_quote(column)} IS NOT NULL LIMIT 1"
            cur.execute(guard.bounded(conn, sample))
            row = cur.fetchone()
        except pymysql.err.MySQLError as exc:
            if is_connection_lost(exc):
                raise
            return None
    return conn.escape(row[0]) if row else None


_NUMERIC = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "float",
            "double", "real", "bit", "year", "bool", "boolean"}
_TEMPORAL = {"date": "'2000-01-01'", "datetime": "'2000-01-01 00:00:00'", "timestamp": "'2000-01-01 00:00:00'",
             "time": "'00:00:00'"}


def _typed_default(data_type: str) -> str:
    data_type = data_type.lower()
    if data_type in _NUMERIC:
        return "0"
    if data_type in _TEMPORAL:
        return _TEMPORAL[data_type]
    if data_type:
        return "''"
    return "'0'"




# ---------------------------------------------------------------------------------------------
# Small conversions
# ---------------------------------------------------------------------------------------------


def _one_line(exc: Exception) -> str:
    code = error_code(exc)
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    text = (text.strip().splitlines() or [""])[0][:300]
    return f"{text} (error {code})" if code else text


def _text(value):
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    return value


def _int(value) -> int | None:
    value = _text(value)
    if value is None or value == "" or value == "NULL":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return None


def _float(value) -> float | None:
    value = _text(value)
    if value is None or value == "" or value == "NULL":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
