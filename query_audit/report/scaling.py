"""The replica routing and capacity plan sections, as plain lines every report for people shares.

Text, Markdown and rich print the same sentences: per request, statements per server and each
replica's lag; then each figure of the plan with the inputs it came from, the writes that bound it,
and the plan's assumptions.
"""

from __future__ import annotations

from query_audit.model import CapacityPlan, Report, RequestRouting


def _number(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def routing_lines(report: Report) -> list[str]:
    """One line per request: `request 1 (GET ...): primary 2, replica1 1; replica1 lag 0 s (GTID ...)`."""
    return [_request_line(routing) for routing in report.summary.routing]


def _request_line(routing: RequestRouting) -> str:
    where = ", ".join(f"{server} {count}" for server, count in routing.statements)
    lag = "; ".join(
        f"{sample.server} {sample.seconds_behind if sample.seconds_behind is not None else '?'} s behind"
        + (f" (replica GTID {sample.replica_gtid}, primary {sample.primary_gtid})" if sample.replica_gtid else "")
        for sample in routing.lag)
    endpoint = f" ({routing.endpoint})" if routing.endpoint else ""
    return f"request {routing.request}{endpoint}: {where}" + (f"; {lag}" if lag else "")


def server_lines(report: Report) -> list[str]:
    return [f"{role.label}: {role.address}, max_connections {role.max_connections}, "
            f"read_only {'ON' if role.read_only else 'OFF'}" for role in report.source.servers]


def figure_lines(plan: CapacityPlan) -> list[str]:
    return [f"{figure.name}: {_number(figure.value)} {figure.unit} ({figure.how})" for figure in plan.figures]


def bounding_lines(plan: CapacityPlan) -> list[str]:
    lines = []
    for write in plan.bounding_writes:
        spent = f", {_number(write.db_seconds_per_second)} database s/s" if write.db_seconds_per_second is not None \
            else ""
        lines.append(f"{write.query_id[:16]} on {write.table or '?'}: {_number(write.per_second)} writes/s, "
                     f"{write.share * 100:.0f}% of the writer's writes{spent}: {write.fingerprint[:80]}")
    return lines


def capacity_sections(plan: CapacityPlan | None) -> list[tuple[str, list[str]]]:
    """(heading, lines) of the plan: figures, the writes that bound it, assumptions."""
    if plan is None:
        return []
    sections = [("figures", figure_lines(plan))]
    if plan.bounding_writes:
        sections.append(("writes that bound the plan (the writer cannot scale out)", bounding_lines(plan)))
    sections.append(("assumptions", list(plan.assumptions)))
    return sections
