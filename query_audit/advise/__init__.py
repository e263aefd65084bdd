"""The advisor: rules that turn analyzed queries into findings, each with its evidence and a fix.

`advise()` runs every rule of `RULES` in order and ranks the findings: severity first, then rows
examined, then measured time. `RULES` also carries each rule's documentation (the reports and SARIF use
it; docs/rules.md says the same at length).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from query_audit.advise.rules import (
    bulk_insert,
    deferrable_write,
    filesort,
    full_table_scan,
    missing_index,
    n_plus_one,
    non_sargable_predicate,
    read_after_write_on_replica,
    read_on_primary,
    redundant_index,
    repeated_identical_query,
    temporary_table,
    unparsed_statement,
    unused_index,
    write_amplification,
    write_loop,
    write_not_by_primary_key,
    write_on_replica,
)
from query_audit.model import AnalyzedQuery, Finding, SchemaMap, Severity, Thresholds

Check = Callable[[Sequence[AnalyzedQuery], SchemaMap, Thresholds], list[Finding]]


@dataclass(frozen=True)
class Rule:
    """A rule's stable id (the report contract), default severity, one-line description and help text."""

    id: str
    severity: Severity
    description: str
    help: str  # "anti-pattern / best practice"
    check: Check
    # A rule that reads each request's statements in order (analyze/trace.py) gets them as `traces`.
    per_request: bool = False


RULES: tuple[Rule, ...] = (
    Rule("full_table_scan", Severity.MEDIUM,
         "A statement reads every row of a table (EXPLAIN type ALL, or a full index scan).",
         "Anti-pattern: filtering a large table on columns no index starts with, so each execution reads all "
         "of it. Best practice: index the filtered columns, or filter on indexed ones.",
         full_table_scan.check),
    Rule("missing_index", Severity.MEDIUM,
         "An index would let the scanning queries seek instead of scan; one index per table, merged.",
         "Anti-pattern: one index per query, or none. Best practice: equality columns first, then the ORDER "
         "BY/GROUP BY columns, then one range column; one index serving several queries.",
         missing_index.check),
    Rule("non_sargable_predicate", Severity.MEDIUM,
         "A condition no index can serve as written (a function on the column, a leading wildcard, a text "
         "column compared with a number, a negation, an OR across columns) on a table read at length.",
         "Anti-pattern: DATE(c) = ?, LIKE '%word%', CAST(meta_value AS ...) or meta_value + 0, text = 42, <> or "
         "NOT IN, a = 1 OR b = 2: every row read is tested, and an index on the column cannot help. Best "
         "practice: compare the bare column with a value of its type (a range instead of DATE(), a quoted "
         "value), FULLTEXT + MATCH ... AGAINST for words, UNION ALL for an OR, or index the expression.",
         non_sargable_predicate.check),
    Rule("filesort", Severity.LOW,
         "The server sorts the rows after reading them (Using filesort).",
         "Anti-pattern: ORDER BY on columns no index returns in order. Best practice: an index whose columns "
         "after the equality prefix are the ORDER BY columns, in one direction.",
         filesort.check),
    Rule("temporary_table", Severity.LOW,
         "GROUP BY, DISTINCT or UNION builds an internal temporary table (Using temporary).",
         "Anti-pattern: grouping rows that arrive in no useful order. Best practice: group by indexed columns "
         "of one table, or pre-aggregate.",
         temporary_table.check),
    Rule("n_plus_one", Severity.MEDIUM,
         "The same SELECT runs once per key inside one request (an N+1 loop).",
         "Anti-pattern: a query inside a loop over the results of another. Best practice: one query with "
         "WHERE key IN (...), or a JOIN.",
         n_plus_one.check),
    Rule("repeated_identical_query", Severity.LOW,
         "The identical SELECT, same values, runs several times in one request.",
         "Anti-pattern: asking the database again for what it just answered. Best practice: reuse the result "
         "within the request (a request-scoped cache).",
         repeated_identical_query.check),
    Rule("bulk_insert", Severity.LOW,
         "Single-row INSERTs into one table and column list, repeated in one request.",
         "Anti-pattern: one INSERT (and one commit) per row. Best practice: one multi-row INSERT, in one "
         "transaction.",
         bulk_insert.check),
    Rule("write_loop", Severity.LOW,
         "One UPDATE/DELETE shape runs once per key inside one request.",
         "Anti-pattern: a write per row in a loop. Best practice: one statement over IN (...), a CASE for "
         "per-row values, or INSERT ... ON DUPLICATE KEY UPDATE.",
         write_loop.check),
    Rule("write_not_by_primary_key", Severity.MEDIUM,
         "An UPDATE/DELETE whose WHERE does not fix a primary or unique key.",
         "Anti-pattern: writing by a non-unique condition, which locks every row examined. Best practice: "
         "read the primary keys first, then write by primary key.",
         write_not_by_primary_key.check),
    Rule("write_amplification", Severity.INFO,
         "How many secondary index entries one request's writes maintain, per table.",
         "Anti-pattern: many small writes to a table with many indexes, or updating indexed columns. Best "
         "practice: batch writes, drop redundant indexes, queue writes that can wait.",
         write_amplification.check),
    Rule("redundant_index", Severity.LOW,
         "An index duplicates another or is a leftmost prefix of one.",
         "Anti-pattern: indexes the others already serve, each costing every write. Best practice: drop "
         "them (pt-duplicate-key-checker's rule).",
         redundant_index.check),
    Rule("unused_index", Severity.LOW,
         "performance_schema saw no use of an index since the server started (info when the uptime is short).",
         "Anti-pattern: indexes nothing reads, each costing every write. Best practice: after a representative "
         "uptime, drop them (sys.schema_unused_indexes' rule); keep unique and foreign-key indexes.",
         unused_index.check),
    Rule("unparsed_statement", Severity.LOW,
         "A statement the advisor could not parse or EXPLAIN, and why.",
         "Anti-pattern: reading silence as a clean bill of health. Best practice: check these statements by "
         "hand.",
         unparsed_statement.check),
    Rule("read_on_primary", Severity.MEDIUM,
         "The primary served a read a replica could have served (a capture with --replica-dsn).",
         "Anti-pattern: replica-safe SELECTs (outside a writing transaction, not locking, not after a write to "
         "their tables) on the single writer. Best practice: send them to the read pool.",
         read_on_primary.check, per_request=True),
    Rule("read_after_write_on_replica", Severity.HIGH,
         "A replica served a read of rows the same request had just written.",
         "Anti-pattern: reading your own write from a replica, which under lag returns the old rows. Best "
         "practice: read it on the primary or in the write's transaction, or wait for the write's GTID "
         "(MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET).",
         read_after_write_on_replica.check, per_request=True),
    Rule("write_on_replica", Severity.HIGH,
         "A write reached a replica (and failed there as read-only, or changed its data).",
         "Anti-pattern: a write through the reader pool. Best practice: writes only to the write pool, and a "
         "reader account that read_only refuses.",
         write_on_replica.check, per_request=True),
    Rule("deferrable_write", Severity.LOW,
         "A write nothing in the same request reads back (audit rows, counters, logs): queue or batch it.",
         "Anti-pattern: the request waits on writes its response does not need, each paid by the single "
         "writer. Best practice: queue them and write them in batches.",
         deferrable_write.check, per_request=True),
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


def rank_key(finding: Finding, query_time: dict[str, float]) -> tuple:
    """Severity first, then rows examined, then measured time (most first)."""
    rows = finding.evidence.get("rows_examined") or 0
    seconds = sum(query_time.get(query_id) or 0.0 for query_id in (finding.query_ids or (finding.query_id,)))
    return finding.severity.rank, -rows, -seconds


def advise(queries: Sequence[AnalyzedQuery], schemas: SchemaMap, thresholds: Thresholds,
           traces: Sequence = ()) -> list[Finding]:
    """Every rule's findings for these queries, most important first. `traces` (analyze/trace.py) are
    a live capture's requests, statement by statement; without them the per-request rules find nothing."""
    findings = [finding for rule in RULES
                for finding in (rule.check(queries, schemas, thresholds, traces) if rule.per_request
                                else rule.check(queries, schemas, thresholds))]
    query_time = {query.group.id: query.group.total_query_time for query in queries}
    return sorted(findings, key=lambda finding: rank_key(finding, query_time))


__all__ = ["RULES", "RULES_BY_ID", "Rule", "advise", "rank_key"]
