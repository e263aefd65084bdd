"""Which repetitions of a shape are loops, and which of them a rule quotes samples of.

Apart from the rules (`advise/rules/_loops.py`) so that the pipeline can drop the samples no rule
reads before sqlglot and the advisor are imported: this module imports neither.
"""

from __future__ import annotations

from dataclasses import replace

from query_audit.analyze.digest import fresh_copy
from query_audit.model import QueryGroup, Repetition


def loops(group: QueryGroup, minimum: int, *, distinct: bool | None) -> list[Repetition]:
    """Repetitions of at least `minimum` runs: with different values (`distinct`), all the same (False),
    or either (None).

    Worst first (most runs), so the first one is the example the finding quotes.
    """
    found = [rep for rep in group.repetitions if rep.count >= minimum and _is_loop(rep, distinct)]
    return sorted(found, key=lambda rep: -rep.count)


def _is_loop(repetition: Repetition, distinct: bool | None) -> bool:
    if distinct is None:
        return True
    return repetition.distinct_values >= 2 if distinct else repetition.distinct_values == 1


def with_quoted_samples_only(group: QueryGroup) -> QueryGroup:
    """`group` with samples kept only in the repetitions a rule can quote (`samples_of` the worst of
    `loops`): per kind of loop, the first of those with the most runs. The others' samples are never
    read, and at 1M statements they are ~12 MB alive through sqlglot, the advisor and the report."""
    repetitions = group.repetitions
    quoted = set()
    for distinct in (None, True, False):
        in_loop = [index for index, rep in enumerate(repetitions) if _is_loop(rep, distinct)]
        if in_loop:
            quoted.add(min(in_loop, key=lambda index: -repetitions[index].count))
    if not any(rep.samples for rep in repetitions):
        return group
    return replace(group, repetitions=tuple(
        replace(rep, samples=tuple(fresh_copy(sample) for sample in rep.samples) if index in quoted else ())
        for index, rep in enumerate(repetitions)))
