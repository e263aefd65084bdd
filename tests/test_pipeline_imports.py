"""A capture imports the analysis while it waits on the network (pipeline.importing_analysis_meanwhile): the
list of modules is the analysis's own, the thread is over when the body is, and the process is left as it
was found (the interpreter's switch interval)."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import query_audit.pipeline as pipeline

REPO = Path(__file__).resolve().parent.parent

# Imported by the analysis only when an option asks for them, or already loaded with the pipeline module.
ONLY_WHEN_ASKED = {"query_audit.advise.shadow", "query_audit.advise.capacity", "query_audit.advise.verify",
                   "query_audit.errors", "query_audit.connection", "collections"}


def _imports_inside_functions() -> set[str]:
    tree = ast.parse(inspect.getsource(pipeline))
    return {node.module for function in ast.walk(tree) if isinstance(function, ast.FunctionDef)
            for node in ast.walk(function) if isinstance(node, ast.ImportFrom)}


def test_the_modules_imported_meanwhile_are_those_the_analysis_imports_when_it_starts():
    assert set(pipeline.ANALYSIS_MODULES) == _imports_inside_functions() - ONLY_WHEN_ASKED


def _run(code: str) -> str:
    """`code` in a new interpreter (this one has sqlglot loaded already); its standard output."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_analysis_is_imported_by_the_end_of_the_body_and_the_thread_is_over():
    out = _run("""
        import sys, threading
        from query_audit.pipeline import ANALYSIS_MODULES, importing_analysis_meanwhile
        assert "sqlglot" not in sys.modules
        usual = sys.getswitchinterval()
        with importing_analysis_meanwhile():
            inside = sys.getswitchinterval()
        print(all(name in sys.modules for name in ANALYSIS_MODULES), "sqlglot" in sys.modules)
        print(threading.active_count(), inside < usual, sys.getswitchinterval() == usual)
    """)
    assert out.split() == ["True", "True", "1", "True", "True"]


def test_the_short_switch_interval_lasts_only_while_the_import_runs(tmp_path):
    """The body may run long (a --run command, performance_schema's polling thread): once the import is done,
    the interpreter switches threads as usual again, before the body ends."""
    (tmp_path / "slow_to_import.py").write_text("import time\ntime.sleep(0.5)\n")
    out = _run(f"""
        import sys, threading
        sys.path.insert(0, {str(tmp_path)!r})
        from query_audit import pipeline
        pipeline.ANALYSIS_MODULES = ("slow_to_import",)
        usual = sys.getswitchinterval()
        with pipeline.importing_analysis_meanwhile():
            while_importing = sys.getswitchinterval()
            (thread,) = [t for t in threading.enumerate() if t.name == "import-analysis"]
            thread.join()
            after_the_import = sys.getswitchinterval()
        print(while_importing < usual, after_the_import == usual)
    """)
    assert out.split() == ["True", "True"]


def test_without_a_thread_to_be_had_the_body_runs_and_the_interval_is_put_back(monkeypatch):
    usual = sys.getswitchinterval()

    def refused(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(pipeline.threading.Thread, "start", refused)
    ran = []
    with pipeline.importing_analysis_meanwhile():
        ran.append(sys.getswitchinterval())
    assert ran == [usual] and sys.getswitchinterval() == usual


def test_a_failing_body_still_ends_the_thread_and_puts_the_switch_interval_back():
    out = _run("""
        import sys, threading
        from query_audit.pipeline import importing_analysis_meanwhile
        usual = sys.getswitchinterval()
        try:
            with importing_analysis_meanwhile():
                raise KeyboardInterrupt
        except KeyboardInterrupt:
            print(threading.active_count(), sys.getswitchinterval() == usual)
    """)
    assert out.split() == ["1", "True"]


def test_a_module_that_fails_to_import_fails_where_the_analysis_imports_it(monkeypatch):
    monkeypatch.setattr(pipeline, "ANALYSIS_MODULES", ("query_audit.no_such_module", "json"))
    with pipeline.importing_analysis_meanwhile():
        pass  # the thread swallowed its error and ended
    with pytest.raises(ModuleNotFoundError, match="query_audit.no_such_module"):
        __import__("query_audit.no_such_module")


def test_the_import_thread_blocks_the_cleanup_signals_so_only_the_main_thread_takes_them(tmp_path):
    """A signal taken by another thread still runs its handler in the main thread, even inside the restore
    that `signals_blocked` holds signals back from: the import thread must never be the one to take it."""
    (tmp_path / "slow_to_import.py").write_text("import time\ntime.sleep(1)\n")
    out = _run(f"""
        import signal, sys, threading
        sys.path.insert(0, {str(tmp_path)!r})
        from query_audit import pipeline
        from query_audit.interrupts import CLEANUP_SIGNALS
        pipeline.ANALYSIS_MODULES = ("slow_to_import",)
        with pipeline.importing_analysis_meanwhile():
            (thread,) = [t for t in threading.enumerate() if t.name == "import-analysis"]
            with open(f"/proc/self/task/{{thread.native_id}}/status") as status:
                blocked = int(next(line for line in status if line.startswith("SigBlk:")).split()[1], 16)
            mine = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        print(all(blocked >> (sig - 1) & 1 for sig in CLEANUP_SIGNALS), not set(CLEANUP_SIGNALS) & mine)
    """)
    assert out.split() == ["True", "True"]
