"""What shadow verification costs on the sample shop: one capture of four read endpoints with --no-shadow,
then one with the default (a shadow sandbox the tool starts itself), on a private server.

    .venv/bin/python bench/shadow_cost.py test     # 2,000 customers, 500 products (scans from 200 rows)
    .venv/bin/python bench/shadow_cost.py demo     # 100,000 customers, 20,000 products

Prints the wall time of each run, the index suggestions with their verification, and the shadow's notes
(rows copied, seconds, which server judged). Results are in docs/rules.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fixtures.sample_app.harness import prepare_database, running_app  # noqa: E402
from query_audit.connection import parse_dsn  # noqa: E402
from query_audit.sandbox import start_sandbox  # noqa: E402

ENDPOINTS = ["/customers/42/orders", "/products?category=7", "/reports/categories", "/countries"]


def main(scale: str) -> None:
    with start_sandbox(prefer="local") as user, tempfile.TemporaryDirectory() as state:
        settings = parse_dsn(user.dsn)
        prepare_database(settings, scale)
        shop = replace(settings, database="shop")
        env = dict(os.environ, NO_COLOR="1", QUERY_AUDIT_SHADOW="on", QUERY_AUDIT_STATE_DIR=state,
                   QUERY_AUDIT_FULL_SCAN_ROWS="200" if scale == "test" else "1000")
        env.pop("QUERY_AUDIT_SHADOW_DSN", None)
        with running_app(shop.to_dsn(with_password=True)) as url:
            endpoints = [arg for endpoint in ENDPOINTS for arg in ("--endpoint", url + endpoint)]
            for extra in (["--no-shadow"], []):
                started = time.monotonic()
                done = subprocess.run([sys.executable, "-m", "query_audit", "capture", "--dsn", shop.to_dsn(),
                                       *endpoints, "--format", "json", *extra], cwd=REPO, env=env,
                                      capture_output=True, text=True, check=True)
                report = json.loads(done.stdout)
                print(f"{scale} {' '.join(extra) or 'shadow (default)'}: {time.monotonic() - started:.1f} s")
                for finding in report["findings"]:
                    if finding["rule"] == "missing_index" and finding["ddl"]:
                        print(f"  {finding['table']} {finding['columns']}: {finding['verification']}")
                for note in report["notes"]:
                    if "shadow" in note:
                        print(f"  note: {note}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "test")
