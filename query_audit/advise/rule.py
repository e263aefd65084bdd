"""A rule: a self-describing unit with a stable id that takes the analysis context and returns findings.

Each module of `advise/rules/` declares one `RULE = Rule(...)`; `query_audit.advise.RULES` lists them in
report order, and docs/rules.md is generated from them (`python -m query_audit.advise.docs`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from query_audit.advise.context import AnalysisContext
from query_audit.model import AnalyzedQuery, Finding, Kind, SchemaMap, Severity, Thresholds

# (the analysis, the statements of the rule's kinds) -> findings
Find = Callable[[AnalysisContext, tuple[AnalyzedQuery, ...]], list[Finding]]


@dataclass(frozen=True)
class Rule:
    """A rule's stable id (the report contract), default severity and documentation, and its check."""

    id: str
    severity: Severity  # the default: what SARIF and the reports' rule descriptions show
    description: str  # one line: what it detects
    help: str  # "Anti-pattern: ... Best practice: ..."
    find: Find
    severity_policy: str  # how a finding's severity is chosen, for the docs
    # The statement kinds the rule reads: `find` gets only those (empty: every statement).
    kinds: frozenset[Kind] = frozenset()
    # A rule that reads each request's statements in order (analyze/trace.py, `context.traces`).
    per_request: bool = False
    details: str = ""  # Markdown for docs/rules.md: the module's docstring, after its first paragraph

    def run(self, context: AnalysisContext) -> list[Finding]:
        return self.find(context, context.statements(self.kinds))

    def check(self, queries: Sequence[AnalyzedQuery], schemas: SchemaMap, thresholds: Thresholds,
              traces: Sequence = ()) -> list[Finding]:
        """This rule alone over a fresh context (the data-driven rule tests)."""
        return self.run(AnalysisContext.of(queries, schemas, thresholds, traces))

    @property
    def documentation(self) -> str:
        """`details` without its title paragraph (`rule_id: what it detects`), dedented."""
        text = inspect.cleandoc(self.details)
        title, _, body = text.partition("\n\n")
        return body.strip() if title.startswith(f"{self.id}:") else text
