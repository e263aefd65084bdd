"""non_sargable_predicate: a condition no B-tree index can serve as written, on a table the plan reads at length.

- **Detects**: a statement whose model marks a column of a table `not_sargable` (or a string column compared
  with a number), where the plan reads that table at length: a full scan of a table of at least
  `full_scan_rows` rows, or at least `full_scan_rows` rows through a key (an EAV table's `meta_key` index,
  say, leaves every `meta_value` to be tested). A small table, or a key that already narrows the rows to a
  few, gives no finding.
- **Reason and rewrite**, per predicate (evidence `predicates`: column, reason, predicate, rewritten, ddl),
  and the whole statement rewritten where every rewrite is exact (evidence `rewritten_sql`):
  - leading wildcard: `ALTER TABLE ... ADD FULLTEXT INDEX ft_<table>_<column> (<column>)` and
    `MATCH(<column>) AGAINST('word*' IN BOOLEAN MODE)`. MATCH finds words that start with `word` (LIKE also
    matched inside words); words shorter than `innodb_ft_min_token_size` (3) and stopwords are not indexed.
  - `DATE(c) = v` -> `c >= v AND c < v + INTERVAL 1 DAY`; `YEAR(c) = 2023` -> `c >= '2023-01-01' AND c <
    '2024-01-01'` (the same rows, and an index on `c` serves the range). Other functions: move the function
    to the value side, or index the expression (`INDEX ((expr))` on MySQL 8.0.13+, an indexed generated
    column on MariaDB).
  - `CAST(c AS ...)`, `c + 0`: keep such values in a typed column (or a lookup table), or an indexed
    generated column `AS (CAST(c AS ...))`; MySQL 8.0.13+ can index the expression.
  - a string column compared with a number: quote the value (`= '100041'`); it then matches the text
    exactly (the number also matched `'0100041'` or `'100041.0'`).
  - `a = 1 OR b = 2` in a plain SELECT (no GROUP BY, DISTINCT, ORDER BY, LIMIT, join or aggregate):
    `SELECT ... WHERE a = 1 UNION ALL SELECT ... WHERE b = 2 AND NOT (a = 1) IS TRUE`, the same rows and
    duplicates as the OR; or an index on each column for an index merge.
  - `<>`, `NOT IN`, a bare flag: name the wanted values (`IN (...)`, `= 1`); a negation that keeps most rows
    is cheapest as the scan it is.
- **Never** suggests an ordinary index on such a column; when other conditions of the same statement want
  one, `missing_index` suggests it and this finding says so.
- **Proven**: tests run each printed rewrite on the sample apps' data: it parses, EXPLAINs, and returns
  the rows of the original (the FULLTEXT form after its DDL, on a scratch copy).

The facts come from the statement model (`not_sargable` columns and their reasons) and the index advisor
(a string column compared with a number); `advise.predicate_rewrite` finds each predicate and rewrites it.
"""

from __future__ import annotations

from query_audit.advise.context import AnalysisContext
from query_audit.advise.plan_facts import (
    is_full_scan,
    plan_row_evidence,
    rows_examined,
    severity_by_rows,
    table_rows,
)
from query_audit.advise.predicate_rewrite import PredicateAdvice, advise_predicates
from query_audit.advise.rule import Rule
from query_audit.advise.rules import query_finding
from query_audit.model import Finding, Severity


def _suggestion(advice: PredicateAdvice) -> str:
    parts = []
    for item in advice.predicates:
        text = f"`{item.predicate}`: {item.fix}"
        if item.ddl:
            text += f" ({item.ddl})"
        parts.append(text)
    suggestion = "; ".join(parts)
    if advice.rewritten_sql:
        suggestion += f". Rewritten: {advice.rewritten_sql}"
    return suggestion


def _reading(row, examined: int, size: int) -> tuple[str, int]:
    """How the plan reads the table, and the rows one execution may read (a scan's worst case)."""
    if not is_full_scan(row):
        return f"reads ~{examined} rows per execution through {row.key}", examined
    how = "reads the whole table" if row.access_type == "ALL" else f"scans all of index {row.key}"
    if examined < size:  # EXPLAIN's estimate stops at a LIMIT; the scan runs until enough rows match
        return f"{how} (EXPLAIN estimates ~{examined} rows, until the LIMIT is met; up to ~{size})", size
    return f"{how} (~{examined} rows per execution)", examined


def find(context: AnalysisContext, queries) -> list[Finding]:
    thresholds = context.thresholds
    findings = []
    seen = set()
    for query, table, schema, candidate, row, _after, needed in context.needs:
        if not candidate.unusable or (query.group.id, table) in seen:
            continue
        examined = rows_examined(row, schema)
        costly = (is_full_scan(row) and table_rows(schema, row) >= thresholds.full_scan_rows) or \
            examined >= thresholds.full_scan_rows
        if not costly:
            continue  # a small table, or a key already narrows the rows: the condition costs little
        advice = advise_predicates(query.group.sample.sql, table, schema,
                                   {column.lower(): reason for column, reason in candidate.unusable})
        if not advice.predicates:
            continue
        seen.add((query.group.id, table))
        how, examined = _reading(row, examined, table_rows(schema, row))
        reasons = "; ".join(f"`{item.predicate}`: {item.why}" for item in advice.predicates)
        count = "a condition" if len(advice.predicates) == 1 else f"{len(advice.predicates)} conditions"
        message = (f"no index can serve {count} on `{table}` as written, so the "
                   f"{query.model.kind.value.upper()} {how}: {reasons}")
        if needed:
            message += "; missing_index suggests an index for the other conditions"
        findings.append(query_finding(query,
            rule=RULE.id,
            severity=severity_by_rows(examined, thresholds, small=Severity.LOW),
            message=message,
            table=table,
            columns=tuple(dict.fromkeys(item.column for item in advice.predicates)),
            suggestion=_suggestion(advice),
            rows_examined=examined,
            evidence={
                "rows_examined": examined,
                "plan_row": plan_row_evidence(row),
                "predicates": [{"column": item.column, "reason": item.reason, "predicate": item.predicate,
                                "rewritten": item.rewritten, "ddl": item.ddl} for item in advice.predicates],
                "rewritten_sql": advice.rewritten_sql,
            },
        ))
    return findings


RULE = Rule(
    id="non_sargable_predicate",
    severity=Severity.MEDIUM,
    description=("A condition no index can serve as written (a function on the column, a leading wildcard, a text "
                 "column compared with a number, a negation, an OR across columns) on a table read at length."),
    help=("Anti-pattern: DATE(c) = ?, LIKE '%word%', CAST(meta_value AS ...) or meta_value + 0, text = 42, <> or "
          "NOT IN, a = 1 OR b = 2: every row read is tested, and an index on the column cannot help. Best "
          "practice: compare the bare column with a value of its type (a range instead of DATE(), a quoted "
          "value), FULLTEXT + MATCH ... AGAINST for words, UNION ALL for an OR, or index the expression."),
    severity_policy="by rows examined: `low` below `full_scan_rows`, `high` from `large_scan_rows`, else `medium`",
    details=__doc__,
    find=find,
)
