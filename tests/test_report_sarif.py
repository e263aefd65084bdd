"""SARIF 2.1.0 for GitHub code scanning: structure, levels, locations and stable fingerprints."""

import json
import re
from dataclasses import replace

from conftest import REPO
from report_samples import ORDERS_BY_EMAIL, empty_report, sample_report, static_report

from query_audit.gate import compare, create_baseline
from query_audit.model import Origin, SourceInfo
from query_audit.report import Format, render
from query_audit.report.sarif import FINGERPRINT_KEY, artifact_uri, endpoint_uri


def sarif(report, **kwargs) -> dict:
    return json.loads(render(report, Format.SARIF, **kwargs))


def test_the_document_declares_sarif_2_1_0_and_its_schema():
    document = sarif(sample_report())
    assert document["version"] == "2.1.0"
    assert document["$schema"].endswith("sarif-2.1.0.json")
    assert len(document["runs"]) == 1


def test_there_is_one_rule_descriptor_per_rule_id_with_help_text():
    run = sarif(sample_report())["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert sorted(ids) == ids and len(set(ids)) == len(ids)
    assert set(ids) == {r["ruleId"] for r in run["results"]}
    assert all(rule["help"]["text"] and rule["shortDescription"]["text"] for rule in rules)


def test_each_result_has_rule_level_location_and_fingerprint():
    run = sarif(sample_report())["runs"][0]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert len(run["results"]) == 7
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri and "://" not in uri and " " not in uri
        assert result["partialFingerprints"][FINGERPRINT_KEY]


def test_levels_follow_severity():
    levels = {r["ruleId"]: r["level"] for r in sarif(sample_report())["runs"][0]["results"]}
    assert levels["full_table_scan"] == "error"
    assert levels["n_plus_one"] == "warning"
    assert levels["write_amplification"] == "note"
    assert levels["unparsed_statement"] == "note"


def test_a_capture_result_points_at_its_endpoint_as_a_relative_path_and_names_endpoint_table_and_query():
    result = next(r for r in sarif(sample_report())["runs"][0]["results"] if r["ruleId"] == "full_table_scan")
    location = result["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "127.0.0.1_8000/api/orders"
    assert "region" not in location["physicalLocation"]
    names = {logical["name"] for logical in location["logicalLocations"]}
    assert names == {"GET http://127.0.0.1:8000/api/orders?email=ann@example.com", "orders", ORDERS_BY_EMAIL}


def _with_origin(report, origin):
    return replace(report, findings=tuple(replace(f, origin=origin) for f in report.findings))


def test_a_finding_whose_query_names_its_source_line_is_placed_on_that_line():
    report = _with_origin(sample_report(), Origin(route="/api/orders", file="app/orders.py", line=42))
    location = sarif(report)["runs"][0]["results"][0]["locations"][0]
    assert location["physicalLocation"] == {"artifactLocation": {"uri": "app/orders.py"},
                                            "region": {"startLine": 42}}
    assert "/api/orders" not in {logical["name"] for logical in location["logicalLocations"]}


def test_without_a_file_the_endpoint_the_comment_names_is_a_logical_location():
    report = _with_origin(sample_report(), Origin(controller="posts", action="index"))
    location = sarif(report)["runs"][0]["results"][0]["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "127.0.0.1_8000/api/orders"
    assert location["logicalLocations"][0] == {"name": "posts#index", "kind": "function",
                                               "fullyQualifiedName": "endpoint/posts#index"}


def test_every_rule_descriptor_links_to_its_section_of_the_rules_documentation():
    rules = sarif(sample_report())["runs"][0]["tool"]["driver"]["rules"]
    documented = set(re.findall(r"^## (\w+)$", (REPO / "docs" / "rules.md").read_text(), re.M))
    for rule in rules:
        assert rule["helpUri"].endswith(f"/docs/rules.md#{rule['id']}")
        assert rule["id"] in documented


def test_a_log_file_result_points_at_the_log_file():
    result = sarif(static_report())["runs"][0]["results"][0]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "logs/general.log"


def test_endpoint_uris_drop_scheme_query_string_and_the_colon_of_the_port():
    assert endpoint_uri("POST https://api.example.com:8443/v1/cart?x=1") == "api.example.com_8443/v1/cart"
    assert endpoint_uri("http://localhost/") == "localhost"
    assert artifact_uri(SourceInfo(kind="capture", command="pytest -k checkout")) == "query-audit/command"
    assert artifact_uri(SourceInfo(kind="saved_capture", files=("./runs/my capture.json",))) == "runs/my%20capture.json"


def test_fingerprints_are_stable_across_renders_and_ignore_row_estimates():
    first = sarif(sample_report())["runs"][0]["results"]
    report = sample_report()
    grown = tuple(replace(f, evidence={**f.evidence, "table_rows": 9_999_999}, count=f.count + 5,
                          message=f.message + " (grown)") for f in report.findings)
    second = sarif(replace(report, findings=grown))["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in first] == [r["partialFingerprints"] for r in second]
    assert len({json.dumps(r["partialFingerprints"]) for r in first}) == len(first)


def test_with_a_gate_each_result_says_whether_it_is_new():
    report = sample_report()
    gate = compare(report, create_baseline(report, ["full_table_scan"]), ["full_table_scan", "missing_index"])
    states = {r["ruleId"]: r["baselineState"] for r in sarif(report, gate=gate)["runs"][0]["results"]}
    assert states["full_table_scan"] == "unchanged"
    assert states["missing_index"] == "new"


def test_an_empty_report_is_a_valid_run_without_results():
    run = sarif(empty_report())["runs"][0]
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []


def test_rule_descriptors_carry_the_advisors_own_help_and_default_level():
    from query_audit.advise import RULES_BY_ID

    rules = {r["id"]: r for r in sarif(sample_report())["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["n_plus_one"]["help"]["text"] == RULES_BY_ID["n_plus_one"].help
    assert rules["write_amplification"]["defaultConfiguration"]["level"] == "note"  # INFO by default
