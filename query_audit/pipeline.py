"""The pipeline in one place: statements -> groups -> model, schema, plan -> findings -> report.

`capture` and `analyze` both end here: a capture is a source of statements like a log file is.
Each stage lives in its own package; this module only wires them together.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from query_audit.analyze.digest import Digest
from query_audit.analyze.loops import with_quoted_samples_only
from query_audit.collector import collecting_less
from query_audit.interrupts import signals_blocked
from query_audit.model import (
    AnalyzedQuery,
    Report,
    ServerInfo,
    SourceInfo,
    Thresholds,
    table_key,
)
from query_audit.processes import CpuSample
from query_audit.redact import Redactor

if TYPE_CHECKING:
    from query_audit.connection import ConnectionSettings
    from query_audit.options import ShadowOptions

Progress = Callable[[str, int, int], None]  # (stage, done, total); total 0 when unknown

# What every analysis imports when it starts, heaviest first: sqlglot (through the advisor) is ~0.1 s of CPU.
# The options' own (--verify, --shadow, a capacity target) are left to import when asked for.
ANALYSIS_MODULES = (
    "query_audit.advise", "query_audit.advise.summary", "query_audit.advise.measurements",
    "query_audit.analyze.sql_model", "query_audit.analyze.model_in_two", "query_audit.analyze.attribution",
    "query_audit.analyze.explain", "query_audit.analyze.index_usage", "query_audit.analyze.schema",
    "query_audit.analyze.statistics", "query_audit.analyze.timeline", "query_audit.analyze.trace",
)
# While that thread imports, a thread waiting on a socket gets the interpreter back within this many seconds
# of its answer (Python's default, 5 ms, would add up to 5 ms to each of a capture's ~25 round trips).
IMPORT_SWITCH_INTERVAL_S = 0.0005


@contextmanager
def importing_analysis_meanwhile() -> Iterator[None]:
    """Import the analysis on a thread while the body waits on the network: a capture waits ~60 ms for the
    server and the application (far longer for a slow endpoint or a --run command), and the imports fill
    that wait instead of following it. The thread only imports: a module that fails there fails again, with
    its error, where the analysis imports it. It is joined on the way out, whatever the body did, so it never
    outlives the body (an interpreter exiting under a thread that holds an import lock can hang)."""

    usual_interval = sys.getswitchinterval()

    def import_all() -> None:
        try:
            with suppress(Exception):  # said again, in full, by the analysis's own import
                for name in ANALYSIS_MODULES:
                    __import__(name)  # not importlib.import_module: `python -X importtime` does not see that
        finally:
            sys.setswitchinterval(usual_interval)  # short only while there is an import to interleave

    thread: threading.Thread | None = threading.Thread(target=import_all, name="import-analysis", daemon=True)
    sys.setswitchinterval(IMPORT_SWITCH_INTERVAL_S)
    try:
        # Started with the cleanup signals blocked, which it inherits: the kernel gives a signal to any thread
        # that does not block it, and one taken by this thread would still run its Python handler in the main
        # thread, inside the restore that `interrupts.signals_blocked` holds signals back from.
        with signals_blocked():
            thread.start()
    except RuntimeError:  # no thread to be had: the analysis imports the modules itself, afterwards
        sys.setswitchinterval(usual_interval)
        thread = None
    try:
        yield
    finally:
        if thread is not None:
            thread.join()


@dataclass
class AnalysisOptions:
    settings: ConnectionSettings | None = None  # None: static analysis only (no schema, no EXPLAIN)
    # A separate least-privileged account for EXPLAIN and schema reads (--explain-dsn); else `settings`.
    explain_settings: ConnectionSettings | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    verify: bool = False  # create each suggested index on a disposable server, EXPLAIN again, drop it
    progress: Progress | None = None
    # Bounded counts of captured values' selectivity (analyze/statistics.py); False: statistics only.
    measure: bool = True
    shadow: ShadowOptions | None = None  # judge suggested indexes on a shadow copy (advise/shadow.py)
    capacity: object | None = None  # advise.capacity.CapacityTarget: a plan for this load (a live capture)
    redactor: Redactor | None = None  # secrets out of the samples; None: the default patterns only


class StatementStream(Protocol):
    """Where the statements come from: a capture, or log files read lazily.

    The counters are read only after `digest_into` has run: a file's are final only then.
    """

    source: SourceInfo
    server: ServerInfo | None
    noise_dropped: int
    skipped_lines: int

    def digest_into(self, digest: Digest, progress: Progress | None = None) -> None:
        """Add every statement to `digest` (a log file has a faster path than one Statement a line)."""


def analyze_stream(stream: StatementStream, options: AnalysisOptions, notes: tuple[str, ...] = ()) -> Report:
    """The pipeline: group, model, schema, EXPLAIN, advise, summarize."""
    digest = Digest()
    stream.digest_into(digest, options.progress or (lambda stage, done, total: None))
    # Never bound whole: the samples no rule quotes go before sqlglot comes in, and this frame does not
    # keep them alive through the analysis.
    groups = [with_quoted_samples_only(group) for group in digest.take_groups()]
    transactions = digest.transactions
    del digest  # its value sets and unit records (~10 MB at 1M statements) go before sqlglot comes in
    return analyze_groups(groups, stream, options, notes, transactions=transactions)


def analyze_groups(groups: list, stream: StatementStream, options: AnalysisOptions,
                   notes: tuple[str, ...] = (), transactions=None) -> Report:
    """The pipeline from statement groups on: a Digest's, or the server's own digest table's
    (`sources/digest_workload.py`), which comes already grouped. `transactions` is the Digest's
    TransactionTracker, where there is one."""
    with collecting_less():
        return _analyze_groups(groups, stream, options, notes, transactions)


def _analyze_groups(groups: list, stream: StatementStream, options: AnalysisOptions, notes: tuple[str, ...],
                    transactions) -> Report:
    progress = options.progress or (lambda stage, done, total: None)
    server = stream.server
    # Secrets out of every sample before anything models, EXPLAINs or prints them; the digest has taken
    # the fingerprints and ids already (and redaction only changes literals, which they ignore).
    redactor = options.redactor or Redactor()
    groups = [redactor.group(group) for group in groups]

    # Imported only now: sqlglot and the rest are big, and a big log's second reader is forked above. The
    # import is also the moment a second modeller's idle core is measured over (model_in_two.py).
    import_started = CpuSample.now()
    from query_audit.advise import advise
    from query_audit.advise.summary import summarize
    from query_audit.analyze.attribution import attach_origins, parse_origin
    from query_audit.connection import connect, detect_server

    models, too_large = _model_groups(groups, progress, import_started)
    traces = _traces(stream, models, redactor)
    groups = _with_servers(groups, traces) if stream.source.servers else groups

    schemas, plans = {}, {}
    notes = list(notes)
    conn = None
    try:
        analysis_settings = options.explain_settings or options.settings
        if analysis_settings is not None:
            conn = connect(analysis_settings)
            server = replace(detect_server(conn), address=(options.settings or analysis_settings).address)
            schemas, plans = _schemas_and_plans(conn, groups, models, too_large, progress)
        else:
            notes.append("static analysis: no --dsn given, so no schema and no EXPLAIN")

        queries = tuple(
            AnalyzedQuery(group, models[group.id], *plans.get(group.id, (None, None)),
                          origin=parse_origin(group.sample.sql))
            for group in groups
        )
        if conn is not None:
            schemas = _with_statistics(conn, server, queries, schemas, options)
        findings = advise(queries, schemas, options.thresholds, traces)
        capacity = _capacity(options, traces, queries, stream.source, conn)
        if conn is not None:
            findings = _proven(conn, server, options, findings, queries, schemas, notes)
        findings = attach_origins(findings, queries)
    finally:
        if conn is not None:
            conn.close()

    summary = summarize(queries, stream.source, noise_dropped=stream.noise_dropped,
                        skipped_lines=stream.skipped_lines, transactions=transactions, traces=traces)
    return Report(server=server, source=stream.source, summary=summary, queries=queries,
                  findings=tuple(findings), notes=tuple(notes), timeline=_timeline(stream), capacity=capacity)


def _schemas_and_plans(conn, groups: list, models: dict, too_large: dict, progress: Progress) -> tuple[dict, dict]:
    """The schema of every table the statements name, and each group's (plan, error) from EXPLAIN; a group
    too large to model is not EXPLAINed (its reason stands as the error)."""
    from query_audit.analyze.explain import explain_query
    from query_audit.analyze.index_usage import with_index_usage
    from query_audit.analyze.schema import load_schema

    wanted = {table_key(table, group.sample.database) for group in groups for table in models[group.id].tables}
    schemas = with_index_usage(conn, load_schema(conn, wanted))
    plans: dict[str, tuple] = {}
    for done, group in enumerate(groups, 1):
        plans[group.id] = (None, too_large[group.id]) if group.id in too_large else \
            explain_query(conn, group, models[group.id], schemas)
        progress("EXPLAIN", done, len(groups))
    return schemas, plans


def _proven(conn, server, options: AnalysisOptions, findings, queries, schemas, notes: list) -> list:
    """The findings after the optimizer judged their indexes: on a shadow copy, then (--verify) on the
    server itself. What the shadow did, or why it did not run, goes to `notes`."""
    if options.shadow is not None:
        from query_audit.advise.shadow import shadow_verify

        (options.progress or (lambda stage, done, total: None))("shadow verification", 0, 0)
        findings, run, skipped = shadow_verify(conn, server, findings, queries, schemas, options.shadow)
        notes += run.notes(f"{server.flavor} {server.version}") if run else ()
        notes += [f"shadow verification skipped: {skipped}"] if skipped else []
    if options.verify:
        findings = _verified(conn, options, findings, queries, schemas)
    return findings


def _timeline(stream: StatementStream) -> tuple:
    """A capture's statements in order (it holds them in memory); log files, streamed, have none."""
    from query_audit.analyze.timeline import build_timeline

    statements = getattr(stream, "statements", None)
    return build_timeline(statements) if isinstance(statements, tuple) else ()


def _with_statistics(conn, server, queries, schemas, options: AnalysisOptions):
    """The schemas with the server's statistics and, unless turned off, bounded counts of captured values."""
    from query_audit.advise.measurements import collect_measurements
    from query_audit.analyze.statistics import MeasureLimits, load_statistics

    schemas = load_statistics(conn, schemas, server.flavor)
    if options.measure:
        schemas = collect_measurements(conn, queries, dict(schemas), options.thresholds, server.flavor,
                                       MeasureLimits())
    return schemas


def _traces(stream: StatementStream, models: dict, redactor: Redactor) -> tuple:
    """A live capture's requests, statement by statement (analyze/trace.py); () for log files. The routing
    rules quote these statements in their evidence, so they are redacted like the samples (the query ids,
    taken from fingerprints, do not change)."""
    statements = getattr(stream, "statements", None)
    if stream.source.kind != "capture" or not statements:
        return ()
    from query_audit.analyze.trace import build_traces

    return build_traces(redactor.statements(statements), models, stream.source.endpoints, stream.source.lag,
                        stream.source.command)


def _with_servers(groups: list, traces: tuple) -> list:
    """Each group with the servers its statements ran on (a capture with --replica-dsn)."""
    from collections import Counter

    counts: dict[str, Counter] = {}
    for trace in traces:
        for traced in trace.statements:
            counts.setdefault(traced.query_id, Counter())[traced.server] += 1
    return [replace(group, servers=tuple(sorted(counts.get(group.id, Counter()).items()))) for group in groups]


def _capacity(options: AnalysisOptions, traces: tuple, queries: tuple, source: SourceInfo, conn):
    """The capacity plan for `options.capacity`, with each server's max_connections as the capture read it
    (or the primary's, read now, for a one-server capture)."""
    if options.capacity is None:
        return None
    from query_audit.advise.capacity import PRIMARY, capacity_plan
    from query_audit.errors import QueryAuditError

    if not traces:
        raise QueryAuditError("a capacity plan needs a live capture of endpoints (capture --endpoint ...)")
    limits = {role.label: role.max_connections for role in source.servers}
    if not limits and conn is not None:
        with conn.cursor() as cur:
            cur.execute("SELECT @@global.max_connections")
            limits = {PRIMARY: int(cur.fetchone()[0])}
    try:
        return capacity_plan(traces, queries, options.capacity, limits, max(len(source.servers) - 1, 0))
    except ValueError as exc:
        raise QueryAuditError(str(exc)) from None


def _model_groups(groups: list, progress: Progress, idle_since: CpuSample | None = None) -> tuple[dict, dict]:
    """Each group's SQL model, by id (by two processes when there are many and a core has been idle since
    `idle_since`), and the reasons of those too large to parse: such a group is not EXPLAINed, and its
    sample is cut to its head (in `groups`, in place) so no report prints megabytes."""
    from query_audit.analyze.model_in_two import describe_all
    from query_audit.analyze.sql_model import oversize_reason, shortened

    described = describe_all([group.sample.sql for group in groups], progress, idle_since)
    models, too_large = {}, {}
    for place, (group, model) in enumerate(zip(groups, described)):
        models[group.id] = model
        reason = oversize_reason(group.sample.sql)
        if reason:
            too_large[group.id] = reason
            groups[place] = replace(group, sample=replace(group.sample, sql=shortened(group.sample.sql)))
    return models, too_large


def _verified(conn, options: AnalysisOptions, findings, queries, schemas):
    """--verify's findings: on `conn`, or, with --explain-dsn, on the --dsn account's own connection
    (CREATE INDEX needs it; the EXPLAIN-only account cannot)."""
    from query_audit.advise.verify import verify_findings
    from query_audit.connection import connect

    if options.explain_settings is None or options.settings is None:
        return verify_findings(conn, findings, queries, schemas, options.settings)
    with connect(options.settings) as ddl_conn:
        return verify_findings(ddl_conn, findings, queries, schemas, options.settings)
