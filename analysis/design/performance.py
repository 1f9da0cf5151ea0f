"""Performance measures of a simulation study and their Monte Carlo SEs (SAP 9.3), as in Morris,
White & Crowther (2019), "Using simulation studies to evaluate statistical methods", Stat Med
38:2074-2102, Table 6. With n_sim replicates of estimate theta_i, its interval (l_i, u_i) and
p-value p_i, and the true value theta:

=========== ============================================ ==========================================
measure      estimate                                     Monte Carlo SE
=========== ============================================ ==========================================
bias         mean(theta_i) - theta                        empSE / sqrt(n_sim)
empSE        sqrt(sum (theta_i - mean)^2 / (n_sim - 1))   empSE / sqrt(2 (n_sim - 1))
coverage     share of l_i <= theta <= u_i                 sqrt(cov (1 - cov) / n_sim)
rejection    share of p_i < alpha (type I error if theta  sqrt(r (1 - r) / n_sim)
             = 0, power otherwise)
=========== ============================================ ==========================================

The true value theta of a scenario comes from a large counterfactual simulation
(analysis.simulate.truth, passed in by the command line) and has its own Monte Carlo SE
(``truth_mcse``); the bias's MCSE then is sqrt(empSE^2 / n_sim + truth_mcse^2).

Replicates whose estimate is NaN (not estimable) are left out and counted (n_failed); coverage
and rejection use the replicates where the interval / p-value exists (n_ci, n_p). Unknown truth
(NaN) gives NaN bias and coverage.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis import conventions as C
from analysis import ard

ALPHA = 1 - C.CONF_LEVEL   # two-sided test at the report's level (SAP 3.7)
MEASURES = ("n_sim", "n_failed", "truth", "truth_mcse", "mean", "bias", "bias_mcse", "empse", "empse_mcse",
            "coverage", "coverage_mcse", "rejection", "rejection_mcse", "n_ci", "n_p")


def performance(estimate, lcl, ucl, p, truth: float, alpha: float = ALPHA,
                truth_mcse: float = 0.0) -> dict[str, float]:
    """The measures of MEASURES for one method in one scenario (formulas: module docstring)."""
    est, lo, hi, pv = (np.asarray(x, dtype=float) for x in (estimate, lcl, ucl, p))
    ok = np.isfinite(est)
    n = int(ok.sum())
    theta = est[ok]
    mean = float(theta.mean()) if n else math.nan
    empse = float(theta.std(ddof=1)) if n > 1 else math.nan
    has_ci = ok & np.isfinite(lo) & np.isfinite(hi)
    has_p = ok & np.isfinite(pv)
    cover = float(((lo[has_ci] <= truth) & (truth <= hi[has_ci])).mean()) if has_ci.any() and math.isfinite(truth) \
        else math.nan
    reject = float((pv[has_p] < alpha).mean()) if has_p.any() else math.nan
    return {
        "n_sim": n, "n_failed": int(len(est) - n), "truth": truth, "truth_mcse": truth_mcse, "mean": mean,
        "bias": mean - truth,
        "bias_mcse": math.sqrt(empse ** 2 / n + truth_mcse ** 2) if n > 1 else math.nan,
        "empse": empse, "empse_mcse": empse / math.sqrt(2 * (n - 1)) if n > 1 else math.nan,
        "coverage": cover, "coverage_mcse": _proportion_mcse(cover, int(has_ci.sum())),
        "rejection": reject, "rejection_mcse": _proportion_mcse(reject, int(has_p.sum())),
        "n_ci": int(has_ci.sum()), "n_p": int(has_p.sum()),
    }


def _proportion_mcse(share: float, n: int) -> float:
    return math.sqrt(share * (1 - share) / n) if n > 0 and math.isfinite(share) else math.nan


def performance_ard(records: pd.DataFrame, truths: dict, endpoint: str, truth_mcse: dict | None = None) -> pd.DataFrame:
    """ARD rows (context "design", group1 SCENARIO) of every scenario x comparison of ``records`` (columns
    scenario, replicate, comparison, estimand, estimate, lcl, ucl, p); ``truths``: scenario ->
    true value of every comparison, or scenario -> {estimand: true value} (NaN: unknown);
    ``truth_mcse`` the same shape (default 0: an exact truth). Rows in the order of first appearance."""
    def pick(table, scenario, estimand, default):
        value = default if table is None else table[scenario]
        return value.get(estimand, math.nan) if isinstance(value, dict) else value

    parts = []
    for (scenario, comparison), g in records.groupby(["scenario", "comparison"], sort=False):
        estimand = g["estimand"].iloc[0]
        m = performance(g["estimate"], g["lcl"], g["ucl"], g["p"], pick(truths, scenario, estimand, math.nan),
                        truth_mcse=pick(truth_mcse, scenario, estimand, 0.0))
        parts.append(ard.rows("design", endpoint, scenario, comparison, estimand, m, group1="SCENARIO"))
    return ard.check(ard.concat(parts))
