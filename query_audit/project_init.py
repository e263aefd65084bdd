"""`query-audit init`: the configuration and an empty baseline in a project, without asking anything.

The configuration goes into `pyproject.toml` as a `[tool.query-audit]` table (appended, the rest of the
file untouched) when the project has one, else into `.query-audit.toml` (top-level keys); `where`
chooses. Nothing that exists is overwritten without `force`: the whole run is refused first, so it
never writes half of what it would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from query_audit.config import DEDICATED_FILE, PYPROJECT, TOOL_TABLE, find_config_file
from query_audit.errors import QueryAuditError
from query_audit.gate.baseline import Baseline, save_baseline

DEFAULT_BASELINE = ".query-audit-baseline.json"
# `[tool.query-audit]` and its sub-tables (`[tool.query-audit.thresholds]`), up to the next other table.
_OUR_TABLES = re.compile(rf"^\[tool\.{re.escape(TOOL_TABLE)}(?:\.[^\]]*)?\][^\n]*\n(?:(?!\[).*\n?)*", re.M)


@dataclass(frozen=True)
class InitPlan:
    directory: Path
    where: str = "auto"  # auto | pyproject | file
    baseline: str = DEFAULT_BASELINE
    fail_on: tuple[str, ...] = ("full_table_scan",)
    force: bool = False


def config_text(plan: InitPlan, table: bool) -> str:
    """The settings, as a `[tool.query-audit]` table or as a dedicated file's top-level keys."""
    rules = ", ".join(f'"{rule}"' for rule in plan.fail_on)
    lines = [f"fail-on = [{rules}]", f'baseline = "{plan.baseline}"']
    thresholds = ["full-scan-rows = 1000  # full scans of smaller tables are only `info`"]
    if table:
        return "\n".join([f"[tool.{TOOL_TABLE}]", *lines, "", f"[tool.{TOOL_TABLE}.thresholds]", *thresholds]) + "\n"
    return "\n".join(["# query-audit settings (README: Configuration)", *lines, "", "[thresholds]", *thresholds]) + "\n"


def _target(plan: InitPlan) -> Path:
    pyproject = plan.directory / PYPROJECT
    if plan.where == "pyproject" or (plan.where == "auto" and pyproject.is_file()):
        return pyproject
    return plan.directory / DEDICATED_FILE


def _has_our_table(path: Path) -> bool:
    return path.is_file() and bool(_OUR_TABLES.search(path.read_text(encoding="utf-8")))


def _refusals(plan: InitPlan, target: Path, baseline: Path) -> list[str]:
    exists = []
    if target.name == PYPROJECT and _has_our_table(target):
        exists.append(f"{target} already has [tool.{TOOL_TABLE}]")
    elif target.name == DEDICATED_FILE and target.exists():
        exists.append(f"{target} exists")
    if baseline.exists():
        exists.append(f"{baseline} exists")
    return exists


def _write_config(target: Path, plan: InitPlan) -> None:
    if target.name == PYPROJECT:
        before = target.read_text(encoding="utf-8") if target.is_file() else ""
        kept = _OUR_TABLES.sub("", before).rstrip("\n")
        target.write_text((kept + "\n\n" if kept else "") + config_text(plan, table=True), encoding="utf-8")
    else:
        target.write_text(config_text(plan, table=False), encoding="utf-8")


def init_project(plan: InitPlan) -> list[str]:
    """Write the configuration and an empty baseline; return what was written, one line each."""
    target = _target(plan)
    baseline = plan.directory / plan.baseline
    refused = _refusals(plan, target, baseline)
    if refused and not plan.force:
        raise QueryAuditError(f"{'; '.join(refused)}: nothing written (--force overwrites)")
    if not baseline.parent.is_dir():
        raise QueryAuditError(f"cannot write {baseline}: {baseline.parent} is not a directory; nothing written")
    try:
        _write_config(target, plan)
    except OSError as exc:
        raise QueryAuditError(f"cannot write {target}: {exc.strerror}") from None
    save_baseline(baseline, Baseline())
    written = [f"wrote the configuration to {target}" + (" ([tool.query-audit])" if target.name == PYPROJECT else ""),
               f"wrote an empty baseline to {baseline}"]
    found = find_config_file(plan.directory)
    if found is not None and found[0] != target:  # a .query-audit.toml next to it wins over pyproject.toml
        written.append(f"note: {found[0]} takes precedence over it")
    return written
