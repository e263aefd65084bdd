"""read_on_primary: a read the primary served that a replica could have served.

Only for a capture with --replica-dsn (each statement knows its server). A read is replica-safe when
it is a plain SELECT (not FOR UPDATE / LOCK IN SHARE MODE / FOR SHARE), outside any transaction that
writes, and no earlier statement of the same request wrote a table it reads (analyze/trace.py).
"""

from __future__ import annotations

from query_audit.advise.rules import query_finding
from query_audit.advise.rules._routing import PRIMARY, flagged, table_of, where
from query_audit.analyze.trace import replica_safe
from query_audit.model import Finding, SchemaMap, Severity, Thresholds

RULE = "read_on_primary"


def _judge(trace, index):
    traced = trace.statements[index]
    if traced.server != PRIMARY or not replica_safe(trace, index):
        return None
    return {"in_transaction": traced.in_transaction}


def check(queries, schemas: SchemaMap, thresholds: Thresholds, traces=()) -> list[Finding]:
    findings = []
    for query, found in flagged(queries, traces, _judge):
        traced = found[0][0]
        in_transaction = any(evidence["in_transaction"] for _, evidence in found)
        why = ("inside a read-only transaction, which the write pool serves" if in_transaction else
               "outside any transaction, after no write to its tables in the request")
        fix = ("drop the transaction around it (a read-only transaction buys nothing a replica cannot give)"
               if in_transaction else "send it to the read pool")
        findings.append(query_finding(query,
            rule=RULE, severity=Severity.MEDIUM, table=table_of(traced),
            message=(f"the primary served this SELECT {len(found)} time(s) in {where(found)}, {why}: a replica "
                     "could have served it, and the primary is the one server that cannot scale out"),
            suggestion=(f"{fix}: with Sequelize `replication`, a query outside a transaction and without "
                        "`useMaster: true` goes to a reader; elsewhere, use the reader endpoint's connection "
                        "pool for it"),
            evidence={"server": PRIMARY, "occurrences": [evidence for _, evidence in found]},
        ))
    return findings
