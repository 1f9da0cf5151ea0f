"""Report tables and sentences of the target-trial emulation (SAP 6.7), from the declarations of
``analysis.analyze.target_trial`` and the ARD rows with prefix ``tte_``. Formatting only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis import conventions as C
from analysis.analyze.target_trial import INTERCURRENT_EVENTS, PROTOCOL
from analysis.present import formats as F
from analysis.present.cohort_style import cohort_label
from analysis.present.comparison_tables import pct_ci
from analysis.present.maturity import LEVEL_1Y, LEVEL_2Y, LEVEL_TAU, NOMINAL, extended_notes, value
from analysis.present.table import Table

COHORTS = (C.COHORT_TRIAL, C.COHORT_EXTERNAL)
ENDPOINTS = {"LFS": "Leukemia-free survival (relapse, non-response or death from treatment start)",
             "OS": "Overall survival"}


def protocol_table() -> Table:
    frame = pd.DataFrame(list(PROTOCOL), columns=["Element", "Target trial", "Emulation"])
    return Table(title="The target trial and its emulation", frame=frame,
                 headers=["Element", "Target trial", "Emulation with the trial and registry data"],
                 footnotes=["SAP notes 6.7; declared once in analysis/analyze/target_trial.py: PROTOCOL."])


def intercurrent_table() -> Table:
    frame = pd.DataFrame(list(INTERCURRENT_EVENTS), columns=["Intercurrent event", "Strategy"])
    return Table(title="Intercurrent events of the estimand and their strategies (ICH E9(R1))", frame=frame,
                 headers=["Intercurrent event", "Strategy"],
                 footnotes=["SAP notes 6.3; declared once in analysis/analyze/target_trial.py: INTERCURRENT_EVENTS."])


def _months_ci(ard: pd.DataFrame, analysis: str, **keys) -> str:
    est, lo, hi = (value(ard, context=analysis, stat_name=s, **keys) / C.DAYS_PER_MONTH for s in ("rmst", "lcl", "ucl"))
    return F.fmt_est_ci(est, lo, hi, 1)


def primary_table(ard: pd.DataFrame, subtitles: Sequence[str] = (), footnotes: Sequence[str] = ()) -> Table:
    """Per endpoint: subjects and events, weighted rates at 1 and 2 years (with numbers at risk),
    RMST to 24 months per cohort; comparison: RMST difference with the bootstrap counts, 2-year
    difference (or why not estimable), hazard ratio with nominal P and E-value."""
    labels, cells, indent = [], [], []

    def add(label, per_group, comparison="", level=1):
        labels.append(label)
        cells.append([*per_group, comparison])
        indent.append(level)

    for param, name in ENDPOINTS.items():
        add(name, ["", ""], "", 0)
        add("Subjects, N; events, n", [f"{F.fmt_int(value(ard, context='tte_n', param=param, group1_level=g, stat_name='n'))}; "
                                       f"{F.fmt_int(value(ard, context='tte_n', param=param, group1_level=g, stat_name='n_event'))}"
                                       for g in COHORTS])
        for level, text in ((LEVEL_1Y, "1 year"), (LEVEL_2Y, "2 years")):
            add(f"Weighted rate {text} after the remission, % (95% CI)",
                [pct_ci(ard, "tte_km", param=param, group1_level=g, variable_level=level, mark=False) for g in COHORTS])
        keys = dict(context="tte_rmst_diff", param=param, variable_level=LEVEL_TAU)
        d, lo, hi = (value(ard, stat_name=s, **keys) / C.DAYS_PER_MONTH for s in ("diff", "lcl", "ucl"))
        used, total = value(ard, stat_name="n_boot_used", **keys), value(ard, stat_name="n_boot", **keys)
        add("RMST to 24 months after the remission, months (95% CI)",
            [_months_ci(ard, "tte_rmst", param=param, group1_level=g, variable_level=LEVEL_TAU) for g in COHORTS],
            f"{F.fmt_est_ci(d, lo, hi, 1)} months (bootstrap: {F.fmt_int(used)} of {F.fmt_int(total)} replicates)")
        k2 = dict(context="tte_diff", param=param, variable_level=LEVEL_2Y)
        diff = value(ard, stat_name="diff", **k2)
        if np.isnan(value(ard, stat_name="lcl", **k2)):
            two = (f"{F.fmt_num(100 * diff, 1)} percentage points; no interval: only "
                   f"{F.fmt_int(value(ard, stat_name='n_boot_valid', **k2))} of {F.fmt_int(value(ard, stat_name='n_boot_used', **k2))} "
                   "replicates reach 2 years in both cohorts")
        else:
            two = F.fmt_est_ci(100 * diff, 100 * value(ard, stat_name="lcl", **k2), 100 * value(ard, stat_name="ucl", **k2), 1) \
                + " percentage points"
        add("Difference at 2 years after the remission", ["", ""], two)
        hr = [value(ard, context="tte_cox", param=param, stat_name=s) for s in ("hr", "lcl", "ucl", "p")]
        add("Hazard ratio, trial vs control (95% CI)", ["", ""],
            f"{F.fmt_est_ci(*hr[:3], decimals=F.RATIO_DECIMALS)}; nominal P = {F.fmt_pvalue(hr[3])}")
        t = [value(ard, context="tte_cox_trunc", param=param, stat_name=s) for s in ("hr", "lcl", "ucl")]
        add(f"Hazard ratio, {C.weight_truncation_words(C.IPTW_SENSITIVITY_TRUNCATE_PERCENTILES)} "
            "(sensitivity)", ["", ""], F.fmt_est_ci(*t, decimals=F.RATIO_DECIMALS))
        e = [value(ard, context="tte_evalue", param=param, stat_name=s) for s in ("evalue", "evalue_ci")]
        add("E-value: estimate; confidence limit", ["", ""], f"{F.fmt_num(e[0], 2)}; {F.fmt_num(e[1], 2)}")
    frame = pd.DataFrame(cells, columns=[*COHORTS, "Comparison"])
    frame.insert(0, "Endpoint", labels)
    return Table(title="Primary external comparison: target-trial emulation on the common clock",
                 frame=frame, headers=["Endpoint", *(cohort_label(g) for g in COHORTS), "Comparison"],
                 indent=indent, subtitles=list(subtitles),
                 footnotes=[*footnotes, *(n for p in ENDPOINTS for n in extended_notes(ard, "tte_rmst", p)),
                            "Time zero: the remission before therapy; entry at CAR-T1 (trial) or allo-HSCT "
                            "(controls); controls weighted to the trial cohort (ATT).", NOMINAL,
                            f"A rate resting on fewer than {C.MIN_AT_RISK} patients at risk is not reliably estimable."])


def confounding_sentences(ard: pd.DataFrame, param: str = "LFS") -> str:
    """Plain-language reading of the E-value and the tipping point of the primary hazard ratio."""
    hr = value(ard, context="tte_cox", param=param, stat_name="hr")
    e, e_ci = (value(ard, context="tte_evalue", param=param, stat_name=s) for s in ("evalue", "evalue_ci"))
    carrier = "allo-HSCT" if hr < 1 else "trial"  # the cohort that looks worse would carry the risk factor
    text = (f"**Unmeasured confounding ({param}).** E-value {F.fmt_num(e, 2)}: an unmeasured factor associated with "
            f"both the cohort and the outcome by a risk ratio of {F.fmt_num(e, 2)} each, beyond the measured "
            f"covariates, could move the hazard ratio of {F.fmt_num(hr, 2)} to 1; weaker confounding could not. ")
    text += ("The confidence interval already includes 1 (E-value for the interval 1): no confounding is needed "
             "to make the result compatible with no difference. " if e_ci == 1 else
             f"For the confidence limit closest to 1 the E-value is {F.fmt_num(e_ci, 2)}. ")
    tip = ard[(ard["context"] == "tte_tipping") & (ard["param"] == param) & (ard["stat_name"] == "p_estimate")]
    parts = []
    for r in tip.itertuples():
        share = 100 * r.stat
        parts.append(f"hazard ratio {r.variable_level}: {F.fmt_num(share, 0)}%" if share <= 100 else
                     f"hazard ratio {r.variable_level}: not possible (it would need {F.fmt_num(share, 0)}%)")
    if parts:
        text += (f"Tipping point: a binary unmeasured risk factor absent from the {'trial' if carrier == 'allo-HSCT' else 'allo-HSCT'} "
                 f"cohort would have to be present in this share of the {carrier} cohort to explain the estimate away — "
                 + "; ".join(parts) + ". Calendar era (controls 2016-2023, trial 2023-2025) is such a factor that "
                 "cannot be measured here.")
    return text
