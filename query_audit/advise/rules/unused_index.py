"""unused_index: a secondary index performance_schema has never seen used since the server started.

- **Detects**, on the tables the statements touch, with `--dsn` and performance_schema on: a secondary index
  through which `performance_schema.table_io_waits_summary_by_index_usage` counted no row operation
  (`COUNT_STAR = 0`, the rule of `sys.schema_unused_indexes`) while the table itself saw some, since the
  server started. Never: PRIMARY, unique indexes (they enforce something), an index whose leading columns
  are a FOREIGN KEY's (InnoDB needs one), an index redundant_index already names, a table nobody touched.
- **Why**: every write maintains the index; nothing reads it.
- **Fix**: the `ALTER TABLE ... DROP INDEX` DDL (quoted names), if no rare job needs it.
- **Evidence**: the index, the server's uptime in seconds, the table's row operations.

A finding about the table, like redundant_index (its baseline key is (rule, table)).
"""

from __future__ import annotations

from query_audit.advise.context import AnalysisContext
from query_audit.advise.index_advisor import drop_index_ddl
from query_audit.advise.rule import Rule
from query_audit.advise.rules.redundant_index import redundant_pairs, touched_tables
from query_audit.model import Finding, Index, Severity, TableSchema

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


def find(context: AnalysisContext, queries) -> list[Finding]:
    return [_finding(schema, table, index) for table, schema in touched_tables(queries, context.schemas)
            for index in unused_indexes(schema)]


def _finding(schema: TableSchema, table: str, index: Index) -> Finding:
    uptime = schema.index_usage.uptime_seconds
    short = uptime < REPRESENTATIVE_UPTIME
    ddl = drop_index_ddl(schema, index.name)
    warning = (f"; the server has been up only {uptime_text(uptime)}, which proves little: an index a nightly or "
               "weekly job uses looks unused until that job runs" if short else "")
    return Finding(
        rule=RULE.id,
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


RULE = Rule(
    id="unused_index",
    severity=Severity.LOW,
    description="performance_schema saw no use of an index since the server started (info when the uptime is short).",
    help=("Anti-pattern: indexes nothing reads, each costing every write. Best practice: after a representative "
          "uptime, drop them (sys.schema_unused_indexes' rule); keep unique and foreign-key indexes."),
    severity_policy=("`low` after a week of uptime; below that `info`, and the message says the uptime proves "
                     "little (an index of a weekly report looks unused until the report runs); below an hour of "
                     "uptime (a server just started) nothing is said"),
    details=__doc__,
    find=find,
)
