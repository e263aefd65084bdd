"""The bounded counts the index advisor will read, run before it runs (`collect_measurements`).

Apart from estimates.py because it asks index_advisor which columns a candidate index compares, and
index_advisor reads estimates' answers: here, neither imports the other in a circle.
"""

from __future__ import annotations

from dataclasses import replace

from query_audit.advise.estimates import equality_values
from query_audit.advise.index_advisor import query_candidates
from query_audit.advise.plan_facts import table_rows
from query_audit.analyze.statistics import Budget, MeasureLimits, measure
from query_audit.model import SchemaMap, Thresholds, table_key


def collect_measurements(conn, queries, schemas: SchemaMap, thresholds: Thresholds, flavor: str,
                         limits: MeasureLimits) -> SchemaMap:
    """`schemas` with a bounded count for each captured equality an index decision depends on.

    Only tables of at least `thresholds.full_scan_rows` rows, only where all compared values were
    captured, each (table, columns, values) once, until the time budget is spent.
    """
    budget = Budget(limits.budget_seconds)
    done: dict[tuple, object] = {}
    for query in queries:
        if not query.model.parsed or query.plan is None:
            continue
        for table in query.model.tables:
            key = table_key(table, query.group.sample.database)
            schema = schemas.get(key)
            if schema is None or table_rows(schema) < thresholds.full_scan_rows:
                continue
            values = equality_values(query, table)
            for candidate in query_candidates(query, table, schema):
                wanted = [name for name in candidate.equality if name.lower() in values]
                groups = {tuple(wanted)} | {(name,) for name in wanted}
                for columns in sorted(group for group in groups if group):
                    job = (key, tuple(c.lower() for c in columns), tuple(values[c.lower()] for c in columns))
                    if job in done:
                        continue
                    done[job] = measure(conn, schemas[key], columns, job[2], flavor, limits, budget)
                    schemas[key] = replace(schemas[key], measured=schemas[key].measured + (done[job],))
    return schemas
