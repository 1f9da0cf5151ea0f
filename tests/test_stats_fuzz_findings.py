"""Defects the differential fuzz (tests/fuzz) found, each pinned by a small data set against R.

Tolerances as in tests/test_stats_r_defaults.py: 1e-10 relative for closed forms, 1e-6 for Cox.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats import competing as cr
from analysis.stats import survival as sv
from tests.rref import run_r

pytestmark = pytest.mark.needs_r


def test_ij_variance_is_exactly_zero_before_the_first_event_despite_late_entrants():
    """Non-integer weights, delayed entry, a subject entering at 11.18 (its C(entry) is large): the
    variance at 0.5, before any event, was a rounding residue (SE 1.9e-9) of subtracting that
    late entrant; R gives 0."""
    frame = pd.DataFrame({"AVAL": [0.27, 0.95, 4.96, 6.21, 6.49, 7.92, 10.70, 12.86, 13.97, 18.4, 18.93, 19.18, 20],
                          "CNSR": [1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 0],
                          "ENTRY": [0, 0.48, 0, 4.97, 0, 6.34, 0, 3.22, 11.18, 4.6, 0, 0, 0],
                          "W": [2.89, 1.77, 1.5, 1.5, 0.33, 1.73, 0.83, 0.75, 0.8, 1.21, 1.38, 0.25, 1.5]})
    ours = sv.km_estimates(frame, None, [0.5, 2, 9, 15], weights="W", entry="ENTRY")
    theirs = run_r("""s <- summary(survfit(Surv(ENTRY, AVAL, 1 - CNSR) ~ 1, data = d, weights = W,
                                           conf.type = "log-log"), times = c(0.5, 2, 9, 15), extend = TRUE)
    out <- list(s = data.frame(surv = s$surv, std_err = s$std.err))""", {"d": frame})["s"]
    assert ours["std_err"].iloc[0] == 0.0
    np.testing.assert_allclose(ours["std_err"], theirs["std_err"], rtol=1e-10, atol=1e-14)


def confounded() -> pd.DataFrame:
    """Each group is a stratum of its own: no within-stratum comparison exists."""
    return pd.DataFrame({"AVAL": [2.0, 4, 5, 7, 9, 1, 3, 6, 8, 10], "CNSR": [0, 1, 0, 0, 1, 0, 0, 1, 0, 1],
                         "EVNTTYPE": [1, 0, 2, 1, 0, 1, 2, 0, 1, 0], "GRP": list("AAAAABBBBB"),
                         "STRAT": ["s1"] * 5 + ["s2"] * 5, "X": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1.0]})


def test_stratified_logrank_with_groups_confounded_with_strata_warns_instead_of_crashing():
    """numpy raised LinAlgError; survdiff's solve() either errors or returns 0 on rounding noise.
    Ours: chisq 0 (the pseudo-inverse of a zero variance) with a warning that names the column."""
    with pytest.warns(RuntimeWarning, match="variance matrix of 'GRP' is singular"):
        test = sv.logrank(confounded(), "GRP", strata="STRAT")
    assert test["chisq"].iloc[0] == 0 and (test["variance"] == 0).all()


def test_gray_test_with_groups_confounded_with_strata_is_not_defined_as_in_cuminc():
    """The fuzz's data set: group A = stratum s1, B = s2. cuminc reports -1 (singular) for both
    causes; we gave 0.0 for cause 1 from a covariance of rounding noise, now NaN for both."""
    frame = pd.DataFrame({
        "AVAL": [1.85, 2.0, 3.36, 9.47, 11.04, 11.72, 14.04, 16.09, 19.82,
                 2.67, 2.69, 3.72, 10.19, 11.52, 11.52, 14.75, 17.75, 19.91],
        "EVNTTYPE": [0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 1, 1, 0, 2, 1, 0, 2],
        "GRP": list("AAAAAAAAABBBBBBBBB")}).assign(STRAT=lambda d: np.where(d["GRP"] == "A", "s1", "s2"))
    ours = cr.gray_test(frame, "GRP", cause=None, strata="STRAT")
    theirs = run_r("""library(cmprsk)
    ci <- cuminc(d$AVAL, d$EVNTTYPE, d$GRP, strata = d$STRAT)
    out <- list(t = data.frame(stat = ci$Tests[, "stat"]))""", {"d": frame})["t"]
    assert list(theirs["stat"]) == [-1, -1]
    assert list(ours["cause"]) == [1, 2] and ours["stat"].isna().all()


def test_cox_term_constant_within_strata_is_not_estimable():
    """GRP is constant within each stratum, so its information is rounding noise: coxph gives NA and
    we name it (the relative Cholesky test alone kept it with an SE of 7e7); X is estimated as R."""
    frame = confounded()
    with pytest.warns(RuntimeWarning, match=r"\['GRP=B vs A'\]"):
        ours = sv.cox(frame, "GRP", covariates=["X"], strata="STRAT")
    theirs = run_r("""f <- coxph(Surv(AVAL, 1 - CNSR) ~ GRP + X + strata(STRAT), data = d)
    out <- list(c = data.frame(coef = coef(f)))""", {"d": frame})["c"]
    assert np.isnan(theirs["coef"].iloc[0]) and np.isnan(ours["coef"].iloc[0])
    np.testing.assert_allclose(ours["coef"].iloc[1], theirs["coef"].iloc[1], rtol=1e-6)


def test_robust_score_test_with_all_residuals_zero():
    """Two subjects dying at the same time, non-integer weights (robust by default): T0'T0 = 0 made
    numpy raise 'Singular matrix'; coxph gives coefficient 0, SE 0 and robust score NA, as we now do."""
    frame = pd.DataFrame({"AVAL": [9.0, 9.0], "CNSR": [0, 0], "GRP": ["A", "B"], "W": [0.2, 0.2]})
    ours = sv.cox(frame, "GRP", weights="W")
    theirs = run_r("""f <- coxph(Surv(AVAL, 1 - CNSR) ~ GRP, data = d, weights = W)
    out <- list(c = data.frame(coef = coef(f), se = sqrt(diag(f$var)), rscore = f$rscore))""", {"d": frame})["c"]
    np.testing.assert_allclose(ours[["coef", "se", "robust_score_chisq"]].to_numpy()[0],
                               theirs[["coef", "se", "rscore"]].to_numpy()[0], atol=1e-12, equal_nan=True)


def test_infinite_cox_estimate_that_looks_converged_in_double_precision_is_flagged():
    """Group B has every event in stratum s2 while A's only event is alone in s1: the coefficient runs
    off to infinity, but at ~26 the step halving can no longer improve the likelihood and the step
    shrinks below 1e-9, which read as convergence (HR e^26, no warning). coxph says "Ran out of
    iterations and did not converge"; we warn that it may be infinite."""
    frame = pd.DataFrame({"AVAL": [2, 2, 5, 5, 5, 6, 7, 10, 2, 4, 7, 8, 10.0],
                          "CNSR": [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 0], "GRP": list("AAAAAAAABBBBB"),
                          "STRAT": ["s1", "s1", "s1", "s1", "s2", "s1", "s2", "s2", "s2", "s1", "s2", "s2", "s2"]})
    with pytest.warns(RuntimeWarning, match=r"\['GRP=B vs A'\]; the coefficient may be infinite"):
        ours = sv.cox(frame, "GRP", strata="STRAT")
    assert ours["may_be_infinite"].all()
    theirs = run_r("""msg <- ""; f <- withCallingHandlers(coxph(Surv(AVAL, 1 - CNSR) ~ GRP + strata(STRAT), data = d),
        warning = function(w) { msg <<- conditionMessage(w); invokeRestart("muffleWarning") })
    out <- list(c = data.frame(coef = coef(f), warning = msg))""", {"d": frame})["c"]
    assert "did not converge" in theirs["warning"].iloc[0] and theirs["coef"].iloc[0] > 15


def test_fine_gray_false_convergence_on_a_flat_likelihood_is_reported():
    """One cause-1 event, by the subject with the largest X among those at risk: the likelihood rises
    for ever in X; at ~12.7 the score is exactly 0 in double precision and the fit claimed
    convergence (SE 0.34). crr reports converged = FALSE; we warn and report converged = False."""
    frame = pd.DataFrame({"AVAL": [1.5, 8.4, 8.99, 10.99, 11.81, 13.03, 17.64],
                          "EVNTTYPE": [0, 0, 0, 0, 0, 1, 0], "X": [-1, 1, 2, 0, 0, 1, -2.0]})
    with pytest.warns(RuntimeWarning, match="did not converge"):
        ours = cr.fine_gray(frame, None, covariates=["X"])
    assert not ours["converged"].any()
    theirs = run_r("""library(cmprsk); f <- crr(d$AVAL, d$EVNTTYPE, cbind(d$X), gtol = 1e-9)
    out <- list(f = data.frame(converged = f$converged))""", {"d": frame})["f"]
    assert not theirs["converged"].iloc[0]


def test_quantile_where_r_survival_falls_below_zero_by_rounding_is_documented_difference():
    """Weighted counts: R's KM is -2.2e-16 at time 4 where everyone at risk dies, and 0 at 6; R's
    quantile search sorts by 1 - S and so reports 6. S reaches 0 at 4, and so do we (values equal to
    1e-12 count as equal). Both sides are asserted, so a change on either is seen."""
    frame = pd.DataFrame({"AVAL": [4.0, 6.0], "CNSR": [0, 0], "ENTRY": [0.0, 4.8], "W": [0.68, 1.72]})
    ours = sv.km_quantiles(frame, None, [0.25, 0.5], weights="W", entry="ENTRY")
    theirs = run_r("""f <- survfit(Surv(ENTRY, AVAL, 1 - CNSR) ~ 1, data = d, weights = W)
    out <- list(q = data.frame(q = quantile(f, c(0.25, 0.5))$quantile, s = f$surv[1]))""", {"d": frame})["q"]
    assert theirs["s"].iloc[0] < 0 and list(theirs["q"]) == [6.0, 6.0]
    assert list(ours["quantile"]) == [4.0, 4.0]
