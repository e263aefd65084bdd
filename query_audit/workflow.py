"""What each command does, between the CLI's options and the core: build the inputs, run the pipeline,
apply the configuration, compare with the baseline. Returns records and messages; prints nothing but
progress (on stderr)."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import click

from query_audit.connection import ConnectionSettings, resolve_settings
from query_audit.errors import QueryAuditError
from query_audit.model import Report

DEFAULT_BASELINE = ".query-audit-baseline.json"


@dataclass(frozen=True)
class Request:
    """Everything needed to produce one report, from a live capture or from files."""

    settings: ConnectionSettings | None
    config: object
    sources: tuple[str, ...] = ()
    plan: object | None = None  # capture.session.CapturePlan for a live capture
    save: str | None = None
    verify: bool = False
    keep_noise: bool = False
    noise_patterns: tuple[str, ...] = field(default_factory=tuple)
    shadow: object | None = None  # advise.shadow.ShadowOptions, None when off
    replicas: tuple[ConnectionSettings, ...] = ()  # --replica-dsn: captured with the primary
    capacity: object | None = None  # advise.capacity.CapacityTarget
    explain_settings: ConnectionSettings | None = None  # --explain-dsn: EXPLAIN and schema reads only


def _config(opts: dict):
    from query_audit.config import load_config

    return load_config(Path.cwd(), os.environ)


def _settings(opts: dict, required: bool) -> ConnectionSettings | None:
    explicit = opts.get("dsn") or opts.get("defaults_file") or os.environ.get("QUERY_AUDIT_DSN")
    if not explicit and not required:
        return None
    return resolve_settings(opts.get("dsn"), opts.get("defaults_file"), required=required)


def _explain_settings(opts: dict) -> ConnectionSettings | None:
    from query_audit.connection import parse_dsn

    return parse_dsn(opts["explain_dsn"]) if opts.get("explain_dsn") else None


def _check_verify(opts: dict) -> bool:
    if opts.get("verify") and not opts.get("disposable"):
        raise click.UsageError("--verify creates and drops indexes on the server; it runs only with "
                               "--i-understand-this-creates-indexes (use it on a disposable copy, never production)")
    return bool(opts.get("verify"))


def _shadow(config, opts: dict):
    """Shadow verification's options, or None when --no-shadow or the configuration turns it off."""
    if opts.get("no_shadow") or not getattr(config, "shadow", True):
        return None
    from query_audit.advise.shadow import ShadowOptions

    return ShadowOptions(threshold=config.shadow_threshold, dsn=config.shadow_dsn)


def _noise_filter(config, opts: dict):
    from query_audit.capture.noise import NoiseFilter

    extra = tuple(getattr(config, "noise", ()) or ()) + tuple(opts.get("noise_patterns") or ())
    try:
        return NoiseFilter(extra=extra)
    except Exception as exc:  # a bad user regex: name it
        raise QueryAuditError(f"invalid noise pattern: {exc}") from None


def capture_request(opts: dict, require_inputs: bool = True) -> Request:
    from query_audit.capture.replay import build_requests
    from query_audit.capture.session import CapturePlan

    endpoints, command = tuple(opts.get("endpoints") or ()), opts.get("command")
    if endpoints and command:
        raise click.UsageError("give --endpoint or --run, not both")
    if require_inputs and not endpoints and not command:
        raise click.UsageError("nothing to capture: give --endpoint URL (repeatable) or --run COMMAND")
    config = _config(opts)
    settings = _settings(opts, required=True)
    plan = CapturePlan(
        requests=tuple(build_requests(endpoints, opts.get("method"), tuple(opts.get("headers") or ()),
                                      opts.get("data"))),
        command=command,
        repeat=opts.get("repeat") or 1,
        timeout=opts.get("timeout") or 30.0,
        client_user=opts.get("client_user"),
        keep_noise=bool(opts.get("keep_noise")),
        noise=_noise_filter(config, opts),
        source=opts.get("capture_source") or "general-log",
    )
    return Request(settings=settings, config=config, plan=plan, save=opts.get("save"), verify=_check_verify(opts),
                   keep_noise=bool(opts.get("keep_noise")), shadow=_shadow(config, opts),
                   replicas=_replicas(opts, settings),
                   capacity=_capacity_target(opts, len(endpoints)),
                   explain_settings=_explain_settings(opts))


def _replicas(opts: dict, primary: ConnectionSettings) -> tuple[ConnectionSettings, ...]:
    from query_audit.connection import parse_dsn

    # A replica holds the primary's databases: without one of its own, it gets the primary's.
    replicas = tuple(replace(parsed, database=parsed.database or primary.database)
                     for parsed in (parse_dsn(dsn) for dsn in opts.get("replica_dsns") or ()))
    if replicas and (opts.get("capture_source") or "general-log") != "general-log":
        raise click.UsageError("--replica-dsn captures through the general log: it does not go with --source "
                               "performance-schema")
    if any(r.describe() == primary.describe() for r in replicas):
        raise click.UsageError("a --replica-dsn names the same server as --dsn")
    return replicas


def _capacity_target(opts: dict, endpoints: int):
    """--target-rps / --target-rpm with the mix, fleet and budget options, or None without a target."""
    from query_audit.advise.capacity import CapacityTarget

    rps, rpm, weights = opts.get("target_rps"), opts.get("target_rpm"), tuple(opts.get("weights") or ())
    if rps and rpm:
        raise click.UsageError("give --target-rps or --target-rpm, not both")
    if not (rps or rpm):
        if weights or opts.get("app_instances") or opts.get("replica_budget"):
            raise click.UsageError("--weight, --app-instances and --replica-budget need --target-rps or --target-rpm")
        return None
    if weights and len(weights) != endpoints:
        raise click.UsageError(f"{len(weights)} --weight value(s) for {endpoints} --endpoint(s): give one per endpoint")
    stated = f"--target-rps {rps:.15g}" if rps else f"--target-rpm {rpm:.15g} / 60"
    return CapacityTarget(rps or rpm / 60, stated, weights, opts.get("app_instances") or 1,
                          bool(opts.get("app_instances")), opts.get("replica_budget"))


def file_request(sources, opts: dict) -> Request:
    if not sources:
        raise click.UsageError("nothing to analyze: give SOURCE... (log files, saved captures, -) or --digests")
    if opts.get("snapshot") or opts.get("since"):
        raise click.UsageError("--snapshot and --since go with --digests")
    config = _config(opts)
    return Request(settings=_settings(opts, required=False), config=config, sources=tuple(sources),
                   verify=_check_verify(opts), keep_noise=bool(opts.get("keep_noise")),
                   noise_patterns=tuple(opts.get("noise_patterns") or ()), shadow=_shadow(config, opts),
                   explain_settings=_explain_settings(opts))


def digests_request(sources, opts: dict) -> Request:
    if sources:
        raise click.UsageError("give log files, or --digests, not both")
    if opts.get("snapshot") and opts.get("since"):
        raise click.UsageError("give --snapshot (save the digests now) or --since (subtract a snapshot), not both")
    return Request(settings=_settings(opts, required=True), config=_config(opts), verify=_check_verify(opts))


def digests_report(request: Request, opts: dict) -> tuple[Report | None, str]:
    """The server-wide workload from performance_schema's digests, or (None, message) after --snapshot."""
    from query_audit.sources.digest_workload import digest_report

    return digest_report(request.settings, request.config, snapshot=opts.get("snapshot"), since=opts.get("since"),
                         top=opts.get("top") or 50, verify=request.verify, noise=_noise_filter(request.config, opts))


def any_request(sources, opts: dict) -> Request:
    if sources and (opts.get("endpoints") or opts.get("command")):
        raise click.UsageError("give log files, or --endpoint/--run, not both")
    if sources:
        return file_request(sources, opts)
    return capture_request(opts, require_inputs=True)


def report_for(request: Request) -> Report:
    """Capture or read the statements, then run the one pipeline on them."""
    from query_audit.pipeline import AnalysisOptions, analyze_stream

    config = request.config
    from query_audit.redact import Redactor

    redactor = Redactor(tuple(getattr(config, "redact", ()) or ()))
    options = AnalysisOptions(settings=request.settings, thresholds=config.thresholds, verify=request.verify,
                              shadow=request.shadow, capacity=request.capacity,
                              explain_settings=request.explain_settings, redactor=redactor)
    with progress_on_stderr() as progress:
        options.progress = progress
        if request.plan is not None:
            from query_audit.capture.saved import save_capture
            from query_audit.capture.session import run_capture

            if request.replicas:
                from query_audit.capture.replicated import run_replicated_capture

                result = run_replicated_capture(request.settings, list(request.replicas), request.plan, progress)
            else:
                result = run_capture(request.settings, request.plan, progress=progress)
            if request.save:
                save_capture(request.save, result.statements, server=result.server, source=result.source,
                             noise_dropped=result.noise_dropped, redactor=redactor)
            failed = tuple(f"{o.what} answered HTTP {o.status}" for o in result.outcomes
                           if request.plan.command is None and o.status >= 400)
            report = analyze_stream(result, options, notes=result.notes + failed)
        else:
            from query_audit.sources import open_sources

            stream = open_sources(list(request.sources), keep_noise=request.keep_noise,
                                  noise=_noise_filter(config, {"noise_patterns": request.noise_patterns}))
            report = analyze_stream(stream, options)
    return replace(report, findings=config.filter_findings(report))


@dataclass(frozen=True)
class CheckOutcome:
    report: Report
    gate: object
    verdict: str


def _gating_rules(config, fail_on) -> tuple[str, ...]:
    rules = tuple(fail_on) or tuple(getattr(config, "fail_on", ()) or ("full_table_scan",))
    from query_audit.config import check_rule_ids

    check_rule_ids(tuple(fail_on), "--fail-on", "the command line")  # the config's were checked when it loaded
    return rules


def _baseline_path(config, path: str | None) -> Path:
    return Path(path or getattr(config, "baseline", None) or DEFAULT_BASELINE)


def check(request: Request, baseline_path: str | None, fail_on) -> CheckOutcome:
    from query_audit.gate.baseline import compare, load_baseline

    rules = _gating_rules(request.config, fail_on)
    path = _baseline_path(request.config, baseline_path)
    baseline = load_baseline(path)  # before the capture: a missing baseline should not cost a replay
    report = report_for(request)
    gate = compare(report, baseline, rules)
    if gate.passed:
        verdict = f"query-audit: gate passed ({len(gate.known)} known, {len(gate.fixed)} fixed)"
    else:
        names = ", ".join(f"{f.rule} on {f.table or '?'} ({f.query_id})" for f in gate.new)
        verdict = f"query-audit: gate failed: {len(gate.new)} new finding(s): {names}"
    return CheckOutcome(report, gate, verdict)


def write_baseline(request: Request, baseline_path: str | None, fail_on, reason: str, update: bool) -> str:
    from query_audit.gate.baseline import compare, create_baseline, load_baseline, save_baseline, update_baseline

    rules = _gating_rules(request.config, fail_on)
    path = _baseline_path(request.config, baseline_path)
    old = load_baseline(path) if update else None
    report = report_for(request)
    if update:
        gate = compare(report, old, rules)
        new_baseline = update_baseline(old, report, rules, reason=reason)
        save_baseline(path, new_baseline)
        return (f"baseline {path} updated: {len(gate.new)} added, {len(gate.fixed)} fixed and removed, "
                f"{len(gate.known)} kept")
    new_baseline = create_baseline(report, rules, reason=reason)
    save_baseline(path, new_baseline)
    return f"baseline {path} written with {len(new_baseline.entries)} entries"


def init_project(where: str, baseline_path: str, fail_on, force: bool) -> list[str]:
    from query_audit.project_init import InitPlan
    from query_audit.project_init import init_project as write_project_files

    rules = _gating_rules(_config({}), fail_on) if fail_on else ("full_table_scan",)
    plan = InitPlan(Path.cwd(), where=where, baseline=baseline_path, fail_on=rules, force=force)
    return write_project_files(plan)


def restore(opts: dict) -> str:
    """Put back what an interrupted capture or --verify left: log settings, then indexes."""
    from query_audit.capture.log_settings import restore_from_state, state_path

    settings = _settings(opts, required=True)
    path = state_path(settings)
    state = restore_from_state(settings, path)
    if state is None:
        message = f"nothing to restore for {settings.describe()} (no state file at {path})"
    else:
        message = f"restored {state.describe()} on {settings.describe()}"
    return "\n".join([message, *_drop_verify_leftovers(settings)])


def _drop_verify_leftovers(settings: ConnectionSettings) -> list[str]:
    from query_audit.advise.index_journal import read_journal
    from query_audit.advise.verify import drop_journaled
    from query_audit.capture.log_settings import owner_is_running, state_path

    journal = read_journal(state_path(settings, kind="verify"))
    if journal is None or not journal.entries:
        return []
    if owner_is_running(journal):
        raise QueryAuditError(f"a --verify (pid {journal.pid}) is still running against {settings.address}; "
                              "stop it first (it drops its indexes itself)")
    dropped = drop_journaled(settings, journal)
    return [f"dropped index {entry.index} on {entry.database}.{entry.table}, left by an interrupted --verify"
            for entry in dropped] or ["an interrupted --verify left no index behind"]


# ------------------------------------------------------------------------------------------------
# Sandbox
# ------------------------------------------------------------------------------------------------


def _sandbox_record() -> Path:
    from query_audit.capture.log_settings import state_dir

    return state_dir() / "sandbox.json"


def _running_sandbox():
    """The sandbox the record names, or None; a planted or foreign record is refused (private_files)."""
    from query_audit.private_files import read_private
    from query_audit.sandbox.base import SandboxInfo

    text = read_private(_sandbox_record(), "sandbox record")
    return SandboxInfo.from_json(text) if text is not None else None


def sandbox_up(engine: str) -> str:
    from query_audit.private_files import write_private
    from query_audit.sandbox.base import start_sandbox

    info = _running_sandbox()
    if info is not None:
        raise QueryAuditError(f"a sandbox already runs ({info.dsn}); `query-audit sandbox down` first")
    sandbox = start_sandbox(engine)
    write_private(_sandbox_record(), sandbox.info.to_json())
    return sandbox.info.dsn


def sandbox_down() -> str:
    from query_audit.sandbox.base import stop_sandbox

    info = _running_sandbox()
    if info is None:
        return "no sandbox runs"
    stop_sandbox(info)
    _sandbox_record().unlink()
    return f"sandbox stopped ({info.kind}, {info.dsn})"


def sandbox_status() -> str:
    info = _running_sandbox()
    if info is None:
        return "no sandbox runs"
    return f"{info.kind} sandbox ({info.flavor}) at {info.dsn}"


# ------------------------------------------------------------------------------------------------
# Rendering and progress
# ------------------------------------------------------------------------------------------------


def render_report(report: Report, opts: dict, config, gate=None) -> str:
    from query_audit.report import Format, default_format, output_width, render

    fmt = opts.get("fmt") or getattr(config, "format", None)
    if fmt:
        fmt = Format(fmt)
    else:
        fmt = Format.TEXT if opts.get("output") else default_format(sys.stdout)
    verbosity = -1 if opts.get("quiet") else int(opts.get("verbose") or 0)
    width = output_width(None if opts.get("output") else sys.stdout)
    return render(report, fmt, verbosity=verbosity, width=width, gate=gate, fail_on=tuple(config.fail_on))


@contextmanager
def progress_on_stderr():
    """A rich progress bar on stderr when it is a terminal; silence otherwise (CI logs stay clean)."""
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
