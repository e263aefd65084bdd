"""The drawn parts of the HTML report: the request waterfall and the profile chart (inline SVG), the
EXPLAIN before/after table of a verified index, and the page's style and script.

The waterfall puts each statement of a request on a time axis: where the capture measured timings
(performance_schema, the slow log) a bar starts at the statement's logged time, or after the previous
one when there is no usable time, and is as long as the statement ran; without timings the bars are
drawn by order, one slot each. Bars of a query with an N+1 finding and of a full scan are marked.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import TYPE_CHECKING

from query_audit.report import common

if TYPE_CHECKING:
    from query_audit.model import Finding, Report, TimelineEntry

MAX_ROWS = 300  # statements drawn per request; the rest are counted under the chart
LABEL_WIDTH, CHART_WIDTH, ROW_HEIGHT, AXIS_HEIGHT = 190, 720, 16, 22
PROFILE_ROWS = 15


def esc(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _marked(report: Report, rule: str) -> set[str]:
    ids = set()
    for finding in report.findings:
        if finding.rule == rule:
            ids.update(i for i in (finding.query_id, *finding.query_ids) if i)
    return ids


def _seconds(text: str | None) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp() if text else None
    except ValueError:
        return None


def _layout(entries: list[TimelineEntry]) -> tuple[list[tuple[float, float]], float, bool]:
    """(start, length) per entry on one axis, the axis length, and whether it is time (else order)."""
    if not entries or any(e.query_time is None for e in entries):
        return [(float(n), 1.0) for n in range(len(entries))], float(len(entries)), False
    stamps = [_seconds(e.time) for e in entries]
    spans, previous_end = [], 0.0
    origin = stamps[0] if all(s is not None for s in stamps) else None
    for entry, stamp in zip(entries, stamps):
        start = max(stamp - origin, previous_end) if origin is not None else previous_end
        spans.append((start, entry.query_time))
        previous_end = start + entry.query_time
    return spans, max(previous_end, 1e-6), True


def _axis(total: float, timed: bool, y: int) -> str:
    ticks = []
    for n in range(5):
        value = total * n / 4
        x = LABEL_WIDTH + CHART_WIDTH * n / 4
        label = common.seconds(value) if timed else f"#{int(value)}"
        ticks.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{y}" class="tick"/>'
                     f'<text x="{x:.1f}" y="{y + 14}" class="axis" text-anchor="middle">{esc(label)}</text>')
    return "".join(ticks)


def _bar(report_ids: dict, entry: TimelineEntry, span: tuple[float, float], total: float, row: int,
         marks: tuple[set, set]) -> str:
    query = report_ids.get(entry.query_id)
    label = common.item_label(query) if query is not None else entry.query_id[:16]
    classes = ["bar"] + (["scan"] if entry.query_id in marks[0] else []) + \
        (["nplus1"] if entry.query_id in marks[1] else [])
    x = LABEL_WIDTH + CHART_WIDTH * span[0] / total
    width = max(CHART_WIDTH * span[1] / total, 2.0)
    y = row * ROW_HEIGHT
    duration = f", {common.seconds(entry.query_time)}" if entry.query_time is not None else ""
    tip = f"{label}{duration}: {common.shown_sql(query) if query is not None else entry.query_id}"
    return (f'<g class="{" ".join(classes)}" data-query="{esc(entry.query_id)}" tabindex="0"><title>'
            f'{esc(common.shorten(tip, 300))}</title>'
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 12}" text-anchor="end" class="label">'
            f'{esc(common.shorten(label, 28))}</text>'
            f'<rect x="{x:.1f}" y="{y + 2}" width="{width:.1f}" height="{ROW_HEIGHT - 4}" rx="2"/></g>')


def _unit_title(report: Report, unit: str) -> str:
    """`request 2: GET http://.../products` when the capture replayed one request per endpoint."""
    source = report.source
    number = unit.removeprefix("request ")
    if number.isdigit() and source.endpoints and source.requests == len(source.endpoints):
        return f"{unit}: {common.replayed_endpoint(source, int(number))}"
    return unit


def _waterfall(report: Report, unit: str, entries: list[TimelineEntry], marks: tuple[set, set],
               layout: tuple[list, float, bool]) -> str:
    shown = entries[:MAX_ROWS]
    spans, total, timed = layout
    queries = common.query_index(report)
    bars = "".join(_bar(queries, e, s, total, n, marks) for n, (e, s) in enumerate(zip(shown, spans)))
    height = len(shown) * ROW_HEIGHT
    axis = "time since the first statement" if timed else "statement order (no timings captured)"
    more = f"<p>{len(entries) - len(shown)} more statements not drawn.</p>" if len(entries) > len(shown) else ""
    return (f'<figure class="waterfall" data-unit="{esc(unit)}"><figcaption>{esc(_unit_title(report, unit))} '
            f'({common.plural(len(entries), "statement")}; x axis: {axis})</figcaption>'
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{LABEL_WIDTH + CHART_WIDTH + 20}" '
            f'height="{height + AXIS_HEIGHT}" viewBox="0 0 {LABEL_WIDTH + CHART_WIDTH + 20} '
            f'{height + AXIS_HEIGHT}">{_axis(total, timed, height)}{bars}</svg>{more}</figure>')


def waterfalls(report: Report) -> str:
    """One waterfall per request (or connection) of a capture; log files have no timeline."""
    if not report.timeline:
        return ('<section id="waterfall"><h2>Requests</h2><p>No per-request timeline: statements read from '
                'log files are grouped by connection and counted, not kept in order.</p></section>')
    units: dict[str, list] = {}
    for entry in report.timeline:
        units.setdefault(entry.unit, []).append(entry)
    marks = (_marked(report, "full_table_scan"), _marked(report, "n_plus_one"))
    legend = ('<p class="legend"><span class="key scan"></span> full table scan '
              '<span class="key nplus1"></span> N+1 (same shape, different values) '
              '<span class="key plain"></span> other statement</p>')
    inspector = ('<div id="inspector"><p class="label">Click a bar to see its statement.</p>'
                 '<pre class="sql"></pre></div>')
    layouts = {unit: _layout(entries[:MAX_ROWS]) for unit, entries in units.items()}
    if all(timed for _, _, timed in layouts.values()):
        # One time scale for every request, so a slow request looks slow next to a fast one.
        longest = max(total for _, total, _ in layouts.values())
        layouts = {unit: (spans, longest, True) for unit, (spans, _, _) in layouts.items()}
    charts = "".join(_waterfall(report, unit, entries, marks, layouts[unit]) for unit, entries in units.items())
    return f'<section id="waterfall"><h2>Requests</h2>{legend}{charts}{inspector}</section>'


def profile_chart(report: Report) -> str:
    """The busiest shapes as horizontal bars, by total time where timed, else by calls."""
    if not report.queries:
        return ""
    timed = common.is_timed(report)
    ranking = common.profile(report, by_time=timed)[:PROFILE_ROWS]
    values = [(r.query.group.total_query_time or 0.0) if timed else float(r.query.group.count) for r in ranking]
    top = max(values) or 1.0
    rows = []
    for n, (r, value) in enumerate(zip(ranking, values)):
        y = n * 22
        text = common.seconds(r.query.group.total_query_time) if timed else f"{int(value)} calls"  # "-": untimed
        rows.append(f'<g class="pbar" data-query="{esc(r.query.group.id)}"><text x="0" y="{y + 15}" class="label">'
                    f'{esc(common.short_id(r.query.group.id))} {esc(common.shorten(common.item_label(r.query), 30))}'
                    f'</text><rect x="330" y="{y + 4}" width="{max(400 * value / top, 2):.1f}" height="14" rx="2"/>'
                    f'<text x="{336 + 400 * value / top:.1f}" y="{y + 15}" class="value">{esc(text)}</text></g>')
    title = "by total time" if timed else "by calls (no timings captured)"
    return (f'<section id="profile"><h2>Profile</h2><p>{esc(title)}</p><svg xmlns="http://www.w3.org/2000/svg" '
            f'role="img" width="860" height="{len(rows) * 22 + 4}">{"".join(rows)}</svg></section>')


def explain_before_after(finding: Finding) -> str:
    """--verify's proof as a table: each query's plan before and after the index was created."""
    verify = finding.evidence.get("verify") if isinstance(finding.evidence, dict) else None
    if not isinstance(verify, dict) or not verify.get("queries"):
        return ""

    def access(row) -> str:
        if not row:
            return "no plan"
        rows = "-" if row.get("rows") is None else row.get("rows")
        return f"type {row.get('access_type') or '-'}, key {row.get('key') or 'none'}, rows {rows}"

    body = "".join(f"<tr><td>{esc(common.short_id(r.get('query_id')))}</td><td>{esc(access(r.get('before')))}</td>"
                   f"<td>{esc(access(r.get('after')) if not r.get('error') else 'error: ' + str(r['error']))}</td></tr>"
                   for r in verify["queries"])
    return ('<table class="verify"><caption>EXPLAIN before and after creating the index</caption>'
            f"<thead><tr><th>query</th><th>before</th><th>after</th></tr></thead><tbody>{body}</tbody></table>")


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1000px;padding:1em 1.5em;
color:#1d2330;background:#fff}
h1{font-size:1.5em;margin:.2em 0}h2{border-bottom:1px solid #d8dce4;padding-bottom:.2em;margin-top:1.6em}
table.facts th{text-align:left;padding-right:1.2em;font-weight:600;vertical-align:top}
.verdict{font-size:1.15em;font-weight:600;padding:.4em .7em;border-radius:4px;background:#eef6ee}
.verdict.sev-high{background:#fdecec}.verdict.sev-medium{background:#fff5e0}.verdict.sev-low{background:#e9f3fb}
pre.sql{background:#f5f6f8;border:1px solid #e1e4ea;padding:.5em .7em;white-space:pre-wrap;word-break:break-word;
font:12.5px/1.4 ui-monospace,Menlo,Consolas,monospace}
.story{border:1px solid #d8dce4;border-left:5px solid #9aa3b2;border-radius:4px;padding:.3em 1em;margin:1em 0}
.story.sev-high{border-left-color:#d33}.story.sev-medium{border-left-color:#e69b00}.story.sev-low{border-left-color:#2b7bd0}
.story h3{margin:.4em 0;font-size:1.05em}.story h3 small{color:#6b7385;font-weight:normal;margin-left:.5em}
.badge{display:inline-block;font-size:.75em;padding:0 .45em;border-radius:3px;background:#9aa3b2;color:#fff;
text-transform:uppercase}
.badge.sev-high{background:#d33}.badge.sev-medium{background:#e69b00}.badge.sev-low{background:#2b7bd0}
.badge.new{background:#7a1fa2}.badge.ok{background:#2e8b57}
table.plan,table.verify{border-collapse:collapse;font-size:12px;margin:.4em 0}
table.plan td,table.plan th,table.verify td,table.verify th{border:1px solid #e1e4ea;padding:2px 6px;text-align:left}
table.plan tr.scan td{background:#fdecec}
ul.evidence{color:#4a5163;font-size:.92em}.fix h4{margin:.5em 0 .2em}.origin code{background:#f0f2f6}
svg text.label{font:11px ui-monospace,Menlo,Consolas,monospace;fill:#3a4150}
svg text.axis,svg text.value{font:10px system-ui,sans-serif;fill:#6b7385}svg line.tick{stroke:#eceef2}
.bar rect{fill:#8fa3bf;cursor:pointer}.bar.nplus1 rect{fill:#e69b00}.bar.scan rect{fill:#d33}
.bar.scan.nplus1 rect{stroke:#e69b00;stroke-width:2}.bar.selected rect{stroke:#111;stroke-width:2}
.pbar rect{fill:#5b7db1}figure.waterfall{margin:.8em 0}figcaption{font-weight:600;margin-bottom:.3em}
.legend .key{display:inline-block;width:12px;height:10px;margin:0 .3em 0 1em;background:#8fa3bf}
.legend .key.scan{background:#d33}.legend .key.nplus1{background:#e69b00}
#inspector{position:sticky;bottom:0;background:#fff;border-top:1px solid #d8dce4;padding:.3em 0}
.filters label{margin-right:.8em}
"""

# Reads the JSON data element (never HTML), so a statement's text is only ever set as textContent.
SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("qa-data").textContent);
  var inspector = document.getElementById("inspector");
  function show(bar) {
    var id = bar.getAttribute("data-query");
    var query = data.queries[id];
    if (!inspector || !query) { return; }
    inspector.querySelector(".label").textContent = query.label + " (" + query.count + "x), query " + id;
    inspector.querySelector("pre").textContent = query.sql;
    document.querySelectorAll(".bar.selected").forEach(function (b) { b.classList.remove("selected"); });
    document.querySelectorAll(".bar").forEach(function (b) {
      if (b.getAttribute("data-query") === id) { b.classList.add("selected"); }
    });
  }
  document.querySelectorAll(".bar").forEach(function (bar) {
    bar.addEventListener("click", function () { show(bar); });
    bar.addEventListener("keydown", function (event) { if (event.key === "Enter") { show(bar); } });
  });
  document.querySelectorAll(".sev-filter").forEach(function (box) {
    box.addEventListener("change", function () {
      document.querySelectorAll(".story").forEach(function (story) {
        if (story.getAttribute("data-severity") === box.value) { story.hidden = !box.checked; }
      });
    });
  });
  var first = document.querySelector(".bar");
  if (first) { show(first); }
  document.documentElement.setAttribute("data-ready", "yes");
})();
"""
