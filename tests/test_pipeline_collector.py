"""The analysis after the reading runs with cheaper garbage collections (collector.collecting_less), and leaves
Python's collector exactly as it found it: a library call must not change the process it runs in."""

from __future__ import annotations

import gc

import pytest

import query_audit.pipeline as pipeline
from query_audit.collector import collecting_less
from query_audit.pipeline import AnalysisOptions, analyze_stream
from query_audit.sources import open_sources


def test_inside_the_collector_skips_what_was_alive_on_the_way_in():
    kept = [[] for _ in range(10)]
    with collecting_less():
        assert gc.get_freeze_count() >= len(kept)  # the objects alive on the way in, `kept` among them
    assert gc.get_freeze_count() == 0
    assert kept


def test_what_was_frozen_before_stays_frozen():
    gc.freeze()
    try:
        with collecting_less():
            with collecting_less():
                pass
            assert gc.get_freeze_count() > 0  # the inner one did not unfreeze the outer one's objects
        assert gc.get_freeze_count() > 0  # nor the outer one what this test froze
    finally:
        gc.unfreeze()


def test_the_collector_is_put_back_even_when_the_analysis_fails(monkeypatch, tmp_path):
    before = gc.get_threshold()
    seen = {}

    def failing_models(groups, progress, idle_since=None):
        seen["frozen"] = gc.get_freeze_count()
        raise RuntimeError("the model failed")

    monkeypatch.setattr(pipeline, "_model_groups", failing_models)
    log = tmp_path / "capture.json"
    log.write_text('{"format": "query-audit-capture", "version": 1, "statements": [{"sql": "SELECT 1"}]}')
    with pytest.raises(RuntimeError, match="the model failed"):
        analyze_stream(open_sources([str(log)]), AnalysisOptions())
    assert seen["frozen"] > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
