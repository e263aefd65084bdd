"""Measure a capture through the general log against one through performance_schema, on the sample shop.

    .venv/bin/python bench/ps_capture.py [--runs 5] [--endpoint /customers/42/orders]

Starts a sandbox (performance_schema on), seeds the shop at test scale, runs the app, then for each
source runs `capture --format json` `--runs` times on the endpoint and prints the median wall time of the
whole command, the statements found and the findings' (rule, table) pairs; for the performance_schema
source also how many times the watcher read prepared_statements_instances per second of replay (its cost
on the server). Not a test: figures vary with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.sample_app.harness import prepare_database, running_app  # noqa: E402
from query_audit.connection import connect, parse_dsn  # noqa: E402
from query_audit.sandbox import start_sandbox  # noqa: E402


def watcher_readings(settings) -> int:
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT_STAR FROM performance_schema.events_statements_summary_by_digest "
                    "WHERE DIGEST_TEXT LIKE '%prepared_statements_instances%' "
                    "AND DIGEST_TEXT LIKE '%OWNER_OBJECT_TYPE%'")
        row = cur.fetchone()
    return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--endpoint", default="/customers/42/orders")
    args = parser.parse_args()
    with start_sandbox(prefer="local") as sandbox:
        settings = parse_dsn(sandbox.dsn)
        dsn = prepare_database(settings, "test")
        shop = parse_dsn(dsn)
        env = dict(os.environ, NO_COLOR="1", QUERY_AUDIT_STATE_DIR=str(ROOT / "bench" / "out" / "state"))
        with running_app(dsn) as base:
            for source in ("general-log", "performance-schema"):
                times, report, readings_before = [], None, watcher_readings(shop)
                for _ in range(args.runs):
                    started = time.perf_counter()
                    done = subprocess.run([sys.executable, "-m", "query_audit", "capture", "--source", source,
                                           "--dsn", shop.to_dsn(), "--endpoint", base + args.endpoint,
                                           "--format", "json"], capture_output=True, text=True, env=env, check=True)
                    times.append(time.perf_counter() - started)
                    report = json.loads(done.stdout)
                window = report["source"]["window_start"], report["source"]["window_end"]
                print(f"{source}: median {statistics.median(times):.2f} s per capture over {args.runs} runs; "
                      f"{report['summary']['statements']} statements; findings "
                      f"{sorted((f['rule'], f['table']) for f in report['findings'])}; last window {window}")
                if source == "performance-schema":
                    print(f"  watcher readings of prepared_statements_instances over {args.runs} captures: "
                          f"{watcher_readings(shop) - readings_before}")


if __name__ == "__main__":
    main()
