"""The samples a rule can quote survive `with_quoted_samples_only`; the others go before the analysis."""

from __future__ import annotations

import itertools
import subprocess
import sys
from dataclasses import replace

from advise_cases.build import query

from query_audit.advise.rules._loops import samples_of
from query_audit.analyze.loops import loops, with_quoted_samples_only
from query_audit.model import Repetition
from query_audit.redact import Redactor


def repetition(unit: int, count: int, distinct: int) -> Repetition:
    return Repetition(f"thread {unit}", count, distinct, tuple(f"SELECT {unit}, {n}" for n in range(min(count, 5))))


# Ties on the count, both kinds of loop, units below any threshold: every case of "the worst".
REPETITIONS = tuple(repetition(unit, count, distinct) for unit, (count, distinct) in enumerate(
    [(2, 1), (7, 7), (3, 1), (7, 2), (9, 1), (9, 1), (4, 4), (9, 3), (2, 2), (9, 9)]))


def test_every_loop_a_rule_can_quote_keeps_its_samples():
    group = query("SELECT 1", repetitions=REPETITIONS).group
    pruned = with_quoted_samples_only(group)
    for distinct, minimum in itertools.product((None, True, False), range(1, 12)):
        before, after = loops(group, minimum, distinct=distinct), loops(pruned, minimum, distinct=distinct)
        assert [rep.unit for rep in before] == [rep.unit for rep in after]
        if before:
            assert samples_of(pruned, after[0]) == samples_of(group, before[0]) == before[0].samples


def test_the_samples_no_rule_quotes_are_dropped_and_the_counts_stay():
    group = query("SELECT 1", repetitions=REPETITIONS).group
    pruned = with_quoted_samples_only(group)
    assert sum(1 for rep in pruned.repetitions if rep.samples) == 2  # the first 9-run loop of each kind
    assert [replace(rep, samples=()) for rep in pruned.repetitions] == \
        [replace(rep, samples=()) for rep in group.repetitions]


def test_a_group_without_samples_is_returned_as_it_is():
    group = query("SELECT 1", repetitions=(replace(REPETITIONS[0], samples=()),)).group
    assert with_quoted_samples_only(group) is group


def test_the_samples_kept_are_equal_copies_in_new_memory():
    """The originals are scattered among the reading's freed lines: a copy lets those pools be used again."""
    group = query("SELECT 1", repetitions=REPETITIONS[:1]).group
    kept, = with_quoted_samples_only(group).repetitions
    assert kept.samples == REPETITIONS[0].samples
    assert all(copy is not original for copy, original in zip(kept.samples, REPETITIONS[0].samples, strict=True))


def test_the_pipeline_drops_samples_without_importing_sqlglot():
    code = "import sys, query_audit.pipeline; assert 'sqlglot' not in sys.modules, 'sqlglot imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_statement_without_secrets_is_not_copied():
    sql = "SELECT * FROM users WHERE name = 'ann' AND id = 0x1F"
    assert Redactor().sql(sql) is sql
