"""missing_index: one index per table that would serve the scanning queries, merged across the capture.

Every finding carries the index's DDL. Columns no index can help with (function-wrapped, leading wildcard,
negation, OR, implicit conversion) are never put in an index: the message names them, and the rule
non_sargable_predicate gives each its reason and rewrite.
"""

from __future__ import annotations

from query_audit.advise.index_advisor import (
    IndexSuggestion,
    suggest_indexes,
)
from query_audit.advise.plan_facts import (
    severity_by_rows,
)
from query_audit.model import Finding, SchemaMap, Severity, Thresholds

RULE = "missing_index"


def rows_after_phrase(rows: int, basis: str) -> str:
    """`~12 rows after (a guess: ...)`: the rows one execution would read with the index, and on what that rests."""
    return f"~{rows} {'row' if rows == 1 else 'rows'} after ({basis})"


def need_message(table: str, columns: tuple[str, ...], served: int, rows_before: int, after: str,
                 unusable: dict[str, str] | None = None) -> str:
    """The finding's one sentence; `--verify` rebuilds it with the measured `after` phrase."""
    statements = "1 query examines" if served == 1 else f"{served} queries examine"
    message = (f"`{table}` has no index on ({', '.join(columns)}): {statements} ~{rows_before} rows per "
               f"execution, {after}")
    if unusable:
        message += "; these conditions cannot use any index: " + ", ".join(
            f"{column} ({reason})" for column, reason in sorted(unusable.items()))
    return message


def _from_suggestion(suggestion: IndexSuggestion, thresholds: Thresholds, groups: dict) -> Finding:
    after = suggestion.after
    served = len(suggestion.query_ids)
    unusable = {column: reason for c in suggestion.candidates for column, reason in c.unusable}
    return Finding(
        rule=RULE,
        severity=severity_by_rows(suggestion.rows_before, thresholds, small=Severity.LOW),
        message=need_message(suggestion.table, suggestion.columns, served, suggestion.rows_before,
                             rows_after_phrase(after.rows, after.basis), unusable),
        table=suggestion.table,
        columns=suggestion.columns,
        query_id=suggestion.query_ids[0],
        query_ids=suggestion.query_ids,
        fingerprint=groups[suggestion.query_ids[0]].fingerprint,
        count=sum(groups[query_id].count for query_id in suggestion.query_ids),
        suggestion=(f"add the index: {suggestion.ddl}" if served == 1 else
                    f"add one index that serves all {served} queries: {suggestion.ddl}"),
        ddl=suggestion.ddl,
        evidence={
            "rows_examined": suggestion.rows_before,
            "rows_before": suggestion.rows_before,
            "rows_after_estimate": after.rows,
            "estimate_basis": after.basis,
            "estimated": after.estimated,
            "estimate_source": after.source,
            "index_name": suggestion.name,
            "database": suggestion.schema.database,
            "table_name": suggestion.schema.name,  # the table as the server names it (for --verify's DROP)
            "plans_before": list(suggestion.plans),
            "cannot_use_index": unusable or None,
        },
    )


def check(queries, schemas: SchemaMap, thresholds: Thresholds) -> list[Finding]:
    groups = {query.group.id: query.group for query in queries}
    suggestions = suggest_indexes(queries, schemas, thresholds)
    findings = [_from_suggestion(suggestion, thresholds, groups) for suggestion in suggestions]
    return findings
