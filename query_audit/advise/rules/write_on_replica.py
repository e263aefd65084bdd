"""write_on_replica: a write that reached a replica, or failed there as read-only.

A replica takes its data from the primary's binlog: a write sent to it either fails (read_only=ON,
ERROR 1290, unless the account has SUPER / READ_ONLY ADMIN) or silently makes the replica differ from
the primary until replication breaks on it. The general log records the statement when it arrives,
so both are seen.
"""

from __future__ import annotations

from query_audit.advise.rules import query_finding
from query_audit.advise.rules._routing import PRIMARY, flagged, table_of, where
from query_audit.model import Finding, SchemaMap, Severity, Thresholds

RULE = "write_on_replica"


def _judge(trace, index):
    traced = trace.statements[index]
    if traced.server in (None, PRIMARY) or not traced.kind.is_write:
        return None
    return {"server": traced.server, "sql": traced.statement.sql, "user": traced.statement.user}


def check(queries, schemas: SchemaMap, thresholds: Thresholds, traces=()) -> list[Finding]:
    findings = []
    for query, found in flagged(queries, traces, _judge):
        server = found[0][1]["server"]
        findings.append(query_finding(query,
            rule=RULE, severity=Severity.HIGH, table=table_of(found[0][0]),
            message=(f"a {query.group.kind.value.upper()} reached {server} ({where(found)}): with read_only on it "
                     "fails (ERROR 1290) for accounts without SUPER; without it, the replica's rows now differ "
                     "from the primary's"),
            suggestion=("send writes to the write pool only (Sequelize: `replication.write`); a statement that "
                        "writes must never go through the reader endpoint; give the application's reader "
                        "account no SUPER / READ_ONLY ADMIN so read_only refuses such writes"),
            evidence={"occurrences": [evidence for _, evidence in found]},
        ))
    return findings
