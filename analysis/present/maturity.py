"""Numbers-first display of efficacy at its maturity (SAP 3.5-3.7) and of the MRD rows (SAP 4.5-4.6):
every value is read from the ARD; nothing is computed here except formatting.

Rules shown: a Kaplan-Meier rate with fewer than ``conventions.MIN_AT_RISK`` subjects at risk is
"not reliably estimable (n at risk k < 10)"; every rate carries its number at risk; p-values are
labelled nominal; the cut is labelled interim/final from ``conventions.CUT_STATUS``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis import ard as A
from analysis import conventions as C
from analysis.present import formats as F
from analysis.present import labels as L
from analysis.present.table import Table

LEVEL_1Y, LEVEL_2Y, LEVEL_TAU = "365.25", "730.5", f"{C.RMST_TAU_DAYS:g}"
COHORTS = (C.COHORT_TRIAL, C.COHORT_EXTERNAL)
COHORT_LABELS = {C.COHORT_TRIAL: "Sandwich (trial)", C.COHORT_EXTERNAL: "Allo-HSCT (external)"}
NOMINAL = "P-values are nominal and descriptive: no testing strategy is defined (SAP 3.7)."


def value(ard: pd.DataFrame, **keys) -> float:
    """The one ARD stat matching ``keys`` (as text); NaN when absent (an analysis not run for this cut)."""
    values = A.stat_values(ard, **{k: str(v) for k, v in keys.items()})
    if len(values) > 1:
        raise KeyError(f"ARD lookup {keys}: {len(values)} rows")
    return float(values[0]) if len(values) else float("nan")


def unreliable_text(n_risk: float) -> str:
    return f"not reliably estimable (n at risk {F.fmt_int(n_risk)} < {C.MIN_AT_RISK})"


def rate_cell(ard: pd.DataFrame, analysis: str, param: str, group: str, level: str) -> str:
    """"est (lcl, ucl); n at risk k" in %, or the not-reliably-estimable text (SAP 3.5), or NE
    beyond follow-up (nobody at risk, SAP 3.1)."""
    keys = dict(context=analysis, param=param, group1_level=group, variable_level=level)
    n_risk = value(ard, stat_name="n_risk", **keys)
    est, lo, hi = (value(ard, stat_name=s, **keys) for s in ("surv", "lcl", "ucl"))
    if np.isnan(est):
        return "NE (no patient followed this long)"
    if n_risk < C.MIN_AT_RISK:
        return unreliable_text(n_risk)
    return f"{F.fmt_est_ci(100 * est, 100 * lo, 100 * hi, 1)}; n at risk {F.fmt_int(n_risk)}"


def both_reliable(ard: pd.DataFrame, analysis: str, param: str, level: str) -> bool:
    return all(value(ard, context=analysis, param=param, group1_level=g, variable_level=level, stat_name="n_risk") >= C.MIN_AT_RISK
               for g in COHORTS)


def cut_status_sentence(ard: pd.DataFrame, cut: str) -> str:
    rows = ard[ard["context"] == "cut_status"]
    status = rows["variable_level"].iloc[0] if len(rows) else C.cut_status(cut)
    word = {"interim": "an **interim** analysis", "final": "the **final** analysis",
            "undeclared": "a cut whose status is **not declared** (conventions.CUT_STATUS)"}[status]
    return (f"Data cut {cut} is {word} (declared in `conventions.CUT_STATUS`; the final analysis is at the "
            f"last patient's CAR-T1 + 24 months). {NOMINAL}")


def follow_up_text(ard: pd.DataFrame, param: str, group: str) -> str:
    keys = dict(context="followup", param=param, group1_level=group)
    med, q1, q3, mx = (value(ard, stat_name=s, **keys) / C.DAYS_PER_MONTH for s in ("median", "q1", "q3", "max"))
    return f"{F.fmt_num(med, 1)} (IQR {F.fmt_num(q1, 1)}-{F.fmt_num(q3, 1)}; longest {F.fmt_num(mx, 1)})"


def maturity_sentence(ard: pd.DataFrame, param: str, endpoint: str) -> str:
    """Plain reading of the maturity of one endpoint, from the ARD."""
    g = C.COHORT_TRIAL
    n2 = value(ard, context="km", param=param, group1_level=g, variable_level=LEVEL_2Y, stat_name="n_risk")
    text = (f"**{endpoint}.** Median follow-up (reverse Kaplan-Meier) is {follow_up_text(ard, param, g)} months "
            f"in the trial cohort; {F.fmt_int(n2)} trial patient(s) are still at risk at 2 years.")
    if n2 < C.MIN_AT_RISK:
        text += (f" The trial's 2-year rate is therefore {unreliable_text(n2)}; the restricted mean survival "
                 "time to 24 months below uses the whole curve and is estimable.")
    return text


def efficacy_table(ard: pd.DataFrame, param: str, endpoint: str, origin_note: str,
                   subtitles: Sequence[str] = (), methods: dict | None = None) -> Table:
    """Per cohort: N, events, median, follow-up, rates at 1 and 2 years with numbers at risk,
    RMST to 24 months; comparison: RMST difference, 2-year difference (only when both rates
    rest on >= MIN_AT_RISK at risk), Cox HR and log-rank P (nominal)."""
    labels, cells = [], []

    def add(label, per_group, comparison=""):
        labels.append(label)
        cells.append([*per_group, comparison])

    add("Subjects, N", [F.fmt_int(value(ard, context="km_n", param=param, group1_level=g, stat_name="n")) for g in COHORTS])
    add("Events, n", [F.fmt_int(value(ard, context="km_n", param=param, group1_level=g, stat_name="n_event")) for g in COHORTS])
    add("Median, months (95% CI)", [F.fmt_est_ci(*(value(ard, context="km_median", param=param, group1_level=g, stat_name=s)
                                                   / C.DAYS_PER_MONTH for s in ("median", "lcl", "ucl")), 1)
                                    for g in COHORTS])
    add("Median follow-up (reverse KM), months", [follow_up_text(ard, param, g) for g in COHORTS])
    for level, text in ((LEVEL_1Y, "1 year"), (LEVEL_2Y, "2 years")):
        add(f"Rate at {text}, % (95% CI); n at risk", [rate_cell(ard, "km", param, g, level) for g in COHORTS])
    add("RMST to 24 months, months (95% CI)",
        [F.fmt_est_ci(*(value(ard, context="rmst", param=param, group1_level=g, variable_level=LEVEL_TAU, stat_name=s)
                        / C.DAYS_PER_MONTH for s in ("rmst", "lcl", "ucl")), 1) for g in COHORTS],
        _diff_text(ard, "rmst_diff", param, LEVEL_TAU, scale=1 / C.DAYS_PER_MONTH, unit="months"))
    risks = [value(ard, context="km", param=param, group1_level=g, variable_level=LEVEL_2Y, stat_name="n_risk") for g in COHORTS]
    two_year = (_diff_text(ard, "km_diff", param, LEVEL_2Y, scale=100, unit="percentage points")
                if both_reliable(ard, "km", param, LEVEL_2Y) else
                "NE (a cohort has no patient followed for 2 years)" if min(risks) == 0 else
                f"not reliably estimable (a cohort has < {C.MIN_AT_RISK} at risk at 2 years)")
    add("Difference at 2 years", ["", ""], two_year)
    hr = [value(ard, context="cox", param=param, stat_name=s) for s in ("hr", "lcl", "ucl", "p")]
    add("Hazard ratio, trial vs control (95% CI)", ["", ""],
        f"{F.fmt_est_ci(*hr[:3], decimals=F.RATIO_DECIMALS)}; nominal P = {F.fmt_pvalue(hr[3])}")
    add("Log-rank test", ["", ""], f"nominal P = {F.fmt_pvalue(value(ard, context='logrank', param=param, stat_name='p'))}")
    frame = pd.DataFrame(cells, columns=[*COHORTS, "Comparison"])
    frame.insert(0, endpoint, labels)
    methods = methods or {}
    notes = [*extended_notes(ard, "rmst", param), origin_note, NOMINAL,
             f"A rate resting on fewer than {C.MIN_AT_RISK} patients at risk is not reliably estimable (SAP 3.5).",
             *L.method_notes(methods, "km", "followup", "rmst", "rmst_diff", "cox")]
    return Table(title=f"{endpoint}: Kaplan-Meier summary at the maturity of this cut", frame=frame,
                 headers=[endpoint, *(F.fmt_header(COHORT_LABELS[g], value(ard, context="km_n", param=param, group1_level=g,
                                                                            stat_name="n")) for g in COHORTS),
                          "Comparison"],
                 subtitles=list(subtitles), footnotes=notes)


def extended_notes(ard: pd.DataFrame, analysis: str, param: str) -> list[str]:
    """A footnote for each cohort whose follow-up ends before tau: its RMST carries the curve flat
    from its last observed time (SAP 3.6)."""
    notes = []
    for g in COHORTS:
        keys = dict(context=analysis, param=param, group1_level=g, variable_level=LEVEL_TAU)
        if value(ard, stat_name="extended", **keys) == 1:
            last = value(ard, stat_name="last_time", **keys)
            where = f" from day {F.fmt_int(last)}" if not np.isnan(last) else ""
            notes.append(f"{param}, {COHORT_LABELS[g]}: follow-up ends before 24 months; its RMST carries the curve flat{where} "
                         "to 24 months (SAP 3.6).")
    return notes


def _diff_text(ard: pd.DataFrame, analysis: str, param: str, level: str, scale: float, unit: str) -> str:
    est, lo, hi, p = (value(ard, context=analysis, param=param, variable_level=level, stat_name=s)
                      for s in ("diff", "lcl", "ucl", "p"))
    return f"{F.fmt_est_ci(scale * est, scale * lo, scale * hi, 1)} {unit}; nominal P = {F.fmt_pvalue(p)}"


# --- MRD ---------------------------------------------------------------------------------------------------

def _rate_text(ard: pd.DataFrame, analysis: str, param: str, level: str) -> str:
    keys = dict(context=analysis, param=param, variable_level=level)
    n, x = value(ard, stat_name="n", **keys), value(ard, stat_name="x", **keys)
    if not n:
        return "no evaluable sample"
    r, lo, hi = (100 * value(ard, stat_name=s, **keys) for s in ("rate", "lcl", "ucl"))
    return f"{F.fmt_int(x)}/{F.fmt_int(n)}, {F.fmt_est_ci(r, lo, hi, 1)}"


def mrd_rates_table(ard: pd.DataFrame, subtitles: Sequence[str] = (), methods: dict | None = None) -> Table:
    """Conversion among baseline MRD-positive patients, the day-28 rate and rates by timepoint,
    per method: x/n, % (95% CI)."""
    rows = [("Conversion: MRD-positive before CAR-T1, negative after", "mrd_conversion", "ALL BASELINE POSITIVE")]
    bases = sorted(set(ard.loc[(ard["context"] == "mrd_conversion") & ard["variable_level"].str.startswith("BASELINE "), "variable_level"]))
    rows += [(f"  of which baseline measured by {b.replace('BASELINE ', '')}", "mrd_conversion", b) for b in bases]
    rows += [("Day-28 assessment, safety population (not assessed = not negative)", "mrd_day28", "SAFETY POPULATION"),
             ("Day-28 assessment, evaluable in the window", "mrd_day28", "EVALUABLE IN WINDOW")]
    rows += [(f"{label} (study day {lo}-{hi}), evaluable", "mrd_timepoint", label) for label, lo, hi in C.MRD_TIMEPOINTS]
    frame = pd.DataFrame([[label, *(_rate_text(ard, a, f"MRD-{m}", lev) for m in ("FC", "NGS"))]
                          for label, a, lev in rows], columns=["Rate", "FC", "NGS"])
    methods = methods or {}
    return Table(title="MRD negativity: conversion, day 28 and by timepoint", frame=frame,
                 headers=["Rate", "Flow cytometry (< 1e-4)", "IgH NGS (< 1e-6)"], subtitles=list(subtitles),
                 footnotes=["x/n, % (95% exact CI). Samples on or after relapse are not used (SAP 4.2)."]
                 + L.method_notes(methods, "mrd_conversion", "mrd_day28", "mrd_timepoint"))


def mrd_agreement_table(ard: pd.DataFrame, subtitles: Sequence[str] = (), methods: dict | None = None) -> Table:
    """The FC x NGS 2x2 table of paired samples and Cohen's kappa, and the baseline method counts."""
    n = {(fc, ngs): value(ard, context="mrd_agreement", group2_level=fc, variable_level=ngs, stat_name="n")
         for fc in ("Y", "N") for ngs in ("Y", "N")}   # NEGFL of FC (group2) x NEGFL of NGS (variable)
    k = {s: value(ard, context="mrd_agreement", variable="kappa", stat_name=s) for s in ("kappa", "lcl", "ucl", "n_pairs")}
    base = ard[(ard["context"] == "mrd_baseline") & (ard["variable"] == "MRDPREMT") & (ard["stat_name"] == "n")]
    frame = pd.DataFrame([
        ["FC negative", F.fmt_int(n["Y", "Y"]), F.fmt_int(n["Y", "N"])],
        ["FC positive", F.fmt_int(n["N", "Y"]), F.fmt_int(n["N", "N"])],
        ["Cohen's kappa (95% CI)", F.fmt_est_ci(k["kappa"], k["lcl"], k["ucl"], 2), f"{F.fmt_int(k['n_pairs'])} pairs"],
        ["Baseline MRD measured by", ", ".join(f"{r.variable_level} {F.fmt_int(r.stat)}" for r in base.itertuples()), ""],
    ], columns=["", "NGS negative", "NGS positive"])
    methods = methods or {}
    return Table(title="Agreement of FC and NGS on paired samples after CAR-T1", frame=frame,
                 headers=["", "NGS negative", "NGS positive"], subtitles=list(subtitles),
                 footnotes=L.method_notes(methods, "mrd_agreement", "mrd_baseline"))


def single_arm_km_table(ard: pd.DataFrame, params: dict, title: str, subtitles: Sequence[str] = (),
                        footnotes: Sequence[str] = (), group: str = C.COHORT_TRIAL) -> Table:
    """One column per parameter (e.g. MRD duration by method) of one group: N, events, median and
    the rates at 1 and 2 years with numbers at risk, under the reliability rule of SAP 3.5."""
    # one name for a timepoint in every table (issue 11): "Rate at 1 year", as the comparison tables
    rate_1y, rate_2y = (f"Rate at {L.timepoint_name(float(lv))}, % (95% CI); n at risk" for lv in (LEVEL_1Y, LEVEL_2Y))
    rows = {"Subjects, N": [], "Events, n": [], "Median, months (95% CI)": [], rate_1y: [], rate_2y: []}
    for param in params:
        rows["Subjects, N"].append(F.fmt_int(value(ard, context="km_n", param=param, group1_level=group, stat_name="n")))
        rows["Events, n"].append(F.fmt_int(value(ard, context="km_n", param=param, group1_level=group, stat_name="n_event")))
        rows["Median, months (95% CI)"].append(F.fmt_est_ci(*(
            value(ard, context="km_median", param=param, group1_level=group, stat_name=s) / C.DAYS_PER_MONTH
            for s in ("median", "lcl", "ucl")), 1))
        rows[rate_1y].append(rate_cell(ard, "km", param, group, LEVEL_1Y))
        rows[rate_2y].append(rate_cell(ard, "km", param, group, LEVEL_2Y))
    frame = pd.DataFrame([[label, *cells] for label, cells in rows.items()], columns=["", *params.values()])
    return Table(title=title, frame=frame, headers=["", *params.values()], subtitles=list(subtitles),
                 footnotes=[*footnotes, f"A rate resting on fewer than {C.MIN_AT_RISK} patients at risk is not "
                            "reliably estimable (SAP 3.5); NE: not estimable."])
