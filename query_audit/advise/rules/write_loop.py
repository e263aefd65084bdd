"""write_loop: one UPDATE/DELETE shape run once per key inside one request."""

from __future__ import annotations

from query_audit.advise.plan_facts import pins_unique_key, schema_for
from query_audit.advise.rewrite import (
    as_in_list,
    loop_key,
    set_values_vary,
    update_with_case,
    upsert,
)
from query_audit.advise.rules import query_finding
from query_audit.advise.rules._loops import (
    in_one_transaction,
    loop_evidence,
    loops,
    samples_of,
    transaction_phrase,
    values_phrase,
)
from query_audit.model import Finding, Kind, SchemaMap, Severity, Thresholds

RULE = "write_loop"


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


def check(queries, schemas: SchemaMap, thresholds: Thresholds) -> list[Finding]:
    findings = []
    for query in queries:
        if query.group.kind not in (Kind.UPDATE, Kind.DELETE):
            continue
        found = loops(query.group, thresholds.write_loop, distinct=True)
        if not found:
            continue
        worst = found[0]
        samples = samples_of(query.group, worst)
        sql, form = _rewrite(query, samples, schemas)
        shown = len(loop_key(samples).values) if sql else 0
        if sql and (shown < worst.distinct_values or worst.values_capped):
            form += f"; with the {shown} keys kept as samples, of {values_phrase(worst).replace(' different', '')}"
        verb = query.group.kind.value.upper()
        table = query.model.target_table or (query.model.tables[0] if query.model.tables else None)
        evidence = loop_evidence(found, query.group)
        evidence.update({"rewritten_sql": sql, "rewrite_form": form, "in_transaction": worst.in_transaction,
                         "transactions": worst.transactions})
        wrap = "" if in_one_transaction(worst) else ", in one transaction"
        findings.append(query_finding(query,
            rule=RULE,
            severity=Severity.MEDIUM if worst.count >= 10 * thresholds.write_loop else Severity.LOW,
            message=(f"{worst.count} {verb}s of `{table}` one key at a time in {worst.unit}, "
                     f"{transaction_phrase(worst)}: one round trip and lock per row"),
            table=table,
            suggestion=(f"write them in one statement ({form}): {sql}" if sql else
                        f"write them in one statement: {verb} ... WHERE key IN (...){wrap}"),
            evidence=evidence,
        ))
    return findings
