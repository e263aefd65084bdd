"""The command line leaves its objects to the system at exit: the interpreter's last collections would walk
every object still in a reference cycle (the classes and functions of click, PyMySQL, sqlglot and the
project: ~15% of a capture's CPU, issue 12), so `main` freezes them before the interpreter exits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from query_audit import __version__

REPO = Path(__file__).resolve().parent.parent

# A handler registered before `main` runs after the ones `main` registers (atexit is last in, first out).
PROBE = """
import atexit, gc, sys
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0, file=sys.stderr))
from query_audit.cli import main
main(sys.argv[1:])
"""


def test_the_command_line_freezes_its_objects_before_the_interpreter_exits():
    done = subprocess.run([sys.executable, "-c", PROBE, "--version"], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0 and __version__ in done.stdout, done.stderr
    assert "frozen at exit: True" in done.stderr


def test_a_command_that_fails_still_says_why_and_freezes_at_exit():
    done = subprocess.run([sys.executable, "-c", PROBE, "analyze", "/nonexistent/general.log"], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "query-audit:" in done.stderr
    assert "frozen at exit: True" in done.stderr
