"""analysis.stats.survival against R survival 3.5 (the independent reference), via tests/rref.run_r.

Tolerances: 1e-10 relative (plus 1e-12 absolute) for Kaplan-Meier, quantiles and log-rank, which
are closed-form; 1e-6 relative for Cox, an iterative fit whose convergence rule differs from
R's (eps = 1e-9 on the log-likelihood) by design. Data: hand-made edge cases (ties, censoring at
event times, a group without events, delayed entry, integer and non-integer weights) and the
real CDISC Pilot 01 ADTTE (TTDE by TRTA).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats import survival as sv
from tests.rref import run_r
from tests.test_stats_survival_cases import cdisc_adtte, small_trial

pytestmark = pytest.mark.needs_r

KM_RTOL, KM_ATOL = 1e-10, 1e-12
COX_RTOL = 1e-6
TIMES = [0, 1, 2.5, 3, 4, 8, 9.5, 14, 20]
CDISC_TIMES = [0, 7, 28, 56.5, 90, 150, 198, 250]


def close(ours, theirs, rtol=KM_RTOL, atol=KM_ATOL):
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float), rtol=rtol, atol=atol,
                               equal_nan=True)


def _surv_formula(entry):
    return "Surv(ENTRY, AVAL, 1 - CNSR)" if entry else "Surv(AVAL, 1 - CNSR)"


def r_summary(frame, by, times, conf_type, weights=None, entry=None):
    rhs = by or "1"
    wt = f", weights = {weights}" if weights else ""
    code = f"""
    fit <- survfit({_surv_formula(entry)} ~ {rhs}, data = d, conf.type = "{conf_type}"{wt})
    s <- summary(fit, times = c({",".join(map(str, times))}), extend = TRUE)
    out <- list(s = data.frame(strata = if (is.null(s$strata)) "" else as.character(s$strata), time = s$time,
                n_risk = s$n.risk, n_event = s$n.event, n_censor = s$n.censor, surv = s$surv,
                std_err = s$std.err, lcl = s$lower, ucl = s$upper))
    """
    return run_r(code, {"d": frame})["s"]


def compare_km(ours: pd.DataFrame, theirs: pd.DataFrame, by):
    if by is not None:
        assert list(ours[by].astype(str)) == [s.split("=", 1)[1] for s in theirs["strata"]]
    for column in ["time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lcl", "ucl"]:
        close(ours[column], theirs[column])


@pytest.fixture(scope="module")
def small():
    return small_trial()


@pytest.fixture(scope="module")
def pilot(cdisc_pilot_dir):
    return cdisc_adtte(cdisc_pilot_dir)


@pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
@pytest.mark.parametrize("by", ["GRP", None])
def test_km_estimates_small_data(small, conf_type, by):
    ours = sv.km_estimates(small, by, TIMES, conf_type=conf_type)
    compare_km(ours, r_summary(small, by, TIMES, conf_type), by)


@pytest.mark.parametrize("weights,entry", [("IW", None), ("FW", None), (None, "ENTRY"), ("FW", "ENTRY"),
                                           ("IW", "ENTRY")])
def test_km_estimates_weights_and_delayed_entry(small, weights, entry):
    ours = sv.km_estimates(small, "GRP", TIMES, conf_type="log", weights=weights, entry=entry)
    compare_km(ours, r_summary(small, "GRP", TIMES, "log", weights, entry), "GRP")


@pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
def test_km_estimates_cdisc_pilot(pilot, conf_type):
    ours = sv.km_estimates(pilot, "TRTA", CDISC_TIMES, conf_type=conf_type)
    compare_km(ours, r_summary(pilot, "TRTA", CDISC_TIMES, conf_type), "TRTA")


@pytest.mark.parametrize("shift", [0, -2.5])
def test_km_curve_matches_survfit0(small, shift):
    """The whole curve incl. the origin row; shift -2.5 makes some entry times negative."""
    small = small.assign(ENTRY=small["ENTRY"] + shift)
    ours = sv.km_curve(small, "GRP", conf_type="log-log", entry="ENTRY", weights="FW")
    code = """
    fit <- survfit0(survfit(Surv(ENTRY, AVAL, 1 - CNSR) ~ GRP, data = d, weights = FW, conf.type = "log-log"))
    out <- list(s = data.frame(strata = rep(names(fit$strata), fit$strata), time = fit$time, n_risk = fit$n.risk,
                n_event = fit$n.event, n_censor = fit$n.censor, surv = fit$surv, lcl = fit$lower, ucl = fit$upper))
    """
    theirs = run_r(code, {"d": small})["s"]
    assert list(ours["GRP"]) == [s.split("=", 1)[1] for s in theirs["strata"]]
    for column in ["time", "n_risk", "n_event", "n_censor", "surv", "lcl", "ucl"]:
        close(ours[column], theirs[column])


def r_quantiles(frame, by, conf_type, probs, extra=""):
    code = f"""
    fit <- survfit(Surv(AVAL, 1 - CNSR) ~ {by}, data = d, conf.type = "{conf_type}"{extra})
    q <- quantile(fit, probs = c({",".join(map(str, probs))}))
    out <- list(q = data.frame(strata = rep(rownames(q$quantile), times = ncol(q$quantile)),
                prob = rep(c({",".join(map(str, probs))}), each = nrow(q$quantile)),
                quantile = as.vector(q$quantile), lcl = as.vector(q$lower), ucl = as.vector(q$upper)))
    """
    theirs = run_r(code, {"d": frame})["q"]
    theirs["level"] = [s.split("=", 1)[1] for s in theirs["strata"]]
    return theirs.sort_values(["level", "prob"]).reset_index(drop=True)


@pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
def test_km_quantiles_cdisc_pilot(pilot, conf_type):
    probs = [0.1, 0.25, 0.5, 0.75]
    ours = sv.km_quantiles(pilot, "TRTA", probs, conf_type=conf_type)
    theirs = r_quantiles(pilot, "TRTA", conf_type, probs)
    assert list(ours["TRTA"]) == list(theirs["level"])
    for column in ["prob", "quantile", "lcl", "ucl"]:
        close(ours[column], theirs[column])


def test_km_quantiles_flat_stretch_midpoint():
    """S = 0.5 exactly over [4, 5): R (and we) report the midpoint, 4.5, as the median."""
    flat_inside = pd.DataFrame({"AVAL": [1.0, 2, 3, 4, 5, 6, 7, 8], "CNSR": 0, "G": "x"})
    # group y: S = 0.5 from t = 2 to the last time 4 (censored): R takes (2 + 4) / 2 = 3
    flat_at_end = pd.DataFrame({"AVAL": [1.0, 2, 3, 4], "CNSR": [0, 0, 1, 1], "G": "y"})
    frame = pd.concat([flat_inside, flat_at_end], ignore_index=True)
    ours = sv.km_quantiles(frame, "G", [0.25, 0.5, 0.75, 1.0], conf_type="log")
    theirs = r_quantiles(frame, "G", "log", [0.25, 0.5, 0.75, 1.0])
    assert ours["quantile"].iloc[1] == pytest.approx(4.5)
    assert ours["quantile"].iloc[5] == pytest.approx(3.0)
    for column in ["quantile", "lcl", "ucl"]:
        close(ours[column], theirs[column])


def test_km_quantiles_small_data_with_groups_not_reaching(small):
    probs = [0.25, 0.5, 0.75]
    ours = sv.km_quantiles(small, "GRP", probs, conf_type="log-log")
    theirs = r_quantiles(small, "GRP", "log-log", probs)
    assert ours.loc[ours["GRP"] == "c", "quantile"].isna().all()
    for column in ["quantile", "lcl", "ucl"]:
        close(ours[column], theirs[column])


def r_survdiff(frame, by, rho, strata=None):
    rhs = by + (f" + strata({strata})" if strata else "")
    code = f"""
    s <- survdiff(Surv(AVAL, 1 - CNSR) ~ {rhs}, data = d, rho = {rho})
    o <- if (is.matrix(s$obs)) rowSums(s$obs) else s$obs
    e <- if (is.matrix(s$exp)) rowSums(s$exp) else s$exp
    df <- sum(e > 0) - 1
    out <- list(t = data.frame(observed = o, expected = e, variance = diag(s$var), chisq = s$chisq, df = df,
                p = pchisq(s$chisq, df, lower.tail = FALSE)))
    """
    return run_r(code, {"d": frame})["t"]


@pytest.mark.parametrize("rho", [0, 1, 0.5])
def test_logrank_small_data_three_groups(small, rho):
    ours = sv.logrank(small, "GRP", rho=rho)
    theirs = r_survdiff(small, "GRP", rho)
    for column in ["observed", "expected", "variance", "chisq", "df", "p"]:
        close(ours[column], theirs[column])


@pytest.mark.parametrize("rho", [0, 1])
def test_logrank_cdisc_pilot(pilot, rho):
    ours = sv.logrank(pilot, "TRTA", rho=rho)
    theirs = r_survdiff(pilot, "TRTA", rho)
    for column in ["observed", "expected", "variance", "chisq", "df", "p"]:
        close(ours[column], theirs[column])


def test_logrank_stratum_without_events(small):
    """Stratum 'z' has only censored rows: it contributes nothing (as survdiff)."""
    frame = pd.concat([small.assign(ST="y"), small.assign(ST="z", CNSR=1)], ignore_index=True)
    ours = sv.logrank(frame, "GRP", strata="ST")
    theirs = r_survdiff(frame, "GRP", 0, strata="ST")
    for column in ["observed", "expected", "variance", "chisq", "p"]:
        close(ours[column], theirs[column])


def test_logrank_stratified_cdisc_pilot(pilot):
    ours = sv.logrank(pilot, "TRTA", strata="SEX")
    theirs = r_survdiff(pilot, "TRTA", 0, strata="SEX")
    for column in ["observed", "expected", "variance", "chisq", "p"]:
        close(ours[column], theirs[column])


def r_coxph(frame, rhs, ties, extra="", entry=False):
    code = f"""
    fit <- coxph({_surv_formula(entry)} ~ {rhs}, data = d, ties = "{ties}"{extra})
    naive <- if (is.null(fit$naive.var)) fit$var else fit$naive.var
    out <- list(c = data.frame(coef = coef(fit), se = sqrt(diag(fit$var)), naive_se = sqrt(diag(naive)),
                loglik_null = fit$loglik[1], loglik = fit$loglik[2], score_chisq = fit$score,
                wald_chisq = fit$wald.test, lr_chisq = 2 * diff(fit$loglik),
                robust_score_chisq = if (is.null(fit$rscore)) NA else fit$rscore))
    """
    return run_r(code, {"d": frame})["c"]


def compare_cox(ours, theirs):
    for column in ["coef", "se", "naive_se", "loglik_null", "loglik", "score_chisq", "wald_chisq", "lr_chisq",
                   "robust_score_chisq"]:
        close(ours[column], theirs[column], rtol=COX_RTOL, atol=1e-9)
    close(ours["hr"], np.exp(theirs["coef"]), rtol=COX_RTOL)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_cdisc_pilot(pilot, ties):
    compare_cox(sv.cox(pilot, "TRTA", ties=ties), r_coxph(pilot, "TRTA", ties))


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_robust_weighted_with_covariate_cdisc_pilot(pilot, ties):
    frame = pilot.assign(W=np.where(pilot["SEX"] == "F", 1.5, 0.75))
    ours = sv.cox(frame, "TRTA", ties=ties, covariates=["AGE"], weights="W", robust=True)
    compare_cox(ours, r_coxph(frame, "TRTA + AGE", ties, ", weights = W, robust = TRUE"))


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_small_data_entry_weights_cluster(small, ties):
    two = small[small["GRP"] != "c"].reset_index(drop=True)
    ours = sv.cox(two, "GRP", ties=ties, covariates=["AGE"], weights="FW", entry="ENTRY", cluster="CLUSTER")
    theirs = r_coxph(two, "GRP + AGE", ties, ", weights = FW, cluster = CLUSTER", entry=True)
    compare_cox(ours, theirs)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_small_data_plain(small, ties):
    two = small[small["GRP"] != "c"].reset_index(drop=True)
    compare_cox(sv.cox(two, "GRP", ties=ties), r_coxph(two, "GRP", ties))


def test_near_tied_times_are_merged_as_r_aeqsurv():
    """Times 3 and 3 + 1e-10 are one time for R (aeqSurv, timefix = TRUE) and for us."""
    frame = pd.DataFrame({"AVAL": [1.0, 3.0, 3.0 + 1e-10, 5.0, 6.0, 7.0, 3.0, 4.0, 4.0 + 2e-9, 8.0],
                          "CNSR": [0, 0, 0, 1, 0, 0, 1, 0, 0, 1], "GRP": list("aaaaaabbbb")})
    ours = sv.km_estimates(frame, "GRP", [3, 4, 6], conf_type="log")
    compare_km(ours, r_summary(frame, "GRP", [3, 4, 6], "log"), "GRP")
    assert ours["n_event"].iloc[0] == 3  # 1, 3 and 3 + 1e-10
    compare_cox(sv.cox(frame, "GRP"), r_coxph(frame, "GRP", "efron"))


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_stratified_cdisc_pilot(pilot, ties):
    compare_cox(sv.cox(pilot, "TRTA", ties=ties, covariates=["AGE"], strata="SEX"),
                r_coxph(pilot, "TRTA + AGE + strata(SEX)", ties))


def test_cox_stratified_entry_weights_robust_small_data(small):
    two = small[small["GRP"] != "c"].reset_index(drop=True).assign(SITE=lambda d: np.arange(len(d)) % 3)
    ours = sv.cox(two, "GRP", covariates=["AGE"], weights="FW", entry="ENTRY", robust=True, strata="SITE",
                  cluster="USUBJID")
    theirs = r_coxph(two, "GRP + AGE + strata(SITE)", "efron", ", weights = FW, cluster = USUBJID", entry=True)
    compare_cox(ours, theirs)


@pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
def test_km_time_zero_events_and_single_subject_group(conf_type):
    """Events and censoring at time 0 (no survfit0 origin row is added) and a one-subject group."""
    frame = pd.DataFrame({"AVAL": [0.0, 0, 0, 2, 3, 3, 5, 7, 4], "CNSR": [0, 1, 0, 0, 1, 0, 0, 1, 0],
                          "GRP": list("aaaaaaaab")})
    times = [0, 1, 3, 4, 6]
    compare_km(sv.km_estimates(frame, "GRP", times, conf_type=conf_type),
               r_summary(frame, "GRP", times, conf_type), "GRP")
    ours = sv.km_quantiles(frame, "GRP", [0.25, 0.5], conf_type=conf_type)
    theirs = r_quantiles(frame, "GRP", conf_type, [0.25, 0.5])
    for column in ["quantile", "lcl", "ucl"]:
        close(ours[column], theirs[column])
