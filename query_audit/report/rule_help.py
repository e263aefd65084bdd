"""Help text for each advisor rule, for SARIF rule descriptors and the Markdown report.

The advisor owns the rules; this table only describes them to readers. A rule missing here still
renders, with a generic description, so a new rule never breaks a report.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleHelp:
    title: str
    help: str


RULES: dict[str, RuleHelp] = {
    "full_table_scan": RuleHelp(
        "Full table scan",
        "EXPLAIN shows the statement reads every row of the table (type ALL, or a full index scan). "
        "Cost grows with the table. Add an index on the columns it filters by, or change the filter so an "
        "existing index applies."),
    "missing_index": RuleHelp(
        "Missing index",
        "No index serves this statement's WHERE/JOIN/ORDER BY columns. The suggested index puts equality "
        "columns first, then sort columns, then at most one range column. With --verify it was created on a "
        "disposable server and EXPLAIN ran again: the evidence shows the rows examined before and after."),
    "n_plus_one": RuleHelp(
        "N+1 queries",
        "The same SELECT shape ran many times with different values within one request (or connection). "
        "Fetch all rows at once with WHERE col IN (...) or a JOIN."),
    "bulk_insert": RuleHelp(
        "Single-row INSERT loop",
        "Many single-row INSERTs of one shape ran in one request. Send one multi-row INSERT, inside one "
        "transaction."),
    "write_loop": RuleHelp(
        "UPDATE/DELETE loop",
        "The same UPDATE or DELETE ran many times by key in one request. Use one statement over IN (...), "
        "or INSERT ... ON DUPLICATE KEY UPDATE."),
    "update_by_non_key": RuleHelp(
        "Write by a non-key column",
        "An UPDATE or DELETE finds its rows by a column no index covers, so it scans and locks more rows than "
        "it changes. Write by primary key, or index the column."),
    "write_amplification": RuleHelp(
        "Write amplification",
        "Every secondary index costs every INSERT and DELETE, and every UPDATE of its columns. Drop indexes "
        "no query uses; batch or queue frequent writes."),
    "cache_candidate": RuleHelp(
        "Repeated identical query",
        "The same statement with the same values ran several times in one request: keep the result instead "
        "of asking again."),
    "unparsed_statement": RuleHelp(
        "Statement not analysed",
        "The statement could not be parsed (CALL, LOAD DATA, vendor syntax), so no rule looked at it."),
}


def rule_help(rule: str) -> RuleHelp:
    """The help for `rule`, or a generic one naming it."""
    return RULES.get(rule) or RuleHelp(rule.replace("_", " ").capitalize(), f"query-audit rule {rule}.")
