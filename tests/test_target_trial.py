"""The target-trial emulation of the external comparison (SAP 6.7).

(a) The protocol table of analysis.analyze.target_trial is the one in docs/sap-notes.md (word for word).
(b) The propensity model re-fitted per bootstrap replicate reproduces the analyze step's
    statsmodels weights on the full data (1e-8), and a replicate is the resampled subjects' fit.
(c) The primary comparison on a large simulation of the shipped outcome model (analysis.simulate,
    seeded, unmeasured confounder off) recovers the true LFS hazard ratio of its estimand
    (analysis.simulate.truth) within its 95% CI, while the old naive views (each cohort from its
    own origin; common origin without weighting) exclude it.
(d) On the shipped cut: weighted KM and Cox with delayed entry vs R survfit / coxph with the
    same weights; weighted RMST vs R survfit(weights =) rmean.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis import conventions as C
from analysis import paths
from analysis import ard
from analysis.analyze import external, target_trial
from analysis.analyze.pipeline import analyze_cut, load_derived
from analysis.derive.pipeline import derive_cut, derive_datasets, read_raw_forms
from analysis.stats import survival
from tests.rref import run_r

REPO = Path(__file__).resolve().parent.parent
CUT = paths.latest_cut(REPO)


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_protocol_table_in_sap_notes_matches_the_declaration():
    notes = _normalise((REPO / "docs" / "sap-notes.md").read_text())
    for element, target, emulation in target_trial.PROTOCOL:
        row = _normalise(f"| {element} | {target} | {emulation} |")
        assert row in notes, f"docs/sap-notes.md 6.7 lacks the protocol row {element!r}"
    for event, strategy in target_trial.INTERCURRENT_EVENTS:
        assert _normalise(f"| {event} | {strategy} |") in notes, event


def test_weights_describe_the_analysed_trial_population_not_the_enrolled(small):
    """The ATT's target population is everyone who received CAR-T1 (SAP 6.3, 6.7): the shipped cut
    has a trial patient enrolled but never infused (SAFFL = N), who is in no comparison, so it must
    not be in the propensity model, the weights or the balance (ARD ps_weights n = the infused)."""
    sl = small.data["adsl"]
    trial = sl[sl["COHORT"] == C.COHORT_TRIAL]
    infused, not_infused = (set(trial.loc[trial["SAFFL"] == flag, "USUBJID"]) for flag in ("Y", "N"))
    assert not_infused, "the shipped cut was expected to hold a trial patient who was never infused"
    weighted = set(small.frame.loc[small.frame["COHORT"] == C.COHORT_TRIAL, "USUBJID"])
    assert weighted == infused
    analysed = target_trial.common_clock_frame(small.data["adtte"], small.frame, "LFSCR")
    assert set(analysed.loc[analysed["COHORT"] == C.COHORT_TRIAL, "USUBJID"]) <= weighted
    assert ard.lookup(small.ard, context="ps_weights", param="ATT", group1_level=C.COHORT_TRIAL,
                      stat_name="n") == len(infused)
    assert set(small.frame.loc[small.frame["COHORT"] == C.COHORT_EXTERNAL, "USUBJID"]) == \
        set(sl.loc[sl["COHORT"] == C.COHORT_EXTERNAL, "USUBJID"])


def test_numpy_propensity_fit_reproduces_the_statsmodels_weights(small):
    f = small.frame
    w = target_trial.fast_att_weights(f, external.estimable_covariates(f))
    np.testing.assert_allclose(w, f["IPTW"].to_numpy(float), rtol=1e-8, atol=1e-10)
    coded = target_trial._Covariates(f)
    rows = np.arange(len(f))
    np.testing.assert_allclose(target_trial._att_from_design(*coded.design(rows)), w, rtol=1e-8, atol=1e-10)


def test_bootstrap_replicate_is_a_refit_on_the_resampled_subjects(small):
    """Replicate 0 rebuilt by hand: the same draws (seeded generator, treated then controls), the
    statsmodels-based external.att_weights on the resampled frame, summed per original subject."""
    f = small.frame
    W, ok = target_trial.bootstrap_weights(f, 3, seed=5)
    assert ok.all()
    rng = np.random.default_rng(5)
    groups = [np.flatnonzero(f[external.TREATED].to_numpy() == t) for t in (1, 0)]
    rows = np.concatenate([g[rng.integers(0, len(g), len(g))] for g in groups])
    sample = f.iloc[rows].reset_index(drop=True)
    w = external.att_weights(sample, external.estimable_covariates(sample))["weight"].to_numpy()
    np.testing.assert_allclose(W[0], np.bincount(rows, weights=w, minlength=len(f)), rtol=1e-7, atol=1e-9)
    assert not np.allclose(W[0], W[1])  # a new fit per replicate, not fixed weights


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("tte_root")
    shutil.copytree(paths.raw_dir(CUT, REPO), paths.raw_dir(CUT, root))
    derive_cut(CUT, root)
    with contextlib.redirect_stderr(io.StringIO()):
        csv = analyze_cut(CUT, root)
    data = load_derived(CUT, root)
    frame = external.subject_weights(data["adsl"]).reset_index(drop=True)
    return SimpleNamespace(data=data, ard=ard.read(csv), frame=frame)


# --- (c) recovery of the planted effect ------------------------------------------------------------------
BIG_SEED, BIG_TRIAL, BIG_EXTERNAL, BIG_BOOT = 11, 500, 1500, 200


TRUTH_N, TRUTH_BATCHES = 10000, 5


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> SimpleNamespace:
    """A large seeded cohort of the shipped outcome model through the raw export and the
    derivations, with the unmeasured confounder switched off (no analysis of measured data can
    remove it; tests/test_simulate_truth.py shows its bias). Its truth is the true value of exactly
    what the primary analysis estimates: analysis.simulate.truth, the marginal ATT hazard ratio of
    LFS from treatment start on the common clock, by a counterfactual simulation of the trial
    population under both strategies with the same follow-up (non-response, the conditioning
    window and allo-HSCT after a stopped sandwich included). PLANTED_TRUTH's relapse HR (1.6,
    conditional, relapse only, MRD-negative after CAR-T1) is not this estimand."""
    from datetime import date

    from analysis.simulate import params, truth
    from analysis.simulate.study import CUTS, cut_files, simulate_study

    cut = CUTS[-1]
    raw = tmp_path_factory.mktemp("tte_big") / cut
    raw.mkdir()
    study = simulate_study(BIG_SEED, n_trial=BIG_TRIAL, n_external=BIG_EXTERNAL, unmeasured=params.UNMEASURED_OFF)
    for name, content in cut_files(study, cut).items():
        (raw / name).write_bytes(content)
    data = derive_datasets(read_raw_forms(raw), paths.cut_date(cut))
    rows = target_trial.comparison_rows(data["adsl"], data["adtte"], n_boot=BIG_BOOT)
    t = truth.true_values(date.fromisoformat(paths.cut_date(cut)), n=TRUTH_N, batches=TRUTH_BATCHES,
                          unmeasured=params.UNMEASURED_OFF)
    return SimpleNamespace(data=data, rows=rows, truth=float(np.exp(t.values["log_hr"])),
                           truth_mcse=t.mcse["log_hr"])


def _hr(rows: pd.DataFrame, analysis: str, param: str) -> tuple[float, float, float]:
    return tuple(ard.lookup(rows, context=analysis, param=param, stat_name=s) for s in ("hr", "lcl", "ucl"))


def test_primary_comparison_recovers_the_true_hazard_ratio(big):
    """Primary (ATT-weighted Cox, delayed entry on the common clock, robust 95% CI) contains the
    true marginal LFS hazard ratio of its estimand (analysis.simulate.truth; its Monte Carlo SE,
    about 0.03 on the log scale, is small beside the CI's half-width of about 0.2, and is
    asserted to be); the unweighted common-origin Cox (same estimand, measured confounding left in)
    does not. The naive Cox of the registry-style LFS (trial from the first remission after CAR-T1,
    controls from allo-HSCT) is printed but not asserted: its confounding bias (upwards) and its
    origin bias (downwards, dropping early non-responders; -0.10 under an unconfounded null,
    docs/sap-notes.md 9.5) cancel on this seed (naive 1.68, 1.41-2.01, against the truth 1.58)."""
    assert big.truth_mcse < 0.05
    hr, lcl, ucl = _hr(big.rows, "tte_cox", "LFS")
    adtte = big.data["adtte"]
    lfs = adtte[adtte["PARAMCD"] == "LFS"]
    naive = survival.cox(lfs, "COHORT", ties=C.COX_TIES, reference=C.REFERENCE_COHORT).iloc[0]
    common = external.at_risk_after_entry(adtte[adtte["PARAMCD"] == "LFSCR"])
    unweighted = survival.cox(common, "COHORT", ties=C.COX_TIES, reference=C.REFERENCE_COHORT, entry="ENTRY").iloc[0]
    message = (f"true {big.truth:.3f} (log MCSE {big.truth_mcse:.3f}); primary {hr:.3f} ({lcl:.3f}, {ucl:.3f}); naive {naive['hr']:.3f} "
               f"({naive['lcl']:.3f}, {naive['ucl']:.3f}); common origin unweighted {unweighted['hr']:.3f} "
               f"({unweighted['lcl']:.3f}, {unweighted['ucl']:.3f})")
    print(message)
    assert lcl < big.truth < ucl, message
    assert not unweighted["lcl"] < big.truth < unweighted["ucl"], message


def test_primary_bootstrap_uses_every_replicate_and_says_so(big):
    for param in ("LFS", "OS"):
        keys = dict(context="tte_rmst_diff", param=param)
        assert ard.lookup(big.rows, **keys, stat_name="n_boot") == BIG_BOOT
        assert ard.lookup(big.rows, **keys, stat_name="n_boot_used") + \
            ard.lookup(big.rows, **keys, stat_name="n_boot_failed") == BIG_BOOT
        assert ard.lookup(big.rows, **keys, stat_name="lcl") < ard.lookup(big.rows, **keys, stat_name="diff") \
            < ard.lookup(big.rows, **keys, stat_name="ucl")


# --- (d) the primary analysis on the shipped cut against R with the same weights ----------------------------

@pytest.mark.needs_r
def test_primary_weighted_km_cox_and_rmst_match_r(small):
    """ATT-weighted KM with delayed entry (survfit(Surv(ENTRY, AVAL, event), weights, robust,
    log-log): surv, SE, limits at 1 and 2 years; 1e-9), weighted Cox with robust variance
    (coxph(..., weights, robust = TRUE): HR and limits; 1e-6 relative), and the weighted RMST to
    730.5 days (summary(survfit)$table rmean; 1e-9), LFSCR and OSCR, same per-subject weights; and the
    truncation sensitivity (tte_cox_trunc) with the weights capped in R (1e-6 relative)."""
    parts = []
    for paramcd, endpoint in target_trial.COMMON_CLOCK_PARAMS.items():
        d = target_trial.common_clock_frame(small.data["adtte"], small.frame, paramcd)
        parts.append(pd.DataFrame({"param": endpoint, "COHORT": d["COHORT"].astype(str),
                                   "ENTRY": d["ENTRY"].astype(float), "AVAL": d["AVAL"].astype(float),
                                   "CNSR": d["CNSR"].astype(float), "W": d["IPTW"].astype(float)}))
    data = pd.concat(parts, ignore_index=True)
    subjects = pd.DataFrame({"W": small.frame["IPTW"].astype(float)})
    hi_pct = C.IPTW_SENSITIVITY_TRUNCATE_PERCENTILES[1]
    out = run_r(f"""km <- NULL; cx <- NULL; rm <- NULL; ct <- NULL
# the truncation sensitivity: every subject's weight capped at the {hi_pct}th percentile of all
# subjects' weights (quantile type 7, as numpy's default), then the same weighted Cox
cap <- quantile(s$W, {hi_pct!r} / 100, type = 7)
for (p in unique(d$param)) {{
  x <- d[d$param == p, ]
  x$ID <- seq_len(nrow(x))
  f <- survfit(Surv(ENTRY, AVAL, 1 - CNSR) ~ COHORT, data = x, weights = W, robust = TRUE, id = ID,
               conf.type = "log-log")
  s <- summary(f, times = c({C.TIMEPOINT_1Y_DAYS!r}, {C.TIMEPOINT_2Y_DAYS!r}), extend = TRUE)
  km <- rbind(km, data.frame(param = p, group = sub("COHORT=", "", as.character(s$strata)), time = s$time,
                             surv = s$surv, std_err = s$std.err, lcl = s$lower, ucl = s$upper))
  tb <- summary(f, rmean = {C.RMST_TAU_DAYS!r})$table
  rm <- rbind(rm, data.frame(param = p, group = sub("COHORT=", "", rownames(tb)), rmean = tb[, "rmean"]))
  x$COHORT <- relevel(factor(x$COHORT), ref = "{C.REFERENCE_COHORT}")
  sm <- summary(coxph(Surv(ENTRY, AVAL, 1 - CNSR) ~ COHORT, data = x, weights = W, robust = TRUE, id = ID,
                      ties = "efron"))
  cx <- rbind(cx, data.frame(param = p, hr = sm$conf.int[1, 1], lcl = sm$conf.int[1, 3], ucl = sm$conf.int[1, 4]))
  x$WT <- pmin(x$W, cap)
  st <- summary(coxph(Surv(ENTRY, AVAL, 1 - CNSR) ~ COHORT, data = x, weights = WT, robust = TRUE, id = ID,
                      ties = "efron"))
  ct <- rbind(ct, data.frame(param = p, hr = st$conf.int[1, 1], lcl = st$conf.int[1, 3], ucl = st$conf.int[1, 4]))
}}
out <- list(km = km, cx = cx, rm = rm, ct = ct)""", {"d": data, "s": subjects})
    a = small.ard
    for r in out["km"].itertuples():
        keys = dict(context="tte_km", param=r.param, group1_level=r.group, variable_level=ard._level_text(float(r.time)))
        for name in ("surv", "std_err", "lcl", "ucl"):
            assert ard.lookup(a, **keys, stat_name=name) == pytest.approx(getattr(r, name), abs=1e-9), (keys, name)
    for r in out["cx"].itertuples():
        for name in ("hr", "lcl", "ucl"):
            assert ard.lookup(a, context="tte_cox", param=r.param, stat_name=name) == pytest.approx(getattr(r, name), rel=1e-6)
    for r in out["ct"].itertuples():
        for name in ("hr", "lcl", "ucl"):
            got = ard.lookup(a, context="tte_cox_trunc", param=r.param, stat_name=name)
            assert got == pytest.approx(getattr(r, name), rel=1e-6), (r.param, name)
        assert ard.lookup(a, context="tte_cox_trunc", param=r.param, stat_name="hr") != \
            pytest.approx(ard.lookup(a, context="tte_cox", param=r.param, stat_name="hr"), rel=1e-6)
    for r in out["rm"].itertuples():
        got = ard.lookup(a, context="tte_rmst", param=r.param, group1_level=r.group, stat_name="rmst")
        assert got == pytest.approx(r.rmean, abs=1e-9), (r.param, r.group)


def test_evalue_and_tipping_rows_are_the_formulas_applied_to_the_primary_hr(small):
    """tte_evalue / tte_tipping recomputed by hand from the tte_cox row (VanderWeele & Ding 2017
    common-outcome conversion; Lin-Psaty-Kronmal share (1/HR - 1)/(gamma - 1) for HR < 1)."""
    import math

    for param in ("LFS", "OS"):
        hr, lcl, ucl = _hr(small.ard, "tte_cox", param)
        h = hr if hr >= 1 else 1 / hr
        rr = (1 - 0.5 ** math.sqrt(h)) / (1 - 0.5 ** math.sqrt(1 / h))
        assert ard.lookup(small.ard, context="tte_evalue", param=param, stat_name="evalue") == \
            pytest.approx(rr + math.sqrt(rr * (rr - 1)), abs=1e-12)
        for gamma in C.TIPPING_CONFOUNDER_HR:
            got = ard.lookup(small.ard, context="tte_tipping", param=param, variable_level=ard._level_text(float(gamma)),
                             stat_name="p_estimate")
            assert got == pytest.approx((h - 1) / (gamma - 1), abs=1e-12)
