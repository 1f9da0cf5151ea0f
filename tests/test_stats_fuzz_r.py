"""Differential fuzz against R, the modest run of `make test` (profile "ci": 30 derandomised data
sets); `make fuzz` runs 1,000 (tests/fuzz/run.py states the data, methods and agreement rules)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.fuzz import run

pytestmark = pytest.mark.needs_r


def test_every_method_agrees_with_r_on_fuzzed_data(monkeypatch):
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "ci")
    datasets = run.draw_datasets()
    assert len(datasets) >= 25  # hypothesis may draw a few duplicates; nearly all are distinct
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        theirs = run.r_rows(datasets, Path(tmp))
    summary, bad = run.compare(datasets, theirs)
    print(summary.to_string(index=False))
    assert bad == [], f"data sets {bad} disagree with R:\n{summary.to_string(index=False)}"
    assert (summary["agreed"] + summary["r_failed"] == len(datasets)).all()
