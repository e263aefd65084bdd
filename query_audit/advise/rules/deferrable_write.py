"""deferrable_write: a write nothing in the same request reads back, a candidate to queue or batch.

- **Detects**, in any live capture: a write that nothing later in the same request reads back (no later
  SELECT of its table), which is not part of a transaction with other writes (those commit together), and
  which is not the request's first write unit. Assumed: the first write unit (a transaction, or an
  autocommitted write) is the request's purpose, so it is never a candidate. The finding gives the write's
  share of the request's write cost: by measured time when performance_schema timed every write of the
  request, else by statements.
- **Why**: audit rows, counters and logs make the response wait and cost the single writer (the article:
  "delay them with a message queue").
- **Fix**: queue them and write them in batches (one multi-row INSERT per batch).
"""

from __future__ import annotations

from query_audit.advise.context import AnalysisContext
from query_audit.advise.rule import Rule
from query_audit.advise.rules import query_finding
from query_audit.advise.rules._routing import flagged, where
from query_audit.model import Finding, Severity


def _unit(traced) -> tuple:
    """A write's unit of work: its transaction (per server and connection), or itself under autocommit."""
    statement = traced.statement
    return ("tx", statement.server, statement.thread_id) if traced.in_transaction else ("auto", id(traced))


def _write_cost(writes) -> tuple[str, dict]:
    times = [w.statement.query_time for w in writes]
    if all(t is not None for t in times) and sum(times) > 0:
        return "time", {id(w): w.statement.query_time for w in writes}
    return "statements", {id(w): 1.0 for w in writes}


def _judge(trace, index):
    write = trace.statements[index]
    table = write.target_table
    if not write.kind.is_write or table is None:
        return None
    writes = [t for t in trace.statements if t.kind.is_write]
    units = list(dict.fromkeys(_unit(w) for w in writes))
    if _unit(write) == units[0] or sum(1 for w in writes if _unit(w) == _unit(write)) > 1:
        return None
    if any(table in later.tables for later in trace.statements[index + 1:] if later.kind.value == "select"):
        return None
    basis, cost = _write_cost(writes)
    share = cost[id(write)] / sum(cost.values())
    return {"table": table, "share_of_write_cost": round(share, 4), "basis": basis,
            "writes_in_request": len(writes), "query_time": write.statement.query_time}


def find(context: AnalysisContext, queries) -> list[Finding]:
    findings = []
    for query, found in flagged(context, _judge):
        first = found[0][1]
        basis = "measured write time" if first["basis"] == "time" else "write statements (no timings)"
        findings.append(query_finding(query,
            rule=RULE.id, severity=Severity.LOW, table=first["table"],
            message=(f"nothing in the request reads `{first['table']}` after this {query.group.kind.value.upper()} "
                     f"({where(found)}): it is {first['share_of_write_cost'] * 100:.0f}% of the request's write "
                     f"cost ({basis}, {first['writes_in_request']} writes), and the response does not wait on it"),
            suggestion=("take it out of the request: put it on a queue (a message broker, or a jobs table "
                        "drained by a worker) and write it in batches, as one multi-row INSERT per batch; keep "
                        "it in the request only if the response must not be sent before it is stored. "
                        "Assumed: the request's first write is its purpose, so it is never a candidate"),
            evidence={"occurrences": [evidence for _, evidence in found]},
        ))
    return findings


RULE = Rule(
    id="deferrable_write",
    severity=Severity.LOW,
    description="A write nothing in the same request reads back (audit rows, counters, logs): queue or batch it.",
    help=("Anti-pattern: the request waits on writes its response does not need, each paid by the single "
          "writer. Best practice: queue them and write them in batches."),
    severity_policy="`low`",
    per_request=True,
    details=__doc__,
    find=find,
)
