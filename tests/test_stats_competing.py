"""Tests of analysis.stats.competing against R (cmprsk 2.2-11, survival) and exact identities.

Tolerances: estimates and variances are sums/products of the same counts as in cmprsk's
Fortran, so they are compared to 1e-10 absolute (R's numbers come back with 17 significant
digits). Gray's test statistic: 1e-8 relative. Fine-Gray: crr is run with gtol = 1e-9 (its
default 1e-6 stops ~3e-6 from the maximum) while fine_gray iterates to a 1e-10 step, so
coefficients are compared to 1e-7 absolute and standard errors to 1e-7 relative, and crr's
log-likelihood at its estimate to ours there to 1e-12.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats.competing import cumulative_incidence, fine_gray, gray_test

# --- data -----------------------------------------------------------------------------------------

# Hand-made: ties between causes (t=3 in A: cause 1 and 2; t=5 in B: two cause-1, one cause-2),
# ties between events and censoring (t=4 in A, t=7 in B), a group ending in censoring (A) and one
# ending in an event (B), cause codes 1, 2 and 4 (4 only in B).
HAND = pd.DataFrame({
    "ARM": list("AAAAAAAAAA") + list("BBBBBBBBBBB"),
    "AVAL": [1, 2, 3, 3, 4, 4, 6, 8, 9, 10,  2, 5, 5, 5, 6, 7, 7, 8, 9, 11, 12],
    "EVNTTYPE": [1, 0, 1, 2, 1, 0, 2, 1, 0, 0,  0, 1, 1, 2, 4, 1, 0, 2, 0, 1, 1],
})
HAND_TIMES = [0, 0.5, 1, 2.5, 3, 4, 5, 7.5, 10, 11, 12, 13]


def simulated(n: int = 300, seed: int = 20240601) -> pd.DataFrame:
    """Three groups, two causes, integer (hence tied) times, a numeric covariate."""
    rng = np.random.default_rng(seed)
    grp = rng.choice(["X", "Y", "Z"], n)
    age = rng.normal(60, 8, n).round(1)
    lin = 0.4 * (grp == "Y") + 0.8 * (grp == "Z") + 0.02 * (age - 60)
    t1 = rng.exponential(40 * np.exp(-lin))
    t2 = rng.exponential(60, n)
    c = rng.uniform(5, 80, n)
    t = np.minimum.reduce([t1, t2, c])
    cause = np.select([t == t1, t == t2], [1, 2], 0)
    return pd.DataFrame({"GRP": grp, "AGE": age, "AVAL": np.ceil(t), "EVNTTYPE": cause,
                         "STRAT": rng.choice(["s1", "s2"], n)})


def r_cuminc(df: pd.DataFrame, by: str, times) -> pd.DataFrame:
    """cmprsk::cuminc + timepoints, long format: group, cause, time, est, var."""
    from tests.rref import run_r
    code = f"""
    library(cmprsk)
    ci <- cuminc(d$AVAL, d$EVNTTYPE, d${by})
    tp <- timepoints(ci, c({", ".join(map(str, times))}))
    nm <- rownames(tp$est)
    out <- list(res = data.frame(
        group = rep(sub(" [^ ]+$", "", nm), times = ncol(tp$est)),
        cause = rep(as.integer(sub("^.* ", "", nm)), times = ncol(tp$est)),
        time = rep(as.numeric(colnames(tp$est)), each = nrow(tp$est)),
        est = as.vector(tp$est), var = as.vector(tp$var)),
      tests = data.frame(cause = as.integer(rownames(ci$Tests)), ci$Tests))
    """
    return run_r(code, {"d": df})


# --- cumulative incidence vs cmprsk -------------------------------------------------------------

def _merge_with_r(ours: pd.DataFrame, r: pd.DataFrame, by: str) -> pd.DataFrame:
    r = r.assign(group=r["group"].astype(str))
    ours = ours.assign(group=ours[by].astype(str))
    merged = ours.merge(r, on=["group", "cause", "time"], how="outer", validate="1:1")
    assert len(merged) == len(ours) == len(r)
    return merged


@pytest.mark.needs_r
@pytest.mark.parametrize("name", ["hand", "simulated"])
def test_cif_and_variance_match_cmprsk(name):
    df = HAND if name == "hand" else simulated()
    by = "ARM" if name == "hand" else "GRP"
    times = HAND_TIMES if name == "hand" else [0, 3, 10, 20.5, 40, 200]
    ours = cumulative_incidence(df, by, times)
    m = _merge_with_r(ours, r_cuminc(df, by, times)["res"], by)
    # timepoints gives NA beyond a group's last follow-up; so must we
    assert (m["cif"].isna() == m["est"].isna()).all()
    ok = m["est"].notna()
    np.testing.assert_allclose(m.loc[ok, "cif"], m.loc[ok, "est"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(m.loc[ok, "std_err"] ** 2, m.loc[ok, "var"], rtol=0, atol=1e-10)
    assert m.loc[m["time"] <= 10, "est"].notna().all()


@pytest.mark.needs_r
def test_cif_matches_survival_multistate_aalen_johansen():
    """survival::survfit on a multi-state Surv is an independent Aalen-Johansen implementation."""
    from tests.rref import run_r
    df = simulated()
    times = [3, 10, 30]
    r = run_r("""
      d$st <- factor(d$EVNTTYPE, levels = c(0, 1, 2))
      s <- summary(survfit(Surv(AVAL, st) ~ GRP, data = d), times = c(3, 10, 30))
      out <- list(p = data.frame(group = sub("GRP=", "", as.character(s$strata)), time = s$time,
                                 c1 = s$pstate[, 2], c2 = s$pstate[, 3]))""", {"d": df})["p"]
    ours = cumulative_incidence(df, "GRP", times).pivot_table(index=["GRP", "time"], columns="cause",
                                                               values="cif").reset_index()
    m = ours.merge(r, left_on=["GRP", "time"], right_on=["group", "time"], validate="1:1")
    assert len(m) == 9
    np.testing.assert_allclose(m[1], m["c1"], atol=1e-10)
    np.testing.assert_allclose(m[2], m["c2"], atol=1e-10)


@pytest.mark.needs_r
@pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
def test_limits_match_r_survfit_confint_on_cuminc_variance(conf_type):
    """R's own interval code (survival's survfit_confint, the one survfit uses for multi-state
    pstate, logse = FALSE) applied to cmprsk's estimate and variance: nothing of ours in the
    reference. For a CIF the log-log transform gives the limits in the other order, hence pmin/pmax."""
    from tests.rref import run_r
    df = simulated(seed=7)
    r = run_r(f"""
      library(cmprsk)
      tp <- timepoints(cuminc(d$AVAL, d$EVNTTYPE), c(1, 5, 20, 40))
      est <- tp$est[1, ]; se <- sqrt(tp$var[1, ])
      ci <- survival:::survfit_confint(est, se, logse = FALSE, conf.type = "{conf_type}", conf.int = 0.90)
      out <- list(ci = data.frame(est = est, lo = pmin(ci$lower, ci$upper), hi = pmax(ci$lower, ci$upper)))""",
              {"d": df})["ci"]
    ours = cumulative_incidence(df, None, [1, 5, 20, 40], conf_level=0.90, conf_type=conf_type, causes=[1])
    np.testing.assert_allclose(ours["cif"], r["est"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours["lcl"], r["lo"], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(ours["ucl"], r["hi"], rtol=1e-10, atol=1e-15)
    assert (ours["lcl"] < ours["cif"]).all() and (ours["cif"] < ours["ucl"]).all()


# --- cumulative incidence: exact identities (no R) ----------------------------------------------

def _km(t: np.ndarray, event: np.ndarray, at: float) -> float:
    """Kaplan-Meier by the product-limit definition, written out independently."""
    s = 1.0
    for u in np.unique(t[(event == 1) & (t <= at)]):
        s *= 1 - ((t == u) & (event == 1)).sum() / (t >= u).sum()
    return s


def test_cifs_of_all_causes_sum_to_one_minus_all_cause_km():
    df = simulated(seed=3)
    times = [2, 5, 25, 60]
    ci = cumulative_incidence(df, "GRP", times).dropna(subset=["cif"])
    assert len(ci) >= 6 * 3
    total = ci.groupby(["GRP", "time"])["cif"].sum()
    for (grp, t), value in total.items():
        d = df[df["GRP"] == grp]
        expected = 1 - _km(d["AVAL"].to_numpy(), (d["EVNTTYPE"] > 0).to_numpy().astype(int), t)
        assert value == pytest.approx(expected, abs=1e-12)


def test_without_competing_events_cif_is_one_minus_km():
    df = simulated(seed=4).assign(EVNTTYPE=lambda d: (d["EVNTTYPE"] > 0).astype(int))
    ci = cumulative_incidence(df, None, [3, 10, 30])
    for _, row in ci.iterrows():
        expected = 1 - _km(df["AVAL"].to_numpy(), df["EVNTTYPE"].to_numpy(), row["time"])
        assert row["cif"] == pytest.approx(expected, abs=1e-12)


def test_hand_example_first_steps_by_hand():
    """Group A: n=10. t=1: one cause-1 of 10 at risk -> F1 = 1/10. t=3: S(3-) = 0.9, 8 at risk,
    one cause 1 and one cause 2 -> F1 = 0.1 + 0.9/8, F2 = 0.9/8. Variance at t=1 by the delta
    formula with one event: v1 = (1 + F/S)^2 * S(0)^2 * 1/n^2, v2 = (1/S)(1 + F/S)/n^2,
    v3 = 1/(S n)^2 with S = 0.9, F = 0.1; Var = v1 + F^2 v3 - 2 F v2."""
    ci = cumulative_incidence(HAND[HAND["ARM"] == "A"], None, [1, 3]).set_index(["cause", "time"])
    assert ci.loc[(1, 1.0), "cif"] == pytest.approx(0.1, abs=1e-15)
    assert ci.loc[(1, 3.0), "cif"] == pytest.approx(0.1 + 0.9 / 8, abs=1e-15)
    assert ci.loc[(2, 3.0), "cif"] == pytest.approx(0.9 / 8, abs=1e-15)
    s, f, n = 0.9, 0.1, 10
    v1, v2, v3 = (1 + f / s) ** 2 / n ** 2, (1 / s) * (1 + f / s) / n ** 2, (1 / s) ** 2 / n ** 2
    assert ci.loc[(1, 1.0), "std_err"] ** 2 == pytest.approx(v1 + f ** 2 * v3 - 2 * f * v2, rel=1e-12)
    assert ci.loc[(1, 1.0), "n_risk"] == 10 and ci.loc[(1, 3.0), "n_risk"] == 8


def test_plain_and_log_limits_by_formula_and_default_times():
    z = 1.959963984540054
    ci = {ct: cumulative_incidence(HAND, "ARM", None, conf_type=ct) for ct in ("plain", "log", "log-log")}
    plain, log = ci["plain"].dropna(), ci["log"].dropna()
    inner = plain["cif"].between(1e-12, 1 - 1e-12) & (plain["std_err"] > 0)
    np.testing.assert_allclose(plain.loc[inner, "lcl"], np.clip(plain["cif"] - z * plain["std_err"], 0, 1)[inner], atol=1e-15)
    np.testing.assert_allclose(log.loc[inner, "ucl"],
                               np.minimum(log["cif"] * np.exp(z * log["std_err"] / log["cif"]), 1)[inner], atol=1e-15)
    # default times: every distinct observed time of the data, for every group and cause
    assert len(ci["plain"]) == HAND["AVAL"].nunique() * 2 * 3
    with pytest.raises(ValueError, match="conf_type"):
        cumulative_incidence(HAND, "ARM", [3], conf_type="arcsine")


def test_output_shape_and_not_estimable_after_last_followup():
    ci = cumulative_incidence(HAND, "ARM", [5, 10.5])
    assert list(ci.columns) == ["ARM", "cause", "time", "n_risk", "n_event", "cif", "std_err", "lcl", "ucl"]
    assert set(ci["cause"]) == {1, 2, 4}
    a_late = ci[(ci["ARM"] == "A") & (ci["time"] == 10.5)]
    assert a_late["cif"].isna().all() and a_late["lcl"].isna().all()
    # cause 4 never occurs in A: CIF 0 with zero-width limits
    a4 = ci[(ci["ARM"] == "A") & (ci["cause"] == 4) & (ci["time"] == 5)].iloc[0]
    assert a4["cif"] == 0 and a4["lcl"] == 0 and a4["ucl"] == 0


@pytest.mark.parametrize("column, value, message", [
    ("AVAL", -1, "must be >= 0"),
    ("AVAL", np.nan, "missing or infinite"),
    ("EVNTTYPE", 1.5, "must hold integers >= 0"),
    ("EVNTTYPE", -2, "must hold integers >= 0"),
])
def test_bad_input_is_named(column, value, message):
    bad = HAND.copy()
    bad[column] = bad[column].astype(float)
    bad.loc[7, column] = value
    with pytest.raises(ValueError, match=rf"column '{column}'.*{message}.*row 7 "):
        cumulative_incidence(bad, "ARM", [5])


def test_missing_column_is_named():
    with pytest.raises(ValueError, match=r"missing column\(s\) \['CAUSE'\]"):
        cumulative_incidence(HAND, "ARM", [5], event_type="CAUSE")


# --- Gray's test -------------------------------------------------------------------------------

@pytest.mark.needs_r
@pytest.mark.parametrize("name", ["hand", "simulated"])
def test_gray_test_matches_cmprsk(name):
    df = HAND if name == "hand" else simulated()
    by = "ARM" if name == "hand" else "GRP"
    r = r_cuminc(df, by, [1])["tests"]
    ours = gray_test(df, by, cause=None)
    m = ours.merge(r, on="cause", validate="1:1")
    assert len(m) == len(r) == df.loc[df["EVNTTYPE"] > 0, "EVNTTYPE"].nunique()
    np.testing.assert_allclose(m["stat_x"], m["stat_y"], rtol=1e-8)
    np.testing.assert_allclose(m["p"], m["pv"], rtol=1e-7, atol=1e-12)
    assert (m["df_x"] == m["df_y"]).all()


@pytest.mark.needs_r
@pytest.mark.parametrize("rho", [0, 1])
def test_stratified_weighted_gray_test_matches_cmprsk(rho):
    from tests.rref import run_r
    df = simulated(seed=11)
    r = run_r(f"""library(cmprsk)
      ci <- cuminc(d$AVAL, d$EVNTTYPE, d$GRP, strata = d$STRAT, rho = {rho})
      out <- list(t = data.frame(cause = as.integer(rownames(ci$Tests)), ci$Tests))""", {"d": df})["t"]
    ours = gray_test(df, "GRP", cause=None, strata="STRAT", rho=rho)
    np.testing.assert_allclose(ours["stat"], r["stat"], rtol=1e-8)
    np.testing.assert_allclose(ours["p"], r["pv"], rtol=1e-7, atol=1e-12)


def test_gray_test_identical_groups_gives_zero_statistic():
    """Two copies of the same data in two groups: every score term d_1j - E_1j is 0."""
    one = simulated(n=80, seed=5)
    df = pd.concat([one.assign(G="a"), one.assign(G="b")], ignore_index=True)
    res = gray_test(df, "G", cause=1)
    assert res.loc[0, "stat"] == pytest.approx(0, abs=1e-20) and res.loc[0, "p"] == pytest.approx(1)


def test_gray_test_needs_two_groups():
    with pytest.raises(ValueError, match="at least two groups"):
        gray_test(HAND.assign(ARM="A"), "ARM")


# --- Fine-Gray ------------------------------------------------------------------------------------

def _our_loglik_and_score(df, by, covariates, cause, beta):
    """Our pseudo log-likelihood and score at any coefficients (to evaluate crr's estimate)."""
    from analysis.stats import competing as cp
    design = cp._design_matrix(df, by, covariates)
    order = np.argsort(df["AVAL"].to_numpy(), kind="stable")
    code = df["EVNTTYPE"].to_numpy()[order]
    terms = cp._FineGrayTerms(df["AVAL"].to_numpy(float)[order], np.where(code == 0, 0, np.where(code == cause, 1, 2)),
                              design.to_numpy(float)[order])
    loglik, score, _ = terms.loglik_score_information(np.asarray(beta, float))
    return loglik, score


@pytest.mark.needs_r
@pytest.mark.parametrize("cause", [1, 2])
def test_fine_gray_matches_crr(cause):
    """crr run to gtol = 1e-9 (its default 1e-6 leaves it ~3e-6 off; below 1e-9 it stops converging).
    crr's log-likelihood at crr's coefficients equals ours at them to 1e-12 relative (the same
    function); our score is 0 at our estimate (1e-9) and coefficients/SEs agree to 1e-7."""
    from tests.rref import run_r
    df = simulated()
    r = run_r(f"""library(cmprsk)
      X <- cbind(GRPY = d$GRP == "Y", GRPZ = d$GRP == "Z", AGE = d$AGE, S2 = d$STRAT == "s2")
      f <- crr(d$AVAL, d$EVNTTYPE, X, failcode = {cause}, gtol = 1e-9)
      out <- list(f = data.frame(coef = f$coef, se = sqrt(diag(f$var)), loglik = f$loglik,
                                 converged = f$converged))""", {"d": df})["f"]
    assert r["converged"].all()
    ours = fine_gray(df, "GRP", cause=cause, covariates=["AGE", "STRAT"])
    assert list(ours["term"]) == ["GRP=Y", "GRP=Z", "AGE", "STRAT=s2"]
    np.testing.assert_allclose(ours["coef"], r["coef"], rtol=0, atol=1e-7)
    np.testing.assert_allclose(ours["se"], r["se"], rtol=1e-7)
    loglik_at_crr, _ = _our_loglik_and_score(df, "GRP", ["AGE", "STRAT"], cause, r["coef"])
    assert loglik_at_crr == pytest.approx(r["loglik"].iloc[0], rel=1e-12)
    _, score = _our_loglik_and_score(df, "GRP", ["AGE", "STRAT"], cause, ours["coef"])
    assert np.max(np.abs(score)) < 1e-9
    assert ours["converged"].all()


@pytest.mark.needs_r
def test_fine_gray_hand_data_matches_crr():
    from tests.rref import run_r
    df = HAND.assign(X=np.arange(len(HAND)) % 3)
    r = run_r("""library(cmprsk)
      f <- crr(d$AVAL, d$EVNTTYPE, cbind(B = d$ARM == "B", X = d$X), gtol = 1e-9)
      out <- list(f = data.frame(coef = f$coef, se = sqrt(diag(f$var))))""", {"d": df})["f"]
    ours = fine_gray(df, "ARM", covariates=["X"])
    np.testing.assert_allclose(ours["coef"], r["coef"], atol=1e-7)
    np.testing.assert_allclose(ours["se"], r["se"], rtol=1e-7)


def test_fine_gray_without_competing_events_is_breslow_cox():
    """With no competing events all weights are 1: the model is the Cox model with Breslow ties,
    so the coefficient equals statsmodels PHReg(ties='breslow')."""
    from statsmodels.duration.hazard_regression import PHReg
    df = simulated(seed=9).assign(EVNTTYPE=lambda d: (d["EVNTTYPE"] > 0).astype(int))
    ours = fine_gray(df, None, covariates=["AGE"])
    ref = PHReg(df["AVAL"], df[["AGE"]], status=df["EVNTTYPE"], ties="breslow").fit()
    assert ours.loc[0, "coef"] == pytest.approx(ref.params[0], abs=1e-8)


def test_fine_gray_warns_when_an_estimate_diverges():
    df = simulated(n=200, seed=2)
    df.loc[(df["GRP"] == "Z") & (df["EVNTTYPE"] == 1), "EVNTTYPE"] = 2
    with pytest.warns(RuntimeWarning, match="did not converge"):
        res = fine_gray(df, "GRP")
    assert not res["converged"].any()
    assert res.set_index("term").loc["GRP=Z", "coef"] < -10


def test_fine_gray_reference_level_and_errors():
    df = simulated(n=150, seed=2)
    ours = fine_gray(df, "GRP", reference="Z")
    assert list(ours["term"]) == ["GRP=X", "GRP=Y"]
    with pytest.raises(ValueError, match="no event of cause 3"):
        fine_gray(df, "GRP", cause=3)
    with pytest.raises(ValueError, match=r"column 'AGE': 1 missing"):
        fine_gray(df.assign(AGE=df["AGE"].where(df.index != 4)), "GRP", covariates=["AGE"])


# --- real ADaM data: CDISC Pilot 01 ---------------------------------------------------------------

def pilot_competing(cdisc_pilot_dir) -> pd.DataFrame:
    """ADTTE TTDE with a made-up competing event: a censored subject who discontinued the study
    (ADSL DISCONFL = 'Y') is coded 2. CNSR is rounded because XPT stores 0 as ~5e-79."""
    adtte = pd.read_sas(cdisc_pilot_dir / "adtte.xpt", format="xport", encoding="latin1")
    adsl = pd.read_sas(cdisc_pilot_dir / "adsl.xpt", format="xport", encoding="latin1")
    d = adtte.merge(adsl[["USUBJID", "DISCONFL"]], on="USUBJID", validate="1:1")
    cnsr = d["CNSR"].round().astype(int)
    d["EVNTTYPE"] = np.where(cnsr == 0, 1, np.where(d["DISCONFL"] == "Y", 2, 0))
    return d[["USUBJID", "TRTA", "AVAL", "EVNTTYPE"]]


def test_cdisc_pilot_cumulative_incidence_runs_and_is_coherent(cdisc_pilot_dir):
    d = pilot_competing(cdisc_pilot_dir)
    ci = cumulative_incidence(d, "TRTA", [30, 90, 180])
    assert set(ci["TRTA"]) == {"Placebo", "Xanomeline High Dose", "Xanomeline Low Dose"}
    total = ci.groupby(["TRTA", "time"])["cif"].sum()
    for (arm, t), value in total.items():
        g = d[d["TRTA"] == arm]
        assert value == pytest.approx(1 - _km(g["AVAL"].to_numpy(), (g["EVNTTYPE"] > 0).astype(int).to_numpy(), t),
                                      abs=1e-12)
    ok = ci["cif"].between(0, 1) & (ci["lcl"] <= ci["cif"]) & (ci["cif"] <= ci["ucl"])
    assert ok[ci["cif"].notna()].all()


@pytest.mark.needs_r
def test_cdisc_pilot_matches_cmprsk(cdisc_pilot_dir):
    d = pilot_competing(cdisc_pilot_dir)
    times = [30, 90, 180]
    r = r_cuminc(d, "TRTA", times)
    m = _merge_with_r(cumulative_incidence(d, "TRTA", times), r["res"], "TRTA")
    ok = m["est"].notna()
    np.testing.assert_allclose(m.loc[ok, "cif"], m.loc[ok, "est"], atol=1e-10)
    np.testing.assert_allclose(m.loc[ok, "std_err"] ** 2, m.loc[ok, "var"], atol=1e-10)
    g = gray_test(d, "TRTA", cause=None).merge(r["tests"], on="cause")
    np.testing.assert_allclose(g["stat_x"], g["stat_y"], rtol=1e-8)
