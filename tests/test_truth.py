"""The true values of the external comparison's estimands (analysis.simulate.truth, SAP 9.2).

(a) The two summaries of the truth (Cox log HR with delayed entry, product-limit RMST to tau with
    delayed entry) against R survival on a small hand-written frame (1e-6 / 1e-9).
(b) The counterfactual rows are the same patients under both strategies: one SANDWICH and one
    ALLO_EXT row per infused trial patient, with the same entry; the SANDWICH row is the trial
    simulator's own truth (min of relapse and death after CAR-T1), censored at the cut.
(c) The performance measures use the truth and its Monte Carlo SE (hand computation).
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from analysis import conventions as C
from analysis.design.performance import performance, performance_ard
from analysis.simulate import truth
from tests.rref import run_r

HAND = pd.DataFrame({
    "USUBJID": [f"S{k}" for k in range(8)] + [f"S{k}" for k in range(8)],
    "COHORT": [C.COHORT_TRIAL] * 8 + [C.COHORT_EXTERNAL] * 8,
    "ENTRY": [60, 90, 120, 100, 80, 150, 70, 110] * 2,
    "AVAL": [300, 200, 900, 400, 1000, 160, 500, 700, 500, 800, 250, 1200, 600, 900, 300, 650],
    "CNSR": [0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0],
})


@pytest.mark.needs_r
def test_truth_summaries_match_r_survival():
    got = truth.estimand_values(HAND)
    out = run_r(f"""d$COHORT <- relevel(factor(d$COHORT), ref = "{C.REFERENCE_COHORT}")
f <- coxph(Surv(ENTRY, AVAL, 1 - CNSR) ~ COHORT, data = d, ties = "efron")
km <- survfit(Surv(ENTRY, AVAL, 1 - CNSR) ~ COHORT, data = d)
tb <- summary(km, rmean = {C.RMST_TAU_DAYS!r})$table
out <- list(r = data.frame(log_hr = unname(coef(f)),
  rmst_diff = unname(tb["COHORT={C.COHORT_TRIAL}", "rmean"] - tb["COHORT={C.COHORT_EXTERNAL}", "rmean"])))""",
                {"d": HAND})["r"].iloc[0]
    assert got["log_hr"] == pytest.approx(out["log_hr"], rel=1e-6)
    assert got["rmst_diff_days"] == pytest.approx(out["rmst_diff"], abs=1e-9)


def test_counterfactual_rows_pair_the_same_trial_patients():
    from analysis.simulate import params as P
    from analysis.simulate.trial import simulate_trial

    cut = date(2026, 9, 30)
    d = truth.counterfactual_rows(7, 200, cut, unmeasured=P.UNMEASURED)
    wide = d.pivot(index="USUBJID", columns="COHORT", values="ENTRY")
    assert wide.notna().all().all() and (wide[C.COHORT_TRIAL] == wide[C.COHORT_EXTERNAL]).all()
    # the sandwich rows are the simulator's own truth, by hand: same seed stream as counterfactual_rows
    trial_seq, _ = np.random.SeedSequence(7).spawn(2)
    patients = {p.subjid: p for p in simulate_trial(trial_seq, 200, unmeasured=P.UNMEASURED) if p.infused}
    assert set(patients) == set(wide.index)
    for r in d[d["COHORT"] == C.COHORT_TRIAL].itertuples():
        p = patients[r.USUBJID]
        t, fu = max(1.0, min(p.relapse_day, p.death_day)), (cut - p.cart1).days
        assert (r.AVAL - r.ENTRY, r.CNSR) == ((t, 0) if t <= fu else (fu, 1)), r.USUBJID
    # the allo-HSCT rows are followed as the registry is: up to 8.3 years after a 2016-2023 transplant
    allo = d[d["COHORT"] == C.COHORT_EXTERNAL]
    assert (allo["AVAL"] - allo["ENTRY"]).max() <= (P.EXTERNAL_EXTRACT_DATE - P.EXTERNAL_HSCT_START).days


def test_truth_reports_a_monte_carlo_se_from_independent_batches():
    t = truth.true_values(date(2026, 9, 30), n=400, batches=4, seed=3)
    assert set(t.values) == set(t.mcse) == set(truth.ESTIMANDS)
    assert all(math.isfinite(v) and v > 0 for v in t.mcse.values())
    with pytest.raises(ValueError, match="batches"):
        truth.true_values(date(2026, 9, 30), n=10, batches=1)


def test_truth_does_not_depend_on_the_number_of_processes():
    # the batches run in forked processes; each has its own seed, so 1 and 2 processes agree exactly
    one = truth.true_values(date(2026, 9, 30), n=300, batches=3, seed=5, workers=1)
    two = truth.true_values(date(2026, 9, 30), n=300, batches=3, seed=5, workers=2)
    assert one == two


def test_bias_mcse_carries_the_truth_mcse():
    # estimates 0.1, 0.3 (mean 0.2, empSE sqrt(0.02) = 0.141421); truth 0.05 with MCSE 0.03:
    # bias 0.15, MCSE sqrt(0.02 / 2 + 0.03^2) = sqrt(0.0109) = 0.104403
    # intervals (0, 0.1) cover 0.05, (0.2, 0.4) do not: coverage 0.5
    m = performance([0.1, 0.3], [0.0, 0.2], [0.1, 0.4], [0.5, 0.5], truth=0.05, truth_mcse=0.03)
    assert m["bias"] == pytest.approx(0.15, abs=1e-12)
    assert m["bias_mcse"] == pytest.approx(0.1044030650891055, abs=1e-12)
    assert m["coverage"] == 0.5 and m["truth_mcse"] == 0.03


def test_performance_ard_takes_the_truth_of_each_comparisons_estimand():
    rec = pd.DataFrame({"scenario": "s", "replicate": [0, 1, 0, 1], "comparison": ["cox", "cox", "rmst", "rmst"],
                        "estimand": ["log_hr", "log_hr", "rmst_diff_days", "rmst_diff_days"],
                        "estimate": [0.1, 0.3, -10.0, 30.0], "lcl": np.nan, "ucl": np.nan, "p": np.nan})
    a = performance_ard(rec, {"s": {"log_hr": 0.05, "rmst_diff_days": 4.0}}, "LFS",
                        {"s": {"log_hr": 0.0, "rmst_diff_days": 2.0}})
    bias = a[a["stat_name"] == "bias"].set_index("variable")["stat"]
    assert bias["cox"] == pytest.approx(0.15) and bias["rmst"] == pytest.approx(6.0)


def test_simulator_version_is_a_hash_of_the_simulators_source(tmp_path):
    import shutil
    copy = tmp_path / "simulate"
    shutil.copytree(truth.SIMULATOR_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert truth.simulator_version(copy) == truth.simulator_version()
    with (copy / "params.py").open("a") as f:
        f.write("\n# a changed parameter file\n")
    assert truth.simulator_version(copy) != truth.simulator_version()


def test_a_changed_simulator_never_reuses_a_cached_truth(tmp_path, monkeypatch):
    """The truth cache (cli_design.scenario_truths, <out>/truth.json) is keyed by the simulator's
    version: same version -> the cached value; another version -> computed again."""
    from analysis import cli_design
    from analysis.design.scenarios import Scenario
    computed = []

    def fake_truth(scenario, n, seed):
        computed.append(truth.simulator_version())
        return truth.Truth({"log_hr": float(len(computed))}, {"log_hr": 0.0}, n, 2, seed)

    monkeypatch.setattr(cli_design, "scenario_truth", fake_truth)
    s = [Scenario(name="null", effect="null")]
    monkeypatch.setattr(truth, "simulator_version", lambda: "version-A")
    assert cli_design.scenario_truths(s, 100, tmp_path)[0] == {"null": {"log_hr": 1.0}}
    assert cli_design.scenario_truths(s, 100, tmp_path)[0] == {"null": {"log_hr": 1.0}}   # cached
    monkeypatch.setattr(truth, "simulator_version", lambda: "version-B")
    assert cli_design.scenario_truths(s, 100, tmp_path)[0] == {"null": {"log_hr": 2.0}}   # recomputed
    assert computed == ["version-A", "version-B"]
