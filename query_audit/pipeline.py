"""The pipeline in one place: statements -> groups -> model, schema, plan -> findings -> report.

`capture` and `analyze` both end here: a capture is a source of statements like a log file is.
Each stage lives in its own package; this module only wires them together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from query_audit.analyze.digest import Digest
from query_audit.model import (
    AnalyzedQuery,
    Report,
    ServerInfo,
    SourceInfo,
    Thresholds,
    table_key,
)

if TYPE_CHECKING:
    from query_audit.connection import ConnectionSettings

Progress = Callable[[str, int, int], None]  # (stage, done, total); total 0 when unknown


@dataclass
class AnalysisOptions:
    settings: ConnectionSettings | None = None  # None: static analysis only (no schema, no EXPLAIN)
    thresholds: Thresholds = field(default_factory=Thresholds)
    verify: bool = False  # create each suggested index on a disposable server, EXPLAIN again, drop it
    progress: Progress | None = None


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
    progress = options.progress or (lambda stage, done, total: None)
    server = stream.server
    digest = Digest()
    stream.digest_into(digest, progress)
    groups = digest.groups()
    del digest  # its value sets and unit records (~10 MB at 1M statements) go before sqlglot comes in

    # Imported only now: sqlglot and the rest are big, and a big log's second reader is forked above.
    from query_audit.advise import advise
    from query_audit.advise.summary import summarize
    from query_audit.analyze.explain import explain_query
    from query_audit.analyze.schema import load_schema
    from query_audit.analyze.sql_model import describe
    from query_audit.connection import connect, detect_server

    models = {}
    for done, group in enumerate(groups, 1):
        models[group.id] = describe(group.sample.sql)
        progress("parsing", done, len(groups))

    schemas = {}
    plans: dict[str, tuple] = {}
    notes = list(notes)
    conn = None
    try:
        if options.settings is not None:
            conn = connect(options.settings)
            server = detect_server(conn)
            wanted = {table_key(table, group.sample.database) for group in groups
                      for table in models[group.id].tables}
            schemas = load_schema(conn, wanted)
            for done, group in enumerate(groups, 1):
                plans[group.id] = explain_query(conn, group, models[group.id], schemas)
                progress("EXPLAIN", done, len(groups))
        else:
            notes.append("static analysis: no --dsn given, so no schema and no EXPLAIN")

        queries = tuple(
            AnalyzedQuery(group, models[group.id], *plans.get(group.id, (None, None)))
            for group in groups
        )
        findings = advise(queries, schemas, options.thresholds)
        if options.verify and conn is not None:
            from query_audit.advise.verify import verify_findings

            findings = verify_findings(conn, findings, queries, schemas)
    finally:
        if conn is not None:
            conn.close()

    summary = summarize(queries, stream.source, noise_dropped=stream.noise_dropped,
                        skipped_lines=stream.skipped_lines)
    return Report(server=server, source=stream.source, summary=summary, queries=queries,
                  findings=tuple(findings), notes=tuple(notes))
