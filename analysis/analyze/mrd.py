"""MRD analyses beyond the best-status rate (SAP 4.5-4.7): baseline method, conversion among
baseline MRD-positive patients, the protocol's day-28 assessment, rates by timepoint, and FC-NGS
agreement. Samples on or after relapse are never used (ADMRD ANL01FL, SAP 4.2).

Windows and timepoints: ``conventions.MRD_DAY28_WINDOW``, ``conventions.MRD_TIMEPOINTS``.
"""

from __future__ import annotations

import pandas as pd

from analysis import ard
from analysis import conventions as C
from analysis.analyze.members import isin  # fast on Arrow strings (issue 15)
from analysis.stats.agreement import cohen_kappa
from analysis.stats.rates import binomial_rate

COHORT = "COHORT"
METHODS = tuple(C.MRD_THRESHOLD)           # ("FC", "NGS")
BEST_PARAM = {"FC": "MRDFC", "NGS": "MRDNGS"}


def treated(adsl: pd.DataFrame) -> pd.DataFrame:
    """Safety population of the trial cohort (received CAR-T1)."""
    return adsl[(adsl[COHORT] == C.COHORT_TRIAL) & (adsl["SAFFL"] == "Y")]


def usable_samples(admrd: pd.DataFrame) -> pd.DataFrame:
    """Sample rows taken after CAR-T1 and before relapse (POSTFL = Y, ANL01FL = Y)."""
    return admrd[(admrd["BESTFL"] == "N") & (admrd["POSTFL"] == "Y") & (admrd["ANL01FL"] == "Y")]


def _rate(analysis: str, param: str, level: str, x: int, n: int, extra: dict | None = None) -> pd.DataFrame:
    """x / n with exact Clopper-Pearson limits (SAP 3.4); NaN rate when n = 0."""
    if n == 0:
        stats = {"n": 0, "x": 0, "rate": float("nan"), "lcl": float("nan"), "ucl": float("nan")}
    else:
        r = binomial_rate(x, n, conf_level=C.CONF_LEVEL, method=C.BINOMIAL_CI).iloc[0]
        stats = {"n": n, "x": x, "rate": r["rate"], "lcl": r["lcl"], "ucl": r["ucl"]}
    return ard.rows(analysis, param, C.COHORT_TRIAL, "NEGFL", level, {**stats, **(extra or {})})


def baseline_rows(adsl: pd.DataFrame) -> pd.DataFrame:
    """How MRD was measured before CAR-T1 (MRDPREMT) and its result (MRDPRE), safety population."""
    pop = treated(adsl)
    method = pop["MRDPREMT"].astype(object).where(pop["MRDPREMT"].notna(), "MISSING")
    table = pd.crosstab(method, pop["MRDPRE"].astype(object).where(pop["MRDPRE"].notna(), "MISSING"))
    parts = [ard.rows("mrd_baseline", "MRDPREMT", C.COHORT_TRIAL, "MRDPRE", s, {"n": int(table.at[m, s])},
                      group2="MRDPREMT", group2_level=m)
             for m in table.index for s in table.columns]
    parts += [ard.rows("mrd_baseline", "MRDPREMT", C.COHORT_TRIAL, "MRDPREMT", m, {"n": int(k), "N": len(pop)})
              for m, k in method.value_counts().sort_index().items()]
    return ard.concat(parts)


def conversion_rows(admrd: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """Conversion: among safety subjects MRD-positive before CAR-T1 (MRDPRE = POS), those with a
    negative post-CAR-T1 sample before relapse, by method and by either method (SAP 4.5); also by
    the baseline method. Not evaluable or not assessed counts as not converted."""
    pop = treated(adsl)
    positive = pop[pop["MRDPRE"] == "POS"]
    neg = usable_samples(admrd)
    neg = neg[neg["NEGFL"] == "Y"]
    parts = []
    for method in (*METHODS, "ANY"):
        hit = neg if method == "ANY" else neg[neg["METHOD"] == method]
        conv = isin(positive["USUBJID"], hit["USUBJID"])
        parts.append(_rate("mrd_conversion", f"MRD-{method}", "ALL BASELINE POSITIVE", int(conv.sum()), len(positive)))
        for base, sub in positive.groupby(positive["MRDPREMT"].astype(object).fillna("MISSING")):
            x = int(isin(sub["USUBJID"], hit["USUBJID"]).sum())
            parts.append(_rate("mrd_conversion", f"MRD-{method}", f"BASELINE {base}", x, len(sub)))
    return ard.concat(parts)


def _first_in_window(samples: pd.DataFrame, low: int, high: int, centre: float) -> pd.DataFrame:
    """Per subject and method the evaluable sample of the window [low, high] (study days) closest
    to ``centre`` (ties: the earlier)."""
    s = samples[(samples["ADY"] >= low) & (samples["ADY"] <= high) & (samples["EVALFL"] == "Y")].copy()
    s["_dist"] = (s["ADY"] - centre).abs()
    s = s.sort_values(["USUBJID", "METHOD", "_dist", "ADY"], kind="mergesort")
    return s.drop_duplicates(["USUBJID", "METHOD"])


def day28_rows(admrd: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """MRD-negative rate at the protocol's day-28 assessment (window conventions.MRD_DAY28_WINDOW),
    per method: negative at the window's sample over the safety population (not assessed or not
    evaluable = not negative), and over those evaluable in the window (SAP 4.5)."""
    pop = treated(adsl)
    low, high = C.MRD_DAY28_WINDOW
    at = _first_in_window(usable_samples(admrd), low, high, 28)
    parts = []
    for method in METHODS:
        m = at[(at["METHOD"] == method) & isin(at["USUBJID"], pop["USUBJID"])]
        x = int((m["NEGFL"] == "Y").sum())
        parts.append(_rate("mrd_day28", f"MRD-{method}", "SAFETY POPULATION", x, len(pop)))
        parts.append(_rate("mrd_day28", f"MRD-{method}", "EVALUABLE IN WINDOW", x, len(m)))
    return ard.concat(parts)


def timepoint_rows(admrd: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """MRD-negative rate by visit window (conventions.MRD_TIMEPOINTS), per method, among subjects
    with an evaluable sample before relapse in the window (SAP 4.5)."""
    samples = usable_samples(admrd)
    samples = samples[isin(samples["USUBJID"], treated(adsl)["USUBJID"])]
    parts = []
    for label, low, high in C.MRD_TIMEPOINTS:
        at = _first_in_window(samples, low, high, (low + high) / 2)
        for method in METHODS:
            m = at[at["METHOD"] == method]
            parts.append(_rate("mrd_timepoint", f"MRD-{method}", label, int((m["NEGFL"] == "Y").sum()), len(m),
                               {"day_low": low, "day_high": high}))
    return ard.concat(parts)


def agreement_rows(admrd: pd.DataFrame) -> pd.DataFrame:
    """FC-NGS agreement on paired samples (same subject and date, both evaluable, after CAR-T1
    and before relapse): the 2x2 counts and Cohen's kappa with its asymptotic 95% CI (SAP 4.6)."""
    s = usable_samples(admrd)
    s = s[s["EVALFL"] == "Y"]
    wide = s.pivot_table(index=["USUBJID", "ADT"], columns="METHOD", values="NEGFL", aggfunc="first").dropna()
    parts = []
    for fc in ("Y", "N"):
        for ngs in ("Y", "N"):
            k = int(((wide["FC"] == fc) & (wide["NGS"] == ngs)).sum()) if len(wide) else 0
            parts.append(ard.rows("mrd_agreement", "FC-NGS", C.COHORT_TRIAL, "NEGFL NGS", ngs, {"n": k},
                                  group2="NEGFL FC", group2_level=fc))
    if len(wide):
        k = cohen_kappa(wide["FC"], wide["NGS"], conf_level=C.CONF_LEVEL)
        parts.append(ard.rows("mrd_agreement", "FC-NGS", C.COHORT_TRIAL, "kappa", "", {
            "n_pairs": k["n"], "n_subjects": wide.index.get_level_values(0).nunique(), "p_observed": k["p_observed"],
            "kappa": k["kappa"], "se": k["se"], "lcl": k["lcl"], "ucl": k["ucl"]}))
    return ard.concat(parts)


def mrd_rows(admrd: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    return ard.concat([baseline_rows(adsl), conversion_rows(admrd, adsl), day28_rows(admrd, adsl),
                       timepoint_rows(admrd, adsl), agreement_rows(admrd)])
