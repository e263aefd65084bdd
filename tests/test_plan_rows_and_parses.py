"""One alias resolution (the statement model's), one plan-row lookup (`plan_facts.plan_rows_for`) that the
rules and the reports share, and one parse of each statement per analysis."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import sqlglot
from advise_cases.build import query, row, schemas, table
from report_samples import empty_report

from query_audit.advise.estimates import equality_values
from query_audit.advise.plan_facts import plan_row_evidence, plan_rows_for, table_of_plan_row
from query_audit.advise.rules import full_table_scan
from query_audit.analyze.sql_model import describe
from query_audit.analyze.trace import key_values
from query_audit.model import Thresholds
from query_audit.report import Format, render
from query_audit.report.common import plan_row_summary, plan_rows_shown

SOURCE = Path(__file__).resolve().parent.parent / "query_audit"

ORDERS = table("orders", 50_000, {"id": "int", "customer_id": "int", "status": "varchar"})
CUSTOMERS = table("customers", 20_000, {"id": "int", "email": "varchar"})
JOIN = ("SELECT o.id, c.email FROM orders o JOIN customers c ON c.id = o.customer_id "
        "WHERE o.status = 'paid'")


def _aliased_join():
    return query(JOIN, row("o", "ALL", 50_000), row("c", "eq_ref", 1, key="PRIMARY"))


def test_the_model_resolves_every_blocks_aliases_once():
    model = describe("SELECT * FROM orders o WHERE o.id IN (SELECT x.order_id FROM shop.items x) AND EXISTS "
                     "(SELECT 1 FROM customers WHERE customers.id = o.customer_id)")
    assert model.aliases == (("o", "orders"), ("x", "shop.items"), ("customers", "customers"))
    assert model.tables_named("O") == ("orders",) and model.tables_named("y") == ()
    clash = describe("SELECT * FROM orders t WHERE t.id IN (SELECT t.order_id FROM items t)")
    assert clash.tables_named("t") == ("orders", "items")  # one alias, two query blocks


def test_plan_rows_for_resolves_aliases_from_the_model():
    q = _aliased_join()
    assert [r.table for r in plan_rows_for(q, "orders")] == ["o"]
    assert [r.table for r in plan_rows_for(q, "shop.customers")] == ["c"]
    assert table_of_plan_row(q, q.plan.rows[0]) == "orders"


def test_the_report_shows_the_plan_row_the_rule_judged_on_an_aliased_join():
    """The reports once matched plan rows by the table's name only: `o` is no `orders`, so they fell back
    to every row of the plan and printed the customers row beside the orders scan the rule judged."""
    q = _aliased_join()
    [finding] = full_table_scan.RULE.check([q], schemas(ORDERS, CUSTOMERS), Thresholds())
    assert finding.table == "orders"
    shown = plan_rows_shown(q, finding.table)
    assert [plan_row_evidence(r) for r in shown] == [finding.evidence["plan_row"]]
    report = replace(empty_report(), queries=(q,), findings=(finding,))
    junit = render(report, Format.JUNIT, fail_on=["full_table_scan"])
    assert plan_row_summary(q.plan.rows[0]) in junit and plan_row_summary(q.plan.rows[1]) not in junit
    text = render(report, Format.TEXT)
    assert "eq_ref" not in text and "ALL" in text


def test_only_plan_facts_defines_plan_rows_for():
    defined = [f"{path.relative_to(SOURCE)}" for path in sorted(SOURCE.rglob("*.py"))
               if re.search(r"^def plan_rows_for\(", path.read_text(), re.M)]
    assert defined == ["advise/plan_facts.py"]


# Where sqlglot parses: the model (every statement, once); EXPLAIN's copy with its placeholders renamed;
# the rewrites, which change their own trees.
_PARSERS = {"analyze/sql_model.py", "analyze/explain.py", "advise/rewrite.py", "advise/predicate_rewrite.py"}


def test_only_the_model_and_the_rewriters_call_parse_one():
    calls = re.compile(r"\bparse_one\(|\bsqlglot\.parse\(|\bsqlglot\.transpile\(")
    found = {str(path.relative_to(SOURCE)) for path in SOURCE.rglob("*.py") if calls.search(path.read_text())}
    assert found == _PARSERS
    assert calls.search("tree = sqlglot.parse_one(sql)")  # the check sees what it forbids


def test_one_parse_per_statement_serves_the_model_the_plan_rows_the_estimates_and_the_trace(monkeypatch):
    """Before the shared parse, one sample was parsed four times: describe, plan_facts' aliases, the
    estimates' equalities and the trace's key values."""
    parsed = []
    original = sqlglot.parse_one

    def counting(sql, *args, **kwargs):
        parsed.append(sql)
        return original(sql, *args, **kwargs)

    base = _aliased_join()  # parses JOIN (unless an earlier test did): before the counting starts
    monkeypatch.setattr(sqlglot, "parse_one", counting)
    sql = JOIN + " AND o.customer_id = 41"  # a text no other test parsed: the cache starts empty for it
    q = replace(base, model=describe(sql), group=replace(base.group, sample=replace(base.group.sample, sql=sql)))
    plan_rows_for(q, "orders")
    assert equality_values(q, "orders") == {"status": "paid", "customer_id": "41"}
    assert key_values(sql) == (("customer_id", ("41",)), ("status", ("paid",)))
    assert parsed == [sql]
