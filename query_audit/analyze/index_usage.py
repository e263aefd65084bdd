"""How much each index of the touched tables was used, from performance_schema: the evidence of the
`unused_index` rule.

`table_io_waits_summary_by_index_usage` counts the row operations done through each index since the
server started (or the table was first opened, or the table was truncated); INDEX_NAME NULL is the I/O that
used no index. It means something only after a representative uptime, so the uptime is read with it.
Without performance_schema, or without the privilege, the schemas come back unchanged (no evidence, no
finding).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import pymysql

from query_audit.capture.general_log_table import as_text
from query_audit.model import IndexUsage, SchemaMap

USAGE_QUERY = ("SELECT OBJECT_SCHEMA, OBJECT_NAME, INDEX_NAME, COUNT_STAR "
               "FROM performance_schema.table_io_waits_summary_by_index_usage "
               "WHERE OBJECT_TYPE = 'TABLE' AND OBJECT_SCHEMA IN ({schemas})")
UPTIME_QUERY = "SHOW GLOBAL STATUS LIKE 'Uptime'"


def with_index_usage(conn, schemas: SchemaMap) -> SchemaMap:
    """The schemas, each with its IndexUsage where performance_schema has rows for the table."""
    databases = sorted({schema.database for schema in schemas.values()})
    if not databases:
        return schemas
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@global.performance_schema")
            if not int(cur.fetchone()[0]):
                return schemas
            cur.execute(UPTIME_QUERY)
            uptime = int(cur.fetchone()[1])
            cur.execute(USAGE_QUERY.format(schemas=", ".join(["%s"] * len(databases))), databases)
            rows = cur.fetchall()
    except pymysql.err.MySQLError:
        return schemas  # no privilege on performance_schema: no evidence either way
    counts: dict[tuple[str, str], dict[str | None, int]] = defaultdict(dict)
    for database, table, index, count in rows:
        counts[(as_text(database), as_text(table))][as_text(index) if index is not None else None] = int(count or 0)
    result = {}
    for key, schema in schemas.items():
        found = counts.get((schema.database, schema.name))
        if found:
            usage = IndexUsage(counts=tuple((name, n) for name, n in found.items() if name is not None),
                               table_io=sum(found.values()), uptime_seconds=uptime)
            schema = replace(schema, index_usage=usage)
        result[key] = schema
    return result
