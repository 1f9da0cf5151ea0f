"""analysis.stats.competing on degenerate input (issue 13): a right answer or a clear error naming
the column and rule, never a numpy/pandas internal error; and Fine-Gray's O(n) memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest

from analysis.stats.competing import cumulative_incidence, fine_gray, gray_test
from analysis.stats.survival import km_estimates
from tests.test_stats_competing import HAND, simulated


def test_no_events_of_any_cause_is_a_clear_error_or_zero_when_the_cause_is_named():
    censored = HAND.assign(EVNTTYPE=0)
    with pytest.raises(ValueError, match=r"column 'EVNTTYPE' has no events of any cause"):
        cumulative_incidence(censored, "ARM", [1, 5])
    named = cumulative_incidence(censored, "ARM", [1, 5], causes=[1])
    # no event: F = 0 with variance 0 (nothing has happened); n_risk still counts the subjects
    assert (named["cif"] == 0).all() and (named["std_err"] == 0).all() and (named["n_event"] == 0).all()
    assert list(named["n_risk"]) == [10, 4, 11, 10]  # A: times >= 1, >= 5; B: the same
    with pytest.raises(ValueError, match="causes must be one or more positive event codes"):
        cumulative_incidence(HAND, "ARM", [1], causes=[])
    with pytest.raises(ValueError, match=r"column 'EVNTTYPE' has no events of any cause"):
        gray_test(censored, "ARM", cause=None)


def test_non_finite_time_point_is_refused_like_km_estimates():
    frame = HAND.assign(CNSR=(HAND["EVNTTYPE"] == 0).astype(int))
    for function in (lambda t: cumulative_incidence(HAND, "ARM", t), lambda t: km_estimates(frame, "ARM", t)):
        with pytest.raises(ValueError, match="times must be one or more finite numbers"):
            function([1.0, np.nan])
        with pytest.raises(ValueError, match="times must be one or more finite numbers"):
            function([np.inf])


def test_several_adam_parameters_are_refused_unless_grouped():
    two = pd.concat([HAND.assign(PARAMCD="OS"), HAND.assign(PARAMCD="EFS")], ignore_index=True)
    for function in (lambda: cumulative_incidence(two, "ARM", [3]), lambda: gray_test(two, "ARM"),
                     lambda: fine_gray(two, "ARM")):
        with pytest.raises(ValueError, match=r"column 'PARAMCD' holds several parameters \['EFS', 'OS'\]"):
            function()
    by_param = cumulative_incidence(two, "PARAMCD", [3], causes=[1])
    assert list(by_param["PARAMCD"]) == ["EFS", "OS"] and by_param["cif"].iloc[0] == by_param["cif"].iloc[1]
    assert len(gray_test(two, "ARM", strata="PARAMCD")) == 1


@pytest.mark.parametrize("covariates,named", [(["AGE", "AGE2"], "AGE2"), (["XDUMMY"], "XDUMMY")])
def test_fine_gray_collinear_terms_are_named(covariates, named):
    df = simulated(n=120, seed=3)
    df = df.assign(AGE2=2 * df["AGE"] - 1, XDUMMY=(df["GRP"] == "Z").astype(float))
    with pytest.raises(ValueError, match=rf"model term\(s\) \['{named}'\] are linear combinations"):
        fine_gray(df, "GRP", covariates=covariates)


def test_fine_gray_memory_is_linear_in_n():
    """4,000 subjects, ~1,200 cause-1 events: the old n_events x n weight matrices peaked at 270 MB
    (13 s); cumulative sums need a few MB. 20 MB leaves room for the data and a p^2 copy per row."""
    df = simulated(n=4000, seed=5)
    tracemalloc.start()
    try:
        fit = fine_gray(df, "GRP", covariates=["AGE"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fit["converged"].all()
    assert peak < 20 * 2 ** 20, f"peak traced memory {peak / 2 ** 20:.1f} MB"
