"""Before and after in one run: `python bench/before_after.py ROUNDS LOG[,LOG...] BASE_TREE`.

BASE_TREE is another checkout of query-audit (e.g. `git archive REV | tar -x -C /tmp/base`, its C extension
built in place); this checkout is "after". Each round runs `analyze LOG --format json` in both trees, with
one reader (two with READERS=2 in the environment), alternating which goes first, and prints wall time, CPU
time (user+sys), the peak summed PSS and a hash of the report (the same hash: the same bytes). The logs are
bench/out/'s (`make bench` makes them). Results go to bench/out/before_after.json.
"""

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.run import TreeMemory  # noqa: E402

PY = sys.executable
OUT = ROOT / "bench" / "out"
ROUNDS = int(sys.argv[1])
LOGS = sys.argv[2].split(",")
TREES = {"base": sys.argv[3], "after": str(ROOT)}
READERS = os.environ.get("READERS", "1")  # READERS=2 compares two readers



def run(tree: str, log: str) -> dict:
    """One `analyze` in `tree` (its directory first on the path, so `-m query_audit` is that tree's)."""
    env = dict(os.environ, QUERY_AUDIT_READERS=READERS, PYTHONPATH=tree)
    report = OUT / "before_after.report"
    started = time.perf_counter()
    with open(report, "wb") as out:
        child = subprocess.Popen([PY, "-m", "query_audit", "analyze", str(OUT / log), "--format", "json"],
                                 cwd=tree, env=env, stdout=out, stderr=subprocess.DEVNULL)
        sampler = TreeMemory(child.pid)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        sampler.stop()
    return {"wall": round(time.perf_counter() - started, 2), "cpu": round(usage.ru_utime + usage.ru_stime, 2),
            "pss": round(sampler.peak_pss_kb / 1024, 1), "exit": os.waitstatus_to_exitcode(status),
            "sha": hashlib.sha256(report.read_bytes()).hexdigest()[:12]}


def main() -> None:
    results: dict = {}
    for round_number in range(ROUNDS):
        for log in LOGS:
            for name in ("base", "after") if round_number % 2 == 0 else ("after", "base"):
                result = run(TREES[name], log)
                results.setdefault(log, {}).setdefault(name, []).append(result)
                print(round_number, log, name, result, f"load {os.getloadavg()[0]:.2f}", flush=True)
    (OUT / "before_after.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
