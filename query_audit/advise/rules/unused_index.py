"""unused_index: a secondary index performance_schema has never seen used since the server started.

A finding about the table, like redundant_index (its baseline key is (rule, table)). Evidence:
`table_io_waits_summary_by_index_usage` (sys.schema_unused_indexes' source) counts no row operation
through the index while the table itself was read or written, and the server's uptime. A short uptime
proves little (a weekly report's index looks unused on Monday): below a week the finding is `info` and
says so, and below an hour (a server just started, a test server) nothing is said at all. Never
suggested: PRIMARY, unique indexes (they enforce something), indexes a FOREIGN KEY needs (their columns
lead with the key's), and indexes redundant_index already names.
"""

from __future__ import annotations

from query_audit.advise.index_advisor import drop_index_ddl
from query_audit.advise.rules.redundant_index import redundant_pairs, touched_tables
from query_audit.model import Finding, Index, SchemaMap, Severity, TableSchema, Thresholds

RULE = "unused_index"
REPRESENTATIVE_UPTIME = 7 * 24 * 3600  # a week: daily and weekly jobs have run at least once
MIN_UPTIME = 3600  # below an hour the counters hold a few requests: no verdict on any index


def unused_indexes(schema: TableSchema) -> list[Index]:
    usage = schema.index_usage
    if usage is None or usage.table_io == 0 or usage.uptime_seconds < MIN_UPTIME:
        return []  # no evidence, a table nobody touched since the start, or too short a time: nothing is proven
    counts = dict(usage.counts)
    redundant = {index.name for index, _ in redundant_pairs(schema)}
    unused = []
    for index in schema.secondary_indexes:
        if index.unique or index.name in redundant or counts.get(index.name) != 0:
            continue
        if any(index.column_names[:len(key.columns)] == key.columns for key in schema.foreign_keys):
            continue
        unused.append(index)
    return unused


def uptime_text(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    return f"{days} d {rest // 3600} h" if days else f"{rest // 3600} h {rest % 3600 // 60} min"


def check(queries, schemas: SchemaMap, thresholds: Thresholds) -> list[Finding]:
    return [_finding(schema, table, index) for table, schema in touched_tables(queries, schemas)
            for index in unused_indexes(schema)]


def _finding(schema: TableSchema, table: str, index: Index) -> Finding:
    uptime = schema.index_usage.uptime_seconds
    short = uptime < REPRESENTATIVE_UPTIME
    ddl = drop_index_ddl(schema, index.name)
    warning = (f"; the server has been up only {uptime_text(uptime)}, which proves little: an index a nightly or "
               "weekly job uses looks unused until that job runs" if short else "")
    return Finding(
        rule=RULE,
        severity=Severity.INFO if short else Severity.LOW,
        message=(f"index {index.name} ({', '.join(index.column_names)}) on `{schema.name}` was not used once in "
                 f"{uptime_text(uptime)} of server uptime while the table saw {schema.index_usage.table_io} row "
                 f"operations (performance_schema.table_io_waits_summary_by_index_usage){warning}"),
        table=table,
        columns=index.column_names,
        suggestion=f"if no rare job needs it, drop it to cut write cost: {ddl}",
        ddl=ddl,
        evidence={"index": index.name, "uptime_seconds": uptime, "table_io": schema.index_usage.table_io,
                  "source": "performance_schema.table_io_waits_summary_by_index_usage"},
    )
