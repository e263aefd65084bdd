"""query-audit: find why an endpoint hurts a MySQL-compatible database.

The package follows the pipeline: `capture` (and `sources` for log files) -> `analyze` -> `advise`
-> `report`, with `gate` for CI baselines and `sandbox` for throwaway servers.
"""

import time as _time

__version__ = "0.1.0"


def _started() -> tuple[float, float, bytes | None]:
    """When the process started (monotonic), its CPU seconds then, and /proc/stat's first line (None where
    there is none): sources/two_readers.py measures the idle CPU since then rather than by waiting."""
    try:
        with open("/proc/stat", "rb") as stat:
            first_line = stat.readline()
    except OSError:
        first_line = None
    return _time.monotonic(), _time.process_time(), first_line


STARTED = _started()
