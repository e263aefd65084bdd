"""The terminal report, drawn with rich and returned as a string (the CLI prints it).

Order: header, verdict, findings by severity (evidence, SQL, reason, fix), gate, batching, writes and
load, profile, queries (with -v), notes. The words and numbers come from `common`, so the text
report says the same thing without colour.
"""

from __future__ import annotations

import shutil
from io import StringIO
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from query_audit.model import Finding, Report, Severity
from query_audit.report import common

if TYPE_CHECKING:
    from query_audit.gate.baseline import GateResult

SEVERITY_STYLE = {Severity.HIGH: "bold red", Severity.MEDIUM: "yellow", Severity.LOW: "cyan", Severity.INFO: "dim"}


def _sql(sql: str) -> Syntax:
    # ansi_dark uses the terminal's own palette and background, so it reads on light and dark themes.
    return Syntax(sql, "sql", theme="ansi_dark", word_wrap=True, background_color="default")


def _header(report: Report) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in common.header_facts(report):
        grid.add_row(label, value)
    return Panel(grid, title="query-audit", title_align="left", box=box.ROUNDED)


def _verdict(report: Report, gate: GateResult | None) -> Text:
    severities = {f.severity for f in report.findings}
    style = next((SEVERITY_STYLE[s] for s in common.SEVERITIES if s in severities), "bold green")
    text = Text("Verdict: ", style="bold")
    text.append(common.findings_verdict(report.findings), style=style)
    if gate is not None:
        text.append("; ")
        text.append(gate.verdict(), style="bold green" if gate.passed else "bold red")
    return text


def _indented(renderable: RenderableType) -> Padding:
    return Padding(renderable, (0, 0, 0, 2))


def _story(story: common.Story, new: set, width: int) -> Panel:
    """One query's panel: where it came from, its SQL and plan once, its findings worst first, one fix."""
    parts: list[RenderableType] = []
    origin = common.origin_line(story.query.origin if story.query is not None else story.findings[0].origin)
    if origin:
        parts.append(Text(f"from {origin}", style="dim"))
    if story.query is not None:
        parts += [Text("SQL", style="bold"), _indented(_sql(common.shown_sql(story.query)))]
    rows = common.story_plan_rows(story)
    if rows:
        parts += [Text("Plan", style="bold"), _indented(_plan_table(rows, width - 6))]
    for finding in story.findings:
        line = Text("- ")
        line.append(f"{finding.severity.value} ", style=SEVERITY_STYLE[finding.severity])
        line.append(finding.rule, style="bold")
        if finding.baseline_key in new:
            line.append(" NEW", style="bold red")
        line.append(f": {finding.message}")
        parts.append(line)
        parts += [_indented(_indented(Text(item))) for item in common.evidence_lines(finding, plan_shown=bool(rows))]
    parts += _fix("Fix", story.fix)
    for finding in story.also:
        parts += _fix(f"Also ({finding.rule})", finding)
    style = SEVERITY_STYLE[story.severity]
    title = Text(f"{story.severity.value.upper()} ", style=style)
    title.append(common.story_title(story), style="bold")
    if any(f.baseline_key in new for f in story.findings):
        title.append(" NEW", style="bold red")
    subtitle = f"query {story.query.group.id}" if story.query is not None else None
    return Panel(Group(*parts), title=title, title_align="left", subtitle=subtitle, subtitle_align="right",
                 border_style=style, box=box.ROUNDED)


def _fix(label: str, finding: Finding | None) -> list[RenderableType]:
    advice, ddl = common.fix_parts(finding) if finding is not None else ("", None)
    if not advice and not ddl:
        return []
    parts: list[RenderableType] = [Text(label, style="bold")]
    if advice:
        parts.append(_indented(Text(advice)))
    if ddl:
        parts.append(_indented(_sql(ddl)))
    return parts


# EXPLAIN's columns that still fit a narrow terminal; the full set from WIDE_PLAN columns up.
NARROW_PLAN = ("table", "type", "key", "ref", "rows", "filtered", "Extra")
WIDE_PLAN = 120


def _plan_table(rows, width: int) -> Table:
    headers = common.PLAN_HEADERS if width >= WIDE_PLAN else NARROW_PLAN
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header in headers:
        table.add_column(header, overflow="fold", no_wrap=header in ("type", "rows", "filtered"))
    for row in rows:
        cells = dict(zip(common.PLAN_HEADERS, common.plan_cells(row)))
        if row.access_type in ("ALL", "index") and row.rows:
            cells["type"] = f"[bold red]{cells['type']}[/]"
        table.add_row(*(cells[h] for h in headers))
    return table


def _findings(report: Report, gate: GateResult | None, width: int) -> list[RenderableType]:
    out: list[RenderableType] = []
    new = {f.baseline_key for f in gate.new} if gate else set()
    told = common.stories(report)
    for severity in common.SEVERITIES:
        group = [story for story in told if story.severity is severity]
        if group:
            count = common.plural(sum(len(story.findings) for story in group), "finding")
            out.append(Rule(Text(f"{severity.value} ({count})".upper(), style=SEVERITY_STYLE[severity]),
                            align="left"))
            out += [_story(story, new, width) for story in group]
    return out


def _section(title: str) -> Group:
    return Group(Text(), Rule(Text(title, style="bold"), align="left"))


def _table(*headers: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def _gate(gate: GateResult) -> list[RenderableType]:
    table = _table("status", "rule", "table", "query", "reason")
    for finding in gate.new:
        table.add_row("[bold red]new[/]", finding.rule, finding.table or "", common.short_id(finding.query_id), "")
    for finding in gate.known:
        table.add_row("known", finding.rule, finding.table or "", common.short_id(finding.query_id), "")
    for entry in gate.fixed:
        table.add_row("[green]fixed[/]", entry.rule, entry.table, common.short_id(entry.query_id), entry.reason)
    line = Text(f"{gate.verdict()} (rules: {', '.join(gate.rules)}; baseline: {gate.baseline or 'none'})")
    return [_section("Gate"), line] + ([table] if table.row_count else [])


def _batching(report: Report) -> list[RenderableType]:
    shapes = common.repeated_shapes(report)
    if not shapes:
        return []
    table = _table("query", "unit", "runs", "distinct", "what it is")
    for query, unit, count, distinct in shapes:
        table.add_row(common.short_id(query.group.id), unit, str(count), str(distinct),
                      common.repetition_verdict(query, count, distinct))
    return [_section("Batching"), table]


def _writes(report: Report) -> list[RenderableType]:
    writes, facts = common.write_shapes(report), common.load_facts(report)
    if not writes and not facts:
        return []
    out: list[RenderableType] = [_section("Writes and load")]
    if facts:
        grid = Table.grid(padding=(0, 2))
        for label, value in facts:
            grid.add_row(label, value)
        out.append(grid)
    if writes:
        table = _table("query", "kind", "table", "count")
        for query in writes:
            table.add_row(common.short_id(query.group.id), query.group.kind.value,
                          query.model.target_table or ", ".join(query.model.tables), str(query.group.count))
        out.append(table)
    return out


def _profile(report: Report) -> list[RenderableType]:
    if not report.queries:
        return []
    timed = common.is_timed(report)
    if timed:
        table = _table("rank", "query", "time", "%", "calls", "max", "item")
        for r in common.profile(report, by_time=True):
            group = r.query.group
            table.add_row(str(r.rank), common.short_id(group.id), common.seconds(group.total_query_time),
                          f"{(r.share_of_time or 0) * 100:.1f}%", str(group.count),
                          common.seconds(group.max_query_time), common.item_label(r.query))
    else:
        table = _table("rank", "query", "calls", "%", "item")
        for r in common.profile(report):
            table.add_row(str(r.rank), common.short_id(r.query.group.id), str(r.query.group.count),
                          f"{r.share_of_calls * 100:.1f}%", common.item_label(r.query))
    note = "ranked by total time" if timed else "ranked by calls (no timings captured)"
    return [_section("Profile"), Text(note, style="dim"), table]


def _queries(report: Report, width: int) -> list[RenderableType]:
    out: list[RenderableType] = [_section("Queries")] if report.queries else []
    for query in report.queries:
        group = query.group
        out.append(Text(f"{group.id}  {group.kind.value}, {group.count}x, database {group.sample.database or '-'}",
                        style="bold"))
        out.append(_indented(_sql(group.fingerprint)))
        if query.plan is not None:
            out.append(_indented(_plan_table(query.plan.rows, width - 2)))
        if query.error:
            out.append(Text(f"  no plan: {query.error}", style="dim"))
        if not query.model.parsed and query.model.error:
            out.append(Text(f"  not parsed: {query.model.error}", style="dim"))
    return out


def _scaling(report: Report) -> list[RenderableType]:
    from query_audit.report import scaling

    out: list[RenderableType] = []
    if report.summary.routing:
        out.append(_section("Replica routing"))
        out += [Text(f"- {line}") for line in scaling.server_lines(report) + scaling.routing_lines(report)]
    if report.capacity is not None:
        out.append(_section("Capacity plan"))
        for heading, lines in scaling.capacity_sections(report.capacity):
            out.append(Text(f"{heading}:", style="bold"))
            out += [Text(f"  - {line}") for line in lines]
    return out


def _notes(report: Report) -> list[RenderableType]:
    if not report.notes:
        return []
    return [_section("Notes")] + [Text(f"- {note}") for note in report.notes]


def render_rich(report: Report, *, verbosity: int = 0, width: int | None = None,
                gate: GateResult | None = None, color: bool = True) -> str:
    """The report for a terminal. verbosity -1: verdict and findings; 1: also each query's plan rows.
    `color=False` gives the same layout without escape codes."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    console = Console(file=StringIO(), width=width, force_terminal=color, no_color=not color,
                      color_system="auto" if color else None, highlight=False, emoji=False)
    parts: list[RenderableType] = []
    if verbosity >= 0:
        parts.append(_header(report))
    parts.append(_verdict(report, gate))
    if not report.queries and verbosity >= 0:
        parts.append(Text("No statements were captured."))
    parts += _findings(report, gate, width)
    if verbosity >= 0:
        if gate is not None:
            parts += _gate(gate)
        parts += _batching(report) + _writes(report) + _scaling(report) + _profile(report)
        if verbosity >= 1:
            parts += _queries(report, width)
        parts += _notes(report)
    for part in parts:
        console.print(part)
    return console.file.getvalue()
