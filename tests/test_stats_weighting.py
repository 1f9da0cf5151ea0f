"""Tests of analysis.stats.weighting against R (glm, survfit, coxph), tableone, hand computation
and known statistical properties. Tolerances are stated at each assertion."""

from __future__ import annotations

import time as clock

import numpy as np
import pandas as pd
import pytest

from analysis.stats.weighting import (balance, effective_sample_size, iptw, love_plot,
                                      propensity_score, weighted_cox, weighted_km_difference)


def confounded(n: int = 200, seed: int = 20240602, tied: bool = False) -> pd.DataFrame:
    """Treatment depends on AGE and SEX; survival depends on treatment and AGE."""
    rng = np.random.default_rng(seed)
    age = rng.normal(50, 10, n).round(1)
    sex = rng.choice(["F", "M"], n)
    e = 1 / (1 + np.exp(-(-0.3 + 0.06 * (age - 50) + 0.6 * (sex == "M"))))
    trt = (rng.random(n) < e).astype(int)
    t = rng.exponential(500 * np.exp(0.5 * trt - 0.03 * (age - 50)))
    c = rng.uniform(200, 1500, n)
    aval = np.minimum(t, c)
    return pd.DataFrame({"TRT": trt, "AGE": age, "SEX": sex, "TRUE_PS": e,
                         "AVAL": np.ceil(aval / 30) if tied else aval, "CNSR": (c < t).astype(int)})


def with_ate_weights(df: pd.DataFrame) -> pd.DataFrame:
    fit = propensity_score(df, "TRT", ["AGE", "SEX"])
    return df.assign(W=iptw(df, "TRT", fit.scores, "ATE")["weight"].to_numpy())


# --- propensity score ---------------------------------------------------------------------------

@pytest.mark.needs_r
def test_propensity_model_matches_r_glm():
    """Same likelihood, both converged: coefficients and SEs agree to 1e-6 relative."""
    from tests.rref import run_r
    df = confounded()
    fit = propensity_score(df, "TRT", ["AGE", "SEX"])
    r = run_r("""f <- glm(TRT ~ AGE + SEX, family = binomial, data = d, control = glm.control(epsilon = 1e-14))
      out <- list(c = data.frame(coef = coef(f), se = sqrt(diag(vcov(f)))), p = data.frame(ps = fitted(f)))""",
              {"d": df})
    assert list(fit.summary["term"]) == ["Intercept", "AGE", "SEX=M"]
    np.testing.assert_allclose(fit.summary["coef"], r["c"]["coef"], rtol=1e-6)
    np.testing.assert_allclose(fit.summary["se"], r["c"]["se"], rtol=1e-6)
    np.testing.assert_allclose(fit.scores, r["p"]["ps"], rtol=1e-6)
    assert (fit.scores.index == df.index).all()


def test_propensity_errors_name_the_column():
    df = confounded(n=60)
    with pytest.raises(ValueError, match=r"'AGE': 2 missing"):
        propensity_score(df.assign(AGE=df["AGE"].where(~df.index.isin([3, 9]))), "TRT", ["AGE", "SEX"])
    separated = df.assign(DOSE=np.where(df["TRT"] == 1, 10.0, 1.0) + df.index / 100)
    with pytest.raises(ValueError, match=r"perfect separation.*'DOSE'"):
        propensity_score(separated, "TRT", ["AGE", "DOSE"])
    level = df.assign(SITE=np.where(df["TRT"] == 1, "s1", "s2"))
    level.loc[level.index[:5], "SITE"] = "s3"
    level.loc[level.index[:5], "TRT"] = 1
    with pytest.raises(ValueError, match=r"'SITE'.*level 's1'.*are treated"):
        propensity_score(level, "TRT", ["AGE", "SITE"])
    with pytest.raises(ValueError, match=r"'ARM'.*bool or 0/1"):
        propensity_score(df.assign(ARM=np.where(df["TRT"] == 1, "A", "B")), "ARM", ["AGE"])


# --- weights ------------------------------------------------------------------------------------

def test_iptw_weights_by_hand():
    df = pd.DataFrame({"T": [1, 1, 0, 0, 0], "e": [0.8, 0.5, 0.5, 0.2, 0.25]})
    ate = iptw(df, "T", "e", "ATE", stabilize=False)
    np.testing.assert_allclose(ate["weight"], [1 / 0.8, 2, 2, 1 / 0.8, 1 / 0.75], rtol=1e-15)
    ate_s = iptw(df, "T", "e", "ATE", stabilize=True)
    np.testing.assert_allclose(ate_s["weight"], [0.4 / 0.8, 0.8, 1.2, 0.6 / 0.8, 0.6 / 0.75], rtol=1e-15)
    att = iptw(df, "T", "e", "ATT", stabilize=False)
    np.testing.assert_allclose(att["weight"], [1, 1, 1, 0.25, 1 / 3], rtol=1e-15)
    att_s = iptw(df, "T", "e", "ATT", stabilize=True)
    total = 1 + 0.25 + 1 / 3
    np.testing.assert_allclose(att_s["weight"], [1, 1, 3 / total, 0.75 / total, 1 / total], rtol=1e-14)
    assert "ATT" in att_s.attrs["rule"] and "sum to the number of controls" in att_s["rule"].iloc[0]


def test_iptw_truncation_rules():
    df = pd.DataFrame({"T": [1] * 5 + [0] * 5, "e": [0.1, 0.3, 0.5, 0.7, 0.9] * 2})
    capped = iptw(df, "T", "e", "ATE", stabilize=False, truncate=4.0)
    assert capped["weight"].max() == 4.0
    assert capped["truncated"].tolist() == [True] + [False] * 8 + [True]
    assert "above 4" in capped.attrs["rule"]
    raw = capped["weight_untruncated"].to_numpy()
    pct = iptw(df, "T", "e", "ATE", stabilize=False, truncate=(10, 90))
    lo, hi = np.percentile(raw, [10, 90])          # numpy's linear interpolation, stated in rule
    np.testing.assert_allclose(pct["weight"], np.clip(raw, lo, hi), rtol=1e-15)
    assert "10th and 90th percentiles" in pct.attrs["rule"]
    with pytest.raises(ValueError, match="index differs"):
        iptw(df, "T", df["e"].iloc[::-1])
    with pytest.raises(ValueError, match=r"strictly in \(0, 1\).*row 2 "):
        iptw(df.assign(e=df["e"].where(df.index != 2, 1.0)), "T", "e")


def test_att_weights_with_true_ps_recover_treated_means():
    """E[w X | T=0] with w = e/(1-e) equals E[X | T=1] (Hirano, Imbens & Ridder 2003). With
    n = 40000 the Monte Carlo error of the weighted control mean is about 0.01 for AGE/10 and
    0.005 for a proportion; tolerance 4 such SEs."""
    df = confounded(n=40000, seed=1)
    w = iptw(df, "TRT", "TRUE_PS", "ATT")["weight"].to_numpy()
    t = df["TRT"].to_numpy() == 1
    for x, tol in ((df["AGE"].to_numpy() / 10, 0.04), ((df["SEX"] == "M").to_numpy(float), 0.02)):
        assert np.average(x[~t], weights=w[~t]) == pytest.approx(x[t].mean(), abs=tol)
        assert abs(x[~t].mean() - x[t].mean()) > 2 * tol      # and there was imbalance to remove


def test_ate_weights_with_true_ps_recover_population_means():
    df = confounded(n=40000, seed=2)
    w = iptw(df, "TRT", "TRUE_PS", "ATE")["weight"].to_numpy()
    t = df["TRT"].to_numpy() == 1
    x = df["AGE"].to_numpy()
    for grp in (t, ~t):
        assert np.average(x[grp], weights=w[grp]) == pytest.approx(x.mean(), abs=0.4)  # ~4 SE


def test_effective_sample_size():
    assert effective_sample_size(np.full(37, 2.5)) == pytest.approx(37, rel=1e-15)
    assert effective_sample_size([1, 1, 2]) == pytest.approx(16 / 6, rel=1e-15)
    with pytest.raises(ValueError):
        effective_sample_size([1, -1])


# --- balance --------------------------------------------------------------------------------------

def test_smd_by_hand():
    df = pd.DataFrame({"T": [0, 0, 0, 1, 1, 1, 1], "x": [1.0, 2, 4, 3, 5, 6, 9],
                       "b": [0, 1, 1, 1, 1, 0, 1], "w": [1, 2, 1, 1, 1, 3, 1.0]})
    res = balance(df, "T", ["x", "b"], weights="w").set_index("covariate")
    s = np.sqrt((np.var([3, 5, 6, 9], ddof=1) + np.var([1, 2, 4], ddof=1)) / 2)
    assert res.loc["x", "smd_unweighted"] == pytest.approx((23 / 4 - 7 / 3) / s, rel=1e-14)
    mw1, mw0 = (3 + 5 + 18 + 9) / 6, (1 + 4 + 4) / 4
    assert res.loc["x", "smd_weighted"] == pytest.approx((mw1 - mw0) / s, rel=1e-14)
    p1, p0 = 3 / 4, 2 / 3
    sb = np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2)
    assert res.loc["b", "type"] == "binary"
    assert res.loc["b", "smd_unweighted"] == pytest.approx((p1 - p0) / sb, rel=1e-14)
    assert res.loc["b", "smd_weighted"] == pytest.approx((3 / 6 - 3 / 4) / sb, rel=1e-14)
    treated_sd = balance(df, "T", ["x"], sd_denominator="treated")
    assert treated_sd.loc[0, "smd_unweighted"] == pytest.approx((23 / 4 - 7 / 3) / np.std([3, 5, 6, 9], ddof=1))


@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # inside tableone 0.9.6
def test_unweighted_smd_matches_tableone():
    """tableone 0.9.6 computes the unweighted SMD of a continuous variable with the pooled
    sample SD; agreement to 1e-10 (tableone reports the absolute value)."""
    from tableone import TableOne
    df = confounded(n=150, seed=8)
    ours = balance(df, "TRT", ["AGE"])
    t1 = TableOne(df, columns=["AGE"], groupby="TRT", smd=True, pval=False)
    assert abs(ours.loc[0, "smd_unweighted"]) == pytest.approx(float(t1.smd_table.iloc[0, 0]), abs=1e-10)


def test_love_plot_draws_every_row_and_the_threshold():
    df = with_ate_weights(confounded())
    bal = balance(df, "TRT", ["AGE", "SEX"], weights="W")
    fig = love_plot(bal, threshold=0.1)
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == len(bal) == 3
    assert [len(c.get_offsets()) for c in ax.collections] == [3, 3]
    assert any(np.allclose(line.get_xdata(), 0.1) for line in ax.get_lines())
    import matplotlib.pyplot as plt
    plt.close(fig)


# --- weighted KM difference -------------------------------------------------------------------

@pytest.mark.needs_r
def test_weighted_km_matches_survfit_with_weights():
    """Point estimates are survfit(weights=) exactly (same product-limit sums): 1e-10."""
    from tests.rref import run_r
    df = with_ate_weights(confounded(tied=True))
    ours = weighted_km_difference(df, "TRT", 12, reference=0, weights="W", n_boot=50, seed=3)
    r = run_r("""s <- summary(survfit(Surv(AVAL, 1 - CNSR) ~ TRT, data = d, weights = W), times = 12)
      out <- list(s = data.frame(surv = s$surv))""", {"d": df})["s"]
    assert ours.loc[0, "surv_reference"] == pytest.approx(r["surv"][0], abs=1e-10)
    assert ours.loc[0, "surv"] == pytest.approx(r["surv"][1], abs=1e-10)
    assert ours.loc[0, "difference"] == pytest.approx(r["surv"][1] - r["surv"][0], abs=1e-10)


def test_bootstrap_is_fast_reproducible_and_recorded():
    df = with_ate_weights(confounded(n=200))
    start = clock.perf_counter()
    a = weighted_km_difference(df, "TRT", 365, reference=0, weights="W", n_boot=1000, seed=42)
    elapsed = clock.perf_counter() - start
    b = weighted_km_difference(df, "TRT", 365, reference=0, weights="W", n_boot=1000, seed=42)
    c = weighted_km_difference(df, "TRT", 365, reference=0, weights="W", n_boot=1000, seed=43)
    assert elapsed < 5, f"1000 replicates of 200 subjects took {elapsed:.1f}s"
    pd.testing.assert_frame_equal(a, b)
    assert a.loc[0, "lcl"] != c.loc[0, "lcl"]
    row = a.iloc[0]
    assert (row["n_boot"], row["seed"], row["n_boot_valid"]) == (1000, 42, 1000)
    assert row["lcl"] < row["difference"] < row["ucl"]


def test_bootstrap_se_of_unweighted_km_difference_agrees_with_greenwood():
    """With unit weights, the bootstrap SE of S1(t) - S0(t) estimates the same quantity as the
    Greenwood SE sqrt(se1^2 + se0^2) (lifelines); with 2000 replicates they agree within 10%."""
    from lifelines import KaplanMeierFitter
    df = confounded(n=300, seed=5)
    res = weighted_km_difference(df, "TRT", 365, reference=0, n_boot=2000, seed=1)
    var = 0.0
    for grp in (0, 1):
        d = df[df["TRT"] == grp]
        km = KaplanMeierFitter().fit(d["AVAL"], 1 - d["CNSR"])
        s = float(km.survival_function_at_times(365).iloc[0])
        times = km.event_table.index.to_numpy()
        table = km.event_table[times <= 365]
        var += s ** 2 * (table["observed"] / (table["at_risk"] * (table["at_risk"] - table["observed"]))).sum()
        assert res.loc[0, "surv" if grp else "surv_reference"] == pytest.approx(s, abs=1e-12)
    assert res.loc[0, "boot_se"] == pytest.approx(np.sqrt(var), rel=0.10)


def test_refit_path_reestimates_weights_per_replicate():
    df = confounded(n=120, seed=6)
    ones = weighted_km_difference(df, "TRT", 365, reference=0, n_boot=40, seed=9)
    ones_refit = weighted_km_difference(df, "TRT", 365, reference=0, n_boot=40, seed=9,
                                        refit=lambda d: np.ones(len(d)))
    # constant weights: the refit path must reproduce the vectorised path replicate for replicate
    for col in ("lcl", "ucl", "boot_se"):
        assert ones_refit.loc[0, col] == pytest.approx(ones.loc[0, col], abs=1e-14)
    calls = []

    def refit(d):
        calls.append(len(d))
        return with_ate_weights(d)["W"].to_numpy()

    dfw = with_ate_weights(df)
    res = weighted_km_difference(dfw, "TRT", 365, reference=0, weights="W", n_boot=30, seed=9, refit=refit)
    assert calls == [120] * 30 and bool(res.loc[0, "refit"])


def test_time_point_after_follow_up_is_not_estimable():
    df = confounded(n=80, seed=12)
    late = float(df["AVAL"].max()) + 1
    res = weighted_km_difference(df, "TRT", late, reference=0, n_boot=20, seed=1)
    assert np.isnan(res.loc[0, "difference"]) and res.loc[0, "n_boot_valid"] == 0
    assert np.isnan(res.loc[0, "lcl"])


def test_km_difference_input_errors():
    df = confounded(n=50)
    with pytest.raises(ValueError, match=r"'CNSR'.*0 \(event\) or 1"):
        weighted_km_difference(df.assign(CNSR=2), "TRT", 100, reference=0)
    with pytest.raises(ValueError, match="reference level 5"):
        weighted_km_difference(df, "TRT", 100, reference=5)
    with pytest.raises(ValueError, match=r"'W'.*finite and >= 0"):
        weighted_km_difference(df.assign(W=-1.0), "TRT", 100, reference=0, weights="W")


# --- weighted Cox ---------------------------------------------------------------------------------

@pytest.mark.needs_r
@pytest.mark.parametrize("tied", [False, True])
def test_weighted_cox_matches_coxph_robust(tied):
    """Efron ties and the Lin-Wei sandwich in both; with untied and with heavily tied (integer
    months) times, coefficient to 1e-6 absolute and robust SE to 1e-6 relative."""
    from tests.rref import run_r
    df = with_ate_weights(confounded(tied=tied))
    ours = weighted_cox(df, "TRT", "W", robust=True)
    r = run_r("""f <- coxph(Surv(AVAL, 1 - CNSR) ~ TRT, data = d, weights = W, robust = TRUE)
      out <- list(f = data.frame(coef = coef(f), se = sqrt(diag(f$var))))""", {"d": df})["f"]
    assert np.log(ours.loc[0, "hr"]) == pytest.approx(r["coef"][0], abs=1e-6)
    assert ours.loc[0, "se"] == pytest.approx(r["se"][0], rel=1e-6)
    assert ours.loc[0, "lcl"] < ours.loc[0, "hr"] < ours.loc[0, "ucl"]
    as_array = weighted_cox(df, "TRT", df["W"].to_numpy(), robust=True)
    pd.testing.assert_frame_equal(as_array, ours)


# --- real ADaM data: CDISC Pilot 01 ADSL ----------------------------------------------------------

def pilot_adsl(cdisc_pilot_dir) -> pd.DataFrame:
    adsl = pd.read_sas(cdisc_pilot_dir / "adsl.xpt", format="xport", encoding="latin1")
    adsl["XANO"] = (adsl["TRT01P"] != "Placebo").astype(int)   # either xanomeline dose vs placebo
    return adsl


def test_cdisc_pilot_balance_and_weighting(cdisc_pilot_dir):
    adsl = pilot_adsl(cdisc_pilot_dir)
    covariates = ["AGE", "SEX", "RACE", "BMIBL"]
    with pytest.raises(ValueError, match=r"'BMIBL': 1 missing"):
        balance(adsl, "XANO", covariates)
    adsl = adsl.dropna(subset=["BMIBL"])
    with pytest.raises(ValueError, match=r"separation.*'RACE'.*AMERICAN INDIAN"):
        propensity_score(adsl, "XANO", covariates)      # a race level with a single subject
    unweighted = balance(adsl, "XANO", covariates)
    assert set(unweighted["covariate"]) == set(covariates)
    assert set(unweighted.loc[unweighted["covariate"] == "RACE", "level"]) == set(adsl["RACE"])
    np.testing.assert_allclose(unweighted["smd_unweighted"], unweighted["smd_weighted"], rtol=1e-14)
    fit = propensity_score(adsl, "XANO", ["AGE", "SEX", "BMIBL"])
    w = iptw(adsl, "XANO", fit.scores, "ATE")
    weighted = balance(adsl, "XANO", ["AGE", "SEX", "BMIBL"], weights=w["weight"].to_numpy())
    assert (weighted["smd_weighted"].abs() < 0.1).all()
    assert effective_sample_size(w["weight"]) < len(adsl)
