"""The views of the external comparison (``View``, ``VIEWS``: each analysis, its estimand group
and the bias it carries), their 2-year and RMST differences from the ARD as forest-plot rows, the
forest plot and the robustness statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis import conventions as C
from analysis.present import formats as F
from analysis.present.ard_views import ard_stat
from analysis.present.cohort_style import LEVEL_2Y, PARAM_LABELS
from analysis.present.comparison_tables import any_carried
from analysis.present.table import Table
from analysis.render.style import OKABE_ITO

# ------------------------------------------------------------------------------------------------
# forest plot of the 2-year differences under every analysis
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class View:
    """One analysis of the external comparison: its ARD prefix, label, the estimand/time-origin
    group it belongs to (results are compared only within a group), whether it is the primary
    comparison (SAP 6.7), and the bias it carries."""
    prefix: str
    label: str
    bias: str
    short: str = ""
    group: str = ""
    primary: bool = False


COMMON_CLOCK = "Common clock (days since the remission before therapy; entry at treatment start)"
COMMON_LANDMARK = "Common clock, landmark 183 days after the remission"
OWN_ORIGINS = "Own origins (trial: CAR-T1 / first remission after CAR-T1; controls: allo-HSCT)"
PER_PROTOCOL = "Per protocol (trial completers from CAR-T2; controls from allo-HSCT)"

VIEWS = (
    View("tte", "Target-trial emulation: ATT-weighted, common clock, delayed entry (primary)", short="Primary: ATT-weighted",
         group=COMMON_CLOCK, primary=True, bias=
         "Both cohorts on one clock from the remission before therapy, each entering at its treatment start, so "
         "neither is selected on survival to a later treatment stage; LFS counts non-response and death from "
         "treatment start; adjusts for the measured covariates, the propensity model re-fitted per bootstrap "
         "replicate. Unmeasured confounding remains (calendar era 2016-2023 vs 2023-2025, donor availability, "
         "fitness for allo-HSCT): see the E-value and tipping point."),
    View("delayed_entry", "Common clock, delayed entry, unweighted", short="Unweighted", group=COMMON_CLOCK, bias=
         "Same clock and entry as the primary, without adjustment for the baseline differences between the "
         "cohorts (confounding by age, MRD and disease status remains)."),
    View("landmark", "Landmark on the common clock (event-free 183 days after the remission)", short="Landmark",
         group=COMMON_LANDMARK, bias=
         "Keeps subjects treated and event-free 183 days after the remission, the same day for both cohorts: the "
         "estimate applies to those landmark survivors only; no covariate adjustment."),
    View("km", "Naive (each cohort from its own origin)", short="Naive", group=OWN_ORIGINS, bias=
         "Selection on survival to different treatment stages: controls are counted from allo-HSCT, which they had "
         "to reach alive and in remission; trial OS from CAR-T1, trial LFS only among patients in remission after "
         "CAR-T1 (non-responders dropped). Different clocks; no adjustment for confounding. Descriptive."),
    View("iptw", "Propensity-score weighted (ATT), own origins", short="PS-weighted (ATT)", group=OWN_ORIGINS, bias=
         "Adjusts for the measured baseline covariates, but keeps the different clocks and the selection on "
         "survival to different treatment stages of the naive view."),
    View("per_protocol", "Per protocol (trial completers from CAR-T2)", short="Per protocol", group=PER_PROTOCOL,
         bias="Keeps only trial subjects who completed the sandwich, counted from CAR-T2: selects the fitter trial "
              "subjects and favours the trial."),
)


def _diff_analysis(prefix: str) -> str:
    return f"{prefix}_diff"


def forest_rows(ard: pd.DataFrame, params: Sequence[str] = ("OS", "LFS"),
                views: Sequence[View] = VIEWS) -> pd.DataFrame:
    """One row per (param, analysis) with the 2-year difference (trial - control) and its CI from
    the ARD (``<prefix>_diff`` rows at level 730.5): param, analysis, label, short, group (the
    estimand / time origin), primary, diff, lcl, ucl (proportions; NaN where the ARD has the
    analysis but no estimate or interval), and ``carried``: a cohort had nobody at risk at 2 years.
    Views absent from the ARD are left out; the order is that of ``views`` (grouped)."""
    rows = []
    for param in params:
        for view in views:
            keys = dict(context=_diff_analysis(view.prefix), param=param, variable_level=LEVEL_2Y)
            if not ((ard["context"] == keys["context"]) & (ard["param"] == param)).any():
                continue
            km = "km" if view.prefix == "km" else f"{view.prefix}_km"
            risks = [ard_stat(ard, context=km, param=param, group1_level=g, variable_level=LEVEL_2Y, stat_name="n_risk")
                     for g in (C.COHORT_TRIAL, C.COHORT_EXTERNAL)]
            unreliable = any(0 < r < C.MIN_AT_RISK for r in risks)  # SAP 3.5: not shown as a number
            values = [ard_stat(ard, stat_name=k, **keys) for k in ("diff", "lcl", "ucl")]
            rows.append({"param": param, "analysis": _diff_analysis(view.prefix), "label": view.label,
                         "short": view.short or view.label, "group": view.group, "primary": view.primary,
                         **dict(zip(("diff", "lcl", "ucl"), [np.nan] * 3 if unreliable else values)),
                         "unreliable": unreliable, "carried": any_carried(ard, km, param, LEVEL_2Y)})
    return pd.DataFrame(rows, columns=["param", "analysis", "label", "short", "group", "primary", "diff", "lcl",
                                       "ucl", "unreliable", "carried"])


RMST_ANALYSES = {"tte": "tte_rmst_diff", "km": "rmst_diff", "iptw": "iptw_rmst_diff"}  # views with an RMST contrast


def rmst_forest_rows(ard: pd.DataFrame, params: Sequence[str] = ("OS", "LFS"),
                     views: Sequence[View] = VIEWS) -> pd.DataFrame:
    """As :func:`forest_rows` for the difference in RMST to 24 months (estimable in every data set;
    SAP 3.6), in MONTHS, for the views that have it (primary, naive, weighted own-origin)."""
    rows = []
    for param in params:
        for view in views:
            analysis = RMST_ANALYSES.get(view.prefix)
            if analysis is None or not ((ard["context"] == analysis) & (ard["param"] == param)).any():
                continue
            values = [ard_stat(ard, context=analysis, param=param, stat_name=k) / C.DAYS_PER_MONTH
                      for k in ("diff", "lcl", "ucl")]
            rows.append({"param": param, "analysis": analysis, "label": view.label, "short": view.short or view.label,
                         "group": view.group, "primary": view.primary, **dict(zip(("diff", "lcl", "ucl"), values)),
                         "unreliable": False, "carried": False})
    return pd.DataFrame(rows, columns=["param", "analysis", "label", "short", "group", "primary", "diff", "lcl",
                                       "ucl", "unreliable", "carried"])


PRIMARY_MARK = "\u2605 "  # a star before the primary analysis
GROUP_TAGS = {COMMON_CLOCK: "common clock", COMMON_LANDMARK: "landmark", OWN_ORIGINS: "own origins",
              PER_PROTOCOL: "per protocol"}


def plot_forest(rows: pd.DataFrame, xlabel: str = "Difference in 2-year probability, trial minus control "
                                                  "(percentage points)", scale: float = 100):
    """Forest plot: one line per row of ``forest_rows`` (grouped by param, then by estimand/origin
    group in row order), marker at the estimate and bar for the CI in percentage points, a
    reference line at 0 and "est (lcl, ucl)" at the right; each label names its group in
    brackets and the primary analysis is marked with a star. Each errorbar series is labelled
    with the param's name."""
    params = list(dict.fromkeys(rows["param"]))
    fig, ax = plt.subplots(figsize=(7.6, 1.0 + 0.34 * (len(rows) + len(params))))
    y_labels, y_pos, y = [], [], 0
    for i, param in enumerate(params):
        part = rows[rows["param"] == param]
        ys = -np.arange(y, y + len(part))
        est, lo, hi = (scale * part[c].to_numpy(dtype=float) for c in ("diff", "lcl", "ucl"))
        ax.errorbar(est, ys, xerr=[est - lo, hi - est], fmt="o" if i == 0 else "s", color=OKABE_ITO[i],
                    capsize=3, label=PARAM_LABELS.get(param, param))
        weak = part["unreliable"] if "unreliable" in part.columns else [False] * len(part)
        for yy, e, low, high, w in zip(ys, est, lo, hi, weak):  # "NE (NE, NE)" where not estimable
            text = f"n at risk < {C.MIN_AT_RISK}" if w else F.fmt_est_ci(e, low, high, 1)
            ax.annotate(text, xy=(1.02, yy), xycoords=("axes fraction", "data"), va="center", fontsize=8)
        short = part["short"] if "short" in part.columns else part["label"]
        groups = part["group"] if "group" in part.columns else [""] * len(part)
        primary = part["primary"] if "primary" in part.columns else [False] * len(part)
        y_labels += [(PRIMARY_MARK if pr else "") + f"{param}: {lab}" + (f" [{GROUP_TAGS.get(g, g)}]" if g else "")
                     for lab, g, pr in zip(short, groups, primary)]
        y_pos += list(ys)
        y += len(part) + 1
    ax.axvline(0, color="black", linewidth=1)
    ax.set_yticks(y_pos, y_labels)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    fig.subplots_adjust(right=0.78)
    return fig


def robustness_statement(rows: pd.DataFrame, scale: float = 100, unit: str = "percentage points",
                         measure: str = "difference at 2 years") -> str:
    """Plain-language reading of ``forest_rows`` that compares like with like: per parameter, the
    primary result first, then, within each estimand/time-origin group, the range and direction
    of the estimates and how many intervals include 0. Groups are not pooled: they estimate
    different things. Intervals are 95% and descriptive (no testing strategy, SAP 3.7)."""
    sentences = []
    for param, all_rows in rows.groupby("param", sort=False):
        name = PARAM_LABELS.get(param, param)
        parts = []
        for group, g_rows in all_rows.groupby("group", sort=False) if "group" in all_rows else [("", all_rows)]:
            ok = g_rows[np.isfinite(g_rows["diff"].to_numpy(dtype=float))]
            tag = GROUP_TAGS.get(group, group) or "all views"
            weak = g_rows.loc[g_rows["unreliable"].astype(bool), "short"].tolist() if "unreliable" in g_rows else []
            weak_text = (f"not reliably estimable (fewer than {C.MIN_AT_RISK} at risk at 2 years): {', '.join(weak)}"
                         if weak else "")
            if ok.empty:
                parts.append(f"{tag}: {weak_text or 'not estimable at 2 years'}")
                continue
            est, lo, hi = (scale * ok[c].to_numpy(dtype=float) for c in ("diff", "lcl", "ucl"))
            texts = [f"{r.short} {F.fmt_est_ci(e, lw, h, 1)}" for r, e, lw, h in zip(ok.itertuples(), est, lo, hi)]
            finite = np.isfinite(lo) & np.isfinite(hi)
            k = int(((lo <= 0) & (hi >= 0))[finite].sum())
            direction = ("trial ahead" if (est > 0).all() else "trial behind" if (est < 0).all()
                         else "directions disagree")
            ci = (f"interval includes 0 in {k} of {int(finite.sum())}" if finite.any()
                  else "no interval (see the bootstrap counts)")
            parts.append(f"{tag}: {'; '.join(texts)} {unit} ({direction}; {ci})"
                         + (f"; {weak_text}" if weak_text else ""))
            carried = ok.loc[ok["carried"].astype(bool), "short"] if "carried" in ok else []
            if len(carried):
                parts[-1] += f"; beyond a cohort's follow-up: {', '.join(carried)}"
        sentences.append(f"{name}, {measure}, compared within each estimand and time origin only: "
                         + ". ".join(parts) + ".")
    return " ".join(sentences)


def bias_table(views: Sequence[View] = VIEWS) -> Table:
    """The analyses of the external comparison and the bias each carries, in words."""
    frame = pd.DataFrame({"Analysis": [v.label for v in views], "Bias it carries": [v.bias for v in views]})
    return Table(title="What each view of the comparison can and cannot remove", frame=frame,
                 headers=["Analysis", "Bias it carries"])
