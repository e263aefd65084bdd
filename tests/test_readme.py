"""The README's examples must not drift from what the tool does."""

import re
from pathlib import Path

from click.testing import CliRunner

from query_audit.cli import cli
from query_audit.config import load_config

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def code_block_after(marker: str) -> str:
    start = README.index(marker)
    block = re.search(r"```(?:text|toml)\n(.*?)```", README[start:], re.S)
    return block.group(1)


def test_readme_help_block_is_the_real_help():
    block = code_block_after("## Commands")
    shown = block.split("\n", 1)[1]  # drop the `$ query-audit --help` line
    real = CliRunner().invoke(cli, ["--help"], prog_name="query-audit", terminal_width=80).output
    assert real.rstrip("\n") == shown.rstrip("\n")


def test_the_top_level_help_lists_each_command_once():
    real = CliRunner().invoke(cli, ["--help"], prog_name="query-audit", terminal_width=80).output
    for name in cli.commands:
        assert len(re.findall(rf"^  {name}\b", real, re.M)) == 1, name


def test_the_readme_analyze_example_is_a_real_run_on_the_sample_logs(monkeypatch):
    block = code_block_after("### `analyze`")
    command, *shown = block.splitlines()
    assert command == "$ query-audit analyze fixtures/logs/general.log fixtures/logs/slow.log --format text"
    args = command.split()[2:]
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    real = CliRunner().invoke(cli, args, prog_name="query-audit").output.splitlines()
    excerpt = [line for line in shown if line.strip() != "..."]
    position = 0
    for line in excerpt:  # every line shown, in order (the README cuts some out with `...`)
        position = real.index(line, position) + 1


def test_every_command_the_readme_runs_exists():
    used = set(re.findall(r"^(?:\$ |    )query-audit ([a-z]+)", README, re.M))
    assert used and used <= set(cli.commands), used - set(cli.commands)


def test_readme_configuration_example_loads(tmp_path):
    (tmp_path / "pyproject.toml").write_text(code_block_after("## Configuration"))
    config = load_config(tmp_path, {})
    assert config.fail_on == ("full_table_scan", "missing_index") or list(config.fail_on) == [
        "full_table_scan", "missing_index"]
    assert config.thresholds.n_plus_one == 3 and config.thresholds.full_scan_rows == 1000
