"""read_on_primary: a read the primary served that a replica could have served.

- **Detects**, in a capture with `--replica-dsn` (each statement knows the server that ran it): a SELECT
  the primary served that a replica could have served: not a locking read (`FOR UPDATE`, `LOCK IN SHARE
  MODE`, `FOR SHARE`), not inside a transaction that writes, and no earlier statement of the same request
  wrote a table it reads. One finding per query shape, with every request it happened in.
- **Why**: the primary is the one server that cannot scale out; every read it serves is capacity the
  writes need (the article: "we can scale read queries to huge values, but write queries are limited").
- **Fix**: send it to the read pool. With Sequelize `replication`, a query outside a transaction and
  without `useMaster: true` goes to a reader; a read-only transaction around it only pins it to the writer.
"""

from __future__ import annotations

from query_audit.advise.context import AnalysisContext
from query_audit.advise.rule import Rule
from query_audit.advise.rules import query_finding
from query_audit.advise.rules._routing import PRIMARY, flagged, table_of, where
from query_audit.analyze.trace import replica_safe
from query_audit.model import Finding, Severity


def _judge(trace, index):
    traced = trace.statements[index]
    if traced.server != PRIMARY or not replica_safe(trace, index):
        return None
    return {"in_transaction": traced.in_transaction}


def find(context: AnalysisContext, queries) -> list[Finding]:
    findings = []
    for query, found in flagged(context, _judge):
        traced = found[0][0]
        in_transaction = any(evidence["in_transaction"] for _, evidence in found)
        why = ("inside a read-only transaction, which the write pool serves" if in_transaction else
               "outside any transaction, after no write to its tables in the request")
        fix = ("drop the transaction around it (a read-only transaction buys nothing a replica cannot give)"
               if in_transaction else "send it to the read pool")
        findings.append(query_finding(query,
            rule=RULE.id, severity=Severity.MEDIUM, table=table_of(traced),
            message=(f"the primary served this SELECT {len(found)} time(s) in {where(found)}, {why}: a replica "
                     "could have served it, and the primary is the one server that cannot scale out"),
            suggestion=(f"{fix}: with Sequelize `replication`, a query outside a transaction and without "
                        "`useMaster: true` goes to a reader; elsewhere, use the reader endpoint's connection "
                        "pool for it"),
            evidence={"server": PRIMARY, "occurrences": [evidence for _, evidence in found]},
        ))
    return findings


RULE = Rule(
    id="read_on_primary",
    severity=Severity.MEDIUM,
    description="The primary served a read a replica could have served (a capture with --replica-dsn).",
    help=("Anti-pattern: replica-safe SELECTs (outside a writing transaction, not locking, not after a write to "
          "their tables) on the single writer. Best practice: send them to the read pool."),
    severity_policy="`medium`",
    per_request=True,
    details=__doc__,
    find=find,
)
