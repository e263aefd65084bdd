"""The JSON report is the public contract: it must validate against docs/report.schema.json."""

import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
from report_samples import ORDERS_BY_EMAIL, empty_report, sample_report, static_report

from query_audit.gate import compare, create_baseline
from query_audit.report import Format, render

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "docs" / "report.schema.json").read_text())


def validate(document: dict) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(document)


def test_the_schema_itself_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("report", [sample_report(), empty_report(), static_report()], ids=["sample", "empty", "static"])
def test_every_sample_report_validates_against_the_schema(report):
    validate(json.loads(render(report, Format.JSON)))


def test_a_report_with_a_gate_validates_and_carries_the_gate_decision():
    report = sample_report()
    gate = compare(report, create_baseline(report, ["full_table_scan"]), ["full_table_scan", "missing_index"])
    document = json.loads(render(report, Format.JSON, gate=gate))
    validate(document)
    assert document["gate"]["passed"] is False
    assert document["gate"]["verdict"] == "gate: 1 new missing_index finding"
    assert [(e["rule"], e["query_id"]) for e in document["gate"]["new"]] == [("missing_index", ORDERS_BY_EMAIL)]
    assert [e["rule"] for e in document["gate"]["known"]] == ["full_table_scan"]


def test_the_schema_rejects_an_unknown_top_level_key_so_contract_changes_are_noticed():
    document = json.loads(render(sample_report(), Format.JSON))
    document["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        validate(document)


def test_findings_are_ordered_by_severity_then_rule_then_table():
    findings = json.loads(render(sample_report(), Format.JSON))["findings"]
    order = [(f["severity"], f["rule"]) for f in findings]
    assert order == [("high", "full_table_scan"), ("high", "missing_index"), ("medium", "bulk_insert"),
                     ("medium", "n_plus_one"), ("medium", "write_not_by_primary_key"), ("low", "write_amplification"),
                     ("info", "unparsed_statement")]


def test_a_query_keeps_its_sample_as_logged_its_plan_row_and_its_timing():
    queries = {q["id"]: q for q in json.loads(render(sample_report(), Format.JSON))["queries"]}
    scan = queries[ORDERS_BY_EMAIL]
    assert scan["sample"].startswith("SELECT id, status, total FROM orders WHERE customer_email = 'ann@example.com'")
    assert scan["explain"]["rows"][0]["access_type"] == "ALL"
    assert scan["explain"]["rows"][0]["rows"] == 48210
    assert scan["timing"] == {"total": 0.0311, "max": 0.0311, "rows_examined": 48210, "rows_sent": 3}


def test_a_static_report_has_null_server_and_no_plans_or_timings():
    document = json.loads(render(static_report(), Format.JSON))
    assert document["server"] is None
    assert all(q["explain"] is None and q["timing"] is None for q in document["queries"])


def test_the_missing_index_finding_keeps_its_ddl_evidence_and_verification():
    findings = json.loads(render(sample_report(), Format.JSON))["findings"]
    index = next(f for f in findings if f["rule"] == "missing_index")
    assert index["ddl"].startswith("ALTER TABLE `shop`.`orders` ADD INDEX")
    assert index["evidence"]["rows_before"] == 48210 and index["evidence"]["rows_after"] == 3
    assert index["verified"] is True


def test_two_renders_of_the_same_report_are_byte_identical():
    assert render(sample_report(), Format.JSON) == render(sample_report(), Format.JSON)


def test_findings_from_the_real_advisor_validate_against_the_schema():
    from dataclasses import replace

    from query_audit.advise import advise
    from query_audit.model import Thresholds

    report = sample_report()
    findings = advise(report.queries, {}, Thresholds())
    assert {f.rule for f in findings} >= {"full_table_scan", "n_plus_one", "bulk_insert"}
    validate(json.loads(render(replace(report, findings=tuple(findings)), Format.JSON)))


def test_origins_and_the_timeline_validate_and_keep_their_values():
    from query_audit.model import Origin, TimelineEntry

    report = sample_report()
    origin = Origin(route="/api/orders", controller="orders", action="index", file="app/orders.py", line=42)
    report = replace(report, queries=(replace(report.queries[0], origin=origin), *report.queries[1:]),
                     findings=tuple(replace(f, origin=origin) for f in report.findings),
                     timeline=(TimelineEntry(report.queries[0].group.id, "request 1", 0, "2026-11-26T10:00:01Z",
                                             0.0311, 48210),))
    document = json.loads(render(report, Format.JSON))
    validate(document)
    assert document["queries"][0]["origin"] == {"route": "/api/orders", "controller": "orders", "action": "index",
                                                "file": "app/orders.py", "line": 42, "application": None,
                                                "framework": None}
    assert document["queries"][1]["origin"] is None
    assert all(f["origin"]["line"] == 42 for f in document["findings"])
    assert document["timeline"] == [{"query_id": report.queries[0].group.id, "unit": "request 1", "position": 0,
                                     "time": "2026-11-26T10:00:01Z", "query_time": 0.0311, "rows_examined": 48210}]


def test_every_format_names_the_server_address_and_never_a_password():
    from dataclasses import replace

    from query_audit.connection import parse_dsn

    settings = parse_dsn("mysql://app:Sekr1t-pw@db.internal:3307/shop")
    report = sample_report()
    report = replace(report, server=replace(report.server, address=settings.address))
    for fmt in Format:
        text = render(report, fmt)
        assert "db.internal:3307" in text, fmt
        assert "Sekr1t-pw" not in text and "app@" not in text, fmt
    assert json.loads(render(report, Format.JSON))["server"]["address"] == "db.internal:3307"


def test_a_big_report_has_one_line_a_query_and_the_same_document(monkeypatch):
    from query_audit.report import json_format

    report = sample_report()
    indented = render(report, Format.JSON)
    monkeypatch.setattr(json_format, "ONE_LINE_ITEMS_ABOVE", 0)
    one_line = render(report, Format.JSON)
    assert one_line != indented and json.loads(one_line) == json.loads(indented)
    document = json.loads(one_line)
    jsonschema.validate(document, SCHEMA)
    lines = one_line.splitlines()
    lists = [value for value in document.values() if isinstance(value, list) and value]
    # `{` and `}`, a line a key, the closing `]` of each list, and a line an item
    assert len(lines) == 2 + len(document) + len(lists) + sum(len(items) for items in lists)
    first = lines.index('  "queries": [') + 1
    query_lines = lines[first:lines.index("  ],", first)]
    assert [json.loads(line.rstrip(",")) for line in query_lines] == document["queries"]


@pytest.mark.parametrize("one_line_above", [10_000, 0], ids=["indented", "one item a line"])
def test_nan_and_infinity_are_written_as_null_in_both_layouts(monkeypatch, one_line_above):
    """The document is encoded as it is unless a value cannot be written: only then are they replaced."""
    import math

    from query_audit.report import json_format

    monkeypatch.setattr(json_format, "ONE_LINE_ITEMS_ABOVE", one_line_above)
    report = sample_report()
    query = report.queries[0]
    odd = replace(query, group=replace(query.group, total_query_time=math.nan, max_query_time=math.inf))
    odd_report = replace(report, queries=(odd, *report.queries[1:]))
    text = render(odd_report, Format.JSON)
    assert "NaN" not in text and "Infinity" not in text
    timing = json.loads(text)["queries"][0]["timing"]
    assert timing["total"] is None and timing["max"] is None
    # The same text as the whole document's copy without NaN gives (the big layout copies only that query).
    copy = json_format.without_nan(json_format.report_to_dict(odd_report))
    assert text == (json_format._indented(copy) if one_line_above else "".join(json_format._one_item_a_line(copy)))


def test_a_big_report_is_made_as_it_is_written(monkeypatch):
    """Each query becomes a dict (and then text) only when its part is asked for: a big log's document and
    text are never whole in memory (json_format.json_parts)."""
    from query_audit.report import json_format

    monkeypatch.setattr(json_format, "ONE_LINE_ITEMS_ABOVE", 0)
    made = []
    monkeypatch.setattr(json_format, "_query", lambda query: made.append(query.group.id) or {"id": query.group.id})
    report = sample_report()
    parts = json_format.json_parts(report)
    while not made:
        next(parts)
    assert made == [report.queries[0].group.id]  # one query so far, of six
    rest = list(parts)
    assert made == [query.group.id for query in report.queries] and rest[-1] == "}\n"


def test_a_report_file_whose_making_fails_half_way_is_removed_not_left_half_written(tmp_path):
    from query_audit.private_files import write_private_output

    path = tmp_path / "report.json"
    path.write_text("the last run's report")

    def parts():
        yield '{"queries": [\n'
        raise RuntimeError("a renderer bug")

    with pytest.raises(RuntimeError, match="a renderer bug"):
        write_private_output(path, parts())
    assert not path.exists()
    write_private_output(path, iter(['{"queries": []}\n']))
    assert path.read_text() == '{"queries": []}\n' and (path.stat().st_mode & 0o777) == 0o600
