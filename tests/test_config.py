"""Configuration: file, then environment, then command line; errors name the key and the file."""

from pathlib import Path

import pytest

from query_audit.config import Config, load_config
from query_audit.errors import QueryAuditError
from query_audit.model import Thresholds
from query_audit.report import Format


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_without_a_file_or_environment_the_defaults_apply(tmp_path):
    config = load_config(tmp_path, {})
    assert config == Config()
    assert config.fail_on == ("full_table_scan",) and config.thresholds == Thresholds()
    assert config.baseline is None and config.format is None


def test_the_nearest_pyproject_with_a_tool_table_is_found_from_a_subdirectory(tmp_path):
    write(tmp_path / "pyproject.toml", '[project]\nname = "shop"\n\n[tool.query-audit]\nfail-on = ["missing_index"]\n')
    config = load_config(tmp_path / "src" / "shop", {})
    assert config.fail_on == ("missing_index",)
    assert config.source == tmp_path / "pyproject.toml"


def test_a_pyproject_without_the_tool_table_is_passed_over(tmp_path):
    write(tmp_path / ".query-audit.toml", 'fail_on = ["n_plus_one"]\n')
    write(tmp_path / "app" / "pyproject.toml", '[tool.black]\nline-length = 100\n')
    assert load_config(tmp_path / "app", {}).fail_on == ("n_plus_one",)


def test_the_dedicated_file_wins_over_pyproject_in_the_same_directory(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.query-audit]\nformat = "json"\n')
    write(tmp_path / ".query-audit.toml", 'format = "markdown"\n')
    assert load_config(tmp_path, {}).format is Format.MARKDOWN


def test_every_setting_is_read_from_the_file_with_dashes_or_underscores(tmp_path):
    write(tmp_path / ".query-audit.toml", """
fail-on = ["full_table_scan", "missing_index"]
baseline = "ci/.query-audit-baseline.json"
format = "text"
disable = ["repeated_identical_query"]
noise = ["^SELECT @@session"]
ignore = ["3F2A9C1B7D4E6A803F2A9C1B7D4E6A80", "FROM health_check"]

[thresholds]
n-plus-one = 5
full_scan_rows = 2000
index-writes-medium = 500
""")
    config = load_config(tmp_path, {})
    assert config.fail_on == ("full_table_scan", "missing_index")
    assert config.baseline == tmp_path / "ci" / ".query-audit-baseline.json"  # relative to the file
    assert config.format is Format.TEXT
    assert config.disabled_rules == ("repeated_identical_query",) and not config.rule_enabled("repeated_identical_query")
    assert config.noise == ("^SELECT @@session",)
    assert config.thresholds == Thresholds(n_plus_one=5, full_scan_rows=2000, index_writes_medium=500)


def test_ignore_matches_a_query_id_or_a_regex_of_the_sql():
    config = Config(ignore=("3F2A9C1B7D4E6A803F2A9C1B7D4E6A80", r"from\s+health_check"))
    assert config.is_ignored("3f2a9c1b7d4e6a803f2a9c1b7d4e6a80", "SELECT 1")
    assert config.is_ignored("OTHER", "SELECT 1 FROM  health_check")
    assert not config.is_ignored("OTHER", "SELECT 1 FROM orders")


def test_environment_overrides_the_file(tmp_path):
    write(tmp_path / ".query-audit.toml", 'fail-on = ["missing_index"]\nformat = "json"\n[thresholds]\nn-plus-one = 5\n')
    config = load_config(tmp_path, {
        "QUERY_AUDIT_FAIL_ON": "full_table_scan, n_plus_one",
        "QUERY_AUDIT_N_PLUS_ONE_THRESHOLD": "8",
        "QUERY_AUDIT_FULL_SCAN_ROWS": "50",
        "QUERY_AUDIT_INDEX_WRITES_LOW": "7",
        "QUERY_AUDIT_FORMAT": "sarif",
        "QUERY_AUDIT_BASELINE": "other.json",
        "QUERY_AUDIT_DSN": "mysql://u@h/db",  # another module's variable: not an error here
    })
    assert config.fail_on == ("full_table_scan", "n_plus_one")
    assert config.thresholds.n_plus_one == 8 and config.thresholds.full_scan_rows == 50
    assert config.thresholds.index_writes_low == 7
    assert config.format is Format.SARIF and config.baseline == Path("other.json")


def test_an_empty_fail_on_variable_turns_the_gate_off(tmp_path):
    assert load_config(tmp_path, {"QUERY_AUDIT_FAIL_ON": ""}).fail_on == ()


@pytest.mark.parametrize("text, words", [
    ('colour = "red"\n', ["unknown key 'colour'"]),
    ('fail-on = "full_table_scan"\n', ["fail_on", "list of strings"]),
    ('format = "xml"\n', ["format", "must be one of"]),
    ('[thresholds]\nn-plus-one = "three"\n', ["thresholds.n_plus_one", "positive integer"]),
    ('[thresholds]\nn-plus-one = true\n', ["thresholds.n_plus_one"]),
    ('[thresholds]\nfast = 1\n', ["unknown key thresholds.fast"]),
    ('noise = ["(unclosed"]\n', ["noise", "not a valid regex"]),
    ('baseline = 3\n', ["baseline", "path"]),
    ('fail-on = [\n', ["cannot parse"]),
])
def test_a_bad_file_is_one_line_naming_the_key_and_the_file(tmp_path, text, words):
    path = write(tmp_path / ".query-audit.toml", text)
    with pytest.raises(QueryAuditError) as error:
        load_config(tmp_path, {})
    message = str(error.value)
    assert str(path) in message and "\n" not in message
    for word in words:
        assert word in message


def test_a_bad_tool_table_in_pyproject_names_pyproject(tmp_path):
    path = write(tmp_path / "pyproject.toml", '[tool.query-audit]\nfail_on = [1, 2]\n')
    with pytest.raises(QueryAuditError, match="fail_on in .*pyproject.toml must be a list of strings"):
        load_config(tmp_path, {})
    assert path.exists()


@pytest.mark.parametrize("name, value", [("QUERY_AUDIT_N_PLUS_ONE_THRESHOLD", "many"),
                                         ("QUERY_AUDIT_FULL_SCAN_ROWS", "0"),
                                         ("QUERY_AUDIT_FORMAT", "pdf")])
def test_a_bad_environment_value_names_the_variable(tmp_path, name, value):
    with pytest.raises(QueryAuditError, match=name):
        load_config(tmp_path, {name: value})


def test_filter_findings_drops_disabled_rules_and_findings_about_ignored_queries_only():
    from report_samples import ORDERS_BY_EMAIL, sample_report

    report = sample_report()
    config = Config(disabled_rules=("write_amplification",), ignore=(ORDERS_BY_EMAIL, r"CALL\s+refresh_"))
    rules = [f.rule for f in config.filter_findings(report)]
    assert rules == ["n_plus_one", "bulk_insert", "write_not_by_primary_key"]


def test_a_merged_finding_stays_while_one_of_its_queries_is_not_ignored():
    from dataclasses import replace

    from report_samples import ORDERS_BY_EMAIL, PRODUCT_BY_ID, sample_report

    report = sample_report()
    merged = replace(report.findings[1], query_ids=(ORDERS_BY_EMAIL, PRODUCT_BY_ID))
    config = Config(ignore=(ORDERS_BY_EMAIL,))
    assert config.filter_findings(replace(report, findings=(merged,))) == (merged,)


@pytest.mark.parametrize("key", ["disable", "fail-on", "fail_on"])
def test_an_unknown_rule_id_in_the_file_is_an_error_naming_the_file_and_the_key_as_written(tmp_path, key):
    path = write(tmp_path / ".query-audit.toml", f'{key} = ["full_table_scan", "cache_candidate"]\n')
    with pytest.raises(QueryAuditError) as raised:
        load_config(tmp_path, {})
    message = str(raised.value)
    assert f"unknown rule 'cache_candidate' in {key} in {path}" in message and "\n" not in message
    assert "full_table_scan" in message.split("known:")[1]  # the known ids follow, from the registry


@pytest.mark.parametrize("variable", ["QUERY_AUDIT_DISABLE", "QUERY_AUDIT_FAIL_ON"])
def test_an_unknown_rule_id_in_the_environment_is_an_error_naming_the_variable(tmp_path, variable):
    with pytest.raises(QueryAuditError, match=f"unknown rule 'full_scan' in {variable} in the environment"):
        load_config(tmp_path, {variable: "missing_index, full_scan"})


def test_every_rule_id_of_the_registry_is_accepted_in_disable_and_fail_on(tmp_path):
    from query_audit.advise import RULES_BY_ID

    ids = ", ".join(f'"{rule}"' for rule in RULES_BY_ID)
    write(tmp_path / "pyproject.toml", f"[tool.query-audit]\ndisable = [{ids}]\nfail-on = [{ids}]\n")
    config = load_config(tmp_path, {})
    assert config.disabled_rules == tuple(RULES_BY_ID) == config.fail_on


def test_the_cli_reports_an_unknown_disabled_rule_in_one_line_with_exit_2(tmp_path):
    import subprocess
    import sys

    from query_audit.advise import RULES_BY_ID

    path = write(tmp_path / "pyproject.toml", '[tool.query-audit]\ndisable = ["cache_candidate"]\n')
    log = write(tmp_path / "general.log", "")
    done = subprocess.run([sys.executable, "-m", "query_audit", "analyze", str(log)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr == (f"query-audit: unknown rule 'cache_candidate' in disable in {path}; "
                           f"known: {', '.join(sorted(RULES_BY_ID))}\n")
