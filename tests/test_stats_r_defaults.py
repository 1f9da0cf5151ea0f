"""Where R's defaults and R's handling of degenerate data decide the answer (issue 13), checked
against R survival 3.5 through tests/rref.run_r.

Tolerances: 1e-10 relative for quantiles (closed form, times are data values), 1e-6 relative for
Cox (an iterative fit; our convergence rule is tighter than coxph's eps = 1e-9).
"""

from __future__ import annotations

import io
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.stats import survival as sv
from tests.rref import run_r
from tests.test_stats_survival_cases import cdisc_adtte

pytestmark = pytest.mark.needs_r

COX_RTOL = 1e-6


def close(ours, theirs, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float), rtol=rtol, atol=atol,
                               equal_nan=True)


def test_r_helper_returns_doubles_to_the_last_bit():
    """write.csv alone prints 15 significant digits: 1/3 would come back 2e-16 off."""
    back = run_r("out <- list(v = data.frame(x = c(1/3, exp(1), pi * 1e-7, NA), s = c('a', 'b', 'c', 'd')))")["v"]
    assert back["x"].iloc[0] == 1 / 3
    assert back["x"].iloc[1] == np.exp(1)
    assert back["x"].iloc[2] == np.pi * 1e-7
    assert np.isnan(back["x"].iloc[3]) and list(back["s"]) == ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def heart() -> pd.DataFrame:
    """R survival's heart data (Stanford transplant, counting-process rows), made by R itself."""
    code = "suppressPackageStartupMessages(library(survival)); write.csv(heart, stdout(), row.names = FALSE)"
    text = subprocess.run(["Rscript", "--vanilla", "-e", code],
                          capture_output=True, text=True, check=True).stdout
    frame = pd.read_csv(io.StringIO(text))
    return frame.assign(CNSR=1 - frame["event"], W=np.where(frame["surgery"] == 1, 1.5, 0.8))


@pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
@pytest.mark.parametrize("weights", [None, "W"])
def test_km_quantile_limits_on_a_non_monotone_limit_curve(heart, conf_type, weights):
    """Post-transplant rows (delayed entry): the log-log lower limit rises from 0.508 at day 5 to
    0.526 at day 16, so the 10th and 25th percentiles' lower limit is 16 in R (ours said 5).
    With non-integer weights the IJ variance is used, by R and by us."""
    rows = heart[heart["transplant"] == 1].reset_index(drop=True)
    probs = [0.1, 0.25, 0.5, 0.75]
    ours = sv.km_quantiles(rows, None, probs, conf_type=conf_type, entry="start", time="stop", weights=weights)
    wt = ", weights = W" if weights else ""
    theirs = run_r(f"""
    fit <- survfit(Surv(start, stop, 1 - CNSR) ~ 1, data = d, conf.type = "{conf_type}"{wt})
    q <- quantile(fit, probs = c({",".join(map(str, probs))}))
    out <- list(q = data.frame(quantile = q$quantile, lcl = q$lower, ucl = q$upper))
    """, {"d": rows})["q"]
    for column in ["quantile", "lcl", "ucl"]:
        close(ours[column], theirs[column])
    if conf_type == "log-log" and weights is None:
        assert list(ours["lcl"][:2]) == [16.0, 16.0]


def test_ij_variance_when_the_curve_reaches_zero_before_a_later_entry():
    """Found by the differential fuzz: with non-integer weights (IJ variance) and delayed entry, the
    curve reaches 0 at 7.38 (everyone at risk dies) and a subject enters at 8.5. The infinite
    increment at 7.38 leaked into the variance at 2.09 through the entry-time tail sums (SE 0.196 vs
    R's 0.335, which a finite-difference derivative confirms)."""
    frame = pd.DataFrame({"ENTRY": [0.14, 1.67, 1.74, 0, 8.5], "AVAL": [0.55, 2.09, 6.96, 7.38, 10.63],
                          "CNSR": 0, "W": [2, 0.45, 3, 2.82, 1.38]})
    ours = sv.km_estimates(frame, None, [1, 2.09, 5, 7, 9], conf_type="log", weights="W", entry="ENTRY")
    theirs = run_r("""s <- summary(survfit(Surv(ENTRY, AVAL, 1 - CNSR) ~ 1, data = d, weights = W, conf.type = "log"),
                                   times = c(1, 2.09, 5, 7, 9), extend = TRUE)
    out <- list(s = data.frame(surv = s$surv, std_err = s$std.err, lcl = s$lower, ucl = s$upper))""", {"d": frame})["s"]
    for column in ["surv", "std_err", "lcl", "ucl"]:
        close(ours[column], theirs[column], atol=1e-12)
    assert ours["std_err"].iloc[1] == pytest.approx(0.33518366316947, rel=1e-9)


@pytest.fixture(scope="module")
def pilot(cdisc_pilot_dir):
    frame = cdisc_adtte(cdisc_pilot_dir)
    return frame.assign(W=np.where(frame["SEX"] == "F", 1.5, 0.75))


def r_cox(frame, rhs, extra="", surv="Surv(AVAL, 1 - CNSR)"):
    code = f"""
    msgs <- character(0)
    fit <- withCallingHandlers(coxph({surv} ~ {rhs}, data = d{extra}),
                               warning = function(w) {{ msgs <<- c(msgs, conditionMessage(w));
                                                        invokeRestart("muffleWarning") }})
    out <- list(c = data.frame(coef = coef(fit), se = sqrt(diag(fit$var)),
                robust_score_chisq = if (is.null(fit$rscore)) NA else fit$rscore,
                warning = paste(c("", msgs), collapse = " ")))
    """
    return run_r(code, {"d": frame})["c"]


def test_cox_non_integer_weights_use_the_robust_variance_by_default(pilot):
    """coxph(weights = W) with non-integer W is robust (has.rwt); robust = FALSE gives the model SE."""
    ours = sv.cox(pilot, "TRTA", covariates=["AGE"], weights="W")
    theirs = r_cox(pilot, "TRTA + AGE", ", weights = W")
    close(ours["coef"], theirs["coef"], rtol=COX_RTOL, atol=1e-9)
    close(ours["se"], theirs["se"], rtol=COX_RTOL)
    close(ours["robust_score_chisq"], theirs["robust_score_chisq"], rtol=COX_RTOL)
    assert "robust" in ours["method"].iloc[0]
    model_based = sv.cox(pilot, "TRTA", covariates=["AGE"], weights="W", robust=False)
    close(model_based["se"], r_cox(pilot, "TRTA + AGE", ", weights = W, robust = FALSE")["se"], rtol=COX_RTOL)
    assert np.isnan(model_based["robust_score_chisq"]).all()
    integer = sv.cox(pilot.assign(W=2.0), "TRTA", weights="W")
    assert np.isnan(integer["robust_score_chisq"]).all()  # integer weights: model-based, as coxph


def test_robust_cox_on_start_stop_rows_needs_a_cluster(heart):
    rows = heart.assign(AGE=heart["age"])
    with pytest.raises(ValueError, match="needs a cluster column"):
        sv.cox(rows, None, covariates=["AGE"], entry="start", time="stop", robust=True)
    with pytest.raises(RuntimeError, match="one of cluster or id is needed"):
        r_cox(rows, "AGE", ", robust = TRUE", surv="Surv(start, stop, 1 - CNSR)")
    ours = sv.cox(rows, None, covariates=["AGE"], entry="start", time="stop", robust=True, cluster="id")
    theirs = r_cox(rows, "AGE", ", robust = TRUE, cluster = id", surv="Surv(start, stop, 1 - CNSR)")
    close(ours["se"], theirs["se"], rtol=COX_RTOL)


def degenerate_frame() -> pd.DataFrame:
    frame = pd.DataFrame({"AVAL": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10.0], "CNSR": [0, 0, 1, 0, 0, 1, 0, 0, 0, 1],
                          "X": [1, 2, 3, 1, 2, 5, 1, 2, 4, 2.0], "GRP": list("aabababbab")})
    return frame.assign(X2=2 * frame["X"] + 1, CONST=3.0, GDUMMY=(frame["GRP"] == "b").astype(float),
                        ORDERED=-frame["AVAL"])


@pytest.mark.parametrize("by,covariates,rhs", [(None, ["X", "X2"], "X + X2"), (None, ["X", "CONST"], "X + CONST"),
                                               ("GRP", ["GDUMMY"], "GRP + GDUMMY"),
                                               ("GRP", ["X", "X2"], "GRP + X + X2")])
def test_aliased_terms_are_nan_with_a_warning_as_coxph_na(by, covariates, rhs):
    """coxph sets the later of collinear (or constant) terms to NA; we give NaN and name it."""
    frame = degenerate_frame()
    with pytest.warns(RuntimeWarning, match=r"aliased") as record:
        ours = sv.cox(frame, by, covariates=covariates)
    assert covariates[-1] in str(record[0].message)
    theirs = r_cox(frame, rhs)
    close(ours["coef"], theirs["coef"], rtol=COX_RTOL, atol=1e-9)
    close(ours["se"], theirs["se"].where(theirs["coef"].notna()), rtol=COX_RTOL)
    assert np.isnan(ours["coef"].iloc[-1]) and ours["df"].iloc[0] == len(ours) - 1


def test_monotone_likelihood_warns_that_the_coefficient_may_be_infinite():
    """LATE = -1 for the subjects followed beyond time 5: the partial likelihood keeps rising as its
    coefficient grows (a monotone likelihood). coxph warns
    "Loglik converged before variable 2; coefficient may be infinite"; so do we, naming LATE, and the
    finite coefficient of X agrees with R's."""
    frame = degenerate_frame().assign(LATE=lambda d: -(d["AVAL"] > 5).astype(float))
    with pytest.warns(RuntimeWarning, match=r"may be infinite") as record:
        ours = sv.cox(frame, None, covariates=["X", "LATE"])
    assert "LATE" in str(record[0].message) and "'X'" not in str(record[0].message)
    assert list(ours["may_be_infinite"]) == [False, True] and ours["coef"].iloc[1] > 10
    theirs = r_cox(frame, "X + LATE")
    assert "Loglik converged before variable  2" in theirs["warning"].iloc[0]
    close(ours["coef"].iloc[0], theirs["coef"].iloc[0], rtol=COX_RTOL)
    close(ours["se"].iloc[0], theirs["se"].iloc[0], rtol=COX_RTOL)


def test_single_subject_and_constant_only_models_are_refused_by_name():
    frame = degenerate_frame()
    with pytest.raises(ValueError, match=r"no term of the Cox model is estimable: \['X'\]"):
        sv.cox(frame.iloc[:1], None, covariates=["X"])
    with pytest.raises(ValueError, match=r"\['CONST'\]"):
        sv.cox(frame, None, covariates=["CONST"])


def test_logrank_on_all_censored_data_has_no_negative_df():
    """survdiff on data without events returns chisq 0 and p NA, and print.survdiff shows df = -1;
    a degree of freedom cannot be negative: we report chisq 0 on df 0, p NaN, with a warning."""
    frame = degenerate_frame().assign(CNSR=1)
    with pytest.warns(RuntimeWarning, match="no events"):
        ours = sv.logrank(frame, "GRP")
    theirs = run_r("""s <- suppressWarnings(survdiff(Surv(AVAL, 1 - CNSR) ~ GRP, data = d))
    out <- list(t = data.frame(chisq = s$chisq, p = pchisq(s$chisq, 0, lower.tail = FALSE),
                expected = sum(s$exp)))""", {"d": frame})["t"]
    close(ours["chisq"].iloc[0], theirs["chisq"].iloc[0])
    assert theirs["expected"].iloc[0] == 0 and ours["expected"].sum() == 0
    assert ours["df"].iloc[0] == 0 and np.isnan(ours["p"].iloc[0])


def test_all_previous_cox_fits_emit_no_warning(pilot):
    """A regular fit raises no warning (the new checks do not fire on the CDISC Pilot data)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sv.cox(pilot, "TRTA", covariates=["AGE"])
