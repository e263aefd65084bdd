"""The CI gate: a baseline of accepted findings, and the comparison that decides pass or fail."""

from query_audit.gate.baseline import (
    BASELINE_FORMAT,
    DEFAULT_FAIL_ON,
    Baseline,
    BaselineEntry,
    GateResult,
    compare,
    create_baseline,
    load_baseline,
    save_baseline,
    update_baseline,
)

__all__ = [
    "BASELINE_FORMAT",
    "DEFAULT_FAIL_ON",
    "Baseline",
    "BaselineEntry",
    "GateResult",
    "compare",
    "create_baseline",
    "load_baseline",
    "save_baseline",
    "update_baseline",
]
