"""What the routing rules share: the captured requests' statements, grouped into one finding per shape."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from query_audit.advise.context import AnalysisContext
from query_audit.analyze.trace import RequestTrace, TracedStatement

PRIMARY = "primary"  # the label capture/replicated.py gives the writer

# (trace, index of the statement in it) -> evidence for a finding, or None when the statement is fine
Judge = Callable[[RequestTrace, int], dict | None]


def occurrences(traces: Sequence[RequestTrace], judge: Judge) -> dict[str, list[tuple[TracedStatement, dict]]]:
    """Every statement `judge` flags, by query id, in capture order."""
    found: dict[str, list[tuple[TracedStatement, dict]]] = defaultdict(list)
    for trace in traces:
        for index, traced in enumerate(trace.statements):
            evidence = judge(trace, index)
            if evidence is not None:
                found[traced.query_id].append((traced, dict(evidence, request=trace.request,
                                                             endpoint=trace.endpoint)))
    return found


def flagged(context: AnalysisContext, judge: Judge):
    """(query, its flagged statements with their evidence) for each shape `judge` flags in the context's
    request traces."""
    by_id = context.queries_by_id
    for query_id, found in occurrences(context.traces, judge).items():
        if query_id in by_id:
            yield by_id[query_id], found


def where(found: list[tuple[TracedStatement, dict]]) -> str:
    """`request 2 (GET http://...)` or `3 requests`, for a message."""
    requests = sorted({evidence["request"] for _, evidence in found})
    if len(requests) == 1:
        endpoint = found[0][1].get("endpoint")
        return f"request {requests[0]}" + (f" ({endpoint})" if endpoint else "")
    return f"{len(requests)} requests"


def table_of(traced: TracedStatement) -> str | None:
    return traced.target_table or (traced.tables[0] if traced.tables else None)
