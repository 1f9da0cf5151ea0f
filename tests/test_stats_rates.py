"""analysis.stats.rates.binomial_rate against R binom.test / prop.test, scipy (Wilson) and the
binomial tail equations that define the Clopper-Pearson interval.

Tolerances: 1e-10 relative against scipy and R for the exact and Wilson limits (both are
closed-form or beta quantiles); the Wald interval is checked against its formula by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom, binomtest

from analysis.stats.rates import binomial_rate
from tests.rref import run_r

CASES = [(0, 10), (1, 10), (5, 10), (9, 10), (10, 10), (7, 23), (0, 1), (1, 1), (37, 120)]
RTOL = 1e-10


@pytest.mark.parametrize("conf_level", [0.95, 0.90])
def test_wilson_limits_match_scipy_binomtest(conf_level):
    xs, ns = zip(*CASES)
    ours = binomial_rate(xs, ns, conf_level=conf_level, method="wilson")
    for row, (x, n) in zip(ours.itertuples(), CASES):
        ci = binomtest(x, n).proportion_ci(confidence_level=conf_level, method="wilson")
        assert row.lcl == pytest.approx(ci.low, rel=RTOL, abs=1e-14)
        assert row.ucl == pytest.approx(ci.high, rel=RTOL, abs=1e-14)
        assert row.rate == x / n


@pytest.mark.parametrize("conf_level", [0.95, 0.90])
def test_clopper_pearson_limits_solve_the_binomial_tail_equations(conf_level):
    """The defining property (Clopper & Pearson 1934), through the binomial distribution rather than
    the beta quantile our code (and scipy's "exact") uses: P(X >= x | p_L) = alpha/2 and
    P(X <= x | p_U) = alpha/2, with p_L = 0 when x = 0 and p_U = 1 when x = n."""
    alpha = 1 - conf_level
    xs, ns = zip(*CASES)
    ours = binomial_rate(xs, ns, conf_level=conf_level)
    for row, (x, n) in zip(ours.itertuples(), CASES):
        if x == 0:
            assert row.lcl == 0
        else:
            assert binom.sf(x - 1, n, row.lcl) == pytest.approx(alpha / 2, rel=1e-9)
        if x == n:
            assert row.ucl == 1
        else:
            assert binom.cdf(x, n, row.ucl) == pytest.approx(alpha / 2, rel=1e-9)


def test_wald_by_hand():
    row = binomial_rate(7, 20, method="wald").iloc[0]
    half = 1.959963984540054 * np.sqrt(0.35 * 0.65 / 20)
    assert row.lcl == pytest.approx(0.35 - half, rel=1e-12)
    assert row.ucl == pytest.approx(0.35 + half, rel=1e-12)
    assert binomial_rate(0, 5, method="wald").iloc[0][["lcl", "ucl"]].tolist() == [0.0, 0.0]


def test_output_names_the_method_and_keeps_counts():
    frame = binomial_rate([3, 4], [10, 12])
    assert list(frame.columns) == ["x", "n", "rate", "lcl", "ucl", "conf_level", "method"]
    assert set(frame["method"]) == {"Clopper-Pearson exact"}
    assert frame["x"].tolist() == [3, 4] and frame["n"].tolist() == [10, 12]


@pytest.mark.parametrize("x,n,word", [(5, 4, "exceed"), (-1, 4, "x must"), (1, 0, "n must"), (1.5, 4, "whole")])
def test_bad_counts_are_rejected_clearly(x, n, word):
    with pytest.raises(ValueError, match=word):
        binomial_rate(x, n)


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="method must be one of"):
        binomial_rate(1, 2, method="jeffreys")


@pytest.mark.needs_r
@pytest.mark.parametrize("conf_level", [0.95, 0.90])
def test_limits_match_r_binom_test_and_prop_test(conf_level):
    import pandas as pd
    cases = pd.DataFrame(CASES, columns=["x", "n"])
    code = f"""
    ex <- t(mapply(function(x, n) binom.test(x, n, conf.level = {conf_level})$conf.int, d$x, d$n))
    wi <- t(mapply(function(x, n) prop.test(x, n, conf.level = {conf_level}, correct = FALSE)$conf.int, d$x, d$n))
    out <- list(r = data.frame(exact_l = ex[, 1], exact_u = ex[, 2], wilson_l = wi[, 1], wilson_u = wi[, 2]))
    """
    theirs = run_r(code, {"d": cases})["r"]
    exact = binomial_rate(cases["x"], cases["n"], conf_level=conf_level)
    score = binomial_rate(cases["x"], cases["n"], method="wilson", conf_level=conf_level)
    np.testing.assert_allclose(exact["lcl"], theirs["exact_l"], rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(exact["ucl"], theirs["exact_u"], rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(score["lcl"], theirs["wilson_l"], rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(score["ucl"], theirs["wilson_u"], rtol=RTOL, atol=1e-14)
