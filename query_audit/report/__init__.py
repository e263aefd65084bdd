"""Report renderers: one module per output format, all built from the same `Report` record.

Every renderer returns a string and never prints; the CLI writes it to stdout or `--output FILE`, the JSON
report in parts as they are made (`render_parts`).

    render(report, Format.JSON)                       # the public contract (docs/report-format.md)
    render(report, Format.SARIF, gate=gate_result)    # for GitHub code scanning
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from enum import Enum
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:  # not imported at run time: `--help` needs only Format (the model is ~40% of its start)
    from query_audit.gate.baseline import GateResult
    from query_audit.model import Report


class Format(str, Enum):
    """The `--format` choices."""

    RICH = "rich"
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"
    SARIF = "sarif"
    JUNIT = "junit"
    GITHUB = "github"
    HTML = "html"


def _isatty(stream: IO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-like stream without a terminal
        return False


def default_format(stream: IO | None, environ: dict | None = None) -> Format:
    """rich on a terminal or with FORCE_COLOR (CI logs that show colour); text when the stream is not a
    tty, NO_COLOR is set (it wins over FORCE_COLOR), or TERM=dumb."""
    environ = os.environ if environ is None else environ
    if "NO_COLOR" in environ or environ.get("TERM") == "dumb":
        return Format.TEXT
    if force_color(environ):
        return Format.RICH
    return Format.RICH if _isatty(stream) else Format.TEXT


def force_color(environ: dict | None = None) -> bool:
    """FORCE_COLOR set (non-empty) and NO_COLOR not: keep colour codes even in a pipe (CI logs)."""
    environ = os.environ if environ is None else environ
    return bool(environ.get("FORCE_COLOR")) and "NO_COLOR" not in environ


PIPED_WIDTH = 80


def output_width(stream: IO | None) -> int:
    """The terminal's width (COLUMNS first, as `shutil` reads it) on a terminal; 80 in a pipe or a file."""
    return shutil.get_terminal_size((PIPED_WIDTH, 24)).columns if _isatty(stream) else PIPED_WIDTH


def render(report: Report, fmt: Format | str, *, verbosity: int = 0, width: int | None = None,
           gate: GateResult | None = None, fail_on: Sequence[str] | None = None) -> str:
    """The report in `fmt`. `verbosity` (-1 quiet, 0, 1 verbose) and `width` apply to rich and text;
    `gate` adds the CI gate's decision; `fail_on` names the gating rules for JUnit when no gate ran."""
    fmt = Format(fmt)
    if fmt is Format.RICH:
        from query_audit.report.rich_format import render_rich

        return render_rich(report, verbosity=verbosity, width=width, gate=gate)
    if fmt is Format.TEXT:
        from query_audit.report.text import render_text

        return render_text(report, verbosity=verbosity, width=width, gate=gate)
    if fmt is Format.JSON:
        from query_audit.report.json_format import render_json

        return render_json(report, gate=gate)
    if fmt is Format.MARKDOWN:
        from query_audit.report.markdown import render_markdown

        return render_markdown(report, gate=gate)
    if fmt is Format.SARIF:
        from query_audit.report.sarif import render_sarif

        return render_sarif(report, gate=gate)
    if fmt is Format.JUNIT:
        from query_audit.report.junit import render_junit

        return render_junit(report, gate=gate, fail_on=fail_on)
    if fmt is Format.HTML:
        from query_audit.report.html import render_html

        return render_html(report, gate=gate)
    from query_audit.report.github import render_github

    return render_github(report, gate=gate)


def render_parts(report: Report, fmt: Format | str, *, verbosity: int = 0, width: int | None = None,
                 gate: GateResult | None = None, fail_on: Sequence[str] | None = None) -> Iterator[str]:
    """`render`'s text in parts to write one after the other: the JSON report's as they are made (a big log's
    is never whole in memory, json_format.json_parts), the other formats' whole, as one part."""
    if Format(fmt) is Format.JSON:
        from query_audit.report.json_format import json_parts

        return json_parts(report, gate=gate)
    return iter((render(report, fmt, verbosity=verbosity, width=width, gate=gate, fail_on=fail_on),))


__all__ = ["Format", "default_format", "output_width", "render", "render_parts"]
