"""New generic statistics of issue 12 against independent computations.

- RMST (analysis.stats.rmst.rmst) vs R survival: summary(survfit(...), rmean = tau)$table
  "rmean" and "se(rmean)", right-censored and with delayed entry; tau inside and beyond follow-up.
- reverse Kaplan-Meier median follow-up vs R survfit(Surv(time, CNSR)) (censoring as the event).
- product_limit_matrix / rmst_from_curves (bootstrap replicates) vs R survfit(weights =).
- Cohen's kappa vs statsmodels.stats.inter_rater.cohens_kappa (an independent implementation).
- E-value vs the published worked example (VanderWeele & Ding 2017) and the formula by hand.
Tolerances stated at each comparison.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.stats import agreement, rmst, sensitivity
from tests.rref import run_r

TOL = 1e-9  # closed-form sums both sides, double precision (R prints 17 digits)


def _data(seed: int = 3, n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"AVAL": np.ceil(rng.exponential(500, n)), "CNSR": rng.integers(0, 2, n),
                      "G": rng.choice(["A", "B"], n), "ENTRY": np.floor(rng.uniform(0, 150, n))})
    d["AVAL"] = np.maximum(d["AVAL"], d["ENTRY"] + 1)  # at risk after entry
    d.loc[d.index[:3], "CNSR"] = 1
    return d


@pytest.mark.needs_r
@pytest.mark.parametrize("tau", [365.25, 730.5, 5000.0])
@pytest.mark.parametrize("with_entry", [False, True])
def test_rmst_matches_r_survfit_rmean(tau, with_entry):
    d = _data()
    surv = "Surv(ENTRY, AVAL, 1 - CNSR)" if with_entry else "Surv(AVAL, 1 - CNSR)"
    out = run_r(f"""fit <- survfit({surv} ~ G, data = d)
tb <- summary(fit, rmean = {tau!r})$table
out <- list(t = data.frame(G = sub("G=", "", rownames(tb)), rmean = tb[, "rmean"], se = tb[, "se(rmean)"]))""",
                {"d": d})["t"].set_index("G")
    ours = rmst.rmst(d, "G", tau, entry="ENTRY" if with_entry else None).set_index("G")
    for g in ("A", "B"):
        assert ours.at[g, "rmst"] == pytest.approx(out.at[g, "rmean"], abs=TOL), g
        assert ours.at[g, "se"] == pytest.approx(out.at[g, "se"], abs=TOL), g
    assert ours["extended"].tolist() == (ours["last_time"] < tau).tolist()


def test_rmst_by_hand_on_a_tiny_set():
    """Times 2 (event), 4 (censored), 6 (event), n = 3: S = 2/3 on [2, 6), 0 after 6. RMST to 5 =
    2 + 3 * 2/3 = 4. Var (R formula): at t = 2, A = area from 2 to 5 = 2, hh = 1/(3*2) -> 4/6."""
    d = pd.DataFrame({"AVAL": [2.0, 4.0, 6.0], "CNSR": [0, 1, 0]})
    r = rmst.rmst(d, None, 5.0).iloc[0]
    assert r["rmst"] == pytest.approx(4.0, abs=1e-12)
    assert r["se"] == pytest.approx(math.sqrt(4 / 6), abs=1e-12)


def test_rmst_difference_is_the_difference_with_independent_se():
    d = _data(5)
    one = rmst.rmst(d, "G", 730.5).set_index("G")
    diff = rmst.rmst_difference(d, "G", 730.5, reference="A").iloc[0]
    assert diff["diff"] == pytest.approx(one.at["B", "rmst"] - one.at["A", "rmst"], abs=1e-12)
    assert diff["se"] == pytest.approx(math.hypot(one.at["A", "se"], one.at["B", "se"]), abs=1e-12)


@pytest.mark.needs_r
def test_reverse_km_median_follow_up_matches_r():
    d = _data(7)
    out = run_r("""fit <- survfit(Surv(AVAL, CNSR) ~ G, data = d, conf.type = "log-log")
q <- quantile(fit, probs = c(0.25, 0.5, 0.75))
out <- list(q = data.frame(G = sub("G=", "", rownames(q$quantile)), q1 = q$quantile[, 1], med = q$quantile[, 2],
            q3 = q$quantile[, 3], lcl = q$lower[, 2], ucl = q$upper[, 2]))""", {"d": d})["q"].set_index("G")
    ours = rmst.reverse_km_follow_up(d, "G").set_index("G")
    for g in ("A", "B"):
        for ours_col, r_col in (("median", "med"), ("q1", "q1"), ("q3", "q3"), ("lcl", "lcl"), ("ucl", "ucl")):
            assert ours.at[g, ours_col] == pytest.approx(out.at[g, r_col], abs=TOL, nan_ok=True), (g, ours_col)


@pytest.mark.needs_r
def test_product_limit_matrix_matches_weighted_survfit():
    """Two weight vectors (rows) with delayed entry: S at 365.25 and RMST to 730.5 vs R survfit
    with the same case weights (Surv(ENTRY, AVAL, event), weights =). Tolerance 1e-9."""
    d = _data(11, 60)
    rng = np.random.default_rng(2)
    w = np.vstack([rng.uniform(0.2, 3, len(d)), rng.integers(0, 3, len(d)).astype(float)])
    times, surv, _ = rmst.product_limit_matrix(d["AVAL"].to_numpy(), 1 - d["CNSR"].to_numpy(), w,
                                               d["ENTRY"].to_numpy())
    s365 = rmst.survival_at(times, surv, 365.25)
    area = rmst.rmst_from_curves(times, surv, 730.5)
    for b in range(2):
        out = run_r("""fit <- survfit(Surv(ENTRY, AVAL, 1 - CNSR) ~ 1, data = d, weights = W)
out <- list(r = data.frame(s = summary(fit, times = 365.25)$surv, rmean = summary(fit, rmean = 730.5)$table[["rmean"]]))""",
                    {"d": d.assign(W=w[b])})["r"]
        assert s365[b] == pytest.approx(out["s"].iloc[0], abs=TOL)
        assert area[b] == pytest.approx(out["rmean"].iloc[0], abs=TOL)


def test_cohen_kappa_matches_statsmodels():
    """statsmodels' cohens_kappa (Fleiss-Cohen-Everitt SE, std_kappa) on the same 2x2 and 3x3
    tables. Tolerance 1e-12."""
    from statsmodels.stats.inter_rater import cohens_kappa as sm_kappa

    rng = np.random.default_rng(4)
    for k in (2, 3):
        a = rng.integers(0, k, 120)
        b = np.where(rng.uniform(size=120) < 0.7, a, rng.integers(0, k, 120))
        ours = agreement.cohen_kappa(a, b)
        ref = sm_kappa(pd.crosstab(a, b).to_numpy())
        assert ours["kappa"] == pytest.approx(ref.kappa, abs=1e-12)
        assert ours["se"] == pytest.approx(ref.std_kappa, abs=1e-12)
        assert ours["lcl"] == pytest.approx(max(-1, ref.kappa_low), abs=1e-12)


def test_evalue_published_example_and_hr_conversion():
    """VanderWeele & Ding 2017 (Ann Intern Med 167:268): RR 3.9 -> E-value 7.26; lower limit 1.8
    -> 3.0. A hazard ratio of a common outcome is converted by (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))
    first (by hand here). An interval including 1 has E-value 1 for the CI."""
    assert sensitivity.evalue_rr(3.9) == pytest.approx(7.26, abs=0.005)
    assert sensitivity.evalue_rr(1.8) == pytest.approx(3.0, abs=0.005)
    hr, lcl, ucl = 0.5, 0.3, 0.8
    rr = (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))
    rr_ci = (1 - 0.5 ** math.sqrt(ucl)) / (1 - 0.5 ** math.sqrt(1 / ucl))
    e = sensitivity.evalue_hr(hr, lcl, ucl)
    assert e["evalue"] == pytest.approx(1 / rr + math.sqrt(1 / rr * (1 / rr - 1)), abs=1e-12)
    assert e["evalue_ci"] == pytest.approx(1 / rr_ci + math.sqrt(1 / rr_ci * (1 / rr_ci - 1)), abs=1e-12)
    assert sensitivity.evalue_hr(0.7, 0.4, 1.2)["evalue_ci"] == 1.0


def test_tipping_point_moves_the_hazard_ratio_to_one():
    """Plugging the tipping share back into the bias model (Lin, Psaty & Kronmal 1998) gives an
    adjusted HR of exactly 1 (estimate) and an adjusted upper limit of exactly 1 (CI)."""
    hr, lcl, ucl = 0.45, 0.25, 0.8
    tp = sensitivity.tipping_point_hr(hr, lcl, ucl, [2.0, 3.0])
    for _, r in tp.iterrows():
        g = r["confounder_hr"]
        bias = 1 / (1 + (g - 1) * r["p_estimate"])  # U only in the reference cohort
        assert hr / bias == pytest.approx(1.0, abs=1e-12)
        assert ucl * (1 + (g - 1) * r["p_ci"]) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.needs_r
def test_rmst_and_reverse_km_on_cdisc_pilot_adtte(cdisc_pilot_dir):
    """The generic functions on real public ADaM data (CDISC Pilot 01 ADTTE, time to first
    dermatologic event by TRTA): RMST to 180 days and reverse-KM median follow-up vs R survival.
    Tolerance 1e-9."""
    import pyreadstat

    adtte, _ = pyreadstat.read_xport(str(cdisc_pilot_dir / "adtte.xpt"))
    d = adtte[["TRTA", "AVAL", "CNSR"]].dropna().astype({"AVAL": float, "CNSR": float})
    ours = rmst.rmst(d, "TRTA", 180.0).set_index("TRTA")
    fu = rmst.reverse_km_follow_up(d, "TRTA").set_index("TRTA")
    out = run_r("""f <- survfit(Surv(AVAL, 1 - CNSR) ~ TRTA, data = d)
tb <- summary(f, rmean = 180)$table
q <- quantile(survfit(Surv(AVAL, CNSR) ~ TRTA, data = d, conf.type = "log-log"), probs = 0.5)
out <- list(t = data.frame(g = sub("TRTA=", "", rownames(tb)), rmean = tb[, "rmean"], se = tb[, "se(rmean)"],
                           med = q$quantile[, 1]))""", {"d": d})["t"].set_index("g")
    assert len(out) == 3
    for g in out.index:
        assert ours.at[g, "rmst"] == pytest.approx(out.at[g, "rmean"], abs=TOL), g
        assert ours.at[g, "se"] == pytest.approx(out.at[g, "se"], abs=TOL), g
        assert fu.at[g, "median"] == pytest.approx(out.at[g, "med"], abs=TOL, nan_ok=True), g
