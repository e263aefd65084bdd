"""Rows an equality returns, from the best source there is, and the name of that source.

`equality_values` reads the captured values of a statement's `column = literal` conditions on one
table. `measured_rows` and `statistics_rows` answer "how many rows match these values?" from a bounded
count (analyze/statistics.py) or the server's statistics; advise/measurements.py runs the counts the
advisor will need, before it runs.
"""

from __future__ import annotations

import math
from functools import lru_cache

from sqlglot import exp

from query_audit.advise.plan_facts import bare_name
from query_audit.analyze.sql_model import parse_statement
from query_audit.analyze.statistics import histogram_share
from query_audit.model import AnalyzedQuery, TableSchema

# An equality returning more than this share of a table makes a poor index on its own: the optimizer
# prefers the scan (InnoDB's cost model switches at roughly 20-30% for a secondary index).
LOW_SELECTIVITY = 0.25
SOURCES = ("measured", "statistics", "guessed")


@lru_cache(maxsize=4096)
def _equalities(sql: str) -> tuple[tuple[str, str, str], ...]:
    """(table or alias, column, value) of each `column = literal` in the statement's WHERE/ON."""
    try:
        tree = parse_statement(sql)  # the tree the statement's model was built from, when the text is the same
    except Exception:  # noqa: BLE001 - sqlglot raises assorted errors; no tree, no values
        return ()
    found = []
    for node in tree.find_all(exp.EQ):
        column, value = node.this, node.expression
        if not isinstance(column, exp.Column):
            column, value = value, column
        if isinstance(value, exp.Neg) and isinstance(value.this, exp.Literal):
            literal = "-" + value.this.name
        elif isinstance(value, exp.Literal):
            literal = value.name
        else:
            continue
        if isinstance(column, exp.Column):
            found.append((column.table.lower(), column.name.lower(), literal))
    return tuple(found)


def equality_values(query: AnalyzedQuery, table: str) -> dict[str, str]:
    """Column (lower case) -> the captured value it is compared with, for `table` (as EXPLAINed)."""
    sql = (query.plan.explained_sql if query.plan and query.plan.explained_sql else query.group.sample.sql)
    wanted = bare_name(table)
    names = {wanted} | {alias.lower() for alias, name in query.model.aliases if bare_name(name) == wanted}
    own = {use.column.lower() for use in query.model.uses(table, "eq")}
    values: dict[str, str] = {}
    for qualifier, column, literal in _equalities(sql):
        if (qualifier in names) or (not qualifier and column in own):
            values.setdefault(column, literal)
    return values


def measured_rows(schema: TableSchema, columns: tuple[str, ...], values: dict[str, str]) -> tuple[int, str] | None:
    """(rows, basis) from a measurement of exactly these columns and captured values, if one was made."""
    wanted = tuple(name.lower() for name in columns)
    if not wanted or any(name not in values for name in wanted):
        return None
    for measurement in schema.measured:
        if tuple(c.lower() for c in measurement.columns) == wanted and measurement.rows is not None and \
                measurement.values == tuple(values[name] for name in wanted):
            how = (f"a count over a {measurement.sampled}-row sample, scaled" if measurement.sampled else
                   f"at least {measurement.rows} (the count's cap)" if measurement.at_least else
                   "a bounded count of the captured values")
            shown = ", ".join(f"{c} = {v}" for c, v in zip(measurement.columns, measurement.values))
            return measurement.rows, f"measured: {shown} matches {measurement.rows} rows ({how}, " \
                                     f"{measurement.seconds:.2f} s)"
    return None


def statistics_rows(schema: TableSchema, columns: tuple[str, ...], values: dict[str, str],
                    size: int) -> tuple[int, str] | None:
    """(rows, basis) from the server's column statistics, assuming the columns are independent."""
    share, sources = 1.0, []
    for name in columns:
        stats = schema.column_statistics(name)
        if stats is None:
            return None
        value = values.get(name.lower())
        from_histogram = histogram_share(stats, value) if value is not None else None
        if from_histogram is not None:
            share *= from_histogram
            sources.append(f"histogram of {name} in {stats.source}")
        elif stats.rows_per_value:
            share *= min(stats.rows_per_value / max(size, 1), 1.0)
            sources.append(f"avg_frequency of {name} in {stats.source}")
        else:
            return None
    return max(1, math.ceil(size * share)), "statistics: " + "; ".join(sources)


def index_statistics_rows(schema: TableSchema, columns: tuple[str, ...], size: int) -> tuple[int, str] | None:
    """(rows, basis) from an existing index whose leading columns are these: mysql.index_stats, else
    information_schema.STATISTICS.CARDINALITY."""
    wanted = {name.lower() for name in columns}
    for index in schema.indexes:
        prefix = {name.lower() for name in index.column_names[:len(wanted)]}
        if prefix != wanted or len(index.columns) < len(wanted):
            continue
        for stats in schema.index_stats:
            if stats.index == index.name and stats.prefix == len(wanted):
                return max(1, math.ceil(stats.rows_per_value)), \
                    f"statistics: avg_frequency of index {index.name} in mysql.index_stats"
        cardinality = index.columns[len(wanted) - 1].cardinality
        if cardinality:
            return math.ceil(size / cardinality), f"statistics: rows / cardinality of index {index.name}"
    return None


def rows_matching(schema: TableSchema, columns: tuple[str, ...], values: dict[str, str],
                  size: int) -> tuple[int, str, str] | None:
    """(rows, basis, source) an equality on `columns` returns: measured first, then statistics."""
    for finder, source in ((lambda: measured_rows(schema, columns, values), "measured"),
                           (lambda: statistics_rows(schema, columns, values, size), "statistics"),
                           (lambda: index_statistics_rows(schema, columns, size), "statistics")):
        found = finder()
        if found:
            return found[0], found[1], source
    return None


def low_selectivity(schema: TableSchema, column: str, values: dict[str, str], size: int) -> tuple[float, str] | None:
    """(share of the table, basis) when an equality on `column` alone returns more than LOW_SELECTIVITY."""
    found = rows_matching(schema, (column,), values, size)
    if found is None or size <= 0:
        return None
    share = found[0] / size
    return (share, found[1]) if share > LOW_SELECTIVITY else None
