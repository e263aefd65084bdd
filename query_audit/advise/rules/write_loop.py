"""write_loop: one UPDATE/DELETE shape run once per key inside one request.

- **Detects**: one UPDATE/DELETE shape run at least `write_loop` times with different keys in one unit.
- **Fix**: one statement, built from the samples: `... WHERE key IN (...)` when every run sets the same
  values; per-row values by primary/unique key: `INSERT ... VALUES ... ON DUPLICATE KEY UPDATE col =
  VALUES(col)` (only when every key exists: it inserts missing ones; and only when every other column is
  nullable: strict mode refuses an INSERT that leaves a NOT NULL column without a default, ERROR 1364);
  otherwise `SET col = CASE key WHEN ...
  END WHERE key IN (...)`. The message says how the writes were committed, as for bulk_insert.
"""

from __future__ import annotations

from query_audit.advise.context import AnalysisContext
from query_audit.advise.plan_facts import pins_unique_key, schema_for
from query_audit.advise.rewrite import (
    as_in_list,
    loop_key,
    set_values_vary,
    update_with_case,
    upsert,
)
from query_audit.advise.rule import Rule
from query_audit.advise.rules import query_finding, written_table
from query_audit.advise.rules._loops import (
    in_one_transaction,
    loop_severity,
    looping,
    samples_of,
    transaction_phrase,
    values_phrase,
    write_loop_evidence,
)
from query_audit.model import Finding, Kind, Severity


def _rewrite(query, samples, schemas) -> tuple[str | None, str | None]:
    """(one statement for the whole loop, which form it is)."""
    key = loop_key(samples)
    if key is None:
        return None, None
    if query.group.kind is Kind.UPDATE and set_values_vary(samples):
        table = query.model.target_table or query.model.tables[0]
        schema = schema_for(query, table, schemas)
        if pins_unique_key(query, table, schema) and _upsert_can_insert(query, table, schema, key.name):
            sql = upsert(samples, key)
            if sql:
                return sql, "INSERT ... ON DUPLICATE KEY UPDATE (only when every key already exists)"
        return update_with_case(samples, key), "UPDATE with CASE"
    return as_in_list(samples, key), "IN list"


def _upsert_can_insert(query, table, schema, key: str) -> bool:
    """INSERT ... ON DUPLICATE KEY UPDATE names only the key and the SET columns; in strict mode the server
    refuses it (ERROR 1364) when another column is NOT NULL without a default, even if every key exists. The
    schema does not say which have defaults, so any other NOT NULL column rules it out."""
    if schema is None:
        return False
    named = {key.lower()} | {use.column.lower() for use in query.model.uses(table, "set")}
    return all(column.nullable for column in schema.columns if column.name.lower() not in named)


def find(context: AnalysisContext, queries) -> list[Finding]:
    minimum = context.thresholds.write_loop
    findings = []
    for query, found in looping(queries, minimum, distinct=True):
        worst = found[0]
        samples = samples_of(query.group, worst)
        sql, form = _rewrite(query, samples, context.schemas)
        shown = len(loop_key(samples).values) if sql else 0
        if sql and (shown < worst.distinct_values or worst.values_capped):
            form += f"; with the {shown} keys kept as samples, of {values_phrase(worst).replace(' different', '')}"
        verb = query.group.kind.value.upper()
        wrap = "" if in_one_transaction(worst) else ", in one transaction"
        findings.append(query_finding(query,
            rule=RULE.id,
            severity=loop_severity(worst, minimum, usual=Severity.LOW, many=Severity.MEDIUM),
            message=(f"{worst.count} {verb}s of `{written_table(query)}` one key at a time in {worst.unit}, "
                     f"{transaction_phrase(worst)}: one round trip and lock per row"),
            table=written_table(query),
            suggestion=(f"write them in one statement ({form}): {sql}" if sql else
                        f"write them in one statement: {verb} ... WHERE key IN (...){wrap}"),
            evidence=write_loop_evidence(found, query.group, rewritten_sql=sql, rewrite_form=form),
        ))
    return findings


RULE = Rule(
    id="write_loop",
    severity=Severity.LOW,
    kinds=frozenset({Kind.UPDATE, Kind.DELETE}),
    description="One UPDATE/DELETE shape runs once per key inside one request.",
    help=("Anti-pattern: a write per row in a loop. Best practice: one statement over IN (...), a CASE for "
          "per-row values, or INSERT ... ON DUPLICATE KEY UPDATE."),
    severity_policy="`low`, `medium` from 10 x `write_loop`",
    details=__doc__,
    find=find,
)
