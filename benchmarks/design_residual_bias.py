"""Where the primary comparison's residual bias under measured confounding comes from (issue 17,
docs/sap-notes.md 9.7): the same simulated null studies at the design's size analysed by the
primary (common clock, delayed entry, ATT-weighted Cox, SAP 6.7) with different weights, paired
within each study, and each study simulated at every strength of measured confounding with the
same seed (common random numbers), so the confounding-attributable shift of each variant is the
paired difference against measured = 0.

Variants: ``report`` (the report's weights: 12-covariate propensity model, not truncated since
SAP 6.5 of 2026-12-01); ``truncated`` (same scores, truncated at the 99th percentile: the rule
before, now the primary's sensitivity analysis); ``unweighted``; ``oracle`` (the simulator's true
density ratio of age, CR2 and MRD status between the cohorts, analysis.cli_design scenario
models: what a perfectly specified, perfectly estimated propensity model gives); ``ps3``
(model with only the three planted confounders, untruncated); ``report_adjusted`` (the report's
weights and a Cox model adjusted for age, CR2 and MRD: doubly robust in the null, where the
conditional and marginal HRs are both 0); ``entropy`` (entropy balancing, Hainmueller 2012: control
weights exp(lambda'x) normalised, with the controls' weighted means of every column of the
propensity model's design EXACTLY equal to the trial's; doubly robust for outcomes linear in x,
Zhao & Percival 2017; a study where exact balance is infeasible, the trial's means outside the
controls' convex hull, is counted and left out of every variant's mean). Also the weighted SMD of
each planted confounder.

``python -m benchmarks.design_residual_bias [--measured 0 1 2] [--studies 220]``. Nothing asserted.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from analysis import conventions as C
from analysis import paths
from analysis.analyze import external, target_trial
from analysis.analyze.sap import COHORT
from analysis.cli_design import _scenario_models, simulate_raw
from analysis.design.replicate import derived_from_raw
from analysis.design.scenarios import Scenario
from analysis.stats import survival, weighting

VARIANTS = ("report", "truncated", "unweighted", "oracle", "ps3", "entropy", "report_adjusted")
CONFOUNDERS = ("AGE", "CR2", "MRDP")   # the planted ones (analysis.cli_design: age_mean, cr2, mrd_positive)


def _log_hr(tte, frame, w, adjust: bool = False) -> float:
    data = target_trial.common_clock_frame(tte, frame.assign(IPTW=w), "LFSCR")
    data = data.merge(frame[["USUBJID", *CONFOUNDERS]], on="USUBJID")
    fit = survival.cox(data, COHORT, ties=C.COX_TIES, reference=C.REFERENCE_COHORT,
                       covariates=list(CONFOUNDERS) if adjust else None, weights="IPTW", robust=True,
                       entry="ENTRY", cluster="USUBJID")
    return float(fit["coef"].iloc[0])


def _att(frame, covariates, truncate) -> np.ndarray:
    fit = weighting.propensity_score(frame, external.TREATED, covariates,
                                     categorical=[c for c in external.PS_CATEGORICAL if c in covariates])
    return weighting.iptw(frame, external.TREATED, np.asarray(fit.scores), estimand=C.IPTW_ESTIMAND,
                          stabilize=C.IPTW_STABILIZE, truncate=truncate)["weight"].to_numpy()


def entropy_weights(frame, covariates, tol: float = 1e-10, max_iter: int = 100) -> np.ndarray | None:
    """Entropy-balancing ATT weights (Hainmueller 2012, Political Analysis 20:25): controls
    q_i = exp(lambda'z_i) / sum exp(lambda'z), z = x - mean of x in the trial, lambda minimising the
    convex dual log sum exp(lambda'z) by Newton with backtracking; controls rescaled to sum to their
    number, trial 1. None when exact balance is infeasible (no convergence)."""
    cat = [c for c in external.PS_CATEGORICAL if c in covariates]
    x = weighting._model_matrix(frame, covariates, cat).drop(columns="Intercept").to_numpy(float)
    t = frame[external.TREATED].to_numpy() == 1
    scale = x.std(axis=0)
    z = ((x - x[t].mean(axis=0)) / np.where(scale > 0, scale, 1))[~t]
    lam = np.zeros(z.shape[1])

    def dual(v):
        a = z @ v
        return a.max() + math.log(np.exp(a - a.max()).sum())
    for _ in range(max_iter):
        a = z @ lam
        q = np.exp(a - a.max())
        q /= q.sum()
        g = q @ z
        if np.abs(g).max() < tol:
            w = np.ones(len(frame))
            w[~t] = q * (~t).sum()
            return w
        try:
            step = np.linalg.solve((z * q[:, None]).T @ z - np.outer(g, g), g)
        except np.linalg.LinAlgError:
            return None
        f0, s = dual(lam), 1.0
        while s > 1e-10 and dual(lam - s * step) > f0 - 1e-4 * s * (g @ step):
            s /= 2
        lam = lam - s * step
    return None


def oracle_weights(frame, trial, ext) -> np.ndarray:
    """f_trial(x) / f_registry(x) of the simulator's covariate models (age: normal, same SD and
    truncation, so a log-linear ratio), controls rescaled to sum to their number."""
    treated = frame[external.TREATED].to_numpy() == 1
    r = np.exp(frame["AGE"].to_numpy(float) * (trial.age_mean - ext.age_mean) / trial.age_sd ** 2)
    for col, p1, p0 in (("CR2", trial.cr2, ext.cr2), ("MRDP", trial.mrd_positive, ext.mrd_positive)):
        r *= np.where(frame[col].to_numpy() == 1, p1 / p0, (1 - p1) / (1 - p0))
    w = np.where(treated, 1.0, r)
    w[~treated] *= (~treated).sum() / w[~treated].sum()
    return w


def _smd(frame, w, col) -> float:
    t = frame[external.TREATED].to_numpy() == 1
    x = frame[col].to_numpy(float)
    s = math.sqrt((x[t].var(ddof=1) + x[~t].var(ddof=1)) / 2)
    return float((np.average(x[t], weights=w[t]) - np.average(x[~t], weights=w[~t])) / s)


def one_study(scenario: Scenario, seed: int) -> tuple[list[float], list[float]] | None:
    """(log HR per variant, weighted SMD per confounder with the report's weights then the oracle's);
    None when entropy balancing is infeasible in this study."""
    _, trial, ext, _, _ = _scenario_models(scenario)
    d = derived_from_raw(simulate_raw(scenario, seed), paths.cut_date(scenario.cut))
    frame = external.subject_weights(d["adsl"]).reset_index(drop=True)
    frame = frame.assign(CR2=(frame["DISSTAT"] == "CR2").astype(float), MRDP=(frame["MRDPRE"] == "POS").astype(float))
    report = frame["IPTW"].to_numpy()
    entropy = entropy_weights(frame, external.estimable_covariates(frame))
    if entropy is None:
        return None
    w = {"report": report, "truncated": external.sensitivity_weights(frame),
         "unweighted": np.ones(len(frame)), "oracle": oracle_weights(frame, trial, ext),
         "ps3": _att(frame, ["AGE", "DISSTAT", "MRDPRE"], None), "entropy": entropy}
    est = [_log_hr(d["adtte"], frame, w[v]) for v in VARIANTS[:-1]] + [_log_hr(d["adtte"], frame, report, True)]
    return est, [_smd(frame, w[v], c) for v in ("report", "oracle") for c in CONFOUNDERS]


def _mean_se(x: np.ndarray) -> str:
    return f"{x.mean():+.3f} ({x.std(ddof=1) / math.sqrt(len(x)):.3f})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--measured", type=float, nargs="+", default=[0.0, 1.0, 2.0])
    p.add_argument("--studies", type=int, default=220)
    a = p.parse_args(argv)
    est, bal, infeasible = {}, {}, 0
    for seed in range(1, a.studies + 1):   # a study is kept only if every strength could be analysed
        rows = [one_study(Scenario(name=f"residual_m{m}", effect="null", measured=m), seed) for m in a.measured]
        if any(r is None for r in rows):
            infeasible += 1
            continue
        for m, r in zip(a.measured, rows):
            est.setdefault(m, []).append(r[0])
            bal.setdefault(m, []).append(r[1])
    est, bal = ({m: np.array(v[m]) for m in a.measured} for v in (est, bal))
    print(f"{infeasible} of {a.studies} studies left out: entropy balancing infeasible at some strength")
    base = a.measured[0]
    for m in a.measured:
        print(f"measured = {m}, 40 + 150, {len(est[m])} null studies: mean log HR (MCSE); paired shift vs measured = {base}")
        for k, v in enumerate(VARIANTS):
            print(f"  {v:16s} {_mean_se(est[m][:, k])}   shift {_mean_se(est[m][:, k] - est[base][:, k])}")
        for k, name in enumerate(f"{v}:{c}" for v in ("report", "oracle") for c in CONFOUNDERS):
            print(f"  SMD {name:12s} {_mean_se(bal[m][:, k])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
