"""Facts the rules share: which plan rows read a table, how big the table is, which keys a statement pins.

Plan rows name a table by its alias (`orders o` shows as `o`); `plan_rows_for` maps aliases back to the
table the statement model names, by the model's aliases (analyze/sql_model.py resolves them, once).
"""

from __future__ import annotations

from dataclasses import asdict

from query_audit.identifiers import qualified_name, quote_identifier  # noqa: F401 - quote_identifier re-exported
from query_audit.model import (
    AnalyzedQuery,
    Index,
    PlanRow,
    SchemaMap,
    Severity,
    TableSchema,
    table_key,
)

# Access types that read every row of a table (`index` is a full scan of an index's leaves).
SCAN_ACCESS = ("ALL", "index")
# Access types that fetch at most one row by a primary or unique key.
KEYED_ACCESS = ("const", "eq_ref", "system")
STRING_TYPES = ("char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set")


def bare_name(table: str) -> str:
    """`shop.orders` -> `orders`, lower-cased, backticks removed."""
    return table.replace("`", "").split(".")[-1].lower()


def _reads(query: AnalyzedQuery, row: PlanRow) -> tuple[str, ...]:
    """The bare names of the tables a plan row may read: the row names a table by its alias, which the
    statement's model resolves (several when two query blocks give one alias to different tables)."""
    if not row.table or row.table.startswith("<"):  # <derived2>, <union1,2>, <subquery3>: no stored table
        return ()
    shown = row.table.lower()
    model = query.model
    named = model.tables_named(row.table) if model is not None else ()
    return tuple(dict.fromkeys([*(bare_name(table) for table in named), shown]))


def plan_rows_for(query: AnalyzedQuery, table: str) -> tuple[PlanRow, ...]:
    """The plan rows that read `table` (aliases resolved); derived and temporary tables excluded.

    The one plan-row lookup: the rules, the index advisor, the shadow check and every report use it, so a
    report shows the plan row a rule judged."""
    if query.plan is None:
        return ()
    wanted = bare_name(table)
    return tuple(row for row in query.plan.rows if wanted in _reads(query, row))


def schema_for(query: AnalyzedQuery, table: str, schemas: SchemaMap) -> TableSchema | None:
    return schemas.get(table_key(table, query.group.sample.database))


def table_of_plan_row(query: AnalyzedQuery, row: PlanRow) -> str | None:
    """The model's name for the table a plan row reads, or None for derived/temporary tables."""
    reads = _reads(query, row)
    if not reads:
        return None
    for table in query.model.tables:
        if bare_name(table) == reads[0]:
            return table
    return row.table


def is_insert_values_row(row: PlanRow) -> bool:
    """MariaDB shows `INSERT ... VALUES` as type ALL with rows NULL: that is not a scan."""
    return row.select_type.upper() in ("INSERT", "REPLACE") or (row.access_type == "ALL" and row.rows is None)


def is_full_scan(row: PlanRow) -> bool:
    return row.access_type in SCAN_ACCESS and not is_insert_values_row(row)


def table_rows(schema: TableSchema | None, row: PlanRow | None = None) -> int:
    """The table's size: the larger of the server's estimate and the plan's row count."""
    sizes = [schema.rows if schema else None, row.rows if row else None]
    return max((size for size in sizes if size is not None), default=0)


def rows_examined(row: PlanRow, schema: TableSchema | None) -> int:
    """Rows one execution reads from this table: the plan's figure, else the table's size."""
    return row.rows if row.rows is not None else table_rows(schema)


def plan_row_evidence(row: PlanRow) -> dict:
    """A plan row as plain values for the report, without the empty fields."""
    return {key: value for key, value in asdict(row).items() if value not in (None, "", (), False)}


def unique_keys(schema: TableSchema) -> tuple[Index, ...]:
    return tuple(index for index in schema.indexes if index.primary or index.unique)


def pins_unique_key(query: AnalyzedQuery, table: str, schema: TableSchema | None) -> bool:
    """True when the WHERE fixes every column of a primary or unique key (or the plan says const/eq_ref).

    `id IN (1, 2, 3)` on the primary key counts: it locks exactly the rows it names.
    """
    if any(row.access_type in KEYED_ACCESS for row in plan_rows_for(query, table)):
        return True
    if schema is None:
        return False
    pinned = {use.column.lower() for use in query.model.uses(table, "eq")}
    listed = {use.column.lower() for use in query.model.uses(table, "in")}
    for index in unique_keys(schema):
        columns = {name.lower() for name in index.column_names}
        if columns and columns <= pinned:
            return True
        if index.primary and columns and columns <= pinned | listed:
            return True
    return False


def is_implicit_conversion(detail: str, schema: TableSchema | None, column: str) -> bool:
    """A string column compared with a number: the server converts every row, so no index applies."""
    if schema is None or "number" not in detail.lower():
        return False
    found = schema.column(column)
    return found is not None and found.data_type.lower() in STRING_TYPES


def qualified(schema: TableSchema) -> str:
    """`db`.`table` for DDL (just `table` when the database is unknown)."""
    return qualified_name(schema.database, schema.name)


def severity_by_rows(rows: int, thresholds, *, small: Severity = Severity.INFO,
                     middle: Severity = Severity.MEDIUM, large: Severity = Severity.HIGH) -> Severity:
    """`small` below thresholds.full_scan_rows, `large` from thresholds.large_scan_rows, else `middle`."""
    if rows >= thresholds.large_scan_rows:
        return large
    if rows >= thresholds.full_scan_rows:
        return middle
    return small


def where_columns(query: AnalyzedQuery, table: str) -> tuple[str, ...]:
    """The columns the WHERE/JOIN of a statement filters `table` on, in the model's order."""
    roles = ("eq", "in", "range", "is_null", "like_prefix", "join", "not_sargable")
    return tuple(dict.fromkeys(use.column for use in query.model.uses(table, *roles)))
