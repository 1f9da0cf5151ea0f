"""One simulated study -> one estimate per comparison, through the real code path (SAP 9.1):
raw CSV bytes -> typed forms (analysis.raw_io) -> ADSL, ADMRD and the ADTTE parameters the
comparisons use (analysis.derive) -> the analysis functions of the report (analysis.analyze).

Every comparison is on LFS, the primary endpoint (SAP 6.3), SANDWICH vs ALLO_EXT:

============== ============================================================ ===================
comparison      report analysis (ARD name)                                  interval
============== ============================================================ ===================
naive           Cox, each cohort from its own origin (``cox``, LFS)          Wald
weighted        ATT-weighted Cox, own origin (``iptw_cox``)                  robust (Lin-Wei)
common_time_0   primary, SAP 6.7: weighted Cox, common clock, delayed entry  robust, by subject
                (``tte_cox``)
landmark        Cox from the landmark (``landmark_cox``)                     Wald
per_protocol    Cox, completers from CAR-T2 vs controls (``per_protocol_cox``) Wald
rmst            weighted RMST difference to 24 months, common clock          percentile bootstrap
                (``tte_rmst_diff``)                                          with ``n_boot``
============== ============================================================ ===================

The report's bootstrap (conventions.BOOTSTRAP_REPLICATES) is far too slow for thousands of
replicates; the design uses the model-based or robust interval where one exists, and for the
RMST difference a percentile bootstrap with ``n_boot`` replicates (an argument, default in
analysis.design.runner; 0 = point estimate only, its coverage and rejection rate then NaN).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis import conventions as C
from analysis.analyze import external, target_trial
from analysis.analyze.sap import COHORT, hazard_ratio, param_rows
from analysis.derive import admrd, adsl, adtte
from analysis.errors import NotEstimableError
from analysis.raw_io import parse_form, parse_form_bytes
from analysis.raw_spec import EXTERNAL_FORMS, FORMS, TRIAL_FORMS
from analysis.stats import rmst as rmst_stats

ENDPOINT = "LFS"
COMPARISONS = ("naive", "weighted", "common_time_0", "landmark", "per_protocol", "rmst")
PRIMARY_COMPARISON = "common_time_0"   # SAP 6.7
ESTIMAND = {c: "log_hr" for c in COMPARISONS} | {"rmst": "rmst_diff_days"}
# the ADTTE parameters the comparisons read (the others are not derived in a replicate)
PARAMS_USED = ("LFS", "LFSCR", "LFSPP")
RECORD_COLUMNS = ["comparison", "estimand", "estimate", "se", "lcl", "ucl", "p"]
Z = 1.959963984540054   # standard normal 97.5 % quantile (C.CONF_LEVEL = 0.95)


def derived_from_raw(files: dict[str, bytes], cut_date: str) -> dict[str, pd.DataFrame]:
    """ADSL and the ADTTE parameters of PARAMS_USED from the raw CSV bytes of one cut."""
    forms = {name: parse_form(parse_form_bytes(files[FORMS[name].file]), name)
             for name in (*TRIAL_FORMS, *EXTERNAL_FORMS)}
    sl = adsl.derive_adsl(forms, cut_date)
    mrd = admrd.derive_admrd(forms["mrd"], sl)
    params = tuple(d for d in adtte.PARAMS if d.param.paramcd in PARAMS_USED)
    return {"adsl": sl, "adtte": adtte.derive_adtte(sl, mrd, params=params)}


def _from_hr(comparison: str, hr: dict) -> dict:
    """A hazard-ratio result on the log scale; SE back-computed from the Wald/robust limits."""
    est, lo, hi = (math.log(hr[k]) if hr[k] > 0 and np.isfinite(hr[k]) else math.nan
                   for k in ("hr", "lcl", "ucl"))
    return {"comparison": comparison, "estimand": ESTIMAND[comparison], "estimate": est,
            "se": (hi - lo) / (2 * Z), "lcl": lo, "ucl": hi, "p": float(hr["p"])}


def _rmst(adtte_: pd.DataFrame, frame: pd.DataFrame, n_boot: int, seed: int) -> dict:
    """Weighted RMST difference to tau on the common clock (target_trial.contrast_rows, the
    report's code) with a percentile bootstrap of ``n_boot`` replicates; without a bootstrap (or
    when no replicate could be fitted) the point estimate from the full-data weights only."""
    data = target_trial.common_clock_frame(adtte_, frame, "LFSCR")
    W, ok = target_trial.bootstrap_weights(frame, n_boot, seed) if n_boot > 0 else (None, np.zeros(0, bool))
    if ok.any():
        rows = target_trial.contrast_rows(data, W, ok, ENDPOINT, seed)
        cell = rows[rows["context"] == f"{target_trial.PRIMARY}_rmst_diff"].set_index("stat_name")["stat"]
        est, se, lo, hi = (float(cell[k]) for k in ("diff", "se", "lcl", "ucl"))
        # a percentile interval has no p-value: "p" is 0 when 0 is outside the interval (the test
        # rejects), 1 otherwise, so that the rejection rate counts exactly those (SAP 9.3)
        p = float(not lo <= 0 <= hi)
    else:
        full = np.zeros((1, len(frame)))
        full[0, data["POS"].to_numpy()] = data["IPTW"].to_numpy()
        curves = target_trial._replicate_curves(data, full)   # the report's weighted product-limit
        area = {g: rmst_stats.rmst_from_curves(t, s, C.RMST_TAU_DAYS)[0] for g, (t, s, _) in curves.items()}
        est, se, lo, hi, p = float(area[C.COHORT_TRIAL] - area[C.COHORT_EXTERNAL]), *(math.nan,) * 4
    return {"comparison": "rmst", "estimand": ESTIMAND["rmst"], "estimate": est, "se": se, "lcl": lo,
            "ucl": hi, "p": p}


def _weights(sl: pd.DataFrame) -> pd.DataFrame | None:
    """Per-subject ATT weights; None when the propensity model cannot be fitted on this study
    (perfect separation, no convergence: external.subject_weights raises NotEstimableError), which
    makes the weighted comparisons not estimable in this replicate (counted as n_failed)."""
    try:
        return external.subject_weights(sl).reset_index(drop=True)
    except NotEstimableError:
        return None


def comparisons(data: dict[str, pd.DataFrame], n_boot: int = 0, seed: int = 0) -> pd.DataFrame:
    """One row per comparison (RECORD_COLUMNS); a comparison that cannot be estimated on this
    study (e.g. no event in a cohort, no propensity model) has NaN values, never an exception."""
    sl, tte = data["adsl"], data["adtte"]
    ref = C.REFERENCE_COHORT
    frame = _weights(sl)
    landmark = external.landmark_frame(tte, sl, "LFSCR", external.landmark_day(sl))
    pp = param_rows(tte, "LFSPP")
    pp = pd.concat([pp, param_rows(tte, "LFS").query(f"{COHORT} == @C.COHORT_EXTERNAL")], ignore_index=True)
    pp["PARAMCD"] = "LFSPP+LFS"   # one analysis set from two parameters (as external.per_protocol_rows)
    fits = {
        "naive": lambda: hazard_ratio(param_rows(tte, "LFS"), COHORT, ref),
        "weighted": lambda: hazard_ratio(param_rows(tte, "LFS").merge(frame[["USUBJID", "IPTW"]], on="USUBJID"),
                                         COHORT, ref, weights="IPTW", robust=True),
        "common_time_0": lambda: hazard_ratio(target_trial.common_clock_frame(tte, frame, "LFSCR"), COHORT, ref,
                                              weights="IPTW", robust=True, entry="ENTRY", cluster="USUBJID"),
        "landmark": lambda: hazard_ratio(landmark, COHORT, ref),
        "per_protocol": lambda: hazard_ratio(pp, COHORT, ref),
    }
    weighted = {"weighted", "common_time_0", "rmst"}
    out = [_not_estimable(name) if frame is None and name in weighted
           else _guarded(name, lambda f=fit, n=name: _from_hr(n, f())) for name, fit in fits.items()]
    out.append(_not_estimable("rmst") if frame is None else _guarded("rmst", lambda: _rmst(tte, frame, n_boot, seed)))
    return pd.DataFrame(out, columns=RECORD_COLUMNS)


# What a small simulated study can legitimately hit: too few subjects or events in a set make a
# fit singular (numerical failure, recorded as not estimable and counted in the ARD as n_failed).
# A cohort without events needs no exception: hazard_ratio returns NaN for it.
_NOT_ESTIMABLE = (np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError)


def _not_estimable(name: str) -> dict:
    return {"comparison": name, "estimand": ESTIMAND[name], "estimate": math.nan, "se": math.nan,
            "lcl": math.nan, "ucl": math.nan, "p": math.nan}


def _guarded(name: str, fit) -> dict:
    try:
        return fit()
    except _NOT_ESTIMABLE:
        return _not_estimable(name)


def run_replicate(files: dict[str, bytes], cut_date: str, n_boot: int = 0, seed: int = 0) -> pd.DataFrame:
    return comparisons(derived_from_raw(files, cut_date), n_boot=n_boot, seed=seed)
