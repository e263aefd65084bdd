"""What the batching rules share: finding the units in which one statement shape ran in a loop."""

from __future__ import annotations

from query_audit.model import QueryGroup, Repetition


def loops(group: QueryGroup, minimum: int, *, distinct: bool) -> list[Repetition]:
    """Repetitions of at least `minimum` runs: with different values (`distinct`) or all the same.

    Worst first (most runs), so the first one is the example the finding quotes.
    """
    found = [rep for rep in group.repetitions
             if rep.count >= minimum and ((rep.distinct_values >= 2) if distinct else (rep.distinct_values == 1))]
    return sorted(found, key=lambda rep: -rep.count)


def loop_evidence(found: list[Repetition]) -> dict:
    worst = found[0]
    return {
        "units": len(found),
        "worst_unit": worst.unit,
        "runs_in_worst_unit": worst.count,
        "distinct_values_in_worst_unit": worst.distinct_values,
        "runs_per_unit": {rep.unit: rep.count for rep in found},
    }


def samples_of(group: QueryGroup, repetition: Repetition) -> tuple[str, ...]:
    return repetition.samples or (group.sample.sql,)


def transaction_phrase(repetition: Repetition) -> str:
    """How the loop's runs were committed: in one transaction, in several, or each on its own (autocommit)."""
    runs, inside, transactions = repetition.count, repetition.in_transaction, repetition.transactions
    if inside == 0:
        return "each in autocommit: its own transaction, commit and log flush"
    if inside == runs and transactions == 1:
        return "all inside one transaction: one commit, but still one round trip each"
    spread = f"{transactions} transaction{'s' if transactions != 1 else ''}"
    if inside == runs:
        return f"spread over {spread}: a commit each"
    return f"{inside} of {runs} inside {spread}, the other {runs - inside} in autocommit (a commit each)"


def in_one_transaction(repetition: Repetition) -> bool:
    return repetition.in_transaction == repetition.count and repetition.transactions == 1
