"""The advisor: rules that turn analyzed queries into findings, each with its evidence and a fix.

`advise()` builds one `AnalysisContext` (the facts the rules share, computed once), runs every rule of
`RULES` over it in order and ranks the findings: severity first, then rows examined, then measured time.
Each rule declares itself in its own module (`RULE = Rule(...)`: id, severity, kinds, documentation);
this registry only lists the modules, in report order. docs/rules.md is generated from them.
"""

from __future__ import annotations

from collections.abc import Sequence

from query_audit.advise.context import AnalysisContext
from query_audit.advise.rule import Rule
from query_audit.advise.rules import (
    bulk_insert,
    deferrable_write,
    filesort,
    full_table_scan,
    missing_index,
    n_plus_one,
    non_sargable_predicate,
    read_after_write_on_replica,
    read_on_primary,
    redundant_index,
    repeated_identical_query,
    temporary_table,
    unparsed_statement,
    unused_index,
    write_amplification,
    write_loop,
    write_not_by_primary_key,
    write_on_replica,
)
from query_audit.model import AnalyzedQuery, Finding, SchemaMap, Thresholds

# Report order: scans and indexes, batching, writes, schema, what could not be judged, routing.
RULE_MODULES = (
    full_table_scan, missing_index, non_sargable_predicate, filesort, temporary_table,
    n_plus_one, repeated_identical_query, bulk_insert, write_loop,
    write_not_by_primary_key, write_amplification, redundant_index, unused_index,
    unparsed_statement,
    read_on_primary, read_after_write_on_replica, write_on_replica, deferrable_write,
)
RULES: tuple[Rule, ...] = tuple(module.RULE for module in RULE_MODULES)
RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


def rank_key(finding: Finding, query_time: dict[str, float]) -> tuple:
    """Severity first, then rows examined, then measured time (most first)."""
    rows = finding.rows_examined or 0
    seconds = sum(query_time.get(query_id) or 0.0 for query_id in (finding.query_ids or (finding.query_id,)))
    return finding.severity.rank, -rows, -seconds


def advise(queries: Sequence[AnalyzedQuery], schemas: SchemaMap, thresholds: Thresholds,
           traces: Sequence = ()) -> list[Finding]:
    """Every rule's findings for these queries, most important first. `traces` (analyze/trace.py) are
    a live capture's requests, statement by statement; without them the per-request rules find nothing."""
    context = AnalysisContext.of(queries, schemas, thresholds, traces)
    findings = [finding for rule in RULES for finding in rule.run(context)]
    query_time = {query.group.id: query.group.total_query_time for query in context.queries}
    return sorted(findings, key=lambda finding: rank_key(finding, query_time))


__all__ = ["RULES", "RULES_BY_ID", "AnalysisContext", "Rule", "advise", "rank_key"]
