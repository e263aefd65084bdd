"""pt-query-digest and query-audit alternately on one log: `python bench/against_pt.py LOG TYPE ROUNDS`.

TYPE is pt-query-digest's `--type` (genlog or slowlog). Each round runs pt-query-digest (`--output json`),
then `analyze LOG --format json` with one reader, then with two, and prints each one's wall and CPU time
(user+sys of the process and what it waited for, `os.wait4`) with the CPU ratio of one reader and the wall
ratio of two. pt's own time moves by ~10% between runs of a quiet afternoon, so a ratio is only worth the
pair it was measured in; this keeps each pair a few seconds apart.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(command: list[str], readers: str | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one run, its output discarded."""
    env = dict(os.environ, QUERY_AUDIT_READERS=readers) if readers else None
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        sys.exit(f"{command[0]} failed (wait status {status})")
    return round(time.perf_counter() - started, 2), round(usage.ru_utime + usage.ru_stime, 2)


def main() -> None:
    log, kind, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ours = [sys.executable, "-m", "query_audit", "analyze", log, "--format", "json"]
    for number in range(rounds):
        pt = timed(["pt-query-digest", "--type", kind, "--output", "json", log])
        one = timed(ours, "1")
        two = timed(ours, "2")
        print(f"{number} pt wall/CPU {pt}  one reader {one} CPU ratio {one[1] / pt[1]:.3f}  "
              f"two readers {two} wall ratio {two[0] / pt[0]:.3f}", flush=True)


if __name__ == "__main__":
    main()
