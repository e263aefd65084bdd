"""The capture's own cost: `query-audit capture --endpoint URL` against the bare request, on the sample shop.

A private MariaDB (the project's sandbox), the shop seeded at test scale, the sample app on it; then,
each `repeats` times: the bare request (urllib, as the capture sends it), and the whole capture through
the command line (`--format json`, stdout discarded). The overhead is the capture's wall time minus the
bare request's (best of each, and the median); CPU time (user+sys) is the capture process's own. Also
`query-audit --help`, best and median of 10 starts.

    python bench/capture_overhead.py            # or as part of `make bench`
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENDPOINT = "/customers/42/orders"  # the shop's N+1: about 50 statements a request
TARGET_OVERHEAD_S = 0.15
TARGET_HELP_S = 0.10


def timed(command: list[str], env: dict) -> tuple[float, float, str]:
    """Wall and CPU seconds (user+sys, the process and what it waited for) of one run; its stdout."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed ({os.waitstatus_to_exitcode(status)})")
    return wall, usage.ru_utime + usage.ru_stime, out.decode(errors="replace")


def help_start(python: str, runs: int = 10) -> dict:
    walls = [timed([python, "-m", "query_audit", "--help"], dict(os.environ))[0] for _ in range(runs)]
    return {"help_best_s": round(min(walls), 3), "help_median_s": round(statistics.median(walls), 3),
            "help_target_s": TARGET_HELP_S}


def capture_overhead(python: str, repeats: int = 5) -> dict:
    import json

    from fixtures.sample_app.harness import running_app
    from fixtures.sample_app.seed import seed
    from query_audit.connection import parse_dsn
    from query_audit.sandbox import start_sandbox

    with start_sandbox(prefer="local") as sandbox:
        settings = parse_dsn(sandbox.dsn)
        seed(settings, "test", database="shop_bench")
        settings = replace(settings, database="shop_bench")
        env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(ROOT / "bench" / "out" / "state"), NO_COLOR="1")
        env.pop("QUERY_AUDIT_DSN", None)
        with running_app(settings.to_dsn(with_password=True)) as base_url:
            url = base_url + ENDPOINT
            bare, walls, cpus, statements = [], [], [], None
            for _ in range(repeats):
                started = time.perf_counter()
                with urllib.request.urlopen(url, timeout=30) as response:
                    response.read()
                bare.append(time.perf_counter() - started)
                wall, cpu, out = timed([python, "-m", "query_audit", "capture", "--dsn", settings.to_dsn(),
                                        "--endpoint", url, "--format", "json"], env)
                walls.append(wall)
                cpus.append(cpu)
                statements = json.loads(out)["summary"]["statements"]
    return {"endpoint": ENDPOINT, "statements": statements, "bare_request_s": round(min(bare), 3),
            "capture_best_s": round(min(walls), 3), "capture_median_s": round(statistics.median(walls), 3),
            "capture_cpu_s": round(statistics.median(cpus), 3),
            "overhead_best_s": round(min(walls) - min(bare), 3),
            "overhead_median_s": round(statistics.median(walls) - statistics.median(bare), 3),
            "overhead_target_s": TARGET_OVERHEAD_S}


def main() -> None:
    import json

    print(json.dumps({**help_start(sys.executable), **capture_overhead(sys.executable)}, indent=2))


if __name__ == "__main__":
    main()
