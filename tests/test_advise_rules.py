"""The rule registry, its documentation, and advise(): every rule runs, findings come ranked."""

from __future__ import annotations

import re
from pathlib import Path

from advise_cases.build import loop, query, row, schemas, table

from query_audit.advise import RULES, RULES_BY_ID, advise
from query_audit.model import Severity, Thresholds

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules.md"
ORDERS = table("orders", 200_000, {"id": "int", "customer_id": "int", "status": "varchar"},
               {"PRIMARY": ("id",), "idx_status": ("status",), "idx_status_again": ("status",)})
SETTINGS = table("settings", 10, {"id": "int", "name": "varchar"})
SCHEMAS = schemas(ORDERS, SETTINGS)


def test_every_rule_has_a_unique_id_a_severity_and_help_in_anti_pattern_best_practice_form():
    assert len(RULES_BY_ID) == len(RULES)
    for rule in RULES:
        assert re.fullmatch(r"[a-z_]+", rule.id)
        assert isinstance(rule.severity, Severity)
        assert rule.description.endswith(".") and "\n" not in rule.description
        assert "Anti-pattern" in rule.help and "Best practice" in rule.help
        assert callable(rule.check)


def test_docs_describe_exactly_the_registered_rules_in_order():
    documented = re.findall(r"^## ([a-z_]+)$", DOCS.read_text(), flags=re.MULTILINE)
    assert documented == [rule.id for rule in RULES]


def test_docs_rules_md_is_what_the_rules_generate():
    from query_audit.advise.docs import render

    assert DOCS.read_text() == render(), "docs/rules.md is stale: run `make docs` (python -m query_audit.advise.docs)"


def test_every_rule_module_declares_its_rule_and_the_registry_lists_each_once():
    import pkgutil

    from query_audit.advise import RULE_MODULES, rules

    modules = {info.name for info in pkgutil.iter_modules(rules.__path__) if not info.name.startswith("_")}
    assert {module.__name__.rsplit(".", 1)[1] for module in RULE_MODULES} == modules
    assert [module.RULE for module in RULE_MODULES] == list(RULES)
    for module in RULE_MODULES:
        assert module.RULE.id == module.__name__.rsplit(".", 1)[1]  # the id is the module's name
        assert module.RULE.details == module.__doc__ and module.RULE.documentation
        assert module.RULE.severity_policy and "Severity" not in module.RULE.documentation


def scenario():
    samples = [f"SELECT * FROM orders WHERE customer_id = {i}" for i in range(5)]
    return [
        query("SELECT * FROM settings WHERE name = 'x'", row("settings", "ALL", 10)),
        query(samples[0], row("orders", "ALL", 200_000), count=5, repetitions=(loop("request 1", samples),),
              query_time=0.9),
        query("SELECT * FROM orders WHERE status = 'new'", row("orders", "ref", 50, key="idx_status"),
              query_time=0.1),
        query("SELECT * FROM orders WHERE id = 3", row("orders", "const", 1, key="PRIMARY")),
        query("CALL recalc()"),
    ]


def test_advise_runs_every_rule_and_only_emits_registered_ids():
    findings = advise(scenario(), SCHEMAS, Thresholds())
    rules = {finding.rule for finding in findings}
    assert rules <= set(RULES_BY_ID)
    assert {"full_table_scan", "missing_index", "n_plus_one", "redundant_index", "unparsed_statement"} <= rules


def test_findings_are_ranked_by_severity_then_rows_examined():
    findings = advise(scenario(), SCHEMAS, Thresholds())
    ranks = [finding.severity.rank for finding in findings]
    assert ranks == sorted(ranks)
    high = [f for f in findings if f.severity is Severity.HIGH]
    assert high[0].rule in ("full_table_scan", "missing_index") and high[0].evidence["rows_examined"] == 200_000
    infos = [f.rule for f in findings if f.severity is Severity.INFO]
    assert "full_table_scan" in infos  # the 10-row settings scan: reported, but last


def test_the_primary_key_lookup_raises_nothing():
    pk_lookup = scenario()[3]
    assert all(pk_lookup.group.id not in (f.query_ids or (f.query_id,))
               for f in advise(scenario(), SCHEMAS, Thresholds()))
