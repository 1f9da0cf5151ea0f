"""Sensitivity of a hazard ratio to unmeasured confounding: E-value and tipping point.

Generic: takes numbers (a hazard ratio and its confidence limits), knows no trial.

evalue_hr(hr, lcl, ucl, common_outcome=True) -> E-value of the estimate and of the limit closest to 1
tipping_point_hr(hr, lcl, ucl, confounder_hr) -> prevalence of a binary unmeasured confounder that
    would move the estimate (or the confidence limit) to 1
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["evalue_hr", "evalue_rr", "tipping_point_hr"]


def evalue_rr(rr: float) -> float:
    """E-value of a risk ratio (VanderWeele & Ding 2017, Ann Intern Med 167:268, eq. 1):
    RR* + sqrt(RR* (RR* - 1)) with RR* = RR, or 1/RR when RR < 1; 1 at RR = 1."""
    if not np.isfinite(rr) or rr <= 0:
        return float("nan")
    rr = 1 / rr if rr < 1 else rr
    return float(rr + math.sqrt(rr * (rr - 1)))


def _hr_to_rr(hr: float, common_outcome: bool) -> float:
    """HR on the risk-ratio scale: unchanged for a rare outcome; for a common one (> 15% by the
    end of follow-up) RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)) (VanderWeele 2020, Table 2)."""
    if not common_outcome:
        return hr
    return (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))


def evalue_hr(hr: float, lcl: float, ucl: float, common_outcome: bool = True) -> dict[str, float]:
    """E-values of a hazard ratio: ``evalue`` for the estimate, ``evalue_ci`` for the confidence
    limit closest to 1 (1 when the interval includes 1: no confounding is needed to reach the null).
    Reading: an unmeasured confounder associated with both the cohort and the outcome by a risk
    ratio of at least ``evalue`` each, beyond the measured covariates, could explain the estimate away."""
    if not all(np.isfinite(v) and v > 0 for v in (hr, lcl, ucl)):
        return {"evalue": float("nan"), "evalue_ci": float("nan"), "rr": float("nan")}
    rr = _hr_to_rr(hr, common_outcome)
    if lcl <= 1 <= ucl:
        ci = 1.0
    else:
        ci = evalue_rr(_hr_to_rr(ucl if hr < 1 else lcl, common_outcome))
    return {"evalue": evalue_rr(rr), "evalue_ci": ci, "rr": rr}


def tipping_point_hr(hr: float, lcl: float, ucl: float, confounder_hr) -> pd.DataFrame:
    """Tipping point of a hazard ratio for a binary unmeasured confounder U.

    Bias model (Lin, Psaty & Kronmal 1998, Biometrics 54:948): with U multiplying the hazard by
    ``gamma`` and present in a share p1 of the index cohort and p0 of the reference cohort,
    HR_observed = HR_true * (1 + (gamma - 1) p1) / (1 + (gamma - 1) p0). Taking U absent from the
    cohort that looks better (the most favourable case for the confounder), the share of the other
    cohort that would need to carry U to move the estimate to 1 is
    p = (1/HR - 1)/(gamma - 1) for HR < 1 (U in the reference cohort), (HR - 1)/(gamma - 1) for HR > 1
    (U in the index cohort); the same with the confidence limit closest to 1 gives the share that
    would make the interval include 1. A share above 1 means U of that strength cannot do it (NaN
    'possible' 0). Columns: confounder_hr, p_estimate, p_ci, possible_estimate, possible_ci."""
    rows = []
    for gamma in np.atleast_1d(np.asarray(confounder_hr, float)):
        if gamma <= 1:
            raise ValueError(f"confounder_hr must be > 1, got {gamma}")

        def share(h: float, gamma: float = gamma) -> float:
            if not np.isfinite(h) or h <= 0:
                return float("nan")
            ratio = 1 / h if h < 1 else h
            return (ratio - 1) / (gamma - 1)

        includes_null = lcl <= 1 <= ucl
        p_est = share(hr)
        p_ci = 0.0 if includes_null else share(ucl if hr < 1 else lcl)
        rows.append({"confounder_hr": float(gamma), "p_estimate": p_est, "p_ci": p_ci,
                     "possible_estimate": float(p_est <= 1), "possible_ci": float(p_ci <= 1)})
    return pd.DataFrame(rows)
