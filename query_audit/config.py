"""Project configuration: a file, then the environment, then the command line (each overrides the last).

The file is the nearest of, walking up from the working directory, `.query-audit.toml` (top-level
keys) or a `pyproject.toml` that has a `[tool.query-audit]` table; a pyproject.toml without it is
passed over, as ruff and black do.

    [tool.query-audit]
    fail-on = ["full_table_scan", "missing_index"]   # rules that fail the CI gate
    baseline = ".query-audit-baseline.json"           # relative to this file
    format = "text"
    shadow = true                                     # verify suggested indexes on a shadow copy
    shadow-threshold = 0.5                            # ... keeping those that cut rows examined by 50%
    disable = ["repeated_identical_query"]            # rules not to run
    noise = ["^SELECT @@session\\\\."]                 # extra regexes of statements to drop
    ignore = ["3F2A9C1B7D4E6A80", "FROM health_check"] # query ids, or regexes of SQL to ignore
    redact = ["^tok_[0-9a-z]{24}$"]                   # regexes of secrets in string literals (plus defaults)

    [tool.query-audit.thresholds]                     # the fields of model.Thresholds
    n-plus-one = 5
    full-scan-rows = 1000

Keys may be written with `-` or `_`. An unknown rule id in `fail-on` or `disable` is an error. Environment:
QUERY_AUDIT_FAIL_ON and QUERY_AUDIT_DISABLE (comma-separated), QUERY_AUDIT_FORMAT, QUERY_AUDIT_BASELINE,
QUERY_AUDIT_N_PLUS_ONE_THRESHOLD, QUERY_AUDIT_BULK_INSERT_THRESHOLD, QUERY_AUDIT_WRITE_LOOP_THRESHOLD,
QUERY_AUDIT_FULL_SCAN_ROWS, QUERY_AUDIT_LARGE_SCAN_ROWS, QUERY_AUDIT_INDEX_WRITES_LOW, QUERY_AUDIT_INDEX_WRITES_MEDIUM,
QUERY_AUDIT_SHADOW (on/off), QUERY_AUDIT_SHADOW_THRESHOLD (a share, 0.5 or 50%), QUERY_AUDIT_SHADOW_DSN (an
empty disposable server for shadow verification instead of a sandbox). Command-line options win over both;
the commands read them next to the config (workflow.py).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from query_audit.errors import QueryAuditError
from query_audit.model import DEFAULT_FAIL_ON, Finding, Report, Thresholds
from query_audit.report import Format

DEDICATED_FILE = ".query-audit.toml"
PYPROJECT = "pyproject.toml"
TOOL_TABLE = "query-audit"

# A query id is the hex digest of a fingerprint; any other `ignore` entry is a regex of SQL.
QUERY_ID = re.compile(r"[0-9A-Fa-f]{16,64}")

THRESHOLD_NAMES = tuple(f.name for f in fields(Thresholds))
THRESHOLD_ENV = {
    "QUERY_AUDIT_N_PLUS_ONE_THRESHOLD": "n_plus_one",
    "QUERY_AUDIT_BULK_INSERT_THRESHOLD": "bulk_insert",
    "QUERY_AUDIT_WRITE_LOOP_THRESHOLD": "write_loop",
    "QUERY_AUDIT_FULL_SCAN_ROWS": "full_scan_rows",
    "QUERY_AUDIT_LARGE_SCAN_ROWS": "large_scan_rows",
    "QUERY_AUDIT_INDEX_WRITES_LOW": "index_writes_low",
    "QUERY_AUDIT_INDEX_WRITES_MEDIUM": "index_writes_medium",
}
LIST_ENV = {"QUERY_AUDIT_FAIL_ON": "fail_on", "QUERY_AUDIT_DISABLE": "disabled_rules"}


@dataclass(frozen=True)
class Config:
    """Settings every command reads. `source` names the file they came from, for messages."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    noise: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    redact: tuple[str, ...] = ()  # regexes of secrets in string literals, on top of redact.DEFAULT_PATTERNS
    disabled_rules: tuple[str, ...] = ()
    fail_on: tuple[str, ...] = DEFAULT_FAIL_ON
    baseline: Path | None = None
    format: Format | None = None
    source: Path | None = None
    # Shadow verification (advise/shadow.py): on unless turned off; the share of rows examined an index
    # must cut to be kept; an empty, disposable server to use instead of starting a sandbox.
    shadow: bool = True
    shadow_threshold: float = 0.5
    shadow_dsn: str | None = None

    def is_ignored(self, query_id: str, sql: str) -> bool:
        """Whether the user asked to ignore this query (by its id, or a regex matching its SQL)."""
        for entry in self.ignore:
            if QUERY_ID.fullmatch(entry):
                if entry.upper() == query_id.upper():
                    return True
            elif re.search(entry, sql, re.IGNORECASE):
                return True
        return False

    def rule_enabled(self, rule: str) -> bool:
        return rule not in self.disabled_rules

    def filter_findings(self, report: Report) -> tuple[Finding, ...]:
        """The report's findings without disabled rules and without those about ignored queries only.

        A finding about several queries (a merged index) stays while one of them is not ignored.
        """
        sql = {query.group.id: query.group.sample.sql for query in report.queries}
        kept = []
        for finding in report.findings:
            if not self.rule_enabled(finding.rule):
                continue
            ids = finding.query_ids or ((finding.query_id,) if finding.query_id else ())
            if ids and all(self.is_ignored(query_id, sql.get(query_id, "")) for query_id in ids):
                continue
            kept.append(finding)
        return tuple(kept)


def find_config_file(start_dir: Path) -> tuple[Path, dict] | None:
    """The nearest config file upward from `start_dir` and its query-audit table, or None."""
    for directory in (start_dir.resolve(), *start_dir.resolve().parents):
        dedicated = directory / DEDICATED_FILE
        if dedicated.is_file():
            return dedicated, _read_toml(dedicated)
        pyproject = directory / PYPROJECT
        if pyproject.is_file():
            table = _read_toml(pyproject).get("tool", {}).get(TOOL_TABLE)
            if table is not None:
                if not isinstance(table, dict):
                    raise QueryAuditError(f"{pyproject}: [tool.{TOOL_TABLE}] must be a table")
                return pyproject, table
    return None


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise QueryAuditError(f"cannot parse {path}: {exc}") from None
    except OSError as exc:
        raise QueryAuditError(f"cannot read {path}: {exc.strerror}") from None


def _format(value: Any, key: str, where: str) -> Format:
    try:
        return Format(value)
    except ValueError:
        choices = ", ".join(f.value for f in Format)
        raise QueryAuditError(f"{key} in {where} must be one of {choices}, not {value!r}") from None


def _string_list(value: Any, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise QueryAuditError(f"{key} in {where} must be a list of strings")
    return tuple(value)


def _regexes(patterns: tuple[str, ...], key: str, where: str, *, ids_allowed: bool = False) -> None:
    for pattern in patterns:
        if ids_allowed and QUERY_ID.fullmatch(pattern):
            continue
        try:
            re.compile(pattern)
        except re.error as exc:
            raise QueryAuditError(f"{key} in {where}: {pattern!r} is not a valid regex ({exc})") from None


def check_rule_ids(rules: tuple[str, ...], key: str, where: str) -> None:
    """Refuse rule ids the registry does not know: a typo in `disable` would otherwise disable nothing."""
    from query_audit.advise import RULES_BY_ID

    unknown = [rule for rule in rules if rule not in RULES_BY_ID]
    if unknown:
        known = ", ".join(sorted(RULES_BY_ID))
        raise QueryAuditError(f"unknown rule {unknown[0]!r} in {key} in {where}; known: {known}")


def _integer(value: Any, key: str, where: str) -> int:
    # bool is an int in Python; `n-plus-one = true` is still a mistake.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise QueryAuditError(f"{key} in {where} must be a positive integer, not {value!r}")
    return value


def _share(value: Any, key: str, where: str) -> float:
    """A share between 0 and 1 (exclusive of 0): 0.5, or "50%"."""
    text = str(value).strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        share = -1.0
    if isinstance(value, bool) or not 0 < share <= 1:
        raise QueryAuditError(f"{key} in {where} must be a share between 0 and 1 (or a percentage), not {value!r}")
    return share


def _normalize(table: Mapping[str, Any]) -> dict[str, Any]:
    return {key.replace("-", "_"): value for key, value in table.items()}


def _from_table(table: Mapping[str, Any], path: Path) -> Config:
    where = str(path)
    written = {key.replace("-", "_"): key for key in table}  # for messages: the key as the file spells it
    values = _normalize(table)
    config = Config(source=path)
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key == "thresholds":
            if not isinstance(value, dict):
                raise QueryAuditError(f"thresholds in {where} must be a table")
            numbers = {}
            for name, number in _normalize(value).items():
                if name not in THRESHOLD_NAMES:
                    raise QueryAuditError(f"unknown key thresholds.{name} in {where}; "
                                          f"known: {', '.join(THRESHOLD_NAMES)}")
                numbers[name] = _integer(number, f"thresholds.{name}", where)
            changes["thresholds"] = replace(config.thresholds, **numbers)
        elif key in ("fail_on", "noise", "ignore", "disable", "redact"):
            items = _string_list(value, key, where)
            if key in ("noise", "ignore", "redact"):
                _regexes(items, key, where, ids_allowed=key == "ignore")
            if key in ("fail_on", "disable"):
                check_rule_ids(items, written[key], where)
            changes["disabled_rules" if key == "disable" else key] = items
        elif key == "baseline":
            if not isinstance(value, str) or not value:
                raise QueryAuditError(f"baseline in {where} must be a path string")
            changes["baseline"] = path.parent / value  # a file's paths are relative to the file
        elif key == "format":
            changes["format"] = _format(value, key, where)
        elif key == "shadow":
            if not isinstance(value, bool):
                raise QueryAuditError(f"shadow in {where} must be true or false, not {value!r}")
            changes["shadow"] = value
        elif key == "shadow_threshold":
            changes["shadow_threshold"] = _share(value, "shadow-threshold", where)
        else:
            raise QueryAuditError(f"unknown key {key!r} in {where}; known: baseline, disable, fail-on, format, "
                                  f"ignore, noise, redact, shadow, shadow-threshold, thresholds")
    return replace(config, **changes)


def _apply_environment(config: Config, environ: Mapping[str, str]) -> Config:
    changes: dict[str, Any] = {}
    numbers: dict[str, int] = {}
    for name, threshold in THRESHOLD_ENV.items():
        if environ.get(name, "").strip():
            raw = environ[name].strip()
            if not raw.isdigit() or int(raw) < 1:
                raise QueryAuditError(f"{name} in the environment must be a positive integer, not {raw!r}")
            numbers[threshold] = int(raw)
    for name, attribute in LIST_ENV.items():
        if name in environ:
            changes[attribute] = tuple(item.strip() for item in environ[name].split(",") if item.strip())
            check_rule_ids(changes[attribute], name, "the environment")
    if environ.get("QUERY_AUDIT_FORMAT", "").strip():
        changes["format"] = _format(environ["QUERY_AUDIT_FORMAT"].strip(), "QUERY_AUDIT_FORMAT", "the environment")
    if environ.get("QUERY_AUDIT_BASELINE", "").strip():
        changes["baseline"] = Path(environ["QUERY_AUDIT_BASELINE"].strip())
    if environ.get("QUERY_AUDIT_SHADOW", "").strip():
        raw = environ["QUERY_AUDIT_SHADOW"].strip().lower()
        if raw not in ("on", "off", "1", "0", "true", "false"):
            raise QueryAuditError(f"QUERY_AUDIT_SHADOW in the environment must be on or off, not {raw!r}")
        changes["shadow"] = raw in ("on", "1", "true")
    if environ.get("QUERY_AUDIT_SHADOW_THRESHOLD", "").strip():
        changes["shadow_threshold"] = _share(environ["QUERY_AUDIT_SHADOW_THRESHOLD"], "QUERY_AUDIT_SHADOW_THRESHOLD",
                                             "the environment")
    if environ.get("QUERY_AUDIT_SHADOW_DSN", "").strip():
        changes["shadow_dsn"] = environ["QUERY_AUDIT_SHADOW_DSN"].strip()
    config = replace(config, **changes)
    if numbers:
        config = replace(config, thresholds=replace(config.thresholds, **numbers))
    return config


def load_config(start_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Defaults, overlaid by the nearest config file, overlaid by QUERY_AUDIT_* variables."""
    environ = os.environ if environ is None else environ
    found = find_config_file(Path.cwd() if start_dir is None else Path(start_dir))
    config = Config()
    if found is not None:
        path, table = found
        config = _from_table(table, path)
    return _apply_environment(config, environ)
