"""Where the primary comparison's residual bias under measured confounding comes from (issue 17,
docs/sap-notes.md 9.7): the same simulated null studies at the design's size analysed by the
primary (common clock, delayed entry, ATT-weighted Cox, SAP 6.7) with different weights, paired
within each study, and each study simulated at every strength of measured confounding with the
same seed (common random numbers), so the confounding-attributable shift of each variant is the
paired difference against measured = 0.

Variants: ``report`` (the report's weights: 12-covariate propensity model, truncated at the 99th
percentile); ``untruncated`` (same scores); ``unweighted``; ``oracle`` (the simulator's true
density ratio of age, CR2 and MRD status between the cohorts, analysis.cli_design scenario
models: what a perfectly specified, perfectly estimated propensity model gives); ``ps3``
(model with only the three planted confounders, untruncated); ``report_adjusted`` (the report's
weights and a Cox model adjusted for age, CR2 and MRD: doubly robust in the null, where the
conditional and marginal HRs are both 0). Also the weighted SMD of each planted confounder.

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

VARIANTS = ("report", "untruncated", "unweighted", "oracle", "ps3", "report_adjusted")
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


def one_study(scenario: Scenario, seed: int) -> tuple[list[float], list[float]]:
    """(log HR per variant, weighted SMD per confounder with the report's weights then the oracle's)."""
    _, trial, ext, _, _ = _scenario_models(scenario)
    d = derived_from_raw(simulate_raw(scenario, seed), paths.cut_date(scenario.cut))
    frame = external.subject_weights(d["adsl"]).reset_index(drop=True)
    frame = frame.assign(CR2=(frame["DISSTAT"] == "CR2").astype(float), MRDP=(frame["MRDPRE"] == "POS").astype(float))
    report = frame["IPTW"].to_numpy()
    w = {"report": report, "untruncated": _att(frame, external.estimable_covariates(frame), None),
         "unweighted": np.ones(len(frame)), "oracle": oracle_weights(frame, trial, ext),
         "ps3": _att(frame, ["AGE", "DISSTAT", "MRDPRE"], None)}
    est = [_log_hr(d["adtte"], frame, w[v]) for v in VARIANTS[:-1]] + [_log_hr(d["adtte"], frame, report, True)]
    return est, [_smd(frame, w[v], c) for v in ("report", "oracle") for c in CONFOUNDERS]


def _mean_se(x: np.ndarray) -> str:
    return f"{x.mean():+.3f} ({x.std(ddof=1) / math.sqrt(len(x)):.3f})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--measured", type=float, nargs="+", default=[0.0, 1.0, 2.0])
    p.add_argument("--studies", type=int, default=220)
    a = p.parse_args(argv)
    est, bal = {}, {}
    for m in a.measured:
        sc = Scenario(name=f"residual_m{m}", effect="null", measured=m)
        rows = [one_study(sc, seed) for seed in range(1, a.studies + 1)]
        est[m], bal[m] = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
    base = a.measured[0]
    for m in a.measured:
        print(f"measured = {m}, 40 + 150, {a.studies} null studies: mean log HR (MCSE); paired shift vs measured = {base}")
        for k, v in enumerate(VARIANTS):
            print(f"  {v:16s} {_mean_se(est[m][:, k])}   shift {_mean_se(est[m][:, k] - est[base][:, k])}")
        for k, name in enumerate(f"{v}:{c}" for v in ("report", "oracle") for c in CONFOUNDERS):
            print(f"  SMD {name:12s} {_mean_se(bal[m][:, k])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
