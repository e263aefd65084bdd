"""The command line. Each command turns click's parameters into the typed records of `query_audit.options`,
hands them to `query_audit.workflow` and writes the report. The only module that imports click: below it,
errors are the project's own (`query_audit.errors`), and they become click's errors and exit codes here
(`_Command.invoke` and `main`):

    0  done, nothing for the gate        1  the gate found something new
    2  usage or environment error (bad option, server unreachable, bad password, missing privilege)

`--help` must stay fast: this module imports only click and the project's smallest modules at the top;
everything else is imported inside the command that needs it.
"""

from __future__ import annotations

import atexit
import gc
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from query_audit import __version__
from query_audit.errors import QueryAuditError, UsageError

if TYPE_CHECKING:
    from query_audit import options, workflow
    from query_audit.config import Config
    from query_audit.gate.baseline import GateResult
    from query_audit.model import Report
    from query_audit.pipeline import Progress

EXIT_OK, EXIT_GATE, EXIT_ERROR = 0, 1, 2

# --format's choices: the values of query_audit.report.Format, spelled out so that building the options
# (every start, --help too) does not import the report package; tests/test_cli_boundary.py holds them equal.
FORMATS = ("rich", "text", "json", "markdown", "sarif", "junit", "github", "html")


# ------------------------------------------------------------------------------------------------
# Shared option groups
# ------------------------------------------------------------------------------------------------


def connection_options(func):
    func = click.option("--defaults-file", type=click.Path(dir_okay=False),
                        help="MySQL option file whose [client] group gives user, password, host, port, socket "
                             "(default: ~/.my.cnf when it exists).")(func)
    func = click.option("--dsn", envvar="QUERY_AUDIT_DSN", show_envvar=True,
                        help="mysql://user:password@host:port/database (URL-quoted parts; "
                             "?socket=/path, ?ssl_ca=/path).")(func)
    return func


def output_options(func):
    func = click.option("-v", "--verbose", "verbose", count=True, help="Show more (each query's plan).")(func)
    func = click.option("-q", "--quiet", "quiet", is_flag=True, help="Show the verdict and findings only.")(func)
    func = click.option("--html", "html_output", type=click.Path(dir_okay=False, writable=True),
                        help="Also write the report as one self-contained HTML page (request waterfall, "
                             "profile chart) to FILE.")(func)
    func = click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
                        help="Write the report to FILE instead of standard output.")(func)
    func = click.option("--format", "fmt", type=click.Choice(FORMATS),
                        help="Report format (default: the configured one, else rich on a terminal, "
                             "text otherwise).")(func)
    return func


def capture_options(func):
    """Where the statements come from when a server is captured live: endpoints, or a command."""
    options = [
        click.option("--endpoint", "endpoints", multiple=True, metavar="URL",
                     help="An endpoint to request (repeatable)."),
        click.option("--method", help="HTTP method (default GET, or POST with --data)."),
        click.option("--header", "-H", "headers", multiple=True, metavar="'Name: value'",
                     help="A request header (repeatable)."),
        click.option("--data", help="Request body: TEXT, or @FILE to read it from a file."),
        click.option("--repeat", type=click.IntRange(1, 10_000), default=1, show_default=True,
                     help="Send each request this many times."),
        click.option("--timeout", type=click.FloatRange(0.1), default=30.0, show_default=True,
                     help="Seconds to wait for each request (or for --run)."),
        click.option("--run", "command", metavar="COMMAND",
                     help="Capture what a command sends (a test suite, a script) instead of endpoints."),
        click.option("--client-user", help="Keep only this database user's statements (a shared server)."),
        click.option("--source", "capture_source", type=click.Choice(["general-log", "performance-schema"]),
                     default="general-log", show_default=True,
                     help="Read the statements from the general log, or from performance_schema's statement "
                          "history (no SUPER needed; Aurora/RDS)."),
        click.option("--keep-noise", is_flag=True, help="Keep driver and ORM noise (SET NAMES, SELECT 1, ...)."),
        click.option("--noise", "noise_patterns", multiple=True, metavar="REGEX",
                     help="Another statement pattern to drop as noise (repeatable)."),
        click.option("--save", type=click.Path(dir_okay=False, writable=True),
                     help="Keep the raw capture (JSON) for `query-audit analyze` later."),
        click.option("--replica-dsn", "replica_dsns", multiple=True, metavar="DSN",
                     help="A read replica of --dsn, captured at the same time (repeatable): each statement is "
                          "attributed to its server, and reads and writes are checked for routing."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def scaling_options(func):
    """A capacity plan for a target load (capture only)."""
    options = [
        click.option("--target-rps", type=click.FloatRange(min=0, min_open=True), metavar="N",
                     help="Plan capacity for N requests per second over the captured endpoints."),
        click.option("--target-rpm", type=click.FloatRange(min=0, min_open=True), metavar="N",
                     help="The same target as requests per minute (e.g. 5000000)."),
        click.option("--weight", "weights", multiple=True, type=click.FloatRange(min=0, min_open=True),
                     metavar="W", help="Traffic share of each --endpoint, in the same order (default: equal)."),
        click.option("--app-instances", type=click.IntRange(1), metavar="N",
                     help="Application instances sharing the load, for the pool per instance (default 1)."),
        click.option("--replica-budget", type=click.FloatRange(min=0, min_open=True), metavar="N",
                     help="Statements per second one replica can take, for the replicas the reads need."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def advice_options(func):
    func = click.option("--no-shadow", "no_shadow", is_flag=True,
                        help="Do not verify suggested indexes on a shadow copy (a sandbox server the tool starts; "
                             "on by default).")(func)
    func = click.option("--explain-dsn", envvar="QUERY_AUDIT_EXPLAIN_DSN", show_envvar=True,
                        help="A separate, least-privileged account for EXPLAIN and schema reads only "
                             "(docs/security.md); default: the --dsn account.")(func)
    func = click.option("--i-understand-this-creates-indexes", "disposable", is_flag=True,
                        help="Confirm the server is disposable: --verify creates and drops indexes on it.")(func)
    func = click.option("--verify", is_flag=True,
                        help="Prove each suggested index: create it, EXPLAIN again, drop it. Opt-in; needs "
                             "--i-understand-this-creates-indexes.")(func)
    return func


baseline_file_option = click.option(
    "--baseline", "baseline_path", type=click.Path(dir_okay=False),
    help="The baseline file (default: the configured one, or .query-audit-baseline.json).")


# ------------------------------------------------------------------------------------------------
# Commands
# ------------------------------------------------------------------------------------------------


class _Command(click.Command):
    """A command whose callback may raise the project's UsageError: shown as click shows its own usage
    errors (the command's usage line, a hint, the message), which needs the command's context."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            raise click.UsageError(str(exc), ctx) from None


class _Group(click.Group):
    command_class = _Command


class _InPipelineOrder(_Group):
    """Lists commands in the order they are defined (capture before analyze...), not alphabetically."""

    group_class = _Group

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=_InPipelineOrder, context_settings={"help_option_names": ["-h", "--help"],
                                                     "max_content_width": 100})
@click.version_option(__version__, prog_name="query-audit")
def cli():
    """Find why an endpoint hurts a MySQL-compatible database, and gate CI on new full-table scans.

    Every command has --help. Shell completion: eval "$(_QUERY_AUDIT_COMPLETE=bash_source query-audit)"
    (zsh_source, fish_source for those shells).
    """


@cli.command(short_help="Capture what endpoints send, analyze it, put the server back.")
@connection_options
@capture_options
@scaling_options
@advice_options
@output_options
def capture(**opts):
    """Capture what endpoints (or a command) send to the server, then EXPLAIN and advise.

    The general log is switched on with TABLE output for the capture only, and the previous values are
    put back on every path out (errors, Ctrl-C, SIGTERM, a lost connection). Needs SUPER (MariaDB) or
    SYSTEM_VARIABLES_ADMIN (MySQL 8), unless the log already writes to the table.

    With --replica-dsn the primary and each replica are captured at once (each restored on its own) and
    the report says where each statement ran; --target-rps/--target-rpm add a capacity plan.

    With --source performance-schema the statements come from performance_schema's statement history
    instead (no SUPER: UPDATE on performance_schema switches its consumers on where they are off, and
    they are put back the same way); the route for Aurora and RDS.

    \b
    Example:
      query-audit capture --dsn mysql://root@127.0.0.1:3306/shop \\
          --endpoint http://localhost:8000/customers/42/orders
    """
    from query_audit import workflow

    request = workflow.capture_request(_connection(opts), _advice(opts), _capture(opts), _scaling(opts))
    _emit(_report(request), _output(opts), request.config)


@cli.command(short_help="Analyze log files, saved captures or the server's statement digests.")
@click.argument("sources", nargs=-1, metavar="[SOURCE...]")
@connection_options
@advice_options
@click.option("--keep-noise", is_flag=True, help="Keep driver and ORM noise.")
@click.option("--noise", "noise_patterns", multiple=True, metavar="REGEX", help="Another noise pattern (repeatable).")
@click.option("--digests", is_flag=True,
              help="Instead of files: the server's workload from performance_schema's statement digests (--dsn).")
@click.option("--snapshot", type=click.Path(dir_okay=False, writable=True),
              help="With --digests: save the digest table to FILE (for a later --since) and stop.")
@click.option("--since", type=click.Path(dir_okay=False),
              help="With --digests: only what ran after this snapshot (one deploy, one load test).")
@click.option("--top", type=click.IntRange(1, 10_000), default=50, show_default=True,
              help="With --digests: analyze the busiest N statement shapes (by total time).")
@output_options
def analyze(sources, **opts):
    """Analyze general log files, slow log files or saved captures (`-` reads standard input), or with
    --digests the server's own statement digests.

    The format of each file is detected from its content. Without a connection (--dsn, QUERY_AUDIT_DSN or an
    option file) the analysis is static: fingerprints, counts and batching patterns; with one, the schema is
    read and each distinct statement is EXPLAINed too.

    \b
    Examples:
      query-audit analyze /var/log/mysql/general.log --format json
      query-audit analyze --digests --dsn "$DSN" --snapshot before.json
      query-audit analyze --digests --dsn "$DSN" --since before.json
    """
    from query_audit import workflow
    from query_audit.options import DigestOptions

    digests = DigestOptions(wanted=opts["digests"], snapshot=opts["snapshot"], since=opts["since"], top=opts["top"])
    request = workflow.analyze_request(sources, _connection(opts), _advice(opts), _noise(opts), digests)
    if digests.wanted:
        report, message = workflow.digests_report(request, digests)
        if report is None:
            click.echo(message, err=True)
            return
    else:
        report = _report(request)
    _emit(report, _output(opts), request.config)


@cli.command(short_help="Fail CI (exit 1) on findings that are not in the baseline.")
@click.argument("sources", nargs=-1, metavar="[SOURCE...]")
@baseline_file_option
@click.option("--fail-on", "fail_on", multiple=True, metavar="RULE",
              help="A rule whose new findings fail the check (repeatable; default full_table_scan).")
@connection_options
@capture_options
@advice_options
@output_options
def check(sources, baseline_path, fail_on, **opts):
    """Exit 1 if a gating finding is not in the baseline; 0 if nothing is new; 2 on errors.

    Inputs are those of `capture` (endpoints or --run) or of `analyze` (files).

    \b
    Example:
      query-audit check --baseline .query-audit-baseline.json --dsn "$DSN" \\
          --endpoint http://localhost:8000/products?category=3 --format sarif -o query-audit.sarif
    """
    from query_audit import workflow
    from query_audit.options import GateOptions

    request = workflow.any_request(sources, _connection(opts), _advice(opts), _capture(opts))
    with _progress_on_stderr() as progress:
        outcome = workflow.check(request, GateOptions(baseline_path, fail_on), progress)
    _emit(outcome.report, _output(opts), request.config, gate=outcome.gate)
    click.echo(outcome.verdict, err=True)
    sys.exit(EXIT_OK if outcome.gate.passed else EXIT_GATE)


@cli.group(short_help="Create or update the baseline that `check` compares with.")
def baseline():
    """Create or update the baseline `check` compares with: findings the team has accepted."""


def _baseline_command(name: str, help_text: str):
    @baseline.command(name=name, help=help_text)
    @click.argument("sources", nargs=-1, metavar="[SOURCE...]")
    @baseline_file_option
    @click.option("--fail-on", "fail_on", multiple=True, metavar="RULE",
                  help="Rules the baseline records (repeatable; default: the gating rules).")
    @click.option("--reason", default="", help="Why these findings are accepted (stored with new entries).")
    @connection_options
    @capture_options
    @advice_options
    def command(sources, baseline_path, fail_on, reason, **opts):
        from query_audit import workflow
        from query_audit.options import GateOptions

        request = workflow.any_request(sources, _connection(opts), _advice(opts), _capture(opts))
        with _progress_on_stderr() as progress:
            message = workflow.write_baseline(request, GateOptions(baseline_path, fail_on), reason,
                                              update=(name == "update"), progress=progress)
        click.echo(message, err=True)

    return command


_baseline_command("create", "Write a new baseline from the current findings (overwrites the file).")
_baseline_command("update", "Add new findings to the baseline and remove the fixed ones, keeping reasons.")


@cli.command(short_help="Put back what an interrupted capture or --verify left changed.")
@connection_options
def restore(**opts):
    """Put back general_log and log_output (or performance_schema's consumers and actors) from the state
    file an interrupted capture left, and drop the indexes an interrupted --verify created.

    Use the same connection options as the capture. Nothing happens when there is no state file. Restoring
    only ever switches the log off or removes TABLE from log_output: it never turns logging on.
    """
    from query_audit import workflow

    click.echo(workflow.restore(_connection(opts)), err=True)


@cli.command(short_help="Write the configuration and an empty baseline (asks nothing).")
@click.option("--config", "where", type=click.Choice(["auto", "pyproject", "file"]), default="auto",
              show_default=True, help="Where the settings go: [tool.query-audit] in pyproject.toml (appended), "
                                      "or .query-audit.toml; auto picks pyproject.toml when there is one.")
@click.option("--baseline", "baseline_path", default=".query-audit-baseline.json", show_default=True,
              help="The empty baseline to write, and the path the configuration names.")
@click.option("--fail-on", "fail_on", multiple=True, metavar="RULE",
              help="A gating rule to configure (repeatable; default full_table_scan).")
@click.option("--force", is_flag=True, help="Overwrite an existing configuration table, file or baseline.")
def init(where, baseline_path, fail_on, force):
    """Set a project up for `check`: a [tool.query-audit] table (or .query-audit.toml) and an empty
    baseline, in the current directory. Refuses to overwrite anything without --force.

    \b
    Example:
      query-audit init --fail-on full_table_scan --fail-on missing_index
    """
    from query_audit import workflow

    for line in workflow.init_project(where, baseline_path, fail_on, force):
        click.echo(line, err=True)


@cli.group(short_help="Start or stop a throwaway server.")
def sandbox():
    """A throwaway MySQL-compatible server: Docker (MySQL 8) where an engine runs, else local binaries."""


@sandbox.command("up")
@click.option("--engine", type=click.Choice(["auto", "docker", "local"]), default="auto", show_default=True)
def sandbox_up(engine):
    """Start a sandbox and print its DSN (root, no password, 127.0.0.1 only)."""
    from query_audit import workflow

    click.echo(workflow.sandbox_up(engine))


@sandbox.command("down")
def sandbox_down():
    """Stop the sandbox and delete its data."""
    from query_audit import workflow

    click.echo(workflow.sandbox_down(), err=True)


@sandbox.command("status")
def sandbox_status():
    """Say whether a sandbox runs, and its DSN."""
    from query_audit import workflow

    click.echo(workflow.sandbox_status())


# ------------------------------------------------------------------------------------------------
# Click's parameters into the typed records the core takes (query_audit.options)
# ------------------------------------------------------------------------------------------------


def _connection(params: dict) -> options.ConnectionOptions:
    from query_audit.options import ConnectionOptions

    return ConnectionOptions(dsn=params["dsn"], defaults_file=params["defaults_file"])


def _advice(params: dict) -> options.AdviceOptions:
    from query_audit.options import AdviceOptions

    return AdviceOptions(verify=params["verify"], disposable=params["disposable"],
                         explain_dsn=params["explain_dsn"], shadow=not params["no_shadow"])


def _noise(params: dict) -> options.NoiseOptions:
    from query_audit.options import NoiseOptions

    return NoiseOptions(keep_noise=params["keep_noise"], patterns=params["noise_patterns"])


def _capture(params: dict) -> options.CaptureOptions:
    from query_audit.options import CaptureOptions

    return CaptureOptions(endpoints=params["endpoints"], command=params["command"], method=params["method"],
                          headers=params["headers"], data=params["data"], repeat=params["repeat"],
                          timeout=params["timeout"], client_user=params["client_user"],
                          source=params["capture_source"], noise=_noise(params), save=params["save"],
                          replica_dsns=params["replica_dsns"])


def _scaling(params: dict) -> options.ScalingOptions:
    from query_audit.options import ScalingOptions

    return ScalingOptions(target_rps=params["target_rps"], target_rpm=params["target_rpm"],
                          weights=params["weights"], app_instances=params["app_instances"],
                          replica_budget=params["replica_budget"])


def _output(params: dict) -> options.OutputOptions:
    from query_audit.options import OutputOptions

    return OutputOptions(format=params["fmt"], output=params["output"], html_output=params["html_output"],
                         quiet=params["quiet"], verbose=params["verbose"])


# ------------------------------------------------------------------------------------------------
# Output, progress and errors
# ------------------------------------------------------------------------------------------------


def _emit(report: Report, output: options.OutputOptions, config: Config, gate: GateResult | None = None) -> None:
    from query_audit import workflow

    parts = workflow.render_report(report, output, config, gate=gate)  # made as they are written
    if output.html_output:
        from query_audit.report import Format, render

        _write(output.html_output, (render(report, Format.HTML, gate=gate),), "HTML report")
    if output.output:
        _write(output.output, parts, "report")
    else:
        from query_audit.report import force_color

        # click strips colour codes in a pipe unless told otherwise; FORCE_COLOR tells it.
        _echo_in_pieces(parts, color=True if force_color() else None)


_PIECE = 1 << 20


def _echo_in_pieces(parts: Iterable[str], color: bool | None) -> None:
    """The report's parts on stdout about a megabyte at a time: small parts (the JSON report's, a line each)
    joined up to a piece, a big one (another format's whole text) cut into pieces. Neither the whole text
    nor click's copies of it (it strips colour codes and encodes what it writes) are in memory at once:
    at 1M statements they were ~10 MB on top of the run's peak."""
    pending: list[str] = []
    size, ends_a_line = 0, False
    for part in parts:
        pending.append(part)
        size += len(part)
        ends_a_line = part.endswith("\n") if part else ends_a_line
        if size >= _PIECE:
            _echo_text("".join(pending), color)
            pending, size = [], 0
    _echo_text("".join(pending), color)
    if not ends_a_line:
        click.echo("", color=color)


def _echo_text(text: str, color: bool | None) -> None:
    """`text` about a megabyte at a time, each piece ending after a newline (no colour code is cut)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start + _PIECE)
        end = len(text) if end < 0 else end + 1
        click.echo(text[start:end], nl=False, color=color)
        start = end


def _report(request: workflow.Request) -> Report:
    from query_audit import workflow

    with _progress_on_stderr() as progress:
        return workflow.report_for(request, progress)


@contextmanager
def _progress_on_stderr() -> Iterator[Progress | None]:
    """A rich progress bar on stderr when it is a terminal; silence otherwise (CI logs stay clean)."""
    import os

    if not sys.stderr.isatty() or os.environ.get("TERM") == "dumb":
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), MofNCompleteColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        yield update


def _write(path: str, parts: Iterable[str], what: str) -> None:
    from query_audit.private_files import write_private_output

    try:
        write_private_output(path, parts)  # 0600: a report quotes captured statements
    except OSError as exc:
        raise QueryAuditError(f"cannot write {path}: {exc.strerror}") from None
    click.echo(f"{what} written to {path}", err=True)


def main(argv=None) -> None:
    """Entry point: errors the user can fix are one line on stderr and exit 2, never a traceback."""
    # At exit the interpreter collects every object left in a reference cycle (the classes and functions of
    # click, PyMySQL, sqlglot and our records): ~15% of a capture's CPU, for memory the system takes back
    # whole a moment later. Frozen objects are left alone; the report and our files are written by then.
    atexit.register(gc.freeze)
    try:
        cli.main(args=argv, prog_name="query-audit", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("query-audit: interrupted", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_ERROR)
    except QueryAuditError as exc:
        click.echo(f"query-audit: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("query-audit: interrupted", err=True)
        sys.exit(EXIT_ERROR)
    except BrokenPipeError:
        sys.exit(EXIT_OK)
    except Exception as exc:  # noqa: BLE001 - a crash of the tool is never exit 1, which means "the gate found"
        _crashed(exc)


def _crashed(exc: Exception) -> None:
    """One line and exit 2 for a bug in query-audit; the traceback only when QUERY_AUDIT_DEBUG is set."""
    import os
    import traceback

    if os.environ.get("QUERY_AUDIT_DEBUG"):
        traceback.print_exc()
    detail = (str(exc).splitlines() or [""])[0][:200]
    click.echo(f"query-audit: internal error ({type(exc).__name__}{': ' + detail if detail else ''}); "
               "set QUERY_AUDIT_DEBUG=1 for the traceback, and please report it", err=True)
    sys.exit(EXIT_ERROR)
