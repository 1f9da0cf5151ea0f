"""analysis.stats.survival without R: hand calculations, lifelines, statsmodels, numerical derivatives.

Each function has at least one check here that does not need R (the R comparisons are in
test_stats_survival_r.py). Tolerances are stated per test: 1e-12 for hand calculations, 1e-9 to
1e-10 relative against lifelines/statsmodels closed forms, 1e-6 for iterative fits (Cox) and for
the central-difference check of the infinitesimal-jackknife variance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from scipy.stats import chi2, norm
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import survdiff

from analysis.stats import survival as sv
from tests.test_stats_survival_cases import cdisc_adtte, small_trial

Z95 = norm.ppf(0.975)


@pytest.fixture(scope="module")
def small():
    return small_trial()


@pytest.fixture(scope="module")
def pilot(cdisc_pilot_dir):
    return cdisc_adtte(cdisc_pilot_dir)


# ---------------------------------------------------------------- Kaplan-Meier by hand -----------

HAND = pd.DataFrame({"AVAL": [1.0, 2, 2, 3, 4], "CNSR": [0, 0, 0, 1, 0]})


def test_km_by_hand_with_ties_and_censoring():
    """S(1) = 4/5, S(2) = 4/5 * 1/2 (two tied deaths of 4 at risk), S(4) = 0 (1 at risk, 1 death).
    Greenwood var log S(2) = 1/(5*4) + 2/(4*2); n at risk at t = 2.5 is 2 (times 3 and 4)."""
    est = sv.km_estimates(HAND, None, [0.5, 1, 2, 2.5, 4], conf_type="log")
    assert est["surv"].tolist() == pytest.approx([1, 0.8, 0.4, 0.4, 0.0], abs=1e-12)
    assert est["n_risk"].tolist() == [5, 5, 4, 2, 1]
    # counts are per interval since the previous requested time: the censoring at 3 falls in (2.5, 4]
    assert est["n_event"].tolist() == [0, 1, 2, 0, 1] and est["n_censor"].tolist() == [0, 0, 0, 0, 1]
    se_log = np.sqrt(1 / 20 + 2 / 8)
    assert est["std_err"].iloc[2] == pytest.approx(0.4 * se_log, rel=1e-12)
    assert est["lcl"].iloc[2] == pytest.approx(0.4 * np.exp(-Z95 * se_log), rel=1e-12)
    assert est["ucl"].iloc[2] == pytest.approx(min(1.0, 0.4 * np.exp(Z95 * se_log)), rel=1e-12)
    assert np.isnan(est["lcl"].iloc[4])  # log limits are undefined where S = 0 (as R)


def test_km_log_log_and_plain_limits_by_hand():
    row = sv.km_estimates(HAND, None, [2], conf_type="log-log").iloc[0]
    se_log = np.sqrt(1 / 20 + 2 / 8)
    half = Z95 * se_log / np.log(0.4)
    assert row["lcl"] == pytest.approx(np.exp(-np.exp(np.log(-np.log(0.4)) - half)), rel=1e-12)
    assert row["ucl"] == pytest.approx(np.exp(-np.exp(np.log(-np.log(0.4)) + half)), rel=1e-12)
    plain = sv.km_estimates(HAND, None, [2], conf_type="plain").iloc[0]
    assert plain["lcl"] == pytest.approx(max(0.0, 0.4 - Z95 * 0.4 * se_log), abs=1e-12)
    assert plain["ucl"] == pytest.approx(min(1.0, 0.4 + Z95 * 0.4 * se_log), abs=1e-12)


def test_km_matches_lifelines_exponential_greenwood(pilot):
    """lifelines' KM limits are the 'exponential Greenwood' = survfit's log-log; 1e-9 relative."""
    times = np.array([7, 28, 56.5, 90, 150])
    ours = sv.km_estimates(pilot, "TRTA", times, conf_type="log-log")
    for level, part in pilot.groupby("TRTA"):
        fitter = KaplanMeierFitter().fit(part["AVAL"], 1 - part["CNSR"])
        mine = ours[ours["TRTA"] == level]
        np.testing.assert_allclose(mine["surv"], fitter.survival_function_at_times(times), rtol=1e-12)
        ci = fitter.confidence_interval_
        at = np.searchsorted(ci.index.to_numpy(), times, side="right") - 1
        np.testing.assert_allclose(mine["lcl"], ci.iloc[at, 0], rtol=1e-9)
        np.testing.assert_allclose(mine["ucl"], ci.iloc[at, 1], rtol=1e-9)


def test_km_delayed_entry_matches_lifelines(small):
    times = [2, 3, 5, 8, 10]
    ours = sv.km_estimates(small, "GRP", times, entry="ENTRY")
    for level, part in small.groupby("GRP"):
        fitter = KaplanMeierFitter().fit(part["AVAL"], 1 - part["CNSR"], entry=part["ENTRY"])
        np.testing.assert_allclose(ours.loc[ours["GRP"] == level, "surv"], fitter.survival_function_at_times(times),
                                   rtol=1e-12)


def test_integer_weights_equal_replicated_rows(small):
    """Case weight k must give exactly what k copies of the row give (Greenwood in both)."""
    replicated = small.loc[small.index.repeat(small["IW"])].reset_index(drop=True)
    times = [1, 3, 4, 8, 12]
    weighted = sv.km_estimates(small, "GRP", times, weights="IW", entry="ENTRY")
    copies = sv.km_estimates(replicated, "GRP", times, entry="ENTRY")
    for column in ["n_risk", "n_event", "n_censor", "surv", "std_err", "lcl", "ucl"]:
        np.testing.assert_allclose(weighted[column], copies[column], rtol=1e-12, equal_nan=True)


def test_infinitesimal_jackknife_variance_equals_numerical_derivative(small):
    """Var S(t) = sum_i (w_i dS(t)/dw_i)^2; dS/dw_i by central differences (h = 1e-6), 1e-6 relative."""
    times = [3, 5, 9]
    base = sv.km_estimates(small, None, times, weights="FW", entry="ENTRY")
    assert base["method"].iloc[0].endswith("(non-integer case weights)")
    h = 1e-6
    gradient = np.zeros((len(small), len(times)))
    for i in range(len(small)):
        up, down = small.copy(), small.copy()
        up.loc[i, "FW"] += h
        down.loc[i, "FW"] -= h
        s_up = sv.km_estimates(up, None, times, weights="FW", entry="ENTRY")["surv"].to_numpy()
        s_down = sv.km_estimates(down, None, times, weights="FW", entry="ENTRY")["surv"].to_numpy()
        gradient[i] = (s_up - s_down) / (2 * h)
    numeric_se = np.sqrt(((small["FW"].to_numpy()[:, None] * gradient) ** 2).sum(axis=0))
    np.testing.assert_allclose(base["std_err"], numeric_se, rtol=1e-6)


def test_km_curve_and_risk_table_agree_with_estimates(small):
    curve = sv.km_curve(small, "GRP")
    assert (curve.groupby("GRP")["time"].first() == 0).all() and (curve.groupby("GRP")["surv"].first() == 1).all()
    assert curve.loc[curve["censored"], "n_censor"].gt(0).all()
    est = sv.km_estimates(small, "GRP", curve["time"].unique())
    merged = curve.merge(est, on=["GRP", "time"], suffixes=("", "_est"))
    np.testing.assert_allclose(merged["surv"], merged["surv_est"], rtol=0)
    table = sv.risk_table(small, "GRP", [0, 5, 10])
    by_hand = [int(((small["GRP"] == g) & (small["AVAL"] >= t)).sum()) for g in ["a", "b", "c"] for t in [0, 5, 10]]
    assert table["n_risk"].tolist() == by_hand
    assert table.groupby("GRP")["cum_event"].last().tolist() == [
        int(((small["GRP"] == g) & (small["CNSR"] == 0) & (small["AVAL"] <= 10)).sum()) for g in ["a", "b", "c"]]


# ---------------------------------------------------------------- quantiles, difference ---------

def _median_by_r_rule(fitter) -> float:
    """R's median from a lifelines fit: the first time t_a with S <= 0.5 (lifelines' median);
    where S(t_a) == 0.5 exactly, R (quantile.survfit) takes the midpoint of t_a and the next time
    the curve moves below 0.5 (or the last follow-up time if it never does)."""
    curve = fitter.survival_function_.iloc[:, 0]
    t_a = fitter.median_survival_time_
    if np.isinf(t_a) or abs(curve.loc[t_a] - 0.5) > 1e-12:
        return np.nan if np.isinf(t_a) else t_a
    below = curve[curve < 0.5 - 1e-12]
    t_b = below.index[0] if len(below) else fitter.timeline.max()
    return (t_a + t_b) / 2


def test_median_matches_lifelines_and_hand(pilot):
    ours = sv.km_quantiles(pilot, "TRTA", [0.5])
    for level, part in pilot.groupby("TRTA"):
        fitter = KaplanMeierFitter().fit(part["AVAL"], 1 - part["CNSR"])
        got = ours.loc[ours["TRTA"] == level, "quantile"].iloc[0]
        np.testing.assert_equal(got, _median_by_r_rule(fitter))
    hand = sv.km_quantiles(HAND, None, [0.5, 0.25, 0.9])
    assert hand["quantile"].tolist()[:2] == [2.0, 2.0]  # S drops from 0.8 to 0.4 at t = 2
    assert hand["quantile"].iloc[2] == 4.0
    # S = 0.5 exactly on [2, 3): R's midpoint 2.5, not lifelines' 2 and not any value
    flat = pd.DataFrame({"AVAL": [1.0, 2, 3, 4], "CNSR": [0, 0, 0, 0]})
    assert sv.km_quantiles(flat, None, [0.5])["quantile"].iloc[0] == 2.5
    assert _median_by_r_rule(KaplanMeierFitter().fit(flat["AVAL"], 1 - flat["CNSR"])) == 2.5
    # S = 0.5 exactly at the last time (censored after): midpoint with the last follow-up time 6
    ends = pd.DataFrame({"AVAL": [1.0, 2, 6, 6], "CNSR": [0, 0, 1, 1]})
    assert sv.km_quantiles(ends, None, [0.5])["quantile"].iloc[0] == 4.0
    assert _median_by_r_rule(KaplanMeierFitter().fit(ends["AVAL"], 1 - ends["CNSR"])) == 4.0


def test_km_difference_by_hand(small):
    diff = sv.km_difference(small, "GRP", 8, reference="b")
    est = sv.km_estimates(small, "GRP", [8]).set_index("GRP")
    row = diff[diff["GRP"] == "a"].iloc[0]
    expected_diff = est.loc["a", "surv"] - est.loc["b", "surv"]
    expected_se = np.hypot(est.loc["a", "std_err"], est.loc["b", "std_err"])
    assert row["diff"] == pytest.approx(expected_diff, rel=1e-12)
    assert row["se"] == pytest.approx(expected_se, rel=1e-12)
    assert row["lcl"] == pytest.approx(expected_diff - Z95 * expected_se, rel=1e-12)
    assert row["p"] == pytest.approx(2 * norm.sf(abs(expected_diff / expected_se)), rel=1e-12)
    assert "Wald" in row["method"] and "Greenwood" in row["method"]
    assert set(diff["GRP"]) == {"a", "c"}
    with pytest.raises(ValueError, match="reference group 'z'"):
        sv.km_difference(small, "GRP", 8, reference="z")


# ---------------------------------------------------------------- log-rank -----------------------

def test_logrank_matches_lifelines_three_groups(small):
    ours = sv.logrank(small, "GRP")
    theirs = multivariate_logrank_test(small["AVAL"], small["GRP"], 1 - small["CNSR"])
    assert ours["chisq"].iloc[0] == pytest.approx(theirs.test_statistic, rel=1e-10)
    assert ours["df"].iloc[0] == 2
    assert ours["p"].iloc[0] == pytest.approx(chi2.sf(theirs.test_statistic, 2), rel=1e-10)
    assert ours["observed"].sum() == pytest.approx(ours["expected"].sum(), rel=1e-12)


@pytest.mark.parametrize("rho", [0, 1])
def test_logrank_matches_statsmodels_survdiff_two_groups(pilot, rho):
    two = pilot[pilot["TRTA"] != "Xanomeline Low Dose"]
    ours = sv.logrank(two, "TRTA", rho=rho)
    kwargs = {"weight_type": "fh", "fh_p": 1.0} if rho == 1 else {}
    statistic, p_value = survdiff(two["AVAL"].to_numpy(), 1 - two["CNSR"].to_numpy(), two["TRTA"].to_numpy(), **kwargs)
    assert ours["chisq"].iloc[0] == pytest.approx(statistic, rel=1e-9)
    assert ours["p"].iloc[0] == pytest.approx(p_value, rel=1e-9)


def test_stratified_logrank_matches_statsmodels(pilot):
    two = pilot[pilot["TRTA"] != "Xanomeline Low Dose"]
    ours = sv.logrank(two, "TRTA", strata="SEX")
    statistic, _ = survdiff(two["AVAL"].to_numpy(), 1 - two["CNSR"].to_numpy(), two["TRTA"].to_numpy(),
                            strata=two["SEX"].to_numpy())
    assert ours["chisq"].iloc[0] == pytest.approx(statistic, rel=1e-9)


# ---------------------------------------------------------------- Cox ----------------------------

def test_cox_efron_matches_lifelines(pilot):
    frame = pilot.assign(HIGH=(pilot["TRTA"] == "Xanomeline High Dose").astype(float),
                         LOW=(pilot["TRTA"] == "Xanomeline Low Dose").astype(float))
    ours = sv.cox(pilot, "TRTA", covariates=["AGE"])
    fitter = CoxPHFitter().fit(frame[["AVAL", "CNSR", "HIGH", "LOW", "AGE"]].assign(E=1 - frame["CNSR"]).drop(
        columns="CNSR"), "AVAL", "E")
    np.testing.assert_allclose(ours["coef"], fitter.params_[["HIGH", "LOW", "AGE"]], rtol=1e-6)
    np.testing.assert_allclose(ours["se"], fitter.standard_errors_[["HIGH", "LOW", "AGE"]], rtol=1e-6)
    assert ours["loglik"].iloc[0] == pytest.approx(fitter.log_likelihood_, rel=1e-8)


def test_cox_weighted_robust_matches_lifelines(pilot):
    """Untied times (a 1e-4 day jitter): lifelines' sandwich treats tied deaths Breslow-style, R's
    coxph (and we) use the Efron-weighted score residuals, so the two agree only without ties."""
    pilot = pilot.assign(AVAL=pilot["AVAL"] + np.arange(len(pilot)) * 1e-4)
    frame = pilot.assign(HIGH=(pilot["TRTA"] == "Xanomeline High Dose").astype(float),
                         LOW=(pilot["TRTA"] == "Xanomeline Low Dose").astype(float),
                         W=np.where(pilot["SEX"] == "F", 1.5, 0.75), E=1 - pilot["CNSR"])
    ours = sv.cox(frame, "TRTA", weights="W", robust=True)
    fitter = CoxPHFitter().fit(frame[["AVAL", "E", "HIGH", "LOW", "W"]], "AVAL", "E", weights_col="W", robust=True)
    np.testing.assert_allclose(ours["coef"], fitter.params_[["HIGH", "LOW"]], rtol=1e-6)
    np.testing.assert_allclose(ours["se"], fitter.standard_errors_[["HIGH", "LOW"]], rtol=1e-6)


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_cox_delayed_entry_matches_statsmodels(small, ties):
    two = small[small["GRP"] != "c"].reset_index(drop=True)
    # statsmodels counts a subject at risk AT its entry time (R: start < t <= stop), so entry times
    # are moved off the event times (x.5) where the two definitions agree
    two = two.assign(ENTRY=two["ENTRY"] + 0.5 * (two["ENTRY"] > 0))
    ours = sv.cox(two, "GRP", ties=ties, covariates=["AGE"], entry="ENTRY")
    exog = np.column_stack([(two["GRP"] == "b").astype(float), two["AGE"]])
    result = PHReg(two["AVAL"].to_numpy(), exog, status=1 - two["CNSR"].to_numpy(), entry=two["ENTRY"].to_numpy(),
                   ties=ties).fit(method="newton")
    np.testing.assert_allclose(ours["coef"], result.params, rtol=1e-6)
    np.testing.assert_allclose(ours["se"], result.bse, rtol=1e-6)


def test_cox_score_test_is_the_logrank_test(pilot):
    """Without tied times the Cox score test for a grouping factor is the log-rank test
    (Therneau & Grambsch 2000, 3.4); times are made distinct with a 1e-4 day jitter."""
    untied = pilot.assign(AVAL=pilot["AVAL"] + np.arange(len(pilot)) * 1e-4)
    for ties in ("breslow", "efron"):
        assert sv.cox(untied, "TRTA", ties=ties)["score_chisq"].iloc[0] == pytest.approx(
            sv.logrank(untied, "TRTA")["chisq"].iloc[0], rel=1e-10)


def test_cox_reference_level_flips_the_hazard_ratio(pilot):
    two = pilot[pilot["TRTA"] != "Xanomeline Low Dose"]
    default = sv.cox(two, "TRTA").iloc[0]
    flipped = sv.cox(two, "TRTA", reference="Xanomeline High Dose").iloc[0]
    assert default["term"] == "TRTA=Xanomeline High Dose vs Placebo"
    assert flipped["hr"] == pytest.approx(1 / default["hr"], rel=1e-9)
    assert flipped["se"] == pytest.approx(default["se"], rel=1e-9)


# ---------------------------------------------------------------- any ADaM data, bad input ------

def test_every_function_runs_unchanged_on_cdisc_pilot(pilot):
    """CDISC Pilot 01 ADTTE as published (AVAL/CNSR, by TRTP): no renaming, no preprocessing."""
    est = sv.km_estimates(pilot, "TRTP", [30, 90, 180])
    assert list(est.columns[:11]) == ["TRTP", "time", "n_risk", "n_event", "n_censor", "surv", "std_err",
                                      "lcl", "ucl", "conf_type", "conf_level"]
    assert ((est["lcl"] <= est["surv"]) & (est["surv"] <= est["ucl"])).all()
    assert est.groupby("TRTP")["surv"].is_monotonic_decreasing.all()
    assert len(sv.km_curve(pilot, "TRTP")) > 3 and len(sv.risk_table(pilot, "TRTP", [0, 90])) == 6
    assert sv.km_quantiles(pilot, "TRTP")["prob"].tolist() == [0.25, 0.5, 0.75] * 3
    assert 0 < sv.logrank(pilot, "TRTP")["p"].iloc[0] < 1
    assert len(sv.cox(pilot, "TRTP", reference="Placebo")) == 2
    assert len(sv.km_difference(pilot, "TRTP", 90, reference="Placebo")) == 2


def test_pandas_xport_artefact_in_cnsr_is_named(cdisc_pilot_dir):
    """pandas.read_sas turns xport zeros into 5.4e-79: the error must name CNSR and the rule."""
    frame = pd.read_sas(cdisc_pilot_dir / "adtte.xpt", format="xport", encoding="latin1")
    if set(frame["CNSR"].unique()) <= {0.0, 1.0}:
        pytest.skip("this pandas reads xport zeros exactly")
    with pytest.raises(ValueError, match=r"column 'CNSR' \(censoring flag\) must be 0 \(event\) or 1"):
        sv.km_estimates(frame, "TRTA", [30])


@pytest.mark.parametrize("function", [
    lambda d: sv.km_estimates(d, "G", [1]), lambda d: sv.km_curve(d, "G"), lambda d: sv.km_quantiles(d, "G"),
    lambda d: sv.logrank(d, "G"), lambda d: sv.cox(d, "G"), lambda d: sv.risk_table(d, "G", [1]),
    lambda d: sv.km_difference(d, "G", 1, "a")])
@pytest.mark.parametrize("damage,message", [
    (lambda d: d.drop(columns="AVAL"), "column 'AVAL' .* is missing"),
    (lambda d: d.drop(columns="CNSR"), "column 'CNSR' .* is missing"),
    (lambda d: d.assign(CNSR=[0, 2, 1, 0]), "column 'CNSR' .* must be 0 .* or 1 .*found 2 at row 1"),
    (lambda d: d.assign(AVAL=[1.0, np.nan, 2, 3]), "column 'AVAL' .* missing or infinite values: first at row 1"),
    (lambda d: d.assign(AVAL=[1.0, -2, 2, 3]), "column 'AVAL' .* must be >= 0"),
    (lambda d: d.assign(AVAL=["1", "2", "3", "4"]), "column 'AVAL' .* must be numeric"),
    (lambda d: d.assign(G=["a", None, "b", "b"]), "column 'G' .* missing values"),
])
def test_bad_input_names_the_column(function, damage, message):
    good = pd.DataFrame({"AVAL": [1.0, 2, 3, 4], "CNSR": [0, 0, 1, 0], "G": ["a", "a", "b", "b"]})
    with pytest.raises(ValueError, match=message):
        function(damage(good))


def test_bad_entry_weights_and_options_are_named(small):
    with pytest.raises(ValueError, match="column 'ENTRY' \\(entry time\\) must be below 'AVAL'"):
        sv.km_estimates(small.assign(AVAL=small["ENTRY"]), "GRP", [1], entry="ENTRY")
    with pytest.raises(ValueError, match="column 'FW' .* must be >= 0"):
        sv.cox(small.assign(FW=-small["FW"]), "GRP", weights="FW")
    with pytest.raises(ValueError, match="conf_type must be one of"):
        sv.km_estimates(small, "GRP", [1], conf_type="logit")
    with pytest.raises(ValueError, match="ties must be one of"):
        sv.cox(small, "GRP", ties="exact")
    with pytest.raises(ValueError, match="no events"):
        sv.cox(small.assign(CNSR=1), "GRP")
    with pytest.raises(ValueError, match=r"column 'GRP': group\(s\) \['c'\] have no events"):
        sv.cox(small, "GRP")
    with pytest.raises(ValueError, match="column 'TIME' .* is missing"):
        sv.km_estimates(small, "GRP", [1], time="TIME")


@pytest.mark.parametrize("function", [lambda d: sv.logrank(d, "G"), lambda d: sv.cox(d, "G"),
                                      lambda d: sv.km_difference(d, "G", 1, "a")])
def test_comparisons_need_two_groups(function):
    one_group = pd.DataFrame({"AVAL": [1.0, 2, 3], "CNSR": [0, 1, 0], "G": "a"})
    with pytest.raises(ValueError, match=r"column 'G' has only one group \(\['a'\]\)"):
        function(one_group)


def test_several_adam_parameters_are_refused_unless_grouped(small):
    two_params = pd.concat([small.assign(PARAMCD="OS"), small.assign(PARAMCD="LFS")], ignore_index=True)
    with pytest.raises(ValueError, match=r"column 'PARAMCD' holds several parameters \['LFS', 'OS'\]"):
        sv.km_estimates(two_params, "GRP", [5])
    per_param = sv.km_estimates(two_params, "PARAMCD", [5])
    assert per_param["PARAMCD"].tolist() == ["LFS", "OS"]
    assert sv.logrank(two_params, "GRP", strata="PARAMCD")["df"].iloc[0] == 2
