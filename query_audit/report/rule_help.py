"""Each rule's title and help text for SARIF rule descriptors and the Markdown report.

The advisor's registry (`query_audit.advise.RULES_BY_ID`) is the single source of the words; a rule
it does not know still renders, with a generic description, so a new rule never breaks a report.
"""

from __future__ import annotations

from dataclasses import dataclass

from query_audit.model import Severity

# The project's home; docs/rules.md there has one section per rule, anchored by the rule's id.
PROJECT_URL = "https://github.com/query-audit/query-audit"


@dataclass(frozen=True)
class RuleHelp:
    title: str  # one line: what the rule detects
    help: str  # anti-pattern / best practice
    severity: Severity = Severity.MEDIUM  # the rule's default severity


def rule_help(rule: str) -> RuleHelp:
    """The advisor's description of `rule`, or a generic one naming it."""
    from query_audit.advise import (
        RULES_BY_ID,  # imported late: the advisor pulls in every rule module
    )

    known = RULES_BY_ID.get(rule)
    if known is None:
        return RuleHelp(rule.replace("_", " ").capitalize(), f"query-audit rule {rule}.")
    return RuleHelp(known.description, known.help, known.severity)


def rule_help_uri(rule: str) -> str:
    """Where docs/rules.md explains `rule` (its section's anchor is the rule id)."""
    return f"{PROJECT_URL}/blob/main/docs/rules.md#{rule}"
