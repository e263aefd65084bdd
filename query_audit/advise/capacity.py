"""A capacity plan for a target load, from what one capture of the endpoints measured.

Per endpoint, a captured request gives statements on the writer and on the readers, its writes, its
replica-safe reads still on the writer, and (where performance_schema timed every statement) its
database time. At the target load each endpoint gets its share of the requests (the traffic mix), and:

    statements/s on a server  = sum over endpoints of (requests/s x statements per request there)
    database time per second  = sum over endpoints of (requests/s x database seconds per request there)
    busy connections (Little) = database time per second (arrival rate x time each request holds one)
    pool per app instance     = ceil(busy connections / app instances)
    replicas needed           = ceil(read statements/s / per-replica budget)

Every figure carries the formula with its inputs; what the plan assumes is listed, never hidden.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from query_audit.analyze.trace import RequestTrace, replica_safe
from query_audit.model import BoundingWrite, CapacityPlan, PlanFigure

PRIMARY = "primary"
BOUNDING_WRITES = 5  # the heaviest write shapes listed


@dataclass(frozen=True)
class CapacityTarget:
    """What the plan is for: `--target-rps` (or `--target-rpm` / 60), the mix, the fleet, the budget."""

    requests_per_second: float
    stated_as: str  # how the user gave it, e.g. "--target-rpm 5000000 (/ 60)"
    weights: tuple[float, ...] = ()  # pairs with the capture's endpoints, in order; () = equal
    app_instances: int = 1
    app_instances_given: bool = False
    replica_budget: float | None = None  # statements per second one replica can take


@dataclass
class _Endpoint:
    """Per-request averages of one endpoint's captured requests."""

    name: str
    requests: int = 0
    writer: float = 0.0
    reader: float = 0.0
    writes: float = 0.0
    safe_on_writer: float = 0.0
    writer_time: float | None = 0.0
    reader_time: float | None = 0.0


def _add(total: float | None, seconds: float | None) -> float | None:
    """A sum that stays unknown once one of its terms is (an untimed statement)."""
    return None if total is None or seconds is None else total + seconds


def _per_endpoint(traces: Sequence[RequestTrace]) -> dict[str, _Endpoint]:
    endpoints: dict[str, _Endpoint] = {}
    for trace in traces:
        name = trace.endpoint or "the command"
        found = endpoints.setdefault(name, _Endpoint(name))
        found.requests += 1
        for index, traced in enumerate(trace.statements):
            on_writer = traced.server in (None, PRIMARY)
            seconds = traced.statement.query_time
            if on_writer:
                found.writer += 1
                found.writes += traced.kind.is_write
                found.safe_on_writer += replica_safe(trace, index)
                found.writer_time = _add(found.writer_time, seconds)
            else:
                found.reader += 1
                found.reader_time = _add(found.reader_time, seconds)
    for found in endpoints.values():
        for name in ("writer", "reader", "writes", "safe_on_writer", "writer_time", "reader_time"):
            value = getattr(found, name)
            setattr(found, name, None if value is None else value / found.requests)
    return endpoints


def _rates(endpoints: list[str], target: CapacityTarget) -> tuple[dict[str, float], dict[str, str], str | None]:
    """Requests per second of each endpoint at the target, how each was reached, and the mix assumption."""
    weights = list(target.weights) if target.weights else [1.0] * len(endpoints)
    assumption = None if target.weights else (f"traffic mix: the {len(endpoints)} captured endpoint(s) get equal "
                                              "shares of the target (give --weight to state the real mix)")
    total = sum(weights)
    rates = {name: target.requests_per_second * weight / total for name, weight in zip(endpoints, weights)}
    how = {name: f"{target.requests_per_second:g} requests/s x {weight:g} / {total:g}"
           for name, weight in zip(endpoints, weights)}
    return rates, how, assumption


def _sum_figure(name: str, unit: str, rates: dict, per_request: dict, what: str) -> PlanFigure:
    """sum over endpoints of rate x per-request value; unknown when any endpoint's value is."""
    if any(value is None for value in per_request.values()):
        return PlanFigure(name, None, unit, f"unknown: {what} was not measured for every endpoint (no "
                                            "performance_schema timings in this capture; docs/timings.md)")
    value = sum(rates[e] * per_request[e] for e in rates)
    terms = " + ".join(f"{rates[e]:g} x {per_request[e]:.6g}" for e in rates)
    return PlanFigure(name, round(value, 6), unit, f"requests/s x {what} per request: {terms}")


def capacity_plan(traces: Sequence[RequestTrace], queries: Sequence, target: CapacityTarget,
                  max_connections: dict[str, int | None], replicas_captured: int) -> CapacityPlan:
    endpoints = _per_endpoint(traces)
    names = list(endpoints)
    if target.weights and len(target.weights) != len(names):
        raise ValueError(f"{len(target.weights)} --weight value(s) for {len(names)} endpoint(s)")
    rates, rate_how, mix = _rates(names, target)
    figures = [PlanFigure("target load", target.requests_per_second, "requests/s", target.stated_as)]
    figures += [PlanFigure(f"rate of {name}", round(rates[name], 6), "requests/s",
                           f"{rate_how[name]}; {endpoints[name].requests} captured request(s) averaged")
                for name in names]

    def per(field):
        return {name: getattr(endpoints[name], field) for name in names}

    writer = _sum_figure("writer statements", "statements/s", rates, per("writer"), "statements on the writer")
    writes = _sum_figure("writes on the writer", "statements/s", rates, per("writes"), "write statements")
    safe = _sum_figure("replica-safe reads still on the writer", "statements/s", rates, per("safe_on_writer"),
                       "replica-safe reads the writer served")
    reader = _sum_figure("reader statements", "statements/s", rates, per("reader"), "statements on the replicas")
    writer_time = _sum_figure("writer database time", "s/s", rates, per("writer_time"), "writer database seconds")
    reader_time = _sum_figure("reader database time", "s/s", rates, per("reader_time"), "reader database seconds")
    figures += [writer, writes, safe, reader, writer_time, reader_time]
    replicas = _replicas_needed(reader, safe, target, replicas_captured)
    figures.append(replicas)
    figures += _pools(writer_time, reader_time, replicas, target, max_connections)
    assumptions = [a for a in (mix, _instances_assumption(target)) if a] + [
        "each captured request stands for its endpoint at the target load (same data, same statements)",
        "a connection is busy only while its statements run (Little's law floor); time the application "
        "holds one between statements is not counted: add headroom for that and for bursts",
        "database time is the capture server's: production hardware and data sizes change it",
        "reads spread evenly over the replicas (Aurora's reader endpoint balances per connection)",
    ]
    return CapacityPlan(target.requests_per_second, tuple(figures), _bounding_writes(traces, queries, rates),
                        tuple(assumptions))


def _instances_assumption(target: CapacityTarget) -> str | None:
    if target.app_instances_given:
        return None
    return "one application instance (give --app-instances for the real fleet size)"


def _replicas_needed(reader: PlanFigure, safe: PlanFigure, target: CapacityTarget, captured: int) -> PlanFigure:
    reads = (reader.value or 0) + (safe.value or 0)
    parts = f"({reader.value:g} reader statements/s + {safe.value:g} replica-safe reads now on the writer)"
    if target.replica_budget is None:
        return PlanFigure("replicas needed", None, "replicas",
                          f"unknown: give --replica-budget, the statements/s one replica takes, for {parts}")
    needed = math.ceil(reads / target.replica_budget) if reads else 0
    note = "" if captured else "; this capture had no --replica-dsn, so every replica-safe read counts"
    return PlanFigure("replicas needed", needed, "replicas",
                      f"ceil({reads:g} read statements/s / {target.replica_budget:g} per replica (--replica-budget)) "
                      f"{parts}{note}")


def _pools(writer_time: PlanFigure, reader_time: PlanFigure, replicas: PlanFigure, target: CapacityTarget,
           max_connections: dict[str, int | None]) -> list[PlanFigure]:
    """Little's law per pool: busy connections = database seconds per second; shared by the instances."""
    figures = []
    replica_limit = next((v for k, v in max_connections.items() if k != PRIMARY and v), None)
    for label, spent, limit, servers in (("writer", writer_time, max_connections.get(PRIMARY), 1),
                                         ("reader", reader_time, replica_limit, replicas.value)):
        name = f"{label} pool per app instance"
        if spent.value is None:
            figures.append(PlanFigure(name, None, "connections", f"unknown: the {label} database time is"))
            continue
        per_instance = max(1, math.ceil(spent.value / target.app_instances)) if spent.value else 0
        figures.append(PlanFigure(name, per_instance, "connections",
                                  f"Little's law: {spent.value:.6g} busy connections (= {label} database s/s) / "
                                  f"{target.app_instances} instance(s), rounded up"))
        total = per_instance * target.app_instances
        where = "the primary" if label == "writer" else "each replica"
        share = total / servers if servers else total
        verdict = "unknown (not read)" if limit is None else ("fits" if share <= limit else "EXCEEDS it")
        figures.append(PlanFigure(f"{label} connections against max_connections", round(share, 3), "connections",
                                  f"{per_instance} x {target.app_instances} instance(s)"
                                  + (f" / {servers} replica(s)" if label == "reader" and servers else "")
                                  + f" on {where}; max_connections {limit if limit is not None else '?'} "
                                    f"(read from the server): {verdict}"))
    return figures


def _bounding_writes(traces: Sequence[RequestTrace], queries: Sequence, rates: dict[str, float]) -> tuple:
    """Write shapes on the writer by writes per second at the target: the writer cannot scale out."""
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    spent: dict[str, dict[str, float | None]] = defaultdict(lambda: defaultdict(float))
    requests: dict[str, int] = defaultdict(int)
    for trace in traces:
        name = trace.endpoint or "the command"
        requests[name] += 1
        for traced in trace.statements:
            if traced.kind.is_write and traced.server in (None, PRIMARY):
                counts[traced.query_id][name] += 1
                took, so_far = traced.statement.query_time, spent[traced.query_id][name]
                spent[traced.query_id][name] = None if took is None or so_far is None else so_far + took

    def at_target(values: dict) -> float | None:
        if any(value is None for value in values.values()):
            return None
        return sum(rates[e] * value / requests[e] for e, value in values.items())

    per_second = {qid: at_target(by_endpoint) for qid, by_endpoint in counts.items()}
    total = sum(per_second.values())
    shapes = {query.group.id: query for query in queries}
    result = []
    for qid in sorted(per_second, key=lambda q: -per_second[q])[:BOUNDING_WRITES]:
        query = shapes.get(qid)
        seconds = at_target(spent[qid])
        result.append(BoundingWrite(qid, query.group.fingerprint if query is not None else "",
                                    query.model.target_table if query is not None else None,
                                    round(per_second[qid], 6), round(per_second[qid] / total, 4) if total else 0.0,
                                    None if seconds is None else round(seconds, 6)))
    return tuple(result)
