"""write_on_replica: a write that reached a replica, or failed there as read-only.

- **Detects**: an INSERT, UPDATE, DELETE or REPLACE that reached a replica. The general log records a
  statement when it arrives, so a write that read_only refused (ERROR 1290) is seen as well as one that ran.
- **Why**: refused, it is a failed request; run (an account with SUPER / READ_ONLY ADMIN, or read_only
  off), it makes the replica differ from the primary until replication breaks on it.
- **Fix**: writes only through the write pool; a reader account that read_only refuses.
"""

from __future__ import annotations

from query_audit.advise.context import AnalysisContext
from query_audit.advise.rule import Rule
from query_audit.advise.rules import query_finding
from query_audit.advise.rules._routing import PRIMARY, flagged, table_of, where
from query_audit.model import Finding, Severity


def _judge(trace, index):
    traced = trace.statements[index]
    if traced.server in (None, PRIMARY) or not traced.kind.is_write:
        return None
    return {"server": traced.server, "sql": traced.statement.sql, "user": traced.statement.user}


def find(context: AnalysisContext, queries) -> list[Finding]:
    findings = []
    for query, found in flagged(context, _judge):
        server = found[0][1]["server"]
        findings.append(query_finding(query,
            rule=RULE.id, severity=Severity.HIGH, table=table_of(found[0][0]),
            message=(f"a {query.group.kind.value.upper()} reached {server} ({where(found)}): with read_only on it "
                     "fails (ERROR 1290) for accounts without SUPER; without it, the replica's rows now differ "
                     "from the primary's"),
            suggestion=("send writes to the write pool only (Sequelize: `replication.write`); a statement that "
                        "writes must never go through the reader endpoint; give the application's reader "
                        "account no SUPER / READ_ONLY ADMIN so read_only refuses such writes"),
            evidence={"occurrences": [evidence for _, evidence in found]},
        ))
    return findings


RULE = Rule(
    id="write_on_replica",
    severity=Severity.HIGH,
    description="A write reached a replica (and failed there as read-only, or changed its data).",
    help=("Anti-pattern: a write through the reader pool. Best practice: writes only to the write pool, and a "
          "reader account that read_only refuses."),
    severity_policy="`high`",
    per_request=True,
    details=__doc__,
    find=find,
)
