"""The Markdown report, for a pull-request comment or `$GITHUB_STEP_SUMMARY`.

A verdict line, a findings table a reviewer can scan, then one collapsed `<details>` block per
finding with its SQL, evidence and fix, and a collapsed profile of the busiest shapes, so the comment
stays short until someone opens it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from query_audit.model import Finding, Report
from query_audit.report import common, scaling
from query_audit.report.rule_help import rule_help

if TYPE_CHECKING:
    from query_audit.gate.baseline import GateResult

SEVERITY_ICON = {"high": "🔴", "medium": "🟠", "low": "🔵", "info": "⚪"}
# A comment is read, not searched: the rest of the ranking is in the text and JSON reports.
PROFILE_ROWS = 10


def _cell(text: str) -> str:
    """A table cell: pipes escaped and newlines flattened, or the row breaks."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: str, language: str = "") -> list[str]:
    # A fence longer than any backtick run inside the text cannot be closed early by it.
    fence = "```"
    while fence in text:
        fence += "`"
    return [f"{fence}{language}", text, fence]


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _details(story: common.Story) -> list[str]:
    """One collapsed block per query: its SQL and plan once, each finding with its evidence, one fix."""
    head = story.findings[0]
    summary = (f"<b>{story.severity.value}</b> {_html(common.story_title(story))}"
               + (f": {_html(head.message)}" if len(story.findings) == 1 else ""))
    lines = [f"<details><summary>{summary}</summary>", ""]
    origin = common.origin_line(story.query.origin if story.query is not None else head.origin)
    if origin:
        lines += [f"From `{_cell(origin)}`", ""]
    if story.query is not None:
        query = story.query
        lines += [f"Query `{query.group.id}`, {query.group.count}x:", ""] + _code(common.shown_sql(query), "sql") + [""]
    rows = common.story_plan_rows(story)
    if rows:
        lines.append("| " + " | ".join(common.PLAN_HEADERS) + " |")
        lines.append("|" + "---|" * len(common.PLAN_HEADERS))
        lines += ["| " + " | ".join(_cell(c) for c in common.plan_cells(row)) + " |" for row in rows]
        lines.append("")
    for finding in story.findings:
        lines.append(f"- **{finding.severity.value}** {finding.rule}: {_cell(finding.message)} "
                     f"_({_html(rule_help(finding.rule).title)})_")
        lines += [f"  - {_cell(line)}" for line in common.evidence_lines(finding, plan_shown=bool(rows))]
    lines.append("")
    lines += _fix("Fix", story.fix)
    for finding in story.also:
        lines += _fix(f"Also ({finding.rule})", finding)
    lines += ["</details>", ""]
    return lines


def _fix(label: str, finding: Finding | None) -> list[str]:
    advice, ddl = common.fix_parts(finding) if finding is not None else ("", None)
    lines = [f"**{label}:** {advice}".rstrip(), ""] if advice or ddl else []
    return lines + (_code(ddl, "sql") + [""] if ddl else [])


def _profile(report: Report) -> list[str]:
    """The busiest shapes, by total time when the source timed them (a slow log), else by calls."""
    if not report.queries:
        return []
    timed = common.is_timed(report)
    ranking = common.profile(report, by_time=timed)
    shown = ranking[:PROFILE_ROWS]
    which = common.plural(len(ranking), "shape") if len(shown) == len(ranking) else \
        f"the top {len(shown)} of {len(ranking)} shapes"
    lines = [f"<details><summary>Profile: {which}, by {'total time' if timed else 'calls'}</summary>", ""]
    if timed:
        lines += ["| rank | query | time | % | calls | max | item |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r.rank} | `{common.short_id(r.query.group.id)}` "
                  f"| {common.seconds(r.query.group.total_query_time)} | {(r.share_of_time or 0) * 100:.1f}% "
                  f"| {r.query.group.count} | {common.seconds(r.query.group.max_query_time)} "
                  f"| {_cell(common.item_label(r.query))} |" for r in shown]
    else:
        lines += ["| rank | query | calls | % | item |", "|---|---|---|---|---|"]
        lines += [f"| {r.rank} | `{common.short_id(r.query.group.id)}` | {r.query.group.count} "
                  f"| {r.share_of_calls * 100:.1f}% | {_cell(common.item_label(r.query))} |" for r in shown]
    return lines + ["", "</details>", ""]


def _scaling(report: Report) -> list[str]:
    lines = []
    if report.summary.routing:
        lines += ["### Replica routing", ""]
        lines += [f"- {_cell(line)}" for line in scaling.server_lines(report) + scaling.routing_lines(report)]
        lines.append("")
    if report.capacity is not None:
        lines += ["### Capacity plan", ""]
        for heading, items in scaling.capacity_sections(report.capacity):
            lines += [f"**{heading}**", ""] + [f"- {_cell(item)}" for item in items] + [""]
    return lines


def render_markdown(report: Report, gate: GateResult | None = None) -> str:
    findings = common.sorted_findings(report.findings)
    lines = ["## query-audit", ""]
    lines.append(f"**{common.verdict(report, gate)}**")
    lines.append("")
    source = ", ".join(f"`{e}`" for e in report.source.endpoints) or ", ".join(f"`{f}`" for f in report.source.files)
    lines.append(f"{common.plural(report.summary.statements, 'statement')}, "
                 f"{common.plural(report.summary.distinct, 'distinct shape')}, "
                 f"server {common.server_line(report)}" + (f"; source {source}" if source else "") + ".")
    lines.append("")
    if gate is not None and (gate.new or gate.fixed):
        lines += ["| gate | rule | table | query |", "|---|---|---|---|"]
        lines += [f"| new | {f.rule} | {_cell(f.table or '')} | `{f.query_id or ''}` |" for f in gate.new]
        lines += [f"| fixed | {e.rule} | {_cell(e.table)} | `{e.query_id}` |" for e in gate.fixed]
        lines.append("")
    if findings:
        lines += ["| severity | rule | table | query | finding |", "|---|---|---|---|---|"]
        for f in findings:
            icon = SEVERITY_ICON.get(f.severity.value, "")
            lines.append(f"| {icon} {f.severity.value} | {f.rule} | {_cell(f.table or '')} | "
                         f"`{f.query_id or ''}` | {_cell(f.message)} |")
        lines.append("")
        for story in common.stories(report):
            lines += _details(story)
    lines += _scaling(report)
    lines += _profile(report)
    if report.notes:
        lines += ["Notes:", ""] + [f"- {_cell(note)}" for note in report.notes] + [""]
    return "\n".join(lines).rstrip() + "\n"
