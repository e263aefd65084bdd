"""The command line's options as typed records: what `cli.py` builds from click's parameters and hands to
`workflow.py`. Plain frozen dataclasses: the core reads fields and never sees click.

Each record is one group of options that several commands share; a command's callback builds the groups it
has. A field's default is what a command without that group means (no scaling target, no gate options given).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ConnectionOptions:
    """--dsn (click fills it from QUERY_AUDIT_DSN when the option is not given) and --defaults-file."""

    dsn: str | None = None
    defaults_file: str | None = None

    @property
    def names_a_server(self) -> bool:
        """Whether the user named a server; without one, ~/.my.cnf may still name it."""
        return bool(self.dsn or self.defaults_file)


@dataclass(frozen=True)
class NoiseOptions:
    """--keep-noise and --noise: which driver and ORM statements are dropped."""

    keep_noise: bool = False
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class AdviceOptions:
    """--verify with its confirmation, --explain-dsn and --no-shadow."""

    verify: bool = False
    disposable: bool = False  # --i-understand-this-creates-indexes
    explain_dsn: str | None = None
    shadow: bool = True  # False with --no-shadow


@dataclass(frozen=True)
class CaptureOptions:
    """Where a live capture's statements come from (--endpoint or --run) and how they are read."""

    endpoints: tuple[str, ...]
    command: str | None
    method: str | None
    headers: tuple[str, ...]
    data: str | None
    repeat: int
    timeout: float
    client_user: str | None
    source: str  # "general-log" or "performance-schema"
    noise: NoiseOptions
    save: str | None
    replica_dsns: tuple[str, ...]

    @property
    def has_inputs(self) -> bool:
        return bool(self.endpoints or self.command)


@dataclass(frozen=True)
class ScalingOptions:
    """--target-rps / --target-rpm and what shapes the capacity plan (capture only)."""

    target_rps: float | None = None
    target_rpm: float | None = None
    weights: tuple[float, ...] = ()
    app_instances: int | None = None
    replica_budget: float | None = None


@dataclass(frozen=True)
class DigestOptions:
    """analyze --digests and the options that go with it."""

    wanted: bool
    snapshot: str | None
    since: str | None
    top: int


@dataclass(frozen=True)
class GateOptions:
    """--baseline and --fail-on of check and baseline: empty means the configured ones."""

    baseline_path: str | None = None
    fail_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutputOptions:
    """--format, --output, --html, --quiet and --verbose."""

    format: str | None = None  # None: the configured one, else rich on a terminal, text otherwise
    output: str | None = None
    html_output: str | None = None
    quiet: bool = False
    verbose: int = 0


@dataclass(frozen=True)
class CopyLimits:
    """How much of a user's table the shadow copies (advise/shadow.py, sandbox/shadow_copy.py)."""

    copy_rows: int = 200_000  # a table up to this many rows is copied whole; above, a sample this large
    max_table_rows: int = 5_000_000  # a table above this is not copied: its suggestions stay heuristic
    statement_seconds: float = 60.0  # time limit of each read on the user's server


@dataclass(frozen=True)
class ShadowOptions:
    """Shadow verification of suggested indexes (advise/shadow.py). Here, not beside the shadow's code, so a
    command builds it without importing the advisor and sqlglot before the log is read."""

    threshold: float = 0.5  # share of rows examined an index must cut
    copy: CopyLimits = field(default_factory=CopyLimits)
    dsn: str | None = None  # an existing empty, disposable server to use instead of starting one
