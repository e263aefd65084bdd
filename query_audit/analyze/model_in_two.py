"""Many distinct statements modelled by two processes, when a second core is idle.

After a big log is read, sqlglot parses each group's sample: about 0.7 ms a statement, 1.3 s for the 1,833
shapes of the 1M-statement benchmark log, on one core while the other (the second reader's) has nothing
left to do. A forked child (`processes.beside_a_child`, as the second reader is) models the second half and
answers with the models, which are plain records (~25 ms to send the 1,833 and to read them back); this
process models the first half meanwhile. The models are the same either way: `describe` reads its text
only. The child costs memory while it runs (+12-15 MB at 1M: it copies the pages of the sqlglot objects it
touches, reference counts being writes). If it fails without an answer, this process models its half too.
"""

from __future__ import annotations

from collections.abc import Callable

from query_audit.analyze.sql_model import describe, forget_parsed
from query_audit.model import StatementModel
from query_audit.processes import CpuSample, NoChild, beside_a_child, can_fork, forced_processes, second_core_idle

Progress = Callable[[str, int, int], None]
# Below this many statements (~0.3 s of parsing), the fork and the answer cost more than they save.
TWO_MODELLERS_MIN_STATEMENTS = 400


def describe_all(texts: list[str], progress: Progress, idle_since: CpuSample | None = None) -> list[StatementModel]:
    """`describe` of each text, in order, in two processes when there are many and a second core has been
    idle since `idle_since`; `progress("parsing", done, total)` as they are done."""
    if not _two_modellers_pay(len(texts), idle_since):
        return _described(texts, progress, len(texts))
    half = len(texts) // 2

    def first_half() -> list[StatementModel]:  # its count stands for both: the child keeps about the same pace
        return _described(texts[:half], lambda stage, done, total: progress(stage, 2 * done, total), len(texts))

    try:
        mine, theirs = beside_a_child(lambda: _child(texts[half:]), first_half, "query-audit models")
    except NoChild:
        return _described(texts, progress, len(texts))
    if theirs is None:
        theirs = _described(texts[half:], lambda stage, done, total: None, len(texts))
    progress("parsing", len(texts), len(texts))
    return mine + theirs


def _two_modellers_pay(statements: int, idle_since: CpuSample | None) -> bool:
    forced = forced_processes()
    if statements < TWO_MODELLERS_MIN_STATEMENTS or not can_fork():
        return False
    return forced == 2 if forced is not None else second_core_idle(idle_since)


def _described(texts: list[str], progress: Progress, total: int, keep_trees: bool = True) -> list[StatementModel]:
    models = []
    for text in texts:
        models.append(describe(text))
        if not keep_trees:
            forget_parsed()
        progress("parsing", len(models), total)
    return models


def _child(texts: list[str]) -> list[StatementModel]:
    """In the forked child: the models of `texts`. Its trees go as soon as each model is made: only the
    models are sent, and a tree takes ~100 bytes per byte of SQL (the parse cache would keep 256 of them,
    megabytes, for no one)."""
    return _described(texts, lambda stage, done, total: None, len(texts), keep_trees=False)
