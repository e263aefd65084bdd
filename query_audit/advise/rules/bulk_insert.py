"""bulk_insert: single-row INSERTs into one table and column list, repeated in one request."""

from __future__ import annotations

from query_audit.advise.rewrite import multi_row_insert
from query_audit.advise.rules import query_finding
from query_audit.advise.rules._loops import in_one_transaction, loop_evidence, samples_of, transaction_phrase
from query_audit.model import Finding, Kind, SchemaMap, Severity, Thresholds

RULE = "bulk_insert"


def check(queries, schemas: SchemaMap, thresholds: Thresholds) -> list[Finding]:
    findings = []
    for query in queries:
        if query.group.kind not in (Kind.INSERT, Kind.REPLACE) or query.model.insert_rows > 1:
            continue
        found = [rep for rep in query.group.repetitions if rep.count >= thresholds.bulk_insert]
        found = sorted(found, key=lambda rep: -rep.count)
        if not found:
            continue
        worst = found[0]
        built = multi_row_insert(samples_of(query.group, worst))
        table = query.model.target_table or (query.model.tables[0] if query.model.tables else None)
        if built:
            sql, rows = built
            shown = f" ({rows} of {worst.count} rows, from the captured samples)" if rows < worst.count else ""
            suggestion = f"send the rows as one multi-row INSERT{shown}: {sql}"
        else:
            suggestion = "send the rows as one multi-row INSERT (VALUES (...), (...), ...)"
        if not in_one_transaction(worst):
            suggestion += ("; if they must stay separate statements, wrap them in one transaction (START "
                           "TRANSACTION ... COMMIT) so there is one commit and one log flush instead of one per row")
        evidence = loop_evidence(found, query.group)
        evidence.update({"multi_row_insert": built[0] if built else None,
                         "in_transaction": worst.in_transaction, "transactions": worst.transactions})
        findings.append(query_finding(query,
            rule=RULE,
            severity=Severity.MEDIUM if worst.count >= 10 * thresholds.bulk_insert else Severity.LOW,
            message=(f"{worst.count} single-row INSERTs into `{table}` in {worst.unit}, "
                     f"{transaction_phrase(worst)}"),
            table=table,
            suggestion=suggestion,
            evidence=evidence,
        ))
    return findings
