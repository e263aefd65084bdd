"""One analysis, one context: the facts several rules need are computed once and shared, and the stages
after the advisor read typed fields, not evidence keys."""

from __future__ import annotations

import ast
from pathlib import Path

from advise_cases.build import loop, query, row, schemas, table

from query_audit.advise import advise, index_advisor
from query_audit.model import Thresholds

ADVISE = Path(__file__).resolve().parent.parent / "query_audit" / "advise"
ORDERS = table("orders", 200_000, {"id": "int", "customer_id": "int", "status": "varchar", "created": "datetime"},
               {"PRIMARY": ("id",), "idx_status": ("status",)})
SAMPLES = [f"SELECT * FROM orders WHERE customer_id = {i}" for i in range(5)]


def scenario():
    """Statements that wake every rule that reads index suggestions or candidates: missing_index,
    write_amplification, filesort, temporary_table, non_sargable_predicate."""
    return [
        query(SAMPLES[0], row("orders", "ALL", 200_000), count=5, repetitions=(loop("request 1", SAMPLES),)),
        query("SELECT * FROM orders WHERE status = 'x' ORDER BY created",
              row("orders", "ref", 5000, key="idx_status", filesort=True)),
        query("SELECT status, COUNT(*) FROM orders WHERE DATE(created) = '2024-01-01' GROUP BY status",
              row("orders", "ALL", 200_000, temporary=True, filesort=True)),
        query("UPDATE orders SET status = 'y' WHERE customer_id = 3", row("orders", "ALL", 200_000)),
    ]


def test_one_analysis_computes_the_index_suggestions_and_the_unmet_needs_exactly_once(monkeypatch):
    calls = {"suggest_indexes": 0, "unmet_needs": 0}
    for name in calls:
        real = getattr(index_advisor, name)

        def counting(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(index_advisor, name, counting)
    findings = advise(scenario(), schemas(ORDERS), Thresholds())
    rules = {finding.rule for finding in findings}
    assert {"missing_index", "write_amplification", "filesort", "temporary_table", "non_sargable_predicate"} <= rules
    assert calls == {"suggest_indexes": 1, "unmet_needs": 1}  # was 4 and 8 when each rule asked on its own


def _imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def test_only_the_context_asks_the_index_advisor_for_suggestions_or_needs():
    shared = {"query_audit.advise.index_advisor.suggest_indexes", "query_audit.advise.index_advisor.unmet_needs"}
    askers = [path.relative_to(ADVISE).as_posix() for path in sorted(ADVISE.rglob("*.py"))
              if _imported_names(path) & shared or "index_advisor.suggest_indexes(" in path.read_text()
              or "index_advisor.unmet_needs(" in path.read_text()]
    assert askers == ["context.py"]


def test_verify_and_the_shadow_import_no_rule_module():
    for name in ("verify.py", "shadow.py"):
        assert not [imported for imported in _imported_names(ADVISE / name)
                    if imported.startswith("query_audit.advise.rules")], name


def test_the_typed_rows_examined_is_the_one_the_evidence_reports():
    for finding in advise(scenario(), schemas(ORDERS), Thresholds()):
        assert finding.rows_examined == finding.evidence.get("rows_examined"), finding.rule


def test_a_finding_that_adds_an_index_carries_it_typed():
    [finding] = [f for f in advise(scenario(), schemas(ORDERS), Thresholds()) if f.rule == "missing_index"]
    index, evidence = finding.index, finding.evidence
    assert (index.name, index.database, index.table, index.ddl, index.rows_before) == (
        evidence["index_name"], evidence["database"], evidence["table_name"], finding.ddl, evidence["rows_before"])
    assert dict(index.unusable) == (evidence["cannot_use_index"] or {})
    assert all(f.index is None for f in advise(scenario(), schemas(ORDERS), Thresholds()) if f.rule != "missing_index")
