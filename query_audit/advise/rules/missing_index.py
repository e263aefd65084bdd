"""missing_index: one index per table that would serve the scanning queries, merged across the capture.

- **Detects**: a table read without a useful key (type `ALL`, a full index scan, or a key reading at least
  10x the rows the candidate would) on a table of at least `full_scan_rows` rows, where no existing index
  starts with the candidate's columns.
- **Column order**: equality columns (`=`, one-value `IN`, `IS NULL`, join columns of the inner table),
  then the GROUP BY (else ORDER BY) columns when all are from this table and go one direction, then at most
  one range column (`<`, `BETWEEN`, `LIKE 'abc%'`, multi-value `IN`). A trailing primary-key column is
  dropped (InnoDB appends the primary key); an AUTO_INCREMENT primary key is never a column of a suggestion.
  A many-to-many link table (`PRIMARY KEY (a_id, b_id)`, no AUTO_INCREMENT) filtered by `b_id` gets
  `(b_id, a_id)`. TEXT/BLOB columns get a 32-character prefix (`(meta_key, meta_value(32))` for an EAV
  lookup), and every prefix fits the key-length limit: 3072 bytes (DYNAMIC/COMPRESSED rows), 767 bytes a
  column (COMPACT/REDUNDANT), 4 bytes a utf8mb4 character; a longer VARCHAR gets the longest prefix that
  fits. A single equality column whose captured value matches more than 25% of the table (from the
  statistics or a count) gets no index: the optimizer would scan anyway, and full_table_scan says so.
- **Merging**: one index per table serves every query whose candidate is a leftmost prefix of it: (a) and
  (a, b) give one index (a, b). Equality columns shared by more queries go first so the prefix can be shared,
  and a query whose candidate starts with the same equality column as a bigger group's index is served by
  that index's prefix (evidence `uses_columns`) rather than by one more index every write pays for.
  Candidates that share no leading column give separate findings on the same table.
- **Never in an index**: columns under a function, a leading-wildcard LIKE, a negation, an OR, a comparison
  of two columns, a string column compared with a number (implicit conversion: the server converts every
  row), and ORDER BY/GROUP BY expressions. The message names them; `non_sargable_predicate` gives each its
  reason and rewrite. Every `missing_index` finding carries DDL.
- **Evidence**: rows examined before (plan rows) and the estimate after, with its source
  (`estimate_source`: measured, statistics or guessed; see [Estimates and verification](#estimates-and-verification)).
  A guess (1/10 per equality column, 1/3 for a range) is flagged `estimated: true` and the message says so
  ("~N rows after (a guess: no statistics for col; --verify measures it)"). When the shadow or `--verify`
  proves the index, the message and evidence carry the rows the optimizer then estimates
  (`rows_after_verified`, `verification`, and the per-statement proof in `shadow` / `verify`). With a
  measured estimate, a key reading at least twice the rows the candidate would is enough to suggest it (the
  shadow then judges it); otherwise 10x.
"""

from __future__ import annotations

from query_audit.advise.context import AnalysisContext
from query_audit.advise.index_advisor import IndexSuggestion
from query_audit.advise.index_message import need_message, rows_after_phrase
from query_audit.advise.plan_facts import severity_by_rows
from query_audit.advise.rule import Rule
from query_audit.model import AddedIndex, Finding, Severity, Thresholds


def added_index(suggestion: IndexSuggestion) -> AddedIndex:
    """What --verify and the shadow need of the suggestion to create, judge and drop its index."""
    unusable = {column: reason for c in suggestion.candidates for column, reason in c.unusable}
    return AddedIndex(suggestion.name, suggestion.schema.database, suggestion.schema.name, suggestion.ddl,
                      suggestion.rows_before, tuple(unusable.items()))


def _from_suggestion(suggestion: IndexSuggestion, thresholds: Thresholds, groups: dict) -> Finding:
    after = suggestion.after
    served = len(suggestion.query_ids)
    index = added_index(suggestion)
    unusable = dict(index.unusable)
    return Finding(
        rule=RULE.id,
        severity=severity_by_rows(suggestion.rows_before, thresholds, small=Severity.LOW),
        message=need_message(suggestion.table, suggestion.columns, served, suggestion.rows_before,
                             rows_after_phrase(after.rows, after.basis), unusable),
        table=suggestion.table,
        columns=suggestion.columns,
        query_id=suggestion.query_ids[0],
        query_ids=suggestion.query_ids,
        fingerprint=groups[suggestion.query_ids[0]].group.fingerprint,
        count=sum(groups[query_id].group.count for query_id in suggestion.query_ids),
        suggestion=(f"add the index: {suggestion.ddl}" if served == 1 else
                    f"add one index that serves all {served} queries: {suggestion.ddl}"),
        ddl=suggestion.ddl,
        rows_examined=suggestion.rows_before,
        index=index,
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


def find(context: AnalysisContext, queries) -> list[Finding]:
    return [_from_suggestion(suggestion, context.thresholds, context.queries_by_id)
            for suggestion in context.suggestions]


RULE = Rule(
    id="missing_index",
    severity=Severity.MEDIUM,
    description="An index would let the scanning queries seek instead of scan; one index per table, merged.",
    help=("Anti-pattern: one index per query, or none. Best practice: equality columns first, then the ORDER "
          "BY/GROUP BY columns, then one range column; one index serving several queries."),
    severity_policy="by rows examined: `low` below `full_scan_rows`, `high` from `large_scan_rows`, else `medium`",
    details=__doc__,
    find=find,
)
