"""Curves of the external comparison: weighted Kaplan-Meier panels by cohort (one per
parameter) and the stacked cumulative incidence of relapse and non-relapse mortality. Inputs are
the result frames of ``analysis.stats`` (``km_curve``, ``cumulative_incidence``); colours
Okabe-Ito with line styles, so the figures also read in greyscale."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd

from analysis import conventions as C
from analysis.present import formats as F
from analysis.present.cohort_style import (
    COHORT_COLOURS,
    COHORT_LINESTYLES,
    PARAM_LABELS,
    cohort_label,
    cohorts_in,
    to_months,
)
from analysis.render.style import OKABE_ITO

# ------------------------------------------------------------------------------------------------
# weighted Kaplan-Meier curves by cohort, one panel per parameter (the unweighted overlay with
# numbers at risk is analysis.present.figures.km_plot)
# ------------------------------------------------------------------------------------------------

def _draw_km(ax, curve: pd.DataFrame, by: str, cohorts: Sequence[str], show_ci: bool,
             n_subjects: dict | None = None) -> None:
    """Step curve (labelled with the cohort and its N), CI band and censoring ticks per cohort.
    With ``n_subjects`` ({cohort: N}) the curve is weighted: the label shows the subjects and the
    sum of their weights (the first row's n_risk), never the sum alone as "N"."""
    for cohort in cohorts:
        g = curve[curve[by].astype(str) == cohort].sort_values("time")
        t = to_months(g["time"])
        colour = COHORT_COLOURS.get(cohort)
        n = F.fmt_int(g["n_risk"].iloc[0]) if "n_risk" in g.columns else "NE"
        label = f"{cohort_label(cohort)} (N = {n})"
        if n_subjects is not None:
            label = (f"{cohort_label(cohort)} (N = {F.fmt_int(n_subjects[cohort])}; "
                     f"sum of weights {F.fmt_num(float(g['n_risk'].iloc[0]), 1)})")
        ax.step(t, g["surv"], where="post", color=colour, linestyle=COHORT_LINESTYLES.get(cohort, "-"),
                label=label, gid=f"km:{cohort}")
        if show_ci and {"lcl", "ucl"} <= set(g.columns):
            ax.fill_between(t, g["lcl"].astype(float), g["ucl"].astype(float), step="post", color=colour,
                            alpha=0.15, linewidth=0)
        if "censored" in g.columns:
            cens = g[g["censored"].astype(bool)]
            ax.plot(to_months(cens["time"]), cens["surv"], linestyle="none", marker="|", markersize=7,
                    color=colour)


def plot_km_panels(curves: dict, by: str = "COHORT", xlabel: str = "Months from the time origin",
                   max_months: float | None = None, show_ci: bool = True, n_subjects: dict | None = None):
    """One panel per entry of ``curves`` ({param: ``survival.km_curve`` frame}), cohorts overlaid
    with CI bands and censoring ticks: the weighted KM curves of OS and LFS side by side (no
    numbers at risk: a weighted risk set is not a count). ``n_subjects`` ({param: {cohort: N}}):
    the legend shows N subjects and the sum of their weights; without it, N is the first row's
    n_risk (unweighted curves)."""
    fig, axes = plt.subplots(1, len(curves), sharey=True, figsize=(7.0, 3.8), squeeze=False)
    for ax, (param, curve) in zip(axes[0], curves.items()):
        _draw_km(ax, curve, by, cohorts_in(curve, by), show_ci, (n_subjects or {}).get(param))
        ax.axvline(to_months(C.TIMEPOINT_2Y_DAYS), color="grey", linestyle=":", linewidth=1)
        ax.set_title(PARAM_LABELS.get(param, param))
        ax.set_xlabel(xlabel)
        ax.set_ylim(0, 1.02)
        if max_months is not None:
            ax.set_xlim(0, max_months)
        ax.legend(loc="lower left", fontsize=7)
    axes[0][0].set_ylabel("Probability (weighted)")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------
# stacked cumulative incidence of relapse (CIR) and non-relapse mortality (NRM)
# ------------------------------------------------------------------------------------------------

def stacked_cif(cif: pd.DataFrame, by: str = "COHORT", relapse: int = 1, nrm: int = 2) -> pd.DataFrame:
    """One row per (cohort, time) with ``cir``, ``nrm`` and their sum ``cir_nrm`` (= 1 - LFS by
    the Aalen-Johansen identity), from ``analysis.stats.competing.cumulative_incidence`` output
    (<by>, cause, time, cif). Times where a cause is not estimable (NaN) are dropped."""
    missing = [c for c in (by, "cause", "time", "cif") if c not in cif.columns]
    if missing:
        raise ValueError(f"stacked_cif: the cumulative incidence frame lacks column(s) {missing}")
    wide = cif.pivot_table(index=[by, "time"], columns="cause", values="cif", aggfunc="first", dropna=False)
    for cause in (relapse, nrm):
        if cause not in wide.columns:
            raise ValueError(f"stacked_cif: no rows for cause {cause} (causes present: {list(wide.columns)})")
    out = pd.DataFrame({"cir": wide[relapse], "nrm": wide[nrm]}).reset_index()
    out = out.dropna(subset=["cir", "nrm"]).sort_values([by, "time"]).reset_index(drop=True)
    out["cir_nrm"] = out["cir"] + out["nrm"]
    return out


def plot_stacked_cif(cif: pd.DataFrame, by: str = "COHORT", relapse: int = 1, nrm: int = 2,
                     xlabel: str = "Months from the time origin", title: str | None = None,
                     max_months: float | None = None):
    """Stacked cumulative incidence, one panel per cohort: relapse (CIR) from 0, NRM stacked on
    top of it; the white area above is the probability of being alive and relapse-free. The
    drawn step lines are named "CIR" and "CIR + NRM" (their y values are the CIF values)."""
    data = stacked_cif(cif, by, relapse, nrm)
    cohorts = cohorts_in(data, by)
    fig, axes = plt.subplots(1, len(cohorts), sharex=True, sharey=True, figsize=(7.0, 3.8), squeeze=False)
    relapse_label, nrm_label = C.CR_CAUSES.get(relapse, "Relapse"), C.CR_CAUSES.get(nrm, "NRM")
    for ax, cohort in zip(axes[0], cohorts):
        g = data[data[by].astype(str) == cohort]
        t = to_months(g["time"])
        ax.fill_between(t, 0, g["cir"], step="post", color=OKABE_ITO[4], alpha=0.7, linewidth=0,
                        label=relapse_label)
        ax.fill_between(t, g["cir"], g["cir_nrm"], step="post", color=OKABE_ITO[5], alpha=0.7, linewidth=0,
                        label=nrm_label)
        ax.step(t, g["cir"], where="post", color="black", linewidth=1, label="_CIR", gid="CIR")
        ax.step(t, g["cir_nrm"], where="post", color="black", linewidth=1, linestyle="--",
                label="_CIR + NRM", gid="CIR + NRM")
        ax.axvline(to_months(C.TIMEPOINT_2Y_DAYS), color="grey", linestyle=":", linewidth=1)
        ax.set_title(cohort_label(cohort))
        ax.set_xlabel(xlabel)
        ax.set_ylim(0, 1)
        if max_months is not None:
            ax.set_xlim(0, max_months)
    axes[0][0].set_ylabel("Cumulative incidence (stacked)")
    axes[0][-1].legend(loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
