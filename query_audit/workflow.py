"""What each command does, between the CLI's options and the core: build the inputs, run the pipeline,
apply the configuration, compare with the baseline. Takes the typed option records of `query_audit.options`,
returns records and messages, and prints nothing; a bad combination of options is the project's own
`UsageError` (the CLI, the only module that knows click, shows it as a usage error)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from query_audit.connection import ConnectionSettings, resolve_settings
from query_audit.errors import QueryAuditError, UsageError
from query_audit.model import DEFAULT_FAIL_ON, Report
from query_audit.options import (
    AdviceOptions,
    CaptureOptions,
    ConnectionOptions,
    DigestOptions,
    GateOptions,
    NoiseOptions,
    OutputOptions,
    ScalingOptions,
    ShadowOptions,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from query_audit.advise.capacity import CapacityTarget
    from query_audit.capture.noise import NoiseFilter
    from query_audit.capture.session import CapturePlan
    from query_audit.config import Config
    from query_audit.gate.baseline import GateResult
    from query_audit.pipeline import AnalysisOptions, Progress

DEFAULT_BASELINE = ".query-audit-baseline.json"


@dataclass(frozen=True)
class Request:
    """Everything needed to produce one report, from a live capture or from files."""

    settings: ConnectionSettings | None
    config: Config
    sources: tuple[str, ...] = ()
    plan: CapturePlan | None = None  # a live capture
    save: str | None = None
    verify: bool = False
    noise: NoiseOptions = NoiseOptions()  # for files and digests (a capture's is in its plan)
    shadow: ShadowOptions | None = None  # None when off
    replicas: tuple[ConnectionSettings, ...] = ()  # --replica-dsn: captured with the primary
    capacity: CapacityTarget | None = None
    explain_settings: ConnectionSettings | None = None  # --explain-dsn: EXPLAIN and schema reads only


def _config() -> Config:
    from query_audit.config import load_config

    return load_config(Path.cwd())


def _settings(connection: ConnectionOptions, required: bool) -> ConnectionSettings | None:
    if not connection.names_a_server and not required:
        return None
    return resolve_settings(connection.dsn, connection.defaults_file, required=required)


def _explain_settings(advice: AdviceOptions) -> ConnectionSettings | None:
    from query_audit.connection import parse_dsn

    return parse_dsn(advice.explain_dsn) if advice.explain_dsn else None


def _check_verify(advice: AdviceOptions) -> bool:
    if advice.verify and not advice.disposable:
        raise UsageError("--verify creates and drops indexes on the server; it runs only with "
                         "--i-understand-this-creates-indexes (use it on a disposable copy, never production)")
    return advice.verify


def _shadow(config: Config, advice: AdviceOptions) -> ShadowOptions | None:
    """Shadow verification's options, or None when --no-shadow or the configuration turns it off."""
    if not advice.shadow or not config.shadow:
        return None
    return ShadowOptions(threshold=config.shadow_threshold, dsn=config.shadow_dsn)


def _noise_filter(config: Config, noise: NoiseOptions) -> NoiseFilter:
    from query_audit.capture.noise import NoiseFilter

    try:
        return NoiseFilter(extra=tuple(config.noise) + noise.patterns)
    except Exception as exc:  # a bad user regex: name it
        raise QueryAuditError(f"invalid noise pattern: {exc}") from None


def capture_request(connection: ConnectionOptions, advice: AdviceOptions, capture: CaptureOptions,
                    scaling: ScalingOptions | None = None) -> Request:
    """`capture`, and `check`/`baseline` without files (they have no scaling options: `scaling` None)."""
    from query_audit.capture.replay import build_requests
    from query_audit.capture.session import CapturePlan

    if capture.endpoints and capture.command:
        raise UsageError("give --endpoint or --run, not both")
    if not capture.has_inputs:
        raise UsageError("nothing to capture: give --endpoint URL (repeatable) or --run COMMAND")
    config = _config()
    settings = _settings(connection, required=True)
    plan = CapturePlan(
        requests=tuple(build_requests(capture.endpoints, capture.method, capture.headers, capture.data)),
        command=capture.command,
        repeat=capture.repeat,
        timeout=capture.timeout,
        client_user=capture.client_user,
        keep_noise=capture.noise.keep_noise,
        noise=_noise_filter(config, capture.noise),
        source=capture.source,
    )
    return Request(settings=settings, config=config, plan=plan, save=capture.save, verify=_check_verify(advice),
                   noise=capture.noise, shadow=_shadow(config, advice), replicas=_replicas(capture, settings),
                   capacity=_capacity_target(scaling, len(capture.endpoints)),
                   explain_settings=_explain_settings(advice))


def _replicas(capture: CaptureOptions, primary: ConnectionSettings) -> tuple[ConnectionSettings, ...]:
    from query_audit.connection import parse_dsn

    # A replica holds the primary's databases: without one of its own, it gets the primary's.
    replicas = tuple(replace(parsed, database=parsed.database or primary.database)
                     for parsed in (parse_dsn(dsn) for dsn in capture.replica_dsns))
    if replicas and capture.source != "general-log":
        raise UsageError("--replica-dsn captures through the general log: it does not go with --source "
                         "performance-schema")
    if any(r.describe() == primary.describe() for r in replicas):
        raise UsageError("a --replica-dsn names the same server as --dsn")
    return replicas


def _capacity_target(scaling: ScalingOptions | None, endpoints: int) -> CapacityTarget | None:
    """--target-rps / --target-rpm with the mix, fleet and budget options, or None without a target."""
    if scaling is None:
        return None
    rps, rpm, weights = scaling.target_rps, scaling.target_rpm, scaling.weights
    if rps and rpm:
        raise UsageError("give --target-rps or --target-rpm, not both")
    if not (rps or rpm):
        if weights or scaling.app_instances or scaling.replica_budget:
            raise UsageError("--weight, --app-instances and --replica-budget need --target-rps or --target-rpm")
        return None
    if weights and len(weights) != endpoints:
        raise UsageError(f"{len(weights)} --weight value(s) for {endpoints} --endpoint(s): give one per endpoint")
    stated = f"--target-rps {rps:.15g}" if rps else f"--target-rpm {rpm:.15g} / 60"
    from query_audit.advise.capacity import CapacityTarget  # only with a target: a capture without one skips it

    return CapacityTarget(rps or rpm / 60, stated, weights, scaling.app_instances or 1,
                          bool(scaling.app_instances), scaling.replica_budget)


def file_request(sources: tuple[str, ...], connection: ConnectionOptions, advice: AdviceOptions,
                 noise: NoiseOptions) -> Request:
    if not sources:
        raise UsageError("nothing to analyze: give SOURCE... (log files, saved captures, -) or --digests")
    config = _config()
    return Request(settings=_settings(connection, required=False), config=config, sources=tuple(sources),
                   verify=_check_verify(advice), noise=noise, shadow=_shadow(config, advice),
                   explain_settings=_explain_settings(advice))


def analyze_request(sources: tuple[str, ...], connection: ConnectionOptions, advice: AdviceOptions,
                    noise: NoiseOptions, digests: DigestOptions) -> Request:
    """`analyze`: files (or standard input), or with --digests the server's statement digests."""
    if digests.wanted:
        return _digests_request(sources, connection, advice, noise, digests)
    if sources and (digests.snapshot or digests.since):
        raise UsageError("--snapshot and --since go with --digests")
    return file_request(sources, connection, advice, noise)


def _digests_request(sources: tuple[str, ...], connection: ConnectionOptions, advice: AdviceOptions,
                     noise: NoiseOptions, digests: DigestOptions) -> Request:
    if sources:
        raise UsageError("give log files, or --digests, not both")
    if digests.snapshot and digests.since:
        raise UsageError("give --snapshot (save the digests now) or --since (subtract a snapshot), not both")
    return Request(settings=_settings(connection, required=True), config=_config(), verify=_check_verify(advice),
                   noise=noise)


def digests_report(request: Request, digests: DigestOptions) -> tuple[Report | None, str]:
    """The server-wide workload from performance_schema's digests, or (None, message) after --snapshot."""
    from query_audit.sources.digest_workload import digest_report

    return digest_report(request.settings, request.config, snapshot=digests.snapshot, since=digests.since,
                         top=digests.top, verify=request.verify, noise=_noise_filter(request.config, request.noise))


def any_request(sources: tuple[str, ...], connection: ConnectionOptions, advice: AdviceOptions,
                capture: CaptureOptions) -> Request:
    """`check` and `baseline`: log files, or a live capture."""
    if sources and capture.has_inputs:
        raise UsageError("give log files, or --endpoint/--run, not both")
    if sources:
        return file_request(sources, connection, advice, capture.noise)
    return capture_request(connection, advice, capture)


def report_for(request: Request, progress: Progress | None = None) -> Report:
    """Capture or read the statements, then run the one pipeline on them."""
    from query_audit.pipeline import AnalysisOptions, analyze_stream
    from query_audit.redact import Redactor

    config = request.config
    redactor = Redactor(tuple(config.redact))
    options = AnalysisOptions(settings=request.settings, thresholds=config.thresholds, verify=request.verify,
                              shadow=request.shadow, capacity=request.capacity,
                              explain_settings=request.explain_settings, redactor=redactor, progress=progress)
    if request.plan is not None:
        report = _captured_report(request, options, redactor)
    else:
        from query_audit.sources import open_sources

        stream = open_sources(list(request.sources), keep_noise=request.noise.keep_noise,
                              noise=_noise_filter(config, request.noise))
        report = analyze_stream(stream, options)
    return replace(report, findings=config.filter_findings(report))


def _captured_report(request: Request, options: AnalysisOptions, redactor) -> Report:
    """Capture (with the replicas, if any), keep the raw capture when --save asks, analyze."""
    from query_audit.capture.session import run_capture
    from query_audit.pipeline import analyze_stream, importing_analysis_meanwhile

    with importing_analysis_meanwhile():
        if request.replicas:
            from query_audit.capture.replicated import run_replicated_capture

            result = run_replicated_capture(request.settings, list(request.replicas), request.plan,
                                            options.progress)
        else:
            result = run_capture(request.settings, request.plan, progress=options.progress)
    if request.save:
        from query_audit.capture.saved import save_capture

        save_capture(request.save, result.statements, server=result.server, source=result.source,
                     noise_dropped=result.noise_dropped, redactor=redactor)
    failed = tuple(f"{o.what} answered HTTP {o.status}" for o in result.outcomes
                   if request.plan.command is None and o.status >= 400)
    return analyze_stream(result, options, notes=result.notes + failed)


@dataclass(frozen=True)
class CheckOutcome:
    report: Report
    gate: GateResult
    verdict: str


def _gating_rules(config: Config, fail_on: tuple[str, ...]) -> tuple[str, ...]:
    from query_audit.config import check_rule_ids

    check_rule_ids(fail_on, "--fail-on", "the command line")  # the config's were checked when it loaded
    return fail_on or tuple(config.fail_on) or DEFAULT_FAIL_ON


def _baseline_path(config: Config, path: str | None) -> Path:
    return Path(path or config.baseline or DEFAULT_BASELINE)


def check(request: Request, gate_options: GateOptions, progress: Progress | None = None) -> CheckOutcome:
    from query_audit.gate.baseline import compare, load_baseline

    rules = _gating_rules(request.config, gate_options.fail_on)
    path = _baseline_path(request.config, gate_options.baseline_path)
    baseline = load_baseline(path)  # before the capture: a missing baseline should not cost a replay
    report = report_for(request, progress)
    gate = compare(report, baseline, rules)
    if gate.passed:
        verdict = f"query-audit: gate passed ({len(gate.known)} known, {len(gate.fixed)} fixed)"
    else:
        names = ", ".join(f"{f.rule} on {f.table or '?'} ({f.query_id})" for f in gate.new)
        verdict = f"query-audit: gate failed: {len(gate.new)} new finding(s): {names}"
    return CheckOutcome(report, gate, verdict)


def write_baseline(request: Request, gate_options: GateOptions, reason: str, update: bool,
                   progress: Progress | None = None) -> str:
    from query_audit.gate.baseline import compare, create_baseline, load_baseline, save_baseline, update_baseline

    rules = _gating_rules(request.config, gate_options.fail_on)
    path = _baseline_path(request.config, gate_options.baseline_path)
    old = load_baseline(path) if update else None
    report = report_for(request, progress)
    if update:
        gate = compare(report, old, rules)
        new_baseline = update_baseline(old, report, rules, reason=reason)
        save_baseline(path, new_baseline)
        return (f"baseline {path} updated: {len(gate.new)} added, {len(gate.fixed)} fixed and removed, "
                f"{len(gate.known)} kept")
    new_baseline = create_baseline(report, rules, reason=reason)
    save_baseline(path, new_baseline)
    return f"baseline {path} written with {len(new_baseline.entries)} entries"


def init_project(where: str, baseline_path: str, fail_on: tuple[str, ...], force: bool) -> list[str]:
    from query_audit.project_init import InitPlan
    from query_audit.project_init import init_project as write_project_files

    rules = _gating_rules(_config(), fail_on) if fail_on else DEFAULT_FAIL_ON
    plan = InitPlan(Path.cwd(), where=where, baseline=baseline_path, fail_on=rules, force=force)
    return write_project_files(plan)


def restore(connection: ConnectionOptions) -> str:
    """Put back what an interrupted capture or --verify left: log settings, then indexes."""
    from query_audit.capture.log_settings import restore_from_state, state_path

    settings = _settings(connection, required=True)
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
# Rendering
# ------------------------------------------------------------------------------------------------


def render_report(report: Report, output: OutputOptions, config: Config,
                  gate: GateResult | None = None) -> Iterator[str]:
    """The report in the format asked for, in parts to write as they come (report.render_parts)."""
    from query_audit.collector import collecting_less
    from query_audit.report import Format, default_format, output_width, render_parts

    fmt = output.format or config.format
    if fmt:
        fmt = Format(fmt)
    else:
        fmt = Format.TEXT if output.output else default_format(sys.stdout)
    verbosity = -1 if output.quiet else output.verbose
    width = output_width(None if output.output else sys.stdout)
    with collecting_less():  # a report document is many small objects: no collection walks the analysis again
        yield from render_parts(report, fmt, verbosity=verbosity, width=width, gate=gate,
                                fail_on=tuple(config.fail_on))
