"""The CI baseline: findings the team has accepted, so the gate fails only on new ones.

A baseline entry is keyed by `Finding.baseline_key`, (rule, table, query id), never by line numbers
or row estimates: those change with the data and would make every run look new. The file is JSON,
sorted by that key, so a diff of an update shows exactly what was accepted or fixed.

    {"format": "query-audit-baseline", "version": 1,
     "entries": [{"rule": ..., "table": ..., "query_id": ..., "fingerprint": ..., "reason": ...}]}
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from query_audit.errors import QueryAuditError
from query_audit.model import DEFAULT_FAIL_ON, Finding, Report

BASELINE_FORMAT = "query-audit-baseline"
BASELINE_VERSION = 1
DEFAULT_REASON = "accepted when the baseline was created"

# Rules whose findings come from an EXPLAIN: without a plan for the query they were not evaluated,
# so their baseline entries must not be called fixed (a static run would otherwise empty the baseline).
PLAN_RULES = frozenset({"full_table_scan", "missing_index", "full_index_scan", "filesort", "temporary_table"})

Key = tuple[str, str, str]


@dataclass(frozen=True)
class BaselineEntry:
    """One accepted finding. `reason` is the team's own words, kept across updates."""

    rule: str
    table: str
    query_id: str
    fingerprint: str = ""
    reason: str = ""

    @property
    def key(self) -> Key:
        return (self.rule, self.table, self.query_id)

    def to_dict(self) -> dict:
        return {"rule": self.rule, "table": self.table, "query_id": self.query_id,
                "fingerprint": self.fingerprint, "reason": self.reason}


@dataclass(frozen=True)
class Baseline:
    """The accepted findings, always sorted by key. `path` says where it was read from, if anywhere."""

    entries: tuple[BaselineEntry, ...] = ()
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        unique = {entry.key: entry for entry in self.entries}
        object.__setattr__(self, "entries", tuple(unique[key] for key in sorted(unique)))

    def keys(self) -> set[Key]:
        return {entry.key for entry in self.entries}

    def to_dict(self) -> dict:
        return {"format": BASELINE_FORMAT, "version": BASELINE_VERSION,
                "entries": [entry.to_dict() for entry in self.entries]}


@dataclass(frozen=True)
class GateResult:
    """What the gate decided. `new` fails the build; `known` are in the baseline; `fixed` are baseline
    entries whose finding is gone (candidates for `baseline update`)."""

    new: tuple[Finding, ...]
    known: tuple[Finding, ...]
    fixed: tuple[BaselineEntry, ...]
    passed: bool
    rules: tuple[str, ...] = DEFAULT_FAIL_ON
    baseline: str | None = None  # the baseline file's path, for the report

    def verdict(self) -> str:
        """One line: "gate passed" or "gate: 2 new full_table_scan findings"."""
        if self.passed:
            return "gate passed"
        by_rule: dict[str, int] = {}
        for finding in self.new:
            by_rule[finding.rule] = by_rule.get(finding.rule, 0) + 1
        total = len(self.new)
        noun = "finding" if total == 1 else "findings"
        if len(by_rule) == 1:
            return f"gate: {total} new {next(iter(by_rule))} {noun}"
        parts = ", ".join(f"{count} {rule}" for rule, count in sorted(by_rule.items()))
        return f"gate: {total} new {noun} ({parts})"


def _entry_for(finding: Finding, reason: str) -> BaselineEntry:
    rule, table, query_id = finding.baseline_key
    return BaselineEntry(rule, table, query_id, finding.fingerprint or "", reason)


def _findings_of(report: Report, rules: Iterable[str]) -> list[Finding]:
    wanted = set(rules)
    unique: dict[Key, Finding] = {}
    for finding in report.findings:
        if finding.rule in wanted:
            unique.setdefault(finding.baseline_key, finding)
    return [unique[key] for key in sorted(unique)]


def create_baseline(report: Report, rules: Iterable[str] = DEFAULT_FAIL_ON, *,
                    reason: str = DEFAULT_REASON) -> Baseline:
    """A baseline accepting every current finding of `rules`."""
    return Baseline(tuple(_entry_for(finding, reason) for finding in _findings_of(report, rules)))


def load_baseline(path: Path | str) -> Baseline:
    """Read a baseline file; a missing or malformed one is a QueryAuditError naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QueryAuditError(f"baseline {path} does not exist; create it with `query-audit baseline create`") from None
    except OSError as exc:
        raise QueryAuditError(f"cannot read baseline {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise QueryAuditError(f"baseline {path} is not valid JSON ({exc})".splitlines()[0]) from None
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT:
        raise QueryAuditError(f"baseline {path} is not a query-audit baseline (no \"format\": \"{BASELINE_FORMAT}\")")
    if data.get("version") != BASELINE_VERSION:
        raise QueryAuditError(f"baseline {path} has version {data.get('version')!r}; this tool reads version 1")
    entries = data.get("entries")
    if not isinstance(entries, list):
        raise QueryAuditError(f"baseline {path}: \"entries\" must be a list")
    parsed = []
    for number, raw in enumerate(entries, 1):
        if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in ("rule", "table", "query_id")):
            raise QueryAuditError(f"baseline {path}: entry {number} needs string rule, table and query_id")
        parsed.append(BaselineEntry(raw["rule"], raw["table"], raw["query_id"],
                                    str(raw.get("fingerprint") or ""), str(raw.get("reason") or "")))
    return Baseline(tuple(parsed), path=path)


def save_baseline(path: Path | str, baseline: Baseline) -> None:
    """Write the baseline atomically (a temporary file renamed over it), ending with a newline."""
    path = Path(path)
    text = json.dumps(baseline.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=".baseline-", dir=path.parent or Path("."))
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        raise QueryAuditError(f"cannot write baseline {path}: {exc.strerror}") from None


def _evaluated(entry: BaselineEntry, report: Report, rules: tuple[str, ...]) -> bool:
    """Whether this run could have found the entry's finding again (else it is not called fixed)."""
    if entry.rule not in rules:
        return False
    if entry.rule in PLAN_RULES:
        planned = {q.group.id for q in report.queries if q.plan is not None}
        unplanned = {q.group.id for q in report.queries if q.plan is None}
        # No plan at all (static run) or none for this query: the rule could not see it.
        return bool(planned) and entry.query_id not in unplanned
    return True


def compare(report: Report, baseline: Baseline, fail_on: Iterable[str] = DEFAULT_FAIL_ON) -> GateResult:
    """Split the gating findings into new and known, and list the baseline entries that were fixed.

    A baseline entry counts as fixed only when its rule is gated now and could be evaluated: a
    plan-based rule is not evaluated in a run without any plan (static analysis) nor for a query
    that ran without one (EXPLAIN refused), so such entries are neither fixed nor new.
    """
    rules = tuple(dict.fromkeys(fail_on))
    accepted = baseline.keys()
    gating = _findings_of(report, rules)
    new = tuple(f for f in gating if f.baseline_key not in accepted)
    known = tuple(f for f in gating if f.baseline_key in accepted)
    present = {f.baseline_key for f in gating}
    fixed = tuple(entry for entry in baseline.entries
                  if entry.key not in present and _evaluated(entry, report, rules))
    path = str(baseline.path) if baseline.path is not None else None
    return GateResult(new=new, known=known, fixed=fixed, passed=not new, rules=rules, baseline=path)


def update_baseline(old: Baseline, report: Report, rules: Iterable[str] = DEFAULT_FAIL_ON, *,
                    reason: str = DEFAULT_REASON) -> Baseline:
    """Accept the new findings and drop the fixed entries; entries kept keep the reason the team wrote.

    Entries of rules not in `rules` are kept untouched (they were not evaluated).
    """
    result = compare(report, old, rules)
    fixed = {entry.key for entry in result.fixed}
    kept = tuple(entry for entry in old.entries if entry.key not in fixed)
    added = tuple(_entry_for(finding, reason) for finding in result.new)
    return Baseline(kept + added, path=old.path)
