"""The code stays readable in one screen: no function or method of the package is over 60 lines (#11).

A long function is where the next engineer gets lost; this keeps the limit from creeping back.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "query_audit"
LIMIT = 60


def _functions(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.lineno, node.end_lineno - node.lineno + 1


def test_no_function_is_over_sixty_lines():
    too_long = [f"{path.relative_to(PACKAGE.parent)}:{line} {name} ({length} lines)"
                for path in sorted(PACKAGE.rglob("*.py"))
                for name, line, length in _functions(path) if length > LIMIT]
    assert not too_long, "functions over 60 lines:\n" + "\n".join(too_long)


def test_the_check_sees_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(LIMIT))
    sample = tmp_path / "sample.py"
    sample.write_text(f"def long():\n{body}\n", encoding="utf-8")
    assert [length for _, _, length in _functions(sample)] == [LIMIT + 1]
