"""`query-audit init`: configuration and an empty baseline, no questions, nothing overwritten without --force."""

from __future__ import annotations

import json
import tomllib

import pytest
from click.testing import CliRunner

from query_audit.cli import cli, main
from query_audit.config import load_config


@pytest.fixture
def project(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    global _capsys
    _capsys = capsys
    return tmp_path


class Run:
    def __init__(self, exit_code: int, output: str):
        self.exit_code, self.output = exit_code, output


def run(*args) -> Run:
    """The real entry point (errors mapped to exit codes), its stderr as `output`."""
    try:
        main(["init", *args])
        code = 0
    except SystemExit as exited:
        code = exited.code
    return Run(code, _capsys.readouterr().err)


def test_in_a_project_with_pyproject_the_table_is_appended_and_the_rest_kept(project):
    (project / "pyproject.toml").write_text('[project]\nname = "shop"\n\n[tool.ruff]\nline-length = 100\n')
    result = run("--fail-on", "full_table_scan", "--fail-on", "missing_index")
    assert result.exit_code == 0, result.output
    document = tomllib.loads((project / "pyproject.toml").read_text())
    assert document["project"]["name"] == "shop" and document["tool"]["ruff"]["line-length"] == 100
    config = load_config(project, {})
    assert tuple(config.fail_on) == ("full_table_scan", "missing_index")
    assert json.loads((project / ".query-audit-baseline.json").read_text())["entries"] == []
    assert "wrote the configuration to" in result.output and "empty baseline" in result.output


def test_without_pyproject_it_writes_a_dedicated_file_that_check_then_reads(project):
    refused = run("--baseline", "ci/bl.json")  # the directory does not exist: one error line, nothing written
    assert refused.exit_code == 2 and "is not a directory" in refused.output
    assert not (project / ".query-audit.toml").exists()
    (project / "ci").mkdir()
    assert run("--baseline", "ci/bl.json").exit_code == 0
    assert (project / ".query-audit.toml").is_file() and not (project / "pyproject.toml").exists()
    assert str(load_config(project, {}).baseline) == str(project / "ci" / "bl.json")
    log = project / "general.log"
    log.write_text("2026-11-26T10:00:00.000001Z\t   5 Query\tSELECT 1 FROM t\n")
    assert CliRunner().invoke(cli, ["check", str(log)]).exit_code == 0  # the empty baseline gates nothing here


def test_it_refuses_to_overwrite_anything_without_force_and_writes_nothing(project):
    assert run().exit_code == 0
    (project / ".query-audit-baseline.json").write_text('{"version": 1, "entries": [], "format": "x"}')
    before = (project / ".query-audit.toml").read_text()
    result = run()
    assert result.exit_code == 2
    assert "exists" in result.output and "--force" in result.output and "Traceback" not in result.output
    assert (project / ".query-audit-baseline.json").read_text() == '{"version": 1, "entries": [], "format": "x"}'
    assert (project / ".query-audit.toml").read_text() == before
    assert run("--force", "--fail-on", "missing_index").exit_code == 0
    assert tuple(load_config(project, {}).fail_on) == ("missing_index",)


def test_force_replaces_the_existing_table_and_its_sub_tables_in_pyproject(project):
    (project / "pyproject.toml").write_text('[tool.query-audit]\nfail-on = ["filesort"]\n\n'
                                            '[tool.query-audit.thresholds]\nn-plus-one = 9\n\n[tool.other]\nx = 1\n')
    assert run().exit_code == 2
    assert run("--force").exit_code == 0
    document = tomllib.loads((project / "pyproject.toml").read_text())
    assert document["tool"]["other"] == {"x": 1}
    assert document["tool"]["query-audit"]["fail-on"] == ["full_table_scan"]
    assert "n-plus-one" not in document["tool"]["query-audit"]["thresholds"]


def test_an_unknown_rule_is_a_usage_error(project):
    result = run("--fail-on", "no_such_rule")
    assert result.exit_code == 2 and "unknown rule 'no_such_rule'" in result.output
    assert not (project / ".query-audit.toml").exists()
