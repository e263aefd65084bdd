"""`make bench`: time query-audit against pt-query-digest on generated general and slow logs of 100k and
1M statements, and the capture's own cost on the sample shop.

For each size, log kind (general, slow) and file format (mariadb, mysql8) it generates the log into
bench/out/ (once; --regenerate to redo), runs query-audit in a child process and, when pt-query-digest
is installed, pt-query-digest on the same file, measuring wall time, CPU time (user+sys of the child
and what it waited for, os.wait4) and memory. It prints a table and writes bench/out/results.json.
Then (unless --no-capture) bench/capture_overhead.py: `query-audit --help`, and a capture of the sample
shop's N+1 endpoint against the bare request. The package's modules are byte-compiled first, as an
installed package's are (PYTHONDONTWRITEBYTECODE would otherwise recompile them at every start).

`--path cli` times `python -m query_audit analyze FILE --format json` (what a user runs: reading,
grouping, then parsing each shape with sqlglot, the advisor and the JSON report); `--path library`
times the reading and grouping alone (open_sources + SourceStream.digest_into), the part that scales
with the file;
`both` times the two; `auto` (the default) is `both` when the CLI's `analyze` command is there, else
`library`.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.generate import FORMATS, write_log, write_slow_log

TARGET_CPU_RATIO = 0.2  # query-audit's CPU time against pt-query-digest's, at 1M
TARGET_WALL_RATIO = 0.15  # with a free second core
TARGET_PEAK_PSS_MB = 80  # summed over the process tree
KINDS = ("general", "slow")


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark query-audit against pt-query-digest.")
    parser.add_argument("--sizes", default="100000,1000000", help="statements per log, comma-separated")
    parser.add_argument("--formats", default=",".join(FORMATS), help="log formats: mariadb, mysql8")
    parser.add_argument("--kinds", default=",".join(KINDS), help="log kinds: general, slow")
    parser.add_argument("--readers", choices=("auto", "1", "2"), default="auto",
                        help="force one or two readers (QUERY_AUDIT_READERS) instead of deciding by idle CPU")
    parser.add_argument("--no-capture", action="store_true", help="skip the capture and --help measurements")
    parser.add_argument("--path", choices=("auto", "both", "cli", "library"), default="auto")
    parser.add_argument("--no-pt", action="store_true", help="do not run pt-query-digest")
    parser.add_argument("--regenerate", action="store_true", help="write the logs again")
    parser.add_argument("--out", default=str(HERE / "out"))
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter that runs query-audit (e.g. a venv with sqlglot[c])")
    parser.add_argument("--library-child", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.library_child:
        library_child(args.library_child)
        return

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    compileall.compile_dir(ROOT / "query_audit", quiet=1)
    if args.readers != "auto":
        os.environ["QUERY_AUDIT_READERS"] = args.readers
    paths = choose_paths(args.path)
    pt = None if args.no_pt else shutil.which("pt-query-digest")
    results = []
    for size in (int(value) for value in args.sizes.split(",")):
        for kind in args.kinds.split(","):
            for fmt in args.formats.split(","):
                results += time_log(out, size, kind, fmt, paths, pt, args)

    print(table(results))
    capture = None
    if not args.no_capture:
        from bench.capture_overhead import capture_overhead, help_start, import_floor

        print("timing `query-audit --help` and a capture of the sample shop ...", file=sys.stderr)
        capture = {**help_start(args.python), **import_floor(args.python), **capture_overhead(args.python)}
        print(json.dumps(capture, indent=2))
    document = {"machine": machine(), "load_average": os.getloadavg(), "pt_query_digest": pt_version(pt),
                "results": results, "capture": capture,
                "targets": {"cpu_ratio": TARGET_CPU_RATIO, "wall_ratio": TARGET_WALL_RATIO,
                            "peak_pss_mb": TARGET_PEAK_PSS_MB}}
    (out / "results.json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {out / 'results.json'}", file=sys.stderr)


def time_log(out: Path, size: int, kind: str, fmt: str, paths: list[str], pt: str | None, args) -> list[dict]:
    """Generate one log (once) and time pt-query-digest and query-audit's paths on it."""
    log = out / f"{kind}-{size}-{fmt}.log"
    if args.regenerate or not log.exists():
        print(f"generating {log.name} ...", file=sys.stderr)
        (write_log if kind == "general" else write_slow_log)(log, size, fmt)
    theirs = None
    if pt:
        print(f"timing pt-query-digest on {log.name} ...", file=sys.stderr)
        theirs = measure([pt, "--type", "genlog" if kind == "general" else "slowlog", "--output", "json", str(log)])
    rows = []
    for path in paths:
        print(f"timing query-audit ({path}) on {log.name} ...", file=sys.stderr)
        ours = measure(query_audit_command(path, log, args.python))
        rows.append(result_row(size, f"{kind} {fmt}", log, path, ours, theirs))
    return rows


def choose_paths(wanted: str) -> list[str]:
    if wanted in ("cli", "library"):
        return [wanted]
    if wanted == "both":
        return ["library", "cli"]
    probe = subprocess.run([sys.executable, "-m", "query_audit", "analyze", "--help"], cwd=ROOT,
                           capture_output=True, text=True, check=False)
    return ["library", "cli"] if probe.returncode == 0 else ["library"]


def query_audit_command(path: str, log: Path, python: str) -> list[str]:
    if path == "cli":
        return [python, "-m", "query_audit", "analyze", str(log), "--format", "json"]
    return [python, str(HERE / "run.py"), "--library-child", str(log)]


def library_child(log: str) -> None:
    """The reading and grouping of `analyze`, without parsing, EXPLAIN or the report (the fast path)."""
    from query_audit.analyze.digest import Digest
    from query_audit.sources import open_sources

    stream = open_sources([log])
    digest = Digest()
    stream.digest_into(digest)
    groups = digest.groups()
    print(json.dumps({"statements": digest.statements, "groups": len(groups),
                      "noise_dropped": stream.noise_dropped, "skipped_lines": stream.skipped_lines}))


def measure(command: list[str]) -> dict:
    """Wall time and peak memory of one child process and of the processes it starts; stdout is discarded.

    `peak_rss_mb` is the child's own peak RSS (os.wait4). `tree_peak_rss_mb` is the highest sum of RSS
    over the child and its descendants, sampled every 10 ms: what a big log costs when it is read by two
    processes. RSS counts the pages a forked reader shares with its parent twice, so it is an upper
    bound; `tree_peak_pss_mb` (proportional set size, shared pages split between the sharers) is the
    memory actually in use.
    """
    started = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        child = subprocess.Popen(command, cwd=ROOT, stdout=devnull, stderr=subprocess.PIPE)
        sampler = TreeMemory(child.pid)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        sampler.stop()
        child.returncode = os.waitstatus_to_exitcode(status)
        stderr = child.stderr.read().decode(errors="replace")
        child.stderr.close()
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({child.returncode}): {stderr.strip().splitlines()[-1:]}")
    return {"seconds": round(seconds, 2), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "tree_peak_rss_mb": round(sampler.peak_rss_kb / 1024, 1),
            "tree_peak_pss_mb": round(sampler.peak_pss_kb / 1024, 1)}


class TreeMemory(threading.Thread):
    """Samples the summed RSS and PSS of a process and its descendants (Linux /proc) until stopped."""

    def __init__(self, pid: int, every: float = 0.01):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_rss_kb = self.peak_pss_kb = 0
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.every):
            rss = pss = 0
            for pid in self._tree():
                fields = _rollup(pid)
                rss += fields.get("Rss", 0)
                pss += fields.get("Pss", 0)
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)

    def stop(self) -> None:
        self._stopped.set()
        self.join()

    def _tree(self) -> list[int]:
        found, queue = [], [self.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as children:
                        queue.extend(int(child) for child in children.read().split())
            except OSError:
                continue  # it has just ended
        return found


def _rollup(pid: int) -> dict[str, int]:
    """Rss and Pss of one process in kB, or nothing once it has ended (or while it is a zombie)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return {line.split(":")[0]: int(line.split()[1]) for line in rollup if line.split()[-1:] == ["kB"]}
    except (OSError, ValueError, IndexError):
        return {}


def result_row(size: int, fmt: str, log: Path, path: str, ours: dict, theirs: dict | None) -> dict:
    row = {"statements": size, "format": fmt, "file_mb": round(log.stat().st_size / 2**20, 1), "path": path,
           "query_audit_s": ours["seconds"], "query_audit_cpu_s": ours["cpu_seconds"],
           "query_audit_peak_mb": ours["peak_rss_mb"],
           "query_audit_tree_rss_mb": ours["tree_peak_rss_mb"], "query_audit_tree_pss_mb": ours["tree_peak_pss_mb"]}
    if theirs:
        row.update(pt_s=theirs["seconds"], pt_cpu_s=theirs["cpu_seconds"], pt_peak_mb=theirs["peak_rss_mb"],
                   pt_pss_mb=theirs["tree_peak_pss_mb"],
                   wall_ratio=round(ours["seconds"] / theirs["seconds"], 3),
                   cpu_ratio=round(ours["cpu_seconds"] / max(theirs["cpu_seconds"], 0.01), 3))
    return row


def table(results: list[dict]) -> str:
    from tabulate import tabulate

    headers = ["statements", "log", "file MB", "path", "wall s", "CPU s", "all processes: RSS MB", "PSS MB",
               "pt wall s", "pt CPU s", "pt PSS MB", "wall ratio", "CPU ratio"]
    rows = [[r["statements"], r["format"], r["file_mb"], r["path"], r["query_audit_s"], r["query_audit_cpu_s"],
             r["query_audit_tree_rss_mb"], r["query_audit_tree_pss_mb"],
             r.get("pt_s", "-"), r.get("pt_cpu_s", "-"), r.get("pt_pss_mb", "-"), r.get("wall_ratio", "-"),
             r.get("cpu_ratio", "-")] for r in results]
    return tabulate(rows, headers=headers)


def machine() -> dict:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}


def pt_version(pt: str | None) -> str | None:
    if not pt:
        return None
    return subprocess.run([pt, "--version"], capture_output=True, text=True, check=False).stdout.strip()


if __name__ == "__main__":
    main()
