"""What a user installs and wires into CI: package metadata, the GitHub Action, the pre-commit hooks,
the changelog and the install instructions. (.ci/check-dist builds and installs the sdist and wheel.)"""

from __future__ import annotations

import re
import shlex
import tomllib

import yaml
from click.testing import CliRunner
from conftest import REPO

from query_audit.cli import cli

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_metadata_has_an_spdx_license_a_license_file_urls_and_classifiers():
    assert PYPROJECT["license"] == "MIT" and PYPROJECT["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    assert {"Homepage", "Repository", "Issues", "Changelog"} <= set(PYPROJECT["urls"])
    assert "Programming Language :: Python :: 3.11" in PYPROJECT["classifiers"]
    assert not any(c.startswith("License ::") for c in PYPROJECT["classifiers"])  # SPDX replaces them


def test_docker_is_an_extra_not_a_dependency_of_every_user():
    assert not any(dep.startswith("docker") for dep in PYPROJECT["dependencies"])
    assert PYPROJECT["optional-dependencies"]["docker"] == ["docker>=7"]


def test_the_changelog_has_an_unreleased_section_and_the_current_version():
    from query_audit import __version__

    changelog = (REPO / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog and f"## [{__version__}]" in changelog


def _options(*command: str) -> str:
    return CliRunner().invoke(cli, [*command, "--help"], terminal_width=200).output


def test_the_action_runs_query_audit_check_with_options_it_has_and_uploads_sarif():
    action = yaml.safe_load((REPO / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    script = next(step["run"] for step in steps if step.get("id") == "check")
    check_help = _options("check")
    for option in set(re.findall(r"(--[a-z-]+)", script)):
        assert option in check_help, option
    assert "args=(check " in script
    assert any(step.get("uses", "").startswith("github/codeql-action/upload-sarif@") for step in steps)
    assert 'pip install --quiet "$GITHUB_ACTION_PATH"' in next(s["run"] for s in steps if "Install" in s.get("name", ""))


def test_each_pre_commit_hook_runs_a_real_command_on_the_sample_logs(tmp_path):
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert {hook["id"] for hook in hooks} == {"query-audit-check", "query-audit-analyze"}
    log = str(REPO / "fixtures" / "logs" / "general.log")
    for hook in hooks:
        assert re.search(hook["files"], "fixtures/logs/general.log")
        program, *args = shlex.split(hook["entry"])
        assert program == "query-audit"
        if args[0] == "check":
            (tmp_path / "bl.json").write_text('{"version": 1, "entries": []}')
            args += ["--baseline", str(tmp_path / "bl.json")]
        result = CliRunner().invoke(cli, [*args, log])
        assert result.exit_code == (1 if args[0] == "check" else 0), result.output


def test_docs_say_how_to_install_from_the_repository_never_from_an_index_that_has_no_release():
    for path in ("README.md", "docs/ci.md"):
        text = (REPO / path).read_text()
        assert not re.search(r"pip install query-audit\b(?!\[)", text), path
        assert "pip install 'git+https://github.com/query-audit/query-audit" in text, path
