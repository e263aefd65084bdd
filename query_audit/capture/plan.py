"""What a live capture is asked to do, and what it gives back, whatever it reads the statements from.

`session.py` (the general log), `ps_capture.py` (performance_schema) and `replicated.py` (a primary and
its replicas) all take a CapturePlan and return a CaptureResult; they share no other module-level state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from query_audit.capture.general_log_table import utc_iso
from query_audit.capture.noise import NoiseFilter
from query_audit.capture.replay import HttpRequest, Outcome
from query_audit.model import ServerInfo, SourceInfo, Statement


@dataclass(frozen=True)
class CapturePlan:
    """What to replay and what to keep. Either `requests` (repeated `repeat` times) or `command`."""

    requests: tuple[HttpRequest, ...] = ()
    command: str | None = None
    repeat: int = 1
    timeout: float = 30.0
    client_user: str | None = None
    keep_noise: bool = False
    noise: NoiseFilter | None = None
    source: str = "general-log"  # or "performance-schema" (capture/ps_capture.py)

    def source_info(self, start: datetime, end: datetime, windows: int, **more) -> SourceInfo:
        """The report's source record of a capture of this plan between `start` and `end` (UTC): a
        `--run` command is one request, however many windows it had. `more`: via, servers, lag."""
        return SourceInfo(kind="capture", endpoints=tuple(request.describe() for request in self.requests),
                          command=self.command, window_start=utc_iso(start), window_end=utc_iso(end),
                          requests=windows if self.command is None else 1, **more)


@dataclass(frozen=True)
class CaptureResult:
    statements: tuple[Statement, ...]
    source: SourceInfo
    server: ServerInfo
    noise_dropped: int
    outcomes: tuple[Outcome, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    skipped_lines: int = 0  # log rows are never malformed in a table; kept for the pipeline's stream shape

    def digest_into(self, digest, progress=None) -> None:
        for statement in self.statements:
            digest.add(statement)
