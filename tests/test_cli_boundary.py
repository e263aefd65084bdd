"""The boundary between the command line and the core: only cli.py knows click; the core takes typed option
records (query_audit.options) and raises the project's own errors; the DSN variable is read by the command
line only; `--help` stays light (it imports none of the heavy libraries)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from query_audit import workflow
from query_audit.cli import cli
from query_audit.connection import DSN_ENV, resolve_settings
from query_audit.options import (
    AdviceOptions,
    CaptureOptions,
    ConnectionOptions,
    NoiseOptions,
    OutputOptions,
    ScalingOptions,
)

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "query_audit"
CLI = PACKAGE / "cli.py"
HEAVY = ("sqlglot", "pymysql", "rich", "tabulate")


def imports_of(path: Path) -> set[str]:
    """Top-level names of every module `path` imports, at module level or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_nothing_below_the_command_line_imports_click():
    below = [path for path in sorted(PACKAGE.rglob("*.py")) if path != CLI]
    assert PACKAGE / "workflow.py" in below and PACKAGE / "options.py" in below
    offenders = [str(path.relative_to(REPO)) for path in below if "click" in imports_of(path)]
    assert not offenders, f"click imported below cli.py: {offenders}"


def test_the_scanner_sees_an_import_of_click_inside_a_function(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("def fail():\n    from click import UsageError\n    raise UsageError('x')\n")
    assert "click" in imports_of(source)


def test_workflow_reads_fields_of_records_not_dicts():
    tree = ast.parse((PACKAGE / "workflow.py").read_text())
    getattrs = [node.lineno for node in ast.walk(tree)
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"]
    dict_parameters = [f"{node.name}({arg.arg})" for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                       for arg in node.args.args if arg.annotation is not None and "dict" in ast.unparse(arg.annotation)]
    assert not getattrs and not dict_parameters, (getattrs, dict_parameters)


# ------------------------------------------------------------------------------------------------
# Click's parameters arrive as records
# ------------------------------------------------------------------------------------------------


class Stop(Exception):
    """Raised by a stand-in for the core once it has what the command handed it."""


def handed(monkeypatch, name: str, args: list[str], env: dict | None = None) -> tuple:
    """The positional arguments the command `args` hands workflow.`name`."""
    seen = []

    def stand_in(*given, **_):
        seen.append(given)
        raise Stop

    monkeypatch.setattr(workflow, name, stand_in)
    result = CliRunner().invoke(cli, args, env=env)
    assert isinstance(result.exception, Stop), result.output
    return seen[0]


def test_capture_hands_the_core_one_record_per_option_group(monkeypatch):
    connection, advice, capture, scaling = handed(monkeypatch, "capture_request", [
        "capture", "--dsn", "mysql://u@h/d", "--defaults-file", "my.cnf", "--endpoint", "http://a/1",
        "--endpoint", "http://a/2", "--method", "POST", "-H", "X-A: 1", "--data", "body", "--repeat", "3",
        "--timeout", "2.5", "--client-user", "app", "--source", "performance-schema", "--keep-noise",
        "--noise", "^SET", "--save", "raw.json", "--replica-dsn", "mysql://r@h2/d", "--target-rpm", "600",
        "--weight", "1", "--weight", "3", "--app-instances", "4", "--replica-budget", "900", "--verify",
        "--i-understand-this-creates-indexes", "--explain-dsn", "mysql://e@h/d", "--no-shadow"])
    assert connection == ConnectionOptions(dsn="mysql://u@h/d", defaults_file="my.cnf")
    assert advice == AdviceOptions(verify=True, disposable=True, explain_dsn="mysql://e@h/d", shadow=False)
    assert capture == CaptureOptions(
        endpoints=("http://a/1", "http://a/2"), command=None, method="POST", headers=("X-A: 1",), data="body",
        repeat=3, timeout=2.5, client_user="app", source="performance-schema",
        noise=NoiseOptions(keep_noise=True, patterns=("^SET",)), save="raw.json", replica_dsns=("mysql://r@h2/d",))
    assert scaling == ScalingOptions(target_rps=None, target_rpm=600.0, weights=(1.0, 3.0), app_instances=4,
                                     replica_budget=900.0)


def test_the_defaults_of_a_bare_command_are_the_records_defaults(monkeypatch):
    _, advice, capture, scaling = handed(monkeypatch, "capture_request", ["capture", "--run", "true"])
    assert advice == AdviceOptions() and scaling == ScalingOptions()
    assert (capture.command, capture.repeat, capture.timeout, capture.source, capture.noise) == (
        "true", 1, 30.0, "general-log", NoiseOptions())


def test_the_output_options_become_one_record(monkeypatch):
    shown = []
    monkeypatch.setattr(workflow, "report_for", lambda request, progress: "report")
    monkeypatch.setattr(workflow, "render_report", lambda report, output, config, gate: shown.append(output) or "")
    monkeypatch.setattr(workflow, "analyze_request", lambda *args: workflow.Request(settings=None, config=None))
    result = CliRunner().invoke(cli, ["analyze", "x.log", "--format", "json", "-q", "-vv", "--html", "p.html",
                                      "-o", "/nonexistent-dir/out.json"])
    assert shown == [OutputOptions(format="json", output="/nonexistent-dir/out.json", html_output="p.html",
                                   quiet=True, verbose=2)], result.output


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


def test_the_cores_usage_error_is_shown_as_clicks_with_the_commands_usage_line():
    result = CliRunner().invoke(cli, ["baseline", "create", "--dsn", "mysql://u:Sup3r-pw@127.0.0.1:9/x",
                                      "--run", "true", "--verify"], prog_name="query-audit")
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "Usage: query-audit baseline create [OPTIONS] [SOURCE...]",
        "Try 'query-audit baseline create --help' for help.",
        "",
        "Error: --verify creates and drops indexes on the server; it runs only with "
        "--i-understand-this-creates-indexes (use it on a disposable copy, never production)",
    ]
    assert "Sup3r-pw" not in result.output


def test_the_core_raises_its_own_usage_error_not_clicks():
    from query_audit.errors import QueryAuditError, UsageError

    with pytest.raises(UsageError) as caught:
        workflow.capture_request(ConnectionOptions(), AdviceOptions(), CaptureOptions(
            endpoints=("http://a",), command="true", method=None, headers=(), data=None, repeat=1, timeout=30.0,
            client_user=None, source="general-log", noise=NoiseOptions(), save=None, replica_dsns=()))
    assert isinstance(caught.value, QueryAuditError) and not isinstance(caught.value, click.ClickException)


# ------------------------------------------------------------------------------------------------
# The DSN variable
# ------------------------------------------------------------------------------------------------


def environment_reads_of_the_dsn(path: Path) -> list[int]:
    """Lines of `path` that read the DSN variable: environ.get(X), os.getenv(X), environ[X], X the name."""
    def names_the_dsn(node) -> bool:
        return ((isinstance(node, ast.Constant) and node.value == DSN_ENV)
                or (isinstance(node, ast.Name) and node.id == "DSN_ENV")
                or (isinstance(node, ast.Attribute) and node.attr == "DSN_ENV"))

    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "getenv"):
            lines += [node.lineno for arg in node.args[:1] if names_the_dsn(arg)]
        elif isinstance(node, ast.Subscript) and names_the_dsn(node.slice):
            lines.append(node.lineno)
    return lines


def test_only_the_command_line_reads_the_dsn_variable_through_its_dsn_option():
    reads = {str(path.relative_to(REPO)): lines for path in sorted(PACKAGE.rglob("*.py"))
             if (lines := environment_reads_of_the_dsn(path))}
    assert not reads, f"QUERY_AUDIT_DSN read outside the --dsn option: {reads}"
    dsn_options = [param for command in _all_commands(cli) for param in command.params if param.name == "dsn"]
    assert dsn_options and {param.envvar for param in dsn_options} == {DSN_ENV}


def test_the_scanner_sees_a_read_of_the_dsn_variable(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("import os\nfrom x import DSN_ENV\na = os.environ.get(DSN_ENV)\n"
                      "b = os.environ['QUERY_AUDIT_DSN']\nc = {k: v for k, v in os.environ.items() if k != DSN_ENV}\n")
    assert environment_reads_of_the_dsn(source) == [3, 4]


def test_environment_dsn_and_home_my_cnf(monkeypatch, tmp_path):
    (tmp_path / ".my.cnf").write_text("[client]\npassword=pw\n")
    [connection] = handed(monkeypatch, "restore", ["restore"], env={DSN_ENV: "mysql://u@h:1234/d"})
    assert connection == ConnectionOptions(dsn="mysql://u@h:1234/d")
    settings = resolve_settings(connection.dsn, connection.defaults_file, home=tmp_path)
    assert (settings.user, settings.password, settings.port) == ("u", "pw", 1234)
    [explicit] = handed(monkeypatch, "restore", ["restore", "--dsn", "mysql://v@h/d"], env={DSN_ENV: "mysql://u@h/d"})
    assert explicit.dsn == "mysql://v@h/d"  # --dsn wins over the variable


def _all_commands(group: click.Group):
    for command in group.commands.values():
        yield command
        if isinstance(command, click.Group):
            yield from _all_commands(command)


# ------------------------------------------------------------------------------------------------
# --help stays light
# ------------------------------------------------------------------------------------------------


def _command_paths(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield prefix + (name,)
        if isinstance(command, click.Group):
            yield from _command_paths(command, prefix + (name,))


def imported_by(*args: str) -> set[str]:
    """The modules `python -m query_audit ARGS` imports (python -X importtime)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "query_audit", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and "Usage:" in done.stdout, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[1].strip() for line in lines[1:]}  # [0] is the header


@pytest.mark.parametrize("path", [(), *_command_paths(cli)], ids=lambda path: " ".join(path) or "query-audit")
def test_help_imports_none_of_the_heavy_libraries_nor_the_core(path):
    modules = imported_by(*path, "--help")
    assert "click" in modules and "query_audit.cli" in modules  # the probe sees imports at all
    heavy = {name for name in modules if name.split(".")[0] in HEAVY}
    assert not heavy, sorted(heavy)
    ours = {name for name in modules if name.split(".")[0] == "query_audit"}
    assert ours <= {"query_audit", "query_audit.__main__", "query_audit.cli", "query_audit.errors"}, sorted(ours)


def test_the_format_choices_are_the_report_formats():
    from query_audit.cli import FORMATS
    from query_audit.report import Format

    assert tuple(fmt.value for fmt in Format) == FORMATS


def import_order(*args: str, env: dict | None = None) -> list[str]:
    """The modules `python -m query_audit ARGS` imports, in the order their imports finished."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "query_audit", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False, env=env)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    return [line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
            if line.startswith("import time:")][1:]  # [0] is the header


@pytest.mark.parametrize("log", ["general.log", "slow.log"])
def test_analyze_reads_the_log_before_it_loads_the_parser_and_never_loads_the_driver(log, tmp_path):
    """sqlglot is needed after the reading only, so its pages are not in use while the reading's memory
    peaks, nor duplicated in a second reader; PyMySQL (~10 MB with ssl and its crypto backend) is not needed
    at all without a server (no --dsn here): it would be on top of the analysis's peak."""
    static = {key: value for key, value in os.environ.items() if key != DSN_ENV} | {"HOME": str(tmp_path)}
    order = import_order("analyze", str(REPO / "fixtures" / "logs" / log), "--format", "json", env=static)
    readers = order.index("query_audit.sources")
    assert "sqlglot" in order  # imported, later
    assert not [name for name in order[:readers] if name.split(".")[0] == "sqlglot"]
    assert not [name for name in order if name.split(".")[0] in ("pymysql", "ssl", "cryptography")]
