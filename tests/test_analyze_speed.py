"""Issue 15 plumbing of the analyze step: the ARD does not depend on whether its descriptive
sections ran in a forked process, an error there surfaces as itself, and the propensity model of
the full data is fitted once per analyze (it was fitted twice)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis import ard
from analysis.analyze import external, pipeline, sections

REPO = Path(__file__).resolve().parents[1]
LOCKED = REPO / "data" / "locked"


def locked_derived() -> tuple[dict[str, pd.DataFrame], str]:
    """The derived datasets of the first locked cut (shipped with the repository)."""
    cut = sorted(p.name for p in LOCKED.iterdir() if (p / "derived" / "adsl.parquet").exists())[0]
    return {d: pd.read_parquet(LOCKED / cut / "derived" / f"{d}.parquet") for d in pipeline.DATASETS}, cut


@pytest.fixture(scope="module")
def derived():
    return locked_derived()


def test_ard_bytes_do_not_depend_on_the_forked_sections(derived, monkeypatch):
    data, cut = derived
    monkeypatch.setenv(sections.WORKERS_ENV, "1")
    assert not sections.may_fork()
    serial = ard.to_csv_bytes(pipeline.build_ard(data, cut))
    monkeypatch.setenv(sections.WORKERS_ENV, "2")
    if not sections.may_fork():
        pytest.skip("this platform cannot fork")
    forked = ard.to_csv_bytes(pipeline.build_ard(data, cut))
    assert forked == serial


def test_an_error_in_the_forked_sections_surfaces_as_itself(monkeypatch):
    monkeypatch.setenv(sections.WORKERS_ENV, "2")
    if not sections.may_fork():
        pytest.skip("this platform cannot fork")
    calls = []

    def bad():
        calls.append(1)   # in the child this list is the child's copy: the parent sees its own call only
        raise ValueError("ADAE row 7: AETOXGR 9 not a CTCAE grade")

    job = sections.Forked(bad)
    assert job.proc is not None
    with pytest.raises(ValueError, match="AETOXGR 9"):
        job.result()
    assert calls == [1], "recomputed once here, where the error is raised"
    assert sections.Forked(lambda: [pd.DataFrame({"a": [1.5]})]).result()[0]["a"].tolist() == [1.5]


def test_propensity_model_fitted_once_per_analyze(derived, monkeypatch):
    """Old code: external.weighted_rows and target_trial.comparison_rows each called
    subject_weights (two identical fits of the propensity model on the full data)."""
    data, cut = derived
    monkeypatch.setenv(sections.WORKERS_ENV, "1")
    fits = []
    real = external.att_weights

    def counted(*args, **kwargs):
        fits.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(external, "att_weights", counted)
    pipeline.build_ard(data, cut)
    assert len(fits) == 1
