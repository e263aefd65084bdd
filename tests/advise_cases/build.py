"""Small builders so each advisor test reads as (statement, schema, plan) and nothing else."""

from __future__ import annotations

import hashlib
from pathlib import Path

from query_audit.analyze.sql_model import describe
from query_audit.model import (
    AnalyzedQuery,
    Column,
    Index,
    IndexColumn,
    Plan,
    PlanRow,
    QueryGroup,
    Repetition,
    Statement,
    TableSchema,
)

DB = "shop"


def table(name: str, rows: int, columns: dict[str, str], indexes: dict[str, tuple] | None = None,
          unique: tuple[str, ...] = (), cardinality: dict[str, int] | None = None) -> TableSchema:
    """A table: `columns` name -> data type; `indexes` name -> column names (PRIMARY is unique)."""
    indexes = {"PRIMARY": ("id",)} if indexes is None else indexes
    cardinality = cardinality or {}
    built = tuple(
        Index(name, tuple(IndexColumn(c, cardinality=cardinality.get(f"{name}.{c}")) for c in cols),
              unique=name == "PRIMARY" or name in unique)
        for name, cols in indexes.items())
    return TableSchema(DB, name, rows, tuple(Column(c, t) for c, t in columns.items()), built)


def schemas(*tables: TableSchema) -> dict:
    return {(t.database, t.name): t for t in tables}


def row(table: str | None, access: str | None, rows: int | None = None, *, key: str | None = None,
        select_type: str = "SIMPLE", select_id: int = 1, filesort: bool = False, temporary: bool = False,
        filtered: float | None = None) -> PlanRow:
    return PlanRow(table, access, select_id=select_id, select_type=select_type, key=key, rows=rows,
                   filtered=filtered, using_filesort=filesort, using_temporary=temporary)


def query(sql: str, *plan_rows: PlanRow, count: int = 1, repetitions: tuple[Repetition, ...] = (),
          after_write: int = 0, query_time: float | None = None, error: str | None = None,
          explained: bool = True) -> AnalyzedQuery:
    """An analyzed query: the model from describe(sql), the given plan rows (none: no plan)."""
    model = describe(sql)
    group_id = hashlib.md5(sql.encode()).hexdigest()[:16].upper()
    group = QueryGroup(group_id, sql.lower(), model.kind, count, Statement(sql, database=DB),
                       repetitions=repetitions, after_write_count=after_write, total_query_time=query_time)
    plan = Plan(tuple(plan_rows)) if plan_rows and explained else None
    return AnalyzedQuery(group, model, plan, error)


def loop(unit: str, samples: list[str], distinct: int | None = None) -> Repetition:
    return Repetition(unit, len(samples), len(set(samples)) if distinct is None else distinct, tuple(samples))


def traditional_plan(path: Path) -> tuple[PlanRow, ...]:
    """PlanRows from a recorded MySQL 8 traditional EXPLAIN (.tsv: `-- ` lines, header, TAB rows)."""
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("-- ")]
    header = lines[0].split("\t")
    rows = []
    for line in lines[1:]:
        cell = {name: (None if value == "NULL" else value) for name, value in zip(header, line.split("\t"))}
        extra = cell.get("Extra") or ""
        rows.append(PlanRow(
            cell["table"], cell["type"], select_id=int(cell["id"]) if cell["id"] else None,
            select_type=cell["select_type"], key=cell["key"], ref=cell["ref"],
            rows=int(cell["rows"]) if cell["rows"] else None,
            filtered=float(cell["filtered"]) if cell.get("filtered") else None, extra=extra,
            using_filesort="Using filesort" in extra, using_temporary="Using temporary" in extra,
            using_index="Using index" in extra.replace("Using index condition", "")))
    return tuple(rows)
