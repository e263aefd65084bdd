"""Many statements are modelled by two processes when that pays (analyze/model_in_two.py): the models are
the same, in the same order, whatever the child does; a few statements, or one core, are one process's."""

from __future__ import annotations

import os

import pytest

from query_audit import processes
from query_audit.analyze import model_in_two
from query_audit.analyze.sql_model import describe

TEXTS = [f"SELECT id, name FROM t{n % 7} WHERE a = {n} AND b IN (1, 2) ORDER BY id LIMIT {n}" for n in range(60)] + [
    "INSERT INTO t (a, b) VALUES (1, 2), (3, 4)", "UPDATE t SET a = 1 WHERE id = 2", "CALL p(1)", "SELEC broken",
    "DELETE FROM t WHERE id IN (SELECT id FROM u WHERE x > 3)", "",
]


@pytest.fixture
def few_are_many(monkeypatch):
    """Two processes for this handful of statements (the threshold is for real logs' thousands)."""
    monkeypatch.setattr(model_in_two, "TWO_MODELLERS_MIN_STATEMENTS", 10)
    monkeypatch.setenv(processes.READERS_VARIABLE, "2")


def forks_counted(monkeypatch) -> list:
    started = []
    real = model_in_two.beside_a_child

    def counting(child_work, own_work, name):
        started.append(name)
        return real(child_work, own_work, name)

    monkeypatch.setattr(model_in_two, "beside_a_child", counting)
    return started


def test_two_processes_make_the_same_models_in_the_same_order(few_are_many, monkeypatch):
    started = forks_counted(monkeypatch)
    progress = []
    models = model_in_two.describe_all(TEXTS, lambda stage, done, total: progress.append((stage, done, total)))
    assert started == ["query-audit models"]
    assert models == [describe(text) for text in TEXTS]
    assert progress[-1] == ("parsing", len(TEXTS), len(TEXTS))
    assert all(done <= total == len(TEXTS) for _, done, total in progress)


def test_a_child_that_fails_leaves_its_half_to_this_process(few_are_many, monkeypatch, capfd):
    monkeypatch.setattr(model_in_two, "_child", lambda texts: os._exit(3))
    started = forks_counted(monkeypatch)
    models = model_in_two.describe_all(TEXTS, lambda stage, done, total: None)
    assert started and models == [describe(text) for text in TEXTS]
    assert "Traceback" not in capfd.readouterr().err


def test_a_child_whose_models_fail_exits_without_a_traceback(few_are_many, monkeypatch, capfd):
    parent = os.getpid()

    def broken_in_the_child(text):
        if os.getpid() != parent:
            raise RuntimeError("the child's describe broke")
        return describe(text)

    monkeypatch.setattr(model_in_two, "describe", broken_in_the_child)
    models = model_in_two.describe_all(TEXTS, lambda stage, done, total: None)
    assert models == [describe(text) for text in TEXTS]
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("why", ["few statements", "one process asked for", "no fork"])
def test_one_process_when_a_second_does_not_pay(why, monkeypatch):
    monkeypatch.setenv(processes.READERS_VARIABLE, "2")
    if why == "few statements":
        assert len(TEXTS) < model_in_two.TWO_MODELLERS_MIN_STATEMENTS
    else:
        monkeypatch.setattr(model_in_two, "TWO_MODELLERS_MIN_STATEMENTS", 10)
    if why == "one process asked for":
        monkeypatch.setenv(processes.READERS_VARIABLE, "1")
    if why == "no fork":
        monkeypatch.setattr(model_in_two, "can_fork", lambda: False)
    monkeypatch.setattr(model_in_two, "beside_a_child", lambda *args: pytest.fail("forked"))
    assert model_in_two.describe_all(TEXTS, lambda stage, done, total: None) == [describe(text) for text in TEXTS]


def test_without_an_override_an_idle_second_core_decides(monkeypatch):
    monkeypatch.delenv(processes.READERS_VARIABLE, raising=False)
    monkeypatch.setattr(processes, "usable_cpus", lambda: 2)
    monkeypatch.setattr(processes, "idle_cpus", lambda **_: 2.0)
    assert model_in_two._two_modellers_pay(5000, None)
    monkeypatch.setattr(processes, "idle_cpus", lambda **_: 1.2)  # another process keeps a core mostly busy
    assert not model_in_two._two_modellers_pay(5000, None)
    assert not model_in_two._two_modellers_pay(10, None)


def test_the_child_keeps_no_trees(few_are_many, monkeypatch):
    """Only the models go back: the child empties the parse cache after each statement."""
    from query_audit.analyze import sql_model

    sql_model.forget_parsed()
    models = model_in_two._described(TEXTS[:5], lambda stage, done, total: None, 5, keep_trees=False)
    assert models == [describe(text) for text in TEXTS[:5]]
    sql_model.forget_parsed()
    model_in_two._described(TEXTS[:5], lambda stage, done, total: None, 5, keep_trees=False)
    assert sql_model._parse_once.cache_info().currsize == 0
    model_in_two._described(TEXTS[:5], lambda stage, done, total: None, 5)
    assert sql_model._parse_once.cache_info().currsize == 5
