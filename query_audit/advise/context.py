"""The facts every rule of one analysis shares, computed once (in the manner of sqlfluff's RuleContext).

`advise()` builds one `AnalysisContext` per analysis and hands it to every rule. What several rules need
(the index each query wants per table, the merged index suggestions, plan rows per table, queries by id)
is computed on first use and kept: the index advisor runs once per analysis, not once per rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from query_audit.advise import index_advisor
from query_audit.advise.index_advisor import IndexSuggestion, TableNeed
from query_audit.advise.plan_facts import plan_rows_for, schema_for
from query_audit.model import AnalyzedQuery, Kind, PlanRow, SchemaMap, TableSchema, Thresholds


@dataclass(frozen=True)
class AnalysisContext:
    """One analysis: its queries, schemas, thresholds and a live capture's request traces, and the shared
    facts derived from them (cached properties, computed on first use)."""

    queries: tuple[AnalyzedQuery, ...]
    schemas: SchemaMap
    thresholds: Thresholds
    traces: tuple = ()  # analyze/trace.py's RequestTraces; () outside a live capture
    _plan_rows: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, queries: Sequence[AnalyzedQuery], schemas: SchemaMap, thresholds: Thresholds,
           traces: Sequence = ()) -> AnalysisContext:
        return cls(tuple(queries), schemas, thresholds, tuple(traces))

    def statements(self, kinds: frozenset[Kind]) -> tuple[AnalyzedQuery, ...]:
        """The queries of these statement kinds, in order (every query when `kinds` is empty)."""
        if not kinds:
            return self.queries
        return tuple(query for query in self.queries if query.group.kind in kinds)

    @cached_property
    def queries_by_id(self) -> dict[str, AnalyzedQuery]:
        return {query.group.id: query for query in self.queries}

    @cached_property
    def needs(self) -> tuple[TableNeed, ...]:
        """Per query and table, the index it wants and whether one is missing (index_advisor.unmet_needs)."""
        return tuple(index_advisor.unmet_needs(self.queries, self.schemas, self.thresholds))

    @cached_property
    def _needs_by_query(self) -> dict[int, tuple[TableNeed, ...]]:
        by_query: dict[int, list[TableNeed]] = {}
        for need in self.needs:
            by_query.setdefault(id(need.query), []).append(need)
        return {key: tuple(needs) for key, needs in by_query.items()}

    def needs_of(self, query: AnalyzedQuery) -> tuple[TableNeed, ...]:
        """`needs` of one of the context's queries, in the same order."""
        return self._needs_by_query.get(id(query), ())

    @cached_property
    def suggestions(self) -> tuple[IndexSuggestion, ...]:
        """Every index worth adding, merged per table across the capture (from `needs`)."""
        return tuple(index_advisor.suggest_indexes(self.queries, self.schemas, self.thresholds, needs=self.needs))

    def plan_rows(self, query: AnalyzedQuery, table: str) -> tuple[PlanRow, ...]:
        """The plan rows that read `table` (the project's one lookup, plan_facts.plan_rows_for), kept."""
        key = (id(query), table)
        if key not in self._plan_rows:  # the query is kept with its rows, so its id is not reused
            self._plan_rows[key] = (query, plan_rows_for(query, table))
        return self._plan_rows[key][1]

    def schema(self, query: AnalyzedQuery, table: str) -> TableSchema | None:
        return schema_for(query, table, self.schemas)
