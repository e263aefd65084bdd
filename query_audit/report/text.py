"""The plain-text report: the rich report's content without colour, laid out for 80 columns.

For pipes, files, CI logs and `NO_COLOR`. Sections, in order: header, verdict, findings (each with
its SQL, evidence, reason and fix), gate, batching, writes and load, profile, queries (with -v), notes.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from tabulate import tabulate

from query_audit.model import Report
from query_audit.report import common, scaling

if TYPE_CHECKING:
    from query_audit.gate.baseline import GateResult

DEFAULT_WIDTH = 80
INDENT = "    "


class _Writer:
    def __init__(self, width: int) -> None:
        self.width = width
        self.lines: list[str] = []

    def line(self, text: str = "") -> None:
        self.lines.append(text)

    def title(self, text: str) -> None:
        if self.lines and self.lines[-1] != "":
            self.line()
        self.line(text.upper())
        self.line("=" * len(text))

    def wrapped(self, text: str, indent: str = "", hanging: str | None = None) -> None:
        """Wrap prose; words longer than a line (DDL, URLs) stay whole rather than break mid-name.
        `hanging` indents the lines after the first (a list item's continuation)."""
        self.lines.extend(textwrap.wrap(text, self.width, initial_indent=indent,
                                        subsequent_indent=indent if hanging is None else hanging,
                                        break_long_words=False, break_on_hyphens=False) or [indent])

    def attached(self, text: str) -> None:
        """Append `text` to the last line when it fits there whole, else on a line of its own."""
        if len(self.lines[-1]) + 1 + len(text) <= self.width:
            self.lines[-1] += " " + text
        else:
            self.line(text)

    def labelled(self, label: str, text: str) -> None:
        self.line(f"  {label}:")
        self.wrapped(text, INDENT)

    def table(self, rows: list, headers: list, max_widths: list | None = None) -> None:
        self.lines.extend(tabulate(rows, headers=headers, tablefmt="simple", maxcolwidths=max_widths,
                                   disable_numparse=True).splitlines())

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


def _header(out: _Writer, report: Report) -> None:
    out.line("query-audit report")
    facts = common.header_facts(report)
    label_width = max(len(label) for label, _ in facts)
    for label, value in facts:
        lines = textwrap.wrap(value, out.width - label_width - 2, break_long_words=False) or [""]
        out.line(f"{label:<{label_width}}  {lines[0]}")
        out.lines.extend(" " * (label_width + 2) + more for more in lines[1:])


def _findings(out: _Writer, report: Report, gate: GateResult | None) -> None:
    """One block per query: its findings worst first, its SQL and plan once, one fix."""
    told = common.stories(report)
    if not told:
        return
    out.title("Findings")
    new = {f.baseline_key for f in gate.new} if gate else set()
    for story in told:
        out.line()
        tag = " [new]" if any(f.baseline_key in new for f in story.findings) else ""
        out.wrapped(f"[{story.severity.value.upper()}] {common.story_title(story)}{tag}")
        if story.query is not None:
            out.attached(f"(query {story.query.group.id})")
        _story_body(out, story, new)


def _story_body(out: _Writer, story: common.Story, new: set) -> None:
    origin = common.origin_line(story.query.origin if story.query is not None else story.findings[0].origin)
    if origin:
        out.wrapped(f"from {origin}", "  ")
    if story.query is not None:
        out.labelled("SQL", common.shown_sql(story.query))
    rows = common.story_plan_rows(story)
    if rows:
        out.line("  Plan:")
        for row in rows:
            out.wrapped(common.plan_row_summary(row), INDENT)
    single = len(story.findings) == 1 and story.query is None
    for finding in story.findings:
        if single:
            out.wrapped(finding.message, "  ")
        else:
            tag = " [new]" if finding.baseline_key in new and len(story.findings) > 1 else ""
            out.wrapped(f"- [{finding.severity.value}] {finding.rule}{tag}: {finding.message}", "  ", INDENT)
        for item in common.evidence_lines(finding, plan_shown=bool(rows)):
            out.wrapped(item, INDENT if single else INDENT + "  ")
    _fix(out, "Fix", story.fix)
    for finding in story.also:
        _fix(out, f"Also ({finding.rule})", finding)


def _fix(out: _Writer, label: str, finding) -> None:
    if finding is None:
        return
    advice, ddl = common.fix_parts(finding)
    if advice or ddl:
        out.line(f"  {label}:")
        if advice:
            out.wrapped(advice, INDENT)
        if ddl:
            out.wrapped(ddl, INDENT)


def _gate(out: _Writer, gate: GateResult | None) -> None:
    if gate is None:
        return
    out.title("Gate")
    out.wrapped(f"{gate.verdict()} (rules: {', '.join(gate.rules)}; baseline: {gate.baseline or 'none'})")
    short = common.short_id
    rows = ([["new", f.rule, f.table or "", short(f.query_id), ""] for f in gate.new]
            + [["known", f.rule, f.table or "", short(f.query_id), ""] for f in gate.known]
            + [["fixed", e.rule, e.table, short(e.query_id), e.reason] for e in gate.fixed])
    if rows:
        out.line()
        out.table(rows, ["status", "rule", "table", "query", "reason"], [None, 20, 16, 16, 16])


def _batching(out: _Writer, report: Report) -> None:
    shapes = common.repeated_shapes(report)
    if not shapes:
        return
    out.title("Batching")
    rows = [[common.short_id(q.group.id), unit, count, distinct, common.repetition_verdict(q, count, distinct)]
            for q, unit, count, distinct in shapes]
    out.table(rows, ["query", "unit", "runs", "distinct", "what it is"], [16, 12, None, None, 30])


def _writes(out: _Writer, report: Report) -> None:
    writes = common.write_shapes(report)
    facts = common.load_facts(report)
    if not writes and not facts:
        return
    out.title("Writes and load")
    for label, value in facts:
        out.wrapped(f"{label}: {value}")
    if writes:
        out.line()
        rows = [[common.short_id(q.group.id), q.group.kind.value,
                 q.model.target_table or ", ".join(q.model.tables), q.group.count]
                for q in writes]
        out.table(rows, ["query", "kind", "table", "count"], [16, None, 24, None])


def _scaling(out: _Writer, report: Report) -> None:
    if report.summary.routing:
        out.title("Replica routing")
        for line in scaling.server_lines(report) + scaling.routing_lines(report):
            _item(out, line, "")
    if report.capacity is not None:
        out.title("Capacity plan")
        for heading, lines in scaling.capacity_sections(report.capacity):
            out.line(f"{heading}:")
            for line in lines:
                _item(out, line, "  ")


def _item(out: _Writer, text: str, indent: str) -> None:
    """A list item whose wrapped lines stay under its first word."""
    out.lines.extend(textwrap.wrap(text, out.width, initial_indent=f"{indent}- ", subsequent_indent=f"{indent}  ",
                                   break_long_words=False, break_on_hyphens=False))


def _profile(out: _Writer, report: Report) -> None:
    if not report.queries:
        return
    timed = common.is_timed(report)
    out.title("Profile")
    ranking = common.profile(report, by_time=timed)
    if timed:
        out.line("ranked by total time")
        rows = [[r.rank, common.short_id(r.query.group.id), common.seconds(r.query.group.total_query_time),
                 f"{(r.share_of_time or 0) * 100:.1f}%", r.query.group.count,
                 common.seconds(r.query.group.max_query_time), common.item_label(r.query)] for r in ranking]
        out.table(rows, ["rank", "query", "time", "%", "calls", "max", "item"], [None] * 6 + [20])
    else:
        out.line("ranked by calls (no timings captured)")
        rows = [[r.rank, common.short_id(r.query.group.id), r.query.group.count, f"{r.share_of_calls * 100:.1f}%",
                 common.item_label(r.query)] for r in ranking]
        out.table(rows, ["rank", "query", "calls", "%", "item"], [None, None, None, None, 30])


def _queries(out: _Writer, report: Report) -> None:
    if not report.queries:
        return
    out.title("Queries")
    for query in report.queries:
        group = query.group
        out.line()
        out.wrapped(f"{group.id}  {group.kind.value}, {group.count}x, database {group.sample.database or '-'}")
        out.wrapped(group.fingerprint, "  ")
        if query.plan is not None:
            for row in query.plan.rows:
                out.wrapped(common.plan_row_summary(row), INDENT)
        if query.error:
            out.wrapped(f"no plan: {query.error}", INDENT)
        if not query.model.parsed and query.model.error:
            out.wrapped(f"not parsed: {query.model.error}", INDENT)


def _notes(out: _Writer, report: Report) -> None:
    if not report.notes:
        return
    out.title("Notes")
    for note in report.notes:
        out.wrapped(f"- {note}")


def render_text(report: Report, *, verbosity: int = 0, width: int | None = None,
                gate: GateResult | None = None) -> str:
    """The report as plain text. verbosity -1: verdict and findings; 1: also each query's plan."""
    out = _Writer(width or DEFAULT_WIDTH)
    if verbosity >= 0:
        _header(out, report)
        out.line()
    out.wrapped(f"Verdict: {common.verdict(report, gate)}")
    if not report.queries and verbosity >= 0:
        out.line("No statements were captured.")
    _findings(out, report, gate)
    if verbosity >= 0:
        _gate(out, gate)
        _batching(out, report)
        _writes(out, report)
        _scaling(out, report)
        _profile(out, report)
        if verbosity >= 1:
            _queries(out, report)
        _notes(out, report)
    return out.text()
