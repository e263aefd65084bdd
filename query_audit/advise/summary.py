"""The capture in numbers: statements, reads and writes, round trips per request, replica-eligible reads,
database time per request and a connection-pool estimate (Little's law)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from query_audit.analyze.transactions import TransactionTracker
from query_audit.model import AnalyzedQuery, Kind, RequestRouting, SourceInfo, Summary, TransactionSummary

# The request rate the pool estimate is stated for; the inputs are reported so it can be scaled.
TARGET_REQUESTS_PER_SECOND = 100


def pool_size_estimate(db_time_per_request: float, requests_per_second: float = TARGET_REQUESTS_PER_SECOND) -> dict:
    """Little's law: connections busy at once = arrival rate x time each request holds the database."""
    busy = requests_per_second * db_time_per_request
    return {
        "formula": "connections = requests per second x database time per request (Little's law)",
        "requests_per_second": requests_per_second,
        "db_time_per_request_s": round(db_time_per_request, 6),
        "connections_busy": round(busy, 3),
        "connections": max(1, math.ceil(busy)),
        "note": "a floor: add headroom for bursts, and time a request holds a connection outside queries",
    }


def transaction_summary(tracker: TransactionTracker | None, requests: int) -> TransactionSummary:
    """The tracker's counts, and per request where there were requests (a capture)."""
    if tracker is None:
        return TransactionSummary()
    return TransactionSummary(
        transactions=tracker.begun, control_statements=tracker.control_statements,
        statements_inside=tracker.statements_inside, idle_ends=tracker.idle_ends,
        per_request=round(tracker.begun / requests, 2) if requests else None,
        control_statements_per_request=round(tracker.control_statements / requests, 2) if requests else None)


def request_routing(traces: Sequence, source: SourceInfo) -> tuple[RequestRouting, ...]:
    """Per request of a replicated capture: statements per server (the primary first, servers that got
    none shown with 0) and each replica's lag right after it. Empty for a one-server capture."""
    if not source.servers:
        return ()
    labels = [role.label for role in source.servers]
    routing = []
    for trace in traces:
        counts = {label: 0 for label in labels}
        for traced in trace.statements:
            counts[traced.server] = counts.get(traced.server, 0) + 1
        routing.append(RequestRouting(trace.request, trace.endpoint, tuple(counts.items()), trace.lag))
    return tuple(routing)


def summarize(queries: Sequence[AnalyzedQuery], source: SourceInfo, *, noise_dropped: int = 0,
              skipped_lines: int = 0, transactions: TransactionTracker | None = None,
              traces: Sequence = ()) -> Summary:
    """`statements` counts the query shapes' statements; round trips add the transaction control statements
    (BEGIN, COMMIT, ROLLBACK...), which `transactions` counts apart."""
    statements = sum(query.group.count for query in queries)
    reads = sum(query.group.count for query in queries if query.group.kind is Kind.SELECT)
    writes = sum(query.group.count for query in queries if query.group.kind.is_write)
    replica = sum(max(query.group.count - query.group.after_write_count, 0)
                  for query in queries if query.group.kind is Kind.SELECT)
    requests = source.requests
    control = transactions.control_statements if transactions is not None else 0
    timings = [query.group.total_query_time for query in queries if query.group.total_query_time is not None]
    db_time = sum(timings) / requests if timings and requests else None
    return Summary(
        statements=statements,
        distinct=len(queries),
        reads=reads,
        writes=writes,
        other=statements - reads - writes,
        noise_dropped=noise_dropped,
        skipped_lines=skipped_lines,
        requests=requests,
        round_trips_per_request=round((statements + control) / requests, 2) if requests else None,
        replica_eligible_reads=replica,
        db_time_per_request=db_time,
        pool_size_estimate=pool_size_estimate(db_time) if db_time is not None else None,
        transactions=transaction_summary(transactions, requests),
        routing=request_routing(traces, source),
    )
