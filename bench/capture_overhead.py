"""The capture's own cost: `query-audit capture --endpoint URL` against the bare request, on the sample shop.

A private MariaDB (the project's sandbox), the shop seeded at test scale, the sample app on it; then,
each `repeats` times: the bare request (urllib, as the capture sends it), and the whole capture through
the command line (`--format json`, stdout discarded). The overhead is the capture's wall time minus the
bare request's (best of each, and the median); CPU time (user+sys) is the capture process's own. Also
`query-audit --help`, best and median of 10 starts. And the floor under any capture: a bare interpreter that
only imports the three libraries a capture cannot do without (click for its command line, PyMySQL to talk to
the server, sqlglot to model what it captured), best of 10.

    python bench/capture_overhead.py            # or as part of `make bench`
    python bench/capture_overhead.py --repeats 15 --against /path/to/another/checkout

`--against TREE` measures another checkout of query-audit (its `query_audit` package run with this
Python) in the same run, interleaved with this one (the order alternates every round), so a change can
be judged on a loaded machine; it also checks that both reports hold the same statements and findings.
Both trees are byte-compiled first: with PYTHONDONTWRITEBYTECODE set and no `__pycache__`, every start
would otherwise compile the whole package again (~0.2 s of CPU), which an installed tool never does.
"""

from __future__ import annotations

import argparse
import compileall
import json
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


def timed(command: list[str], env: dict, cwd: Path = ROOT) -> tuple[float, float, str]:
    """Wall and CPU seconds (user+sys, the process and what it waited for) of one run; its stdout."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed ({os.waitstatus_to_exitcode(status)})")
    return wall, usage.ru_utime + usage.ru_stime, out.decode(errors="replace")


def best_and_median(name: str, values: list[float]) -> dict:
    return {f"{name}_best_s": round(min(values), 3), f"{name}_median_s": round(statistics.median(values), 3)}


def compiled(tree: Path) -> Path:
    compileall.compile_dir(tree / "query_audit", quiet=1)
    return tree


def import_floor(python: str, runs: int = 10) -> dict:
    """The wall time of `import click, pymysql, sqlglot` and one parse in a new interpreter: what a capture
    pays before it does anything of its own (the overhead target is measured against the bare request)."""
    code = "import click, pymysql, sqlglot; sqlglot.parse_one('SELECT 1', read='mysql')"
    walls = [timed([python, "-c", code], dict(os.environ))[0] for _ in range(runs)]
    return best_and_median("import_floor", walls)


def help_start(python: str, runs: int = 10, trees: tuple[Path, ...] = (ROOT,)) -> dict:
    """`--help` starts, the trees interleaved; the first tree's figures at the top level."""
    walls: dict[Path, list[float]] = {tree: [] for tree in trees}
    cpus: dict[Path, list[float]] = {tree: [] for tree in trees}
    for run in range(runs):
        for tree in trees if run % 2 == 0 else reversed(trees):
            wall, cpu, _ = timed([python, "-m", "query_audit", "--help"], dict(os.environ), compiled(tree))
            walls[tree].append(wall)
            cpus[tree].append(cpu)
    figures = {tree: {**best_and_median("help", walls[tree]), **best_and_median("help_cpu", cpus[tree]),
                      "help_target_s": TARGET_HELP_S} for tree in trees}
    return _per_tree(figures, trees)


def capture_overhead(python: str, repeats: int = 5, trees: tuple[Path, ...] = (ROOT,)) -> dict:
    """The capture's wall and CPU against the bare request, the trees interleaved round by round."""
    from fixtures.sample_app.harness import running_app
    from fixtures.sample_app.seed import seed
    from query_audit.connection import parse_dsn
    from query_audit.sandbox import start_sandbox

    runs: dict[Path, list[tuple[float, float, str]]] = {compiled(tree): [] for tree in trees}
    bare: list[float] = []
    with start_sandbox(prefer="local") as sandbox:
        settings = parse_dsn(sandbox.dsn)
        seed(settings, "test", database="shop_bench")
        settings = replace(settings, database="shop_bench")
        env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(ROOT / "bench" / "out" / "state"), NO_COLOR="1")
        env.pop("QUERY_AUDIT_DSN", None)
        with running_app(settings.to_dsn(with_password=True)) as base_url:
            url = base_url + ENDPOINT
            command = [python, "-m", "query_audit", "capture", "--dsn", settings.to_dsn(), "--endpoint", url,
                       "--format", "json"]
            for repeat in range(repeats):
                started = time.perf_counter()
                with urllib.request.urlopen(url, timeout=30) as response:
                    response.read()
                bare.append(time.perf_counter() - started)
                for tree in trees if repeat % 2 == 0 else reversed(trees):
                    runs[tree].append(timed(command, env, tree))
    figures = {tree: _capture_figures(runs[tree], bare) for tree in trees}
    if len(trees) > 1:
        figures[trees[0]]["same_report_as_against"] = _same_findings(runs[trees[0]][-1][2], runs[trees[1]][-1][2])
    return _per_tree(figures, trees)


def _capture_figures(runs: list[tuple[float, float, str]], bare: list[float]) -> dict:
    walls, cpus = [wall for wall, _, _ in runs], [cpu for _, cpu, _ in runs]
    return {"endpoint": ENDPOINT, "statements": json.loads(runs[-1][2])["summary"]["statements"],
            "bare_request_s": round(min(bare), 3), **best_and_median("capture", walls),
            "capture_cpu_s": round(statistics.median(cpus), 3), **best_and_median("capture_cpu", cpus),
            "overhead_best_s": round(min(walls) - min(bare), 3),
            "overhead_median_s": round(statistics.median(walls) - statistics.median(bare), 3),
            "overhead_target_s": TARGET_OVERHEAD_S}


def _same_findings(ours: str, theirs: str) -> bool:
    """Both reports name the same statements (by query id and count) and the same findings."""
    def essentials(text: str):
        report = json.loads(text)
        queries = sorted((q["id"], q["count"]) for q in report["queries"])
        findings = sorted((f["rule"], f.get("query_id"), f.get("table")) for f in report["findings"])
        return report["summary"]["statements"], queries, findings

    return essentials(ours) == essentials(theirs)


def _per_tree(figures: dict[Path, dict], trees: tuple[Path, ...]) -> dict:
    """The first tree's figures at the top level (what bench/run.py reads); the other's under "against"."""
    result = dict(figures[trees[0]])
    if len(trees) > 1:
        result["against"] = {"tree": str(trees[1]), **figures[trees[1]]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="captures per tree (default 5)")
    parser.add_argument("--help-runs", type=int, default=10, help="--help starts per tree (default 10)")
    parser.add_argument("--against", type=Path, help="another checkout, measured interleaved with this one")
    args = parser.parse_args()
    trees = (ROOT,) + ((args.against.resolve(),) if args.against else ())
    helps = help_start(sys.executable, args.help_runs, trees)
    captures = capture_overhead(sys.executable, args.repeats, trees)
    against = {"against": {**helps.pop("against"), **captures.pop("against")}} if args.against else {}
    print(json.dumps({**helps, **import_floor(sys.executable), **captures, **against}, indent=2))


if __name__ == "__main__":
    main()
