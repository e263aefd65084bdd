"""What filesort and temporary_table share: a plan flag, and whether an index could make it go away."""

from __future__ import annotations

from query_audit.advise.context import AnalysisContext
from query_audit.advise.index_advisor import covering_index
from query_audit.advise.plan_facts import (
    plan_row_evidence,
    severity_by_rows,
    table_of_plan_row,
)
from query_audit.advise.rule import Rule
from query_audit.advise.rules import query_finding
from query_audit.advise.rules._server_evidence import flag_only_findings
from query_audit.model import Finding, Severity


def _index_verdict(context: AnalysisContext, query) -> tuple[bool, str]:
    """(removable, words): does the suggested (or an existing) index read rows in the wanted order?"""
    for _query, table, schema, candidate, _row, _after, _needed in context.needs_of(query):
        if not candidate.sort:
            continue
        for suggestion in context.suggestions:
            if query.group.id in suggestion.query_ids and suggestion.table == table:
                return True, (f"the suggested index {suggestion.name} ({', '.join(suggestion.columns)}) returns "
                              f"rows already in order, which removes it: {suggestion.ddl}")
        existing = covering_index(schema, candidate.columns)
        if existing is not None:
            return True, (f"existing index {existing.name} could return rows in order, but the optimizer did not "
                          "pick it: check its selectivity, or force it with an index hint after measuring")
        return True, (f"an index on `{table}` ({', '.join(candidate.columns)}) would return rows in order")
    return False, ("no single index can remove it: the columns span several tables, mix ASC and DESC, or follow a "
                   "range; sort fewer rows (filter first, add a LIMIT) or sort in the application")


def _sorts_on_computed_value(query) -> bool:
    """ORDER BY an aggregate or an expression (sql_model gives such a use a reason): no index is in that order."""
    return any(use.role == "order" and use.reason for use in query.model.columns)


COMPUTED_SORT = ("ORDER BY sorts on a computed value (an aggregate or an expression), which no index holds in "
                 "order: sort fewer rows (filter first, keep the LIMIT), or store the value in an indexed column")


def flag_findings(context: AnalysisContext, *, rule: str, flag: str, what: str) -> list[Finding]:
    """One finding per query whose plan has `flag` (a PlanRow attribute) set."""
    findings = []
    for query in context.queries:
        if query.plan is None:
            continue
        flagged = [row for row in query.plan.rows if getattr(row, flag)]
        if not flagged:
            continue
        row = flagged[0]
        sorted_rows = max((r.rows or 0 for r in query.plan.rows if r.select_id == row.select_id), default=0)
        if flag == "using_filesort" and _sorts_on_computed_value(query):
            removable, verdict = False, COMPUTED_SORT
        else:
            removable, verdict = _index_verdict(context, query)
        table = table_of_plan_row(query, row)
        findings.append(query_finding(query,
            rule=rule,
            severity=severity_by_rows(sorted_rows, context.thresholds, small=Severity.INFO, middle=Severity.LOW,
                                      large=Severity.MEDIUM),
            message=f"{what} over ~{sorted_rows} rows of `{table or row.table}` on every execution",
            table=table,
            suggestion=verdict,
            rows_examined=sorted_rows,
            evidence={"plan_row": plan_row_evidence(row), "rows_examined": sorted_rows,
                      "index_removes_it": removable},
        ))
    return findings


def plan_flag_rule(rule_id: str, *, flag: str, what: str, server_flags: dict[str, str], server_what: str,
                   **declared) -> Rule:
    """A rule for one plan flag (filesort, temporary_table): the plan's flag where there is a plan, the slow
    log's `server_flags` where there is none. `declared`: the rest of the Rule (description, help...)."""
    def find(context: AnalysisContext, queries) -> list[Finding]:
        return flag_findings(context, rule=rule_id, flag=flag, what=what) + \
            flag_only_findings(queries, context.thresholds, rule_id, server_flags, server_what)

    return Rule(id=rule_id, find=find, **declared)
