"""read_after_write_on_replica: a read sent to a replica after the same request wrote the rows it reads.

- **Detects**, in a capture with `--replica-dsn`: a SELECT a replica served after the same request wrote
  a table it reads (on any server), where the values do not rule out the same rows: when the write and the
  read both fix a common column to literal values (`WHERE id = 42` after `UPDATE ... WHERE id = 42`, or an
  INSERT's values), those values must meet; when no common column says otherwise, the table is enough.
- **Why**: replication is asynchronous; under lag the replica has not applied the write yet, and the user
  does not see what they just saved. The evidence carries the replica's `Seconds_Behind_Master` and both
  GTID positions read right after that request.
- **Fix**: route the read to the primary (Sequelize `useMaster: true`, or read inside the write's
  transaction), or make the replica wait for the write: `SELECT @@last_gtid` on the primary connection
  after the COMMIT, then `SELECT MASTER_GTID_WAIT('<that position>', 1)` on the replica before the read
  (MySQL: `WAIT_FOR_EXECUTED_GTID_SET`). The printed wait uses the primary's position seen in the capture.
"""

from __future__ import annotations

from query_audit.advise.context import AnalysisContext
from query_audit.advise.rule import Rule
from query_audit.advise.rules import query_finding
from query_audit.advise.rules._routing import PRIMARY, flagged, where
from query_audit.analyze.trace import same_rows_possible, writes_table
from query_audit.model import Finding, Severity


def _judge(trace, index):
    read = trace.statements[index]
    if read.server in (None, PRIMARY) or read.kind.value != "select":
        return None
    for write in reversed(trace.statements[:index]):
        table = next((t for t in read.tables if writes_table(write, t)), None)
        if table is not None and same_rows_possible(write, read):
            common = sorted(set(write.key_values()) & set(read.key_values()))
            lag = [sample for sample in trace.lag if sample.server == read.server]
            return {"server": read.server, "table": table, "write_query_id": write.query_id,
                    "write_sql": write.statement.sql, "write_server": write.server, "same_key": common,
                    "seconds_behind": lag[0].seconds_behind if lag else None,
                    "primary_gtid": lag[0].primary_gtid if lag else None,
                    "replica_gtid": lag[0].replica_gtid if lag else None}
    return None


def wait_sql(primary_gtid: str | None) -> str:
    """MariaDB's wait for a GTID position on the replica, at most 1 s (0 back: caught up; -1: timed out)."""
    position = (primary_gtid or "").replace("'", "")
    return f"SELECT MASTER_GTID_WAIT('{position}', 1)"


def find(context: AnalysisContext, queries) -> list[Finding]:
    findings = []
    for query, found in flagged(context, _judge):
        first = found[0][1]
        keyed = f", same {', '.join(first['same_key'])}" if first["same_key"] else ""
        behind = first["seconds_behind"]
        lag = f"; the replica was {behind} s behind right after it" if behind is not None else ""
        findings.append(query_finding(query,
            rule=RULE.id, severity=Severity.HIGH, table=first["table"],
            message=(f"{first['server']} served this SELECT of `{first['table']}` right after the request wrote "
                     f"it on the {first['write_server'] or PRIMARY}{keyed} ({where(found)}){lag}: under "
                     "replica lag it returns the rows as they were before the write"),
            suggestion=("route this read to the primary (Sequelize: `useMaster: true`, or run it in the write's "
                        "transaction), or make the replica wait for the write: read `SELECT @@last_gtid` on the "
                        "primary connection after the COMMIT, then on the replica, before the read, "
                        f"`{wait_sql(first['primary_gtid'])}` with that position (MySQL: "
                        "WAIT_FOR_EXECUTED_GTID_SET with the write's GTID set)"),
            evidence={"occurrences": [evidence for _, evidence in found],
                      "wait_sql": wait_sql(first["primary_gtid"]) if first["primary_gtid"] else None},
        ))
    return findings


RULE = Rule(
    id="read_after_write_on_replica",
    severity=Severity.HIGH,
    description="A replica served a read of rows the same request had just written.",
    help=("Anti-pattern: reading your own write from a replica, which under lag returns the old rows. Best "
          "practice: read it on the primary or in the write's transaction, or wait for the write's GTID "
          "(MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET)."),
    severity_policy="`high`",
    per_request=True,
    details=__doc__,
    find=find,
)
