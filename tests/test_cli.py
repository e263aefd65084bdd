"""The command line's contract: every command has help, usage errors are exit 2 with one line."""

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from query_audit.cli import cli

REPO = Path(__file__).resolve().parent.parent


def all_commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from all_commands(command, prefix + (name,))


@pytest.mark.parametrize("path", [path for path, _ in all_commands(cli)], ids=" ".join)
def test_every_command_has_help(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    command = dict(all_commands(cli))[path]
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "query_audit", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=env, check=False)


@pytest.mark.parametrize("args, message", [
    (["capture", "--dsn", "mysql://root@127.0.0.1:9/x"], "nothing to capture"),
    (["capture", "--dsn", "mysql://root@127.0.0.1:9/x", "--endpoint", "http://a", "--run", "true"], "not both"),
    (["capture", "--dsn", "mysql://root@127.0.0.1:9/x", "--endpoint", "ftp://a"], "invalid endpoint"),
    (["capture", "--dsn", "mysql://root@127.0.0.1:9/x", "--endpoint", "http://a", "-H", "nocolon"], "invalid header"),
    (["capture", "--dsn", "mysql://root@127.0.0.1:9/x", "--run", "true", "--verify"],
     "--i-understand-this-creates-indexes"),
    (["analyze", "/nonexistent/general.log"], "/nonexistent/general.log"),
    (["capture", "--dsn", "postgres://x@y/z", "--run", "true"], "invalid DSN"),
    (["no-such-command"], "No such command"),
])
def test_usage_and_input_errors_exit_2_without_traceback(args, message):
    done = run(*args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_sandbox_up_status_down_through_the_command_line(tmp_path):
    import os

    from query_audit.connection import connect, parse_dsn
    from query_audit.errors import ConnectionFailed

    env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(tmp_path))
    up = run("sandbox", "up", "--engine", "local", env=env)
    assert up.returncode == 0, up.stderr
    dsn = up.stdout.strip()
    try:
        with connect(parse_dsn(dsn)) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
        assert run("sandbox", "status", env=env).stdout.strip() == f"local sandbox (mariadb) at {dsn}"
        again = run("sandbox", "up", env=env)
        assert again.returncode == 2 and "already runs" in again.stderr
    finally:
        down = run("sandbox", "down", env=env)
    assert down.returncode == 0 and "sandbox stopped" in down.stderr
    with pytest.raises(ConnectionFailed):
        connect(parse_dsn(dsn))
    assert run("sandbox", "status", env=env).stdout.strip() == "no sandbox runs"


@pytest.mark.parametrize("text", ["", "{}\n", "no newline at the end",
                                  "\x1b[1mbold\x1b[0m and plain\n" * 40 + "\x1b[31mred\x1b[0m tail"])
@pytest.mark.parametrize("color", [None, True])
@pytest.mark.parametrize("parts", [lambda text: (text,), lambda text: text.splitlines(keepends=True)],
                         ids=["whole", "a part a line"])  # a text format's report; the JSON report's
def test_the_report_goes_to_stdout_in_pieces_with_the_same_bytes(text, color, parts, monkeypatch, capsys):
    from query_audit import cli as cli_module

    monkeypatch.setattr(cli_module, "_PIECE", 7)  # many pieces, each cut after a newline or made of parts
    cli_module._echo_in_pieces(parts(text), color=color)
    pieced = capsys.readouterr().out
    click.echo(text, nl=not text.endswith("\n"), color=color)
    assert pieced == capsys.readouterr().out


@pytest.mark.parametrize("one_line_above", [10_000, 0], ids=["indented", "one item a line"])
def test_the_json_report_written_in_parts_is_the_rendered_text(one_line_above, monkeypatch, tmp_path):
    """On stdout in pieces, and in the --output file, the bytes of `render` (the report kept whole)."""
    from query_audit import cli as cli_module
    from query_audit import workflow
    from query_audit.report import Format, json_format, render

    monkeypatch.setattr(json_format, "ONE_LINE_ITEMS_ABOVE", one_line_above)
    monkeypatch.setattr(cli_module, "_PIECE", 100)  # a piece of a few parts each
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.my.cnf, and no DSN below: a static analysis
    reports = []
    report_for = workflow.report_for
    monkeypatch.setattr(workflow, "report_for", lambda *args: reports.append(report_for(*args)) or reports[-1])
    args = ["analyze", str(REPO / "fixtures" / "logs" / "general.log"), "--format", "json"]
    shown = CliRunner().invoke(cli, args, env={"QUERY_AUDIT_DSN": None})
    written = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "report.json")], env={"QUERY_AUDIT_DSN": None})
    assert shown.exit_code == 0 and written.exit_code == 0, shown.output + written.output
    first, second = (render(report, Format.JSON) for report in reports)
    assert shown.stdout == first and (tmp_path / "report.json").read_text() == second
    assert len(first) > 10 * 100  # several pieces
