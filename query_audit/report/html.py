"""The HTML report: one self-contained file (inline CSS, SVG and a little JavaScript; nothing is fetched
when it is opened), for a browser or a CI artifact.

Sections: header and verdict, each request's statements as a waterfall (Sentry and Datadog draw a
request's database calls this way, which is where an N+1 shows at a glance), the profile as a bar
chart, one story per query (as the text report tells them) with EXPLAIN before/after for verified
indexes, notes.

Every statement is hostile input: all text goes through `html.escape`, and the JSON the script reads
has `<`, `>` and `&` escaped, so a statement holding `</script>` stays text. A Content-Security-Policy
forbids every network fetch and every script but the inline one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from query_audit.report import common
from query_audit.report.html_parts import (
    SCRIPT,
    STYLE,
    esc,
    explain_before_after,
    profile_chart,
    waterfalls,
)

if TYPE_CHECKING:
    from query_audit.gate.baseline import GateResult
    from query_audit.model import Report

CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'")


def script_json(value) -> str:
    """JSON safe inside a <script> element: no `</script>`, no `<!--`, whatever the strings hold."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _header(report: Report, gate: GateResult | None) -> str:
    rows = "".join(f"<tr><th>{esc(label)}</th><td>{esc(value)}</td></tr>"
                   for label, value in common.header_facts(report) + common.load_facts(report))
    severities = {f.severity for f in report.findings}
    worst = next((s.value for s in common.SEVERITIES if s in severities), "none")
    return (f'<header><h1>query-audit report</h1><table class="facts">{rows}</table>'
            f'<p class="verdict sev-{worst}" id="verdict">Verdict: {esc(common.verdict(report, gate))}</p></header>')


def _plan_table(rows) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in common.PLAN_HEADERS)
    body = ""
    for row in rows:
        scan = ' class="scan"' if row.access_type in ("ALL", "index") and row.rows else ""
        body += f"<tr{scan}>" + "".join(f"<td>{esc(c)}</td>" for c in common.plan_cells(row)) + "</tr>"
    return f'<table class="plan"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _fix(label: str, finding) -> str:
    if finding is None:
        return ""
    advice, ddl = common.fix_parts(finding)
    if not advice and not ddl:
        return ""
    verified = ' <span class="badge ok">verified</span>' if finding.verified else ""
    out = f'<div class="fix"><h4>{esc(label)}{verified}</h4>'
    out += f"<p>{esc(advice)}</p>" if advice else ""
    out += f'<pre class="sql">{esc(ddl)}</pre>' if ddl else ""
    return out + explain_before_after(finding) + "</div>"


def _story(story: common.Story, new: set) -> str:
    query = story.query
    anchor = f' id="q-{esc(query.group.id)}"' if query is not None else ""
    is_new = any(f.baseline_key in new for f in story.findings)
    out = [f'<section class="story sev-{story.severity.value}" data-severity="{story.severity.value}"{anchor}>',
           f'<h3><span class="badge sev-{story.severity.value}">{esc(story.severity.value)}</span> '
           f'{esc(common.story_title(story))}' + (' <span class="badge new">new</span>' if is_new else "")
           + (f' <small>query {esc(query.group.id)}</small>' if query is not None else "") + "</h3>"]
    origin = common.origin_line(query.origin if query is not None else story.findings[0].origin)
    if origin:
        out.append(f'<p class="origin">from <code>{esc(origin)}</code></p>')
    if query is not None:
        out.append(f'<pre class="sql">{esc(common.shown_sql(query))}</pre>')
    rows = common.story_plan_rows(story)
    if rows:
        out.append(_plan_table(rows))
    out.append("<ul class=findings>")
    for finding in story.findings:
        evidence = "".join(f"<li>{esc(line)}</li>" for line in common.evidence_lines(finding, plan_shown=bool(rows)))
        out.append(f'<li><b class="rule">{esc(finding.rule)}</b> '
                   f'<span class="badge sev-{finding.severity.value}">{esc(finding.severity.value)}</span> '
                   f'{esc(finding.message)}<ul class="evidence">{evidence}</ul></li>')
    out.append("</ul>")
    out.append(_fix("Fix", story.fix))
    out += [_fix(f"Also ({finding.rule})", finding) for finding in story.also]
    return "".join(out) + "</section>"


def _findings(report: Report, gate: GateResult | None) -> str:
    told = common.stories(report)
    if not told:
        return '<section id="findings"><h2>Findings</h2><p>No findings.</p></section>'
    new = {f.baseline_key for f in gate.new} if gate else set()
    filters = "".join(f'<label><input type="checkbox" class="sev-filter" value="{s.value}" checked> '
                      f'{esc(s.value)}</label> ' for s in common.SEVERITIES)
    stories = "".join(_story(story, new) for story in told)
    return f'<section id="findings"><h2>Findings</h2><p class="filters">{filters}</p>{stories}</section>'


def _notes(report: Report) -> str:
    if not report.notes:
        return ""
    return '<section id="notes"><h2>Notes</h2><ul>' + "".join(f"<li>{esc(n)}</li>" for n in report.notes) + \
        "</ul></section>"


def _data(report: Report) -> dict:
    """What the script shows when a bar is clicked: each query's label and SQL."""
    return {"queries": {q.group.id: {"label": common.item_label(q), "sql": common.shown_sql(q),
                                     "count": q.group.count} for q in report.queries}}


def render_html(report: Report, gate: GateResult | None = None) -> str:
    body = (_header(report, gate) + waterfalls(report) + profile_chart(report) + _findings(report, gate)
            + _notes(report))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>query-audit report</title><style>{STYLE}</style></head>\n<body>\n{body}\n"
            f'<script id="qa-data" type="application/json">{script_json(_data(report))}</script>\n'
            f"<script>{SCRIPT}</script>\n</body></html>\n")
