"""What the batching rules share: finding the units in which one statement shape ran in a loop."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from query_audit.analyze.loops import loops
from query_audit.model import AnalyzedQuery, QueryGroup, Repetition, Severity


def looping(queries: Iterable[AnalyzedQuery], minimum: int, *,
            distinct: bool | None) -> Iterator[tuple[AnalyzedQuery, list[Repetition]]]:
    """(query, its `loops`, worst first) for each query that ran in such a loop somewhere."""
    for query in queries:
        found = loops(query.group, minimum, distinct=distinct)
        if found:
            yield query, found


def loop_severity(worst: Repetition, minimum: int, *, usual: Severity, many: Severity) -> Severity:
    """`many` from ten times the rule's threshold of runs in one unit, else `usual`."""
    return many if worst.count >= 10 * minimum else usual


def write_loop_evidence(found: list[Repetition], group: QueryGroup, **specific) -> dict:
    """`loop_evidence`, the rule's own figures, then how the worst unit's writes were committed."""
    worst = found[0]
    return {**loop_evidence(found, group), **specific, "in_transaction": worst.in_transaction,
            "transactions": worst.transactions}


def loop_evidence(found: list[Repetition], group: QueryGroup | None = None) -> dict:
    """The loop's figures, each true: where the Digest dropped units to bound memory, `units` counts the ones
    kept and `more_units_pruned` says how many more ran the shape twice or more (the loop may be there too);
    a capped distinct count is a lower bound (`distinct_values_at_least`)."""
    worst = found[0]
    evidence = {
        "units": len(found),
        "worst_unit": worst.unit,
        "runs_in_worst_unit": worst.count,
        "distinct_values_in_worst_unit": worst.distinct_values,
        "runs_per_unit": {rep.unit: rep.count for rep in found},
    }
    if worst.values_capped:
        evidence["distinct_values_at_least"] = True
    if group is not None and group.pruned_repeated_units:
        evidence["more_units_pruned"] = group.pruned_repeated_units
    return evidence


def units_phrase(found: list[Repetition], group: QueryGroup) -> str:
    """`` or ` (in 3 units; up to 9,706 more connections ran it twice or more, ...)`: the reach beyond the worst
    unit, never the kept sample passed off as the total."""
    pruned = group.pruned_repeated_units
    if len(found) < 2 and not pruned:
        return ""
    text = f" (in {len(found)} unit{'s' if len(found) != 1 else ''}"
    if pruned:
        text += (f"; {pruned:,} more connection{'s' if pruned != 1 else ''} ran it twice or more, whose "
                 "details were dropped to bound memory")
    return text + ")"


def values_phrase(repetition: Repetition) -> str:
    """`12 different values`, or `at least 16 different values` when the Digest stopped counting."""
    return ("at least " if repetition.values_capped else "") + f"{repetition.distinct_values} different values"


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
