"""Figures and ARD-to-display shaping for the report sections on safety (05), the external-control
comparison (06, 07) and the changes since the previous cut (08).

Figure functions take the *result frames* of the generic statistics layer (``km_curve``,
``risk_table``, ``cumulative_incidence``) or ARD rows, never raw data, and return a matplotlib
Figure (the caller shows or saves it). Table helpers read numbers from the analysis results
dataset (ARD) and format them with :mod:`analysis.present.formats`: nothing is recomputed here.

Conventions used: ``conventions.DAYS_PER_MONTH`` (days -> months on every time axis),
``conventions.TIMEPOINT_2Y_DAYS`` (the 2-year level of the ARD), ``conventions.CR_CAUSES``
(EVNTTYPE coding of relapse / NRM), ``conventions.REFERENCE_COHORT`` (differences are trial minus
control). Colours: Okabe-Ito (``analysis.render.style.OKABE_ITO``), with line styles so that the
figures also read in greyscale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis import conventions as C
from analysis.present import formats as F
from analysis.present import labels as L
from analysis.present.figures import COHORT_LABELS
from analysis.present.table import Table
# the raw-change tables come from compare, which withholds identifier values at the source; the
# report applies the same function again to whatever tables it is handed
from analysis.regulatory.compare import WITHHELD, withhold_identifiers  # noqa: F401
from analysis.render.style import OKABE_ITO

# cohort display names: one definition, in analysis.present.figures (whose km_plot draws the
# unweighted overlaid KM curves of notebook 06)
COHORT_COLOURS = {C.COHORT_TRIAL: OKABE_ITO[0], C.COHORT_EXTERNAL: OKABE_ITO[1]}
COHORT_LINESTYLES = {C.COHORT_TRIAL: "-", C.COHORT_EXTERNAL: "--"}
LEVEL_2Y = repr(C.TIMEPOINT_2Y_DAYS)      # ARD level text of the 2-year estimate ("730.5")
LEVEL_1Y = repr(C.TIMEPOINT_1Y_DAYS)      # "365.25"
COMPARISON = f"{C.COHORT_TRIAL} vs {C.COHORT_EXTERNAL}"
PARAM_LABELS = {"OS": "Overall survival", "LFS": "Leukemia-free survival"}


def cohort_label(cohort: str) -> str:
    return COHORT_LABELS.get(str(cohort), str(cohort))


def to_months(days):
    """Days -> months (conventions.DAYS_PER_MONTH = 365.25 / 12)."""
    return np.asarray(days, dtype=float) / C.DAYS_PER_MONTH


def _cohorts_in(frame: pd.DataFrame, by: str) -> list[str]:
    """Cohorts present, trial first, then control, then any other in order of appearance."""
    present = list(dict.fromkeys(frame[by].astype(str)))
    known = [c for c in COHORT_LABELS if c in present]
    return known + [c for c in present if c not in known]


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
        _draw_km(ax, curve, by, _cohorts_in(curve, by), show_ci, (n_subjects or {}).get(param))
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
    cohorts = _cohorts_in(data, by)
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
VIEW_BY_PREFIX = {v.prefix: v for v in VIEWS}


def _diff_analysis(prefix: str) -> str:
    return f"{prefix}_diff"


def ard_stat(ard: pd.DataFrame, **keys) -> float:
    """The one ARD stat matching ``keys``, NaN when absent (an analysis not run for this cut)."""
    sel = ard
    for k, v in keys.items():
        sel = sel[sel[k] == str(v)]
    if len(sel) > 1:
        raise KeyError(f"ARD lookup {keys}: {len(sel)} rows")
    return float(sel["stat"].iloc[0]) if len(sel) else float("nan")


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
            keys = dict(analysis=_diff_analysis(view.prefix), param=param, level=LEVEL_2Y)
            if not ((ard["analysis"] == keys["analysis"]) & (ard["param"] == param)).any():
                continue
            km = "km" if view.prefix == "km" else f"{view.prefix}_km"
            risks = [ard_stat(ard, analysis=km, param=param, group=g, level=LEVEL_2Y, stat_name="n_risk")
                     for g in (C.COHORT_TRIAL, C.COHORT_EXTERNAL)]
            unreliable = any(0 < r < C.MIN_AT_RISK for r in risks)  # SAP 3.5: not shown as a number
            values = [ard_stat(ard, stat_name=k, **keys) for k in ("diff", "lcl", "ucl")]
            rows.append({"param": param, "analysis": _diff_analysis(view.prefix), "label": view.label,
                         "short": view.short or view.label, "group": view.group, "primary": view.primary,
                         **dict(zip(("diff", "lcl", "ucl"), [np.nan] * 3 if unreliable else values)),
                         "unreliable": unreliable, "carried": _any_carried(ard, km, param, LEVEL_2Y)})
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
            if analysis is None or not ((ard["analysis"] == analysis) & (ard["param"] == param)).any():
                continue
            values = [ard_stat(ard, analysis=analysis, param=param, stat_name=k) / C.DAYS_PER_MONTH
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


# ------------------------------------------------------------------------------------------------
# propensity score: balance from the ARD, weight distribution
# ------------------------------------------------------------------------------------------------

def balance_from_ard(ard: pd.DataFrame, analysis: str = "ps_balance") -> pd.DataFrame:
    """The balance frame ``analysis.stats.weighting.love_plot`` takes (covariate, level,
    smd_unweighted, smd_weighted, mean_treated, mean_control, mean_control_weighted), rebuilt from
    the ARD rows (variable = covariate, level = level), in ARD order."""
    sel = ard[ard["analysis"] == analysis]
    if sel.empty:
        raise ValueError(f"the ARD has no {analysis!r} rows")
    wide = sel.pivot_table(index=["variable", "level"], columns="stat_name", values="stat", aggfunc="first",
                           sort=False).reset_index()
    wide = wide.rename(columns={"variable": "covariate"})
    wide.columns.name = None
    return wide


def plot_weight_distribution(frame: pd.DataFrame, by: str = "COHORT", weight: str = "IPTW",
                             ps: str | None = "PS", bins: int = 20):
    """Histograms of the propensity score (left, overlap of the cohorts) and of the weights
    (right), one colour per cohort. ``frame``: one row per subject."""
    panels = [c for c in (ps, weight) if c is not None]
    fig, axes = plt.subplots(1, len(panels), figsize=(7.0, 3.4), squeeze=False)
    cohorts = _cohorts_in(frame, by)
    titles = {ps: "Propensity score", weight: "Weight"}
    for ax, col in zip(axes[0], panels):
        values = frame[col].astype(float)
        edges = np.histogram_bin_edges(values.dropna(), bins=bins)
        for cohort in cohorts:
            v = values[frame[by].astype(str) == cohort].dropna()
            counts, _ = np.histogram(v, bins=edges)
            ax.stairs(counts, edges, fill=True, alpha=0.45, color=COHORT_COLOURS.get(cohort),
                      label=f"{cohort_label(cohort)} (n = {len(v)})", gid=cohort)
        ax.set_xlabel(titles[col])
        ax.set_ylabel("Subjects")
    axes[0][0].legend(loc="upper center", fontsize=8)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------
# tables from the ARD
# ------------------------------------------------------------------------------------------------

CARRIED = "\u2020"
FOOTNOTE_CARRIED = (f"{CARRIED} Nobody in the cohort was still followed at this time (0 at risk): the value is the "
                    "last one of the curve carried forward (R summary.survfit extend = TRUE), not an estimate "
                    "at this time.")


def pct_ci(ard: pd.DataFrame, analysis: str, stat_names=("surv", "lcl", "ucl"), mark: bool = True, **keys) -> str:
    """"est (lcl, ucl); n at risk k" in % from the ARD; "not reliably estimable (n at risk k < 10)"
    when 0 < k < conventions.MIN_AT_RISK (SAP 3.5); with ``mark``, a dagger when the ARD row says
    nobody was at risk at that time (n_risk = 0), i.e. the value is carried forward beyond follow-up."""
    est, lo, hi = (ard_stat(ard, analysis=analysis, stat_name=s, **keys) for s in stat_names)
    n_risk = ard_stat(ard, analysis=analysis, stat_name="n_risk", **keys) if stat_names[0] in ("surv", "cif") \
        else float("nan")
    if 0 < n_risk < C.MIN_AT_RISK and not np.isnan(est):  # SAP 3.5: not a bare number
        return f"not reliably estimable (n at risk {F.fmt_int(n_risk)} < {C.MIN_AT_RISK})"
    text = F.fmt_est_ci(100 * est, 100 * lo, 100 * hi, 1)
    if not np.isnan(n_risk) and n_risk > 0:
        text += f"; n at risk {F.fmt_int(n_risk)}"
    return text + f" {CARRIED}" if mark and is_carried_forward(ard, analysis, **keys) else text


def _any_carried(ard: pd.DataFrame, km: str, param: str, level: str) -> bool:
    return any(is_carried_forward(ard, km, param=param, group=g, level=level)
               for g in (C.COHORT_TRIAL, C.COHORT_EXTERNAL))


def is_carried_forward(ard: pd.DataFrame, analysis: str, **keys) -> bool:
    """True when the ARD row of ``analysis`` at ``keys`` has n_risk = 0 (and an estimate)."""
    return ard_stat(ard, analysis=analysis, stat_name="n_risk", **keys) == 0 and \
        not np.isnan(ard_stat(ard, analysis=analysis, stat_name=next(
            (s for s in ("surv", "cif") if ((ard["analysis"] == analysis) & (ard["stat_name"] == s)).any()), "surv"),
            **keys))


def _with_carried_note(table: Table) -> Table:
    """Add the carried-forward footnote when a cell of ``table`` carries the mark."""
    if table.frame.apply(lambda col: col.str.contains(CARRIED, regex=False)).any(axis=None):
        table.footnotes.insert(0, FOOTNOTE_CARRIED)
    return table


def comparison_table(ard: pd.DataFrame, prefix: str, params: Sequence[str] = ("OS", "LFS"),
                     title: str = "", subtitles: Sequence[str] = (), footnotes: Sequence[str] = (),
                     counts: str | None = "n", medians: bool = False, tests: bool = True) -> Table:
    """Two-cohort summary of one analysis view from the ARD: per parameter, N and events per
    cohort (``<prefix>_n``; for the naive view ``km_n``), KM at 1 and 2 years (``<prefix>_km``), the
    median (``km_median``, naive only), and in the Comparison column the 2-year difference
    (``<prefix>_diff``), the Cox HR (``<prefix>_cox``) and, naive only, the log-rank P."""
    cohorts = [C.COHORT_TRIAL, C.COHORT_EXTERNAL]
    km = f"{prefix}_km" if prefix != "km" else "km"
    n_name = f"{prefix}_n" if prefix != "km" else "km_n"
    labels, cells, indent = [], [], []

    def add(label, values, comparison="", level=1):
        labels.append(label)
        indent.append(level)
        cells.append([*values, comparison])

    for param in params:
        add(PARAM_LABELS.get(param, param), ["", ""], "", 0)
        if counts:
            ns = [(ard_stat(ard, analysis=n_name, param=param, group=g, stat_name="n"),
                   ard_stat(ard, analysis=n_name, param=param, group=g, stat_name="n_event")) for g in cohorts]
            add("Subjects, N", [F.fmt_int(n) for n, _ in ns])
            add("Events, n (%)", [F.fmt_n_pct(e, 100 * e / n if n else float("nan")) for n, e in ns])
        if medians:
            add("Median, months (95% CI)",
                [F.fmt_est_ci(*(to_months(ard_stat(ard, analysis="km_median", param=param, group=g, stat_name=s))
                                for s in ("median", "lcl", "ucl")), decimals=1) for g in cohorts])
        for level, text in ((LEVEL_1Y, "1 year"), (LEVEL_2Y, "2 years")):
            add(f"Rate at {text}, % (95% CI)",
                [pct_ci(ard, km, param=param, group=g, level=level) for g in cohorts])
        diff = pct_ci(ard, f"{prefix}_diff", ("diff", "lcl", "ucl"), param=param, level=LEVEL_2Y)
        risks = [ard_stat(ard, analysis=km, param=param, group=g, level=LEVEL_2Y, stat_name="n_risk") for g in cohorts]
        if any(0 < r < C.MIN_AT_RISK for r in risks):  # SAP 3.5
            diff = f"not reliably estimable (a cohort has fewer than {C.MIN_AT_RISK} at risk)"
        if _any_carried(ard, km, param, LEVEL_2Y):
            diff += f" {CARRIED}"
        add("Difference at 2 years, percentage points (95% CI)", ["", ""], diff)
        if prefix == "iptw":
            n_boot = ard_stat(ard, analysis="iptw_diff", param=param, stat_name="n_boot")
            used = ard_stat(ard, analysis="iptw_diff", param=param, stat_name="n_boot_used")
            valid = ard_stat(ard, analysis="iptw_diff", param=param, stat_name="n_boot_valid")
            seed = ard_stat(ard, analysis="iptw_diff", param=param, stat_name="seed")
            add("Bootstrap replicates: fitted; estimating the 2-year difference", ["", ""],
                f"{F.fmt_int(used)} of {F.fmt_int(n_boot)}; {F.fmt_int(valid)} (an interval needs all), seed {F.fmt_int(seed)}")
            add("RMST difference to 24 months, months (95% CI)", ["", ""], F.fmt_est_ci(
                *(ard_stat(ard, analysis="iptw_rmst_diff", param=param, stat_name=s) / C.DAYS_PER_MONTH
                  for s in ("diff", "lcl", "ucl")), 1))
        hr = [ard_stat(ard, analysis=f"{prefix}_cox" if prefix != "km" else "cox", param=param, stat_name=s)
              for s in ("hr", "lcl", "ucl", "p")]
        add("Hazard ratio, trial vs control (95% CI)", ["", ""], F.fmt_est_ci(*hr[:3], decimals=F.RATIO_DECIMALS))
        add("Cox Wald P (nominal)" if prefix != "iptw" else "Cox robust Wald P (nominal)", ["", ""], F.fmt_pvalue(hr[3]))
        if tests and prefix == "km":
            add("Log-rank P (nominal)", ["", ""],
                F.fmt_pvalue(ard_stat(ard, analysis="logrank", param=param, stat_name="p")))
    frame = pd.DataFrame(cells, columns=[*cohorts, "Comparison"])
    frame.insert(0, "Endpoint", labels)
    headers = ["Endpoint"]
    for g in cohorts:
        n = ard_stat(ard, analysis=n_name, param=params[0], group=g, stat_name="n") if counts else float("nan")
        headers.append(F.fmt_header(cohort_label(g), n) if not np.isnan(n) else cohort_label(g))
    headers.append("Comparison")
    return _with_carried_note(Table(title=title, frame=frame, headers=headers, indent=indent,
                                    subtitles=list(subtitles),
                                    footnotes=[*footnotes, f"Differences and hazard ratios: {C.COHORT_TRIAL} "
                                               f"relative to {C.REFERENCE_COHORT}.", "NE: not estimable."]))


def methods_lookup(methods: pd.DataFrame, *analyses: str) -> list[str]:
    """Footnote lines "<display name>: method" from ard_methods.csv for the given analyses (those
    present); the display name, never the ARD id (issue 11, analysis.present.labels)."""
    return L.method_notes(dict(zip(methods["analysis"], methods["method"])), *analyses)


# ------------------------------------------------------------------------------------------------
# safety listings (data, not statistics) and CRS/ICANS timing table
# ------------------------------------------------------------------------------------------------

def _days_since(dates: pd.Series, day0: pd.Series) -> pd.Series:
    """Whole days from ``day0`` (day 0) to ``dates``; missing where either date is missing."""
    return (pd.to_datetime(dates) - pd.to_datetime(day0)).dt.days


def serious_ae_listing(adae: pd.DataFrame) -> pd.DataFrame:
    """Serious treatment-emergent AEs, one row per event: subject, phase, onset day, preferred term,
    CTCAE grade, end day and outcome text ("resolved, N days" or "ongoing at cut"). Days are days
    since CAR-T1 (CAR-T1 = day 0, ASTDT - TRTSDT), the one day convention of every table and
    listing (issue 11, SAP 7.4). Sorted by subject and onset day."""
    sae = adae[(adae["AESER"] == "Y") & (adae["TRTEMFL"] == "Y")].sort_values(["USUBJID", "ASTDY", "AEDECOD"])
    grade = sae["ATOXGR"].astype(float)
    outcome = np.where(sae["AENDY"].isna(), "ongoing at cut",
                       "resolved after " + sae["ADURN"].map(F.fmt_int) + " days")
    outcome = np.where(grade.to_numpy() == 5, "fatal", outcome)
    return pd.DataFrame({
        "Subject": sae["USUBJID"].astype(str).to_numpy(),
        "Phase": sae["APHASE"].astype(str).to_numpy(),
        "Onset day": _days_since(sae["ASTDT"], sae["TRTSDT"]).map(F.fmt_int).to_numpy(),
        "Preferred term": sae["AEDECOD"].astype(str).to_numpy(),
        "Grade": grade.map(F.fmt_int).to_numpy(),
        "End day": _days_since(sae["AENDT"], sae["TRTSDT"]).map(lambda v: "" if F.is_missing(v) else F.fmt_int(v)).to_numpy(),
        "Outcome": outcome,
    })


def death_listing(adsl: pd.DataFrame, cohort: str = C.COHORT_TRIAL) -> pd.DataFrame:
    """Deaths in ``cohort``, one row per subject: subject, day of death since CAR-T1 (DTHDT -
    TRTSDT, CAR-T1 = day 0, as every table and listing), cause, whether a relapse preceded it, and
    the last step of the sandwich reached."""
    d = adsl[(adsl["COHORT"] == cohort) & (adsl["DTHFL"] == "Y")].copy()
    day = _days_since(d["DTHDT"], d["TRTSDT"])
    steps = [("CART2DT", "CAR-T2"), ("AHSCTDT", "auto-HSCT"), ("COLLDT", "stem-cell collection"),
             ("TRTSDT", "CAR-T1")]
    reached = [next((name for col, name in steps if col in d.columns and pd.notna(r[col])), "none")
               for _, r in d.iterrows()]
    relapsed = d["RELDT"].notna() & (d["RELDT"] <= d["DTHDT"])
    out = pd.DataFrame({
        "Subject": d["USUBJID"].astype(str).to_numpy(),
        "Day of death": day.map(F.fmt_int).to_numpy(),
        "Cause": d["DTHCAUS"].fillna("not recorded").astype(str).to_numpy(),
        "Relapse before death": np.where(relapsed, "yes", "no"),
        "Last step reached": reached,
    })
    return out.sort_values("Subject").reset_index(drop=True)


LISTING_MAX_ROWS = 200  # a page lists at most this many records; a footnote counts the rest


def listing_table(listing: pd.DataFrame, title: str, footnotes: Sequence[str] = (),
                  empty_text: str = "None.", max_rows: int | None = LISTING_MAX_ROWS) -> Table:
    """A listing frame as a :class:`Table` (one line "None." when it has no rows); beyond
    ``max_rows`` records (None: no limit) the first ones, with a footnote saying how many more."""
    notes = list(footnotes)
    if max_rows is not None and len(listing) > max_rows:
        notes.append(f"First {max_rows:,} of {len(listing):,} records shown, in the order listed; every record "
                     "is in the derived dataset listed.")
        listing = listing.head(max_rows)
    frame = listing if len(listing) else pd.DataFrame([[empty_text] + [""] * (listing.shape[1] - 1)],
                                                      columns=listing.columns)
    return Table(title=title, frame=frame, headers=list(listing.columns), footnotes=notes)


TIMING_TITLE = "CRS and ICANS: onset and duration by infusion"


def timing_table(ard: pd.DataFrame, analysis: str = "crs_icans_timing", method: str | None = None) -> Table:
    """CRS / ICANS onset day and duration from the ARD rows of ``analysis.analyze.safety_extra``
    (a one-line table saying so when the ARD has none: the analysis was not run for this cut)."""
    sel = ard[ard["analysis"] == analysis]
    if sel.empty:
        return Table(title=TIMING_TITLE, frame=pd.DataFrame({"Syndrome": [
            f"Not in the analysis results of this cut (ARD analysis {analysis!r} not produced)."]}),
            headers=["Syndrome"])
    labels, indent, cells = [], [], []
    infusions = ["CAR-T1", "CAR-T2", "ANY"]
    for syndrome in dict.fromkeys(sel["param"]):
        def s(variable, level, name):
            return ard_stat(sel, param=syndrome, variable=variable, level=level, stat_name=name)
        labels.append(syndrome)
        indent.append(0)
        cells.append(["", "", ""])
        rows = [
            ("Episodes (subjects)", lambda lv: f"{F.fmt_int(s('EPISODES', lv, 'n_episodes'))} "
                                               f"({F.fmt_int(s('EPISODES', lv, 'n_subj'))})"),
            ("Onset day, median (Q1, Q3)", lambda lv: F.fmt_median_q1q3(
                s("ONSETDY", lv, "median"), s("ONSETDY", lv, "q1"), s("ONSETDY", lv, "q3"), 0)),
            ("Onset day, min, max", lambda lv: F.fmt_range(s("ONSETDY", lv, "min"), s("ONSETDY", lv, "max"), 0)),
            ("Duration, days, median (Q1, Q3)", lambda lv: F.fmt_median_q1q3(
                s("ADURN", lv, "median"), s("ADURN", lv, "q1"), s("ADURN", lv, "q3"), 0)),
            ("Duration, days, min, max", lambda lv: F.fmt_range(s("ADURN", lv, "min"), s("ADURN", lv, "max"), 0)),
            ("Ongoing at the cut", lambda lv: F.fmt_int(s("EPISODES", lv, "n_ongoing"))),
        ]
        for text, fn in rows:
            labels.append(text)
            indent.append(1)
            cells.append([fn(lv) for lv in infusions])
    frame = pd.DataFrame(cells, columns=infusions)
    frame.insert(0, "Syndrome", labels)
    notes = ["Episodes: treatment-emergent ADAE records; onset day 0 = day of the CAR-T infusion that "
             "preceded the onset."]
    if method:
        notes.append(f"Method: {method}.")
    return Table(title=TIMING_TITLE, frame=frame,
                 headers=["Syndrome", "After CAR-T1", "After CAR-T2", "Any infusion"], indent=indent,
                 subtitles=["Safety population, sandwich cohort"], footnotes=notes)


# ------------------------------------------------------------------------------------------------
# loading the inputs of a report section (derived data and results of one cut, never raw)
# ------------------------------------------------------------------------------------------------

@dataclass
class SectionInputs:
    cut: str
    root: object
    ard: pd.DataFrame
    methods: pd.DataFrame
    derived: dict


def load_section_inputs(cut: str | None, root=None, datasets: Sequence[str] = ("adsl", "adtte", "adae")) -> SectionInputs:
    """The cut (latest when None), its ARD and ard_methods.csv, and the derived datasets named."""
    from pathlib import Path

    from analysis import paths
    from analysis.analyze import ard as ard_io

    root = Path(root) if root else None
    cut = cut or paths.latest_cut(root)
    report = paths.report_dir(cut, root)
    if not (report / "ard.csv").exists():
        raise FileNotFoundError(f"{report / 'ard.csv'} missing: run `python -m analysis analyze --cut {cut}`")
    methods_path = report / "ard_methods.csv"
    methods = pd.read_csv(methods_path) if methods_path.exists() else pd.DataFrame(columns=["analysis", "method"])
    folder = paths.derived_dir(cut, root)
    derived = {d: pd.read_parquet(folder / f"{d}.parquet") for d in datasets}
    return SectionInputs(cut=cut, root=root, ard=ard_io.read(report / "ard.csv"), methods=methods, derived=derived)


# ------------------------------------------------------------------------------------------------
# adverse events: ARD rows back into the tidy frames of analysis.present.layouts
# ------------------------------------------------------------------------------------------------

AE_LEVEL_SEP = " / "   # analysis.analyze.sap.AE_LEVEL_SEP: term rows are "SOC / term"
_AE_STAT = {"n_subj": "n", "n_events": "events", "pct": "pct", "N": "N"}
PHASE_ORDER = ("CAR-T1", "MOBILIZATION", "AUTO-HSCT", "CAR-T2")


def _grade_from_param(param: str) -> str:
    """ARD param of the ``ae`` rows -> grade code of ``format_ae_table``."""
    if param == "any grade":
        return "any"
    if param.startswith("worst grade "):
        return param.removeprefix("worst grade ")
    if param.startswith("grade "):
        return param.removeprefix("grade ")
    raise ValueError(f"ARD ae rows: unknown param {param!r}")


def ae_tidy_from_ard(ard: pd.DataFrame) -> pd.DataFrame:
    """The ``ae`` ARD rows (plus N from ``ae_overview``) as the tidy frame of
    ``analysis.stats.tables.ae_summary`` that ``format_ae_table`` takes: section, soc, term,
    grade, group, stat_name, stat."""
    sel = ard[ard["analysis"] == "ae"]
    if sel.empty:
        raise ValueError("the ARD has no 'ae' rows")
    section = sel["variable"].map({"ANY": "overall", "AEBODSYS": "soc", "AEDECOD": "term"})
    split = sel["level"].str.split(AE_LEVEL_SEP, n=1, regex=False)
    soc = np.where(section == "overall", "", np.where(section == "term", split.str[0], sel["level"]))
    term = np.where(section == "term", split.str[1], "")
    tidy = pd.DataFrame({"section": section.to_numpy(), "soc": soc, "term": term,
                         "grade": sel["param"].map(_grade_from_param).to_numpy(),
                         "group": sel["group"].to_numpy(), "stat_name": sel["stat_name"].map(_AE_STAT).to_numpy(),
                         "stat": sel["stat"].to_numpy()})
    n = ard[(ard["analysis"] == "ae_overview") & (ard["stat_name"] == "N")]
    pop = pd.DataFrame({"section": "population", "soc": "", "term": "", "grade": "", "group": n["group"].to_numpy(),
                        "stat_name": "n", "stat": n["stat"].to_numpy()})
    return pd.concat([pop, tidy], ignore_index=True)


def ae_by_tidy_from_ard(ard: pd.DataFrame, analysis: str, variable: str | None = None,
                        order: Sequence[str] | None = None) -> pd.DataFrame:
    """``ae_overview`` / ``ae_by`` ARD rows as the frame ``format_ae_overview`` takes (level ->
    category, n_subj -> n, n_events -> events; the N row kept), categories in ``order`` first."""
    sel = ard[ard["analysis"] == analysis]
    if variable is not None:
        sel = sel[sel["variable"] == variable]
    if sel.empty:
        raise ValueError(f"the ARD has no {analysis!r} rows" + (f" for {variable}" if variable else ""))
    out = pd.DataFrame({"category": sel["level"].to_numpy(), "group": sel["group"].to_numpy(),
                        "stat_name": sel["stat_name"].map(_AE_STAT).to_numpy(), "stat": sel["stat"].to_numpy()})
    if order:
        rank = {c: i for i, c in enumerate(order)}
        out = out.iloc[np.argsort([rank.get(c, len(rank)) for c in out["category"]], kind="stable")]
    return out.reset_index(drop=True)


def term_grade_table(ard: pd.DataFrame, term: str, title: str, grades=("1", "2", "3", "4", "5")) -> Table:
    """Subjects by worst CTCAE grade of one preferred term (ARD ``ae`` AEDECOD rows), n (%) of N."""
    tidy = ae_tidy_from_ard(ard)
    rows = tidy[(tidy["section"] == "term") & (tidy["term"] == term)]
    pop = tidy[tidy["section"] == "population"]
    groups = list(dict.fromkeys(pop["group"]))
    look = {(r.grade, r.group, r.stat_name): r.stat for r in rows.itertuples()}
    labels = ["Any grade", *[f"Grade {g}" for g in grades], "Grade \u2265 3"]
    keys = ["any", *grades, ">=3"]
    cells = [[F.fmt_n_pct(look.get((k, g, "n"), 0), look.get((k, g, "pct"), 0)) for g in groups] for k in keys]
    frame = pd.DataFrame(cells, columns=groups)
    frame.insert(0, "Worst grade", labels)
    n_of = dict(zip(pop["group"], pop["stat"]))
    return Table(title=title, frame=frame, headers=["Worst grade", *[F.fmt_header(g, n_of[g]) for g in groups]],
                 subtitles=["Safety population"],
                 footnotes=["n (%): subjects by their worst grade of the term; percentages of N.",
                            "CTCAE version 5.0 (CRS and ICANS graded as recorded by the investigator)."])


# ------------------------------------------------------------------------------------------------
# external comparison: competing risks, balance, weights, bias of each view
# ------------------------------------------------------------------------------------------------

def competing_risk_table(ard: pd.DataFrame, footnotes: Sequence[str] = ()) -> Table:
    """CIR and NRM at 1 and 2 years per cohort (ARD ``cif``), Gray's test (``gray``) and the
    Fine-Gray subdistribution HR (``finegray``)."""
    cohorts = [C.COHORT_TRIAL, C.COHORT_EXTERNAL]
    labels, indent, cells = [], [], []
    for param, name in (("CIR", "Cumulative incidence of relapse"), ("NRM", "Non-relapse mortality")):
        labels.append(name)
        indent.append(0)
        cells.append(["", "", ""])
        for level, text in ((LEVEL_1Y, "1 year"), (LEVEL_2Y, "2 years")):
            labels.append(f"At {text}, % (95% CI)")
            indent.append(1)
            cells.append([pct_ci(ard, "cif", ("cif", "lcl", "ucl"), param=param, group=g, level=level)
                          for g in cohorts] + [""])
        shr = [ard_stat(ard, analysis="finegray", param=param, stat_name=s) for s in ("shr", "lcl", "ucl", "p")]
        labels += ["Subdistribution HR, trial vs control (95% CI)", "Fine-Gray P", "Gray's test P"]
        indent += [1, 1, 1]
        cells += [["", "", F.fmt_est_ci(*shr[:3], decimals=F.RATIO_DECIMALS)], ["", "", F.fmt_pvalue(shr[3])],
                  ["", "", F.fmt_pvalue(ard_stat(ard, analysis="gray", param=param, stat_name="p"))]]
    frame = pd.DataFrame(cells, columns=[*cohorts, "Comparison"])
    frame.insert(0, "Endpoint", labels)
    return _with_carried_note(Table(title="Relapse and non-relapse mortality as competing risks", frame=frame,
                 headers=["Endpoint", *[cohort_label(g) for g in cohorts], "Comparison"], indent=indent,
                 subtitles=["From each cohort's own origin (trial: remission after CAR-T1; control: allo-HSCT)"],
                 footnotes=["Cumulative incidence: Aalen-Johansen estimator, Gray's delta-method variance "
                            "(cmprsk::cuminc), 95% CI on the log(-log) scale.",
                            "Gray's (1988) K-sample test; Fine & Gray (1999) subdistribution hazard model, "
                            "sandwich variance (cmprsk::crr).",
                            f"Competing events: {', '.join(C.CR_CAUSES.values())}.", *footnotes,
                            "NE: not estimable."]))


def balance_table(ard: pd.DataFrame, footnotes: Sequence[str] = ()) -> Table:
    """Covariate means by cohort before and after ATT weighting, with SMDs (ARD ``ps_balance``)."""
    bal = balance_from_ard(ard)
    label = [L.covariate_label(c, lv) for c, lv in zip(bal["covariate"], bal["level"])]
    frame = pd.DataFrame({
        "Covariate": label,
        "trial": bal["mean_treated"].map(lambda v: F.fmt_num(v, 2)),
        "control": bal["mean_control"].map(lambda v: F.fmt_num(v, 2)),
        "control_w": bal["mean_control_weighted"].map(lambda v: F.fmt_num(v, 2)),
        "smd": bal["smd_unweighted"].map(F.fmt_smd), "smd_w": bal["smd_weighted"].map(F.fmt_smd),
    })
    n_bad = int((bal["smd_weighted"].abs() >= C.BALANCE_THRESHOLD).sum())
    return Table(title="Covariate balance before and after propensity-score weighting (ATT)", frame=frame,
                 headers=["Covariate: level", "Trial\nmean", "Control\nmean", "Control\nweighted mean",
                          "SMD\nunweighted", "SMD\nweighted"],
                 footnotes=["Means of binary indicators are proportions; LOGWBC is log10 WBC at diagnosis "
                            "(missing set to the median, WBCMISS = 1); CNSPOS: CNS2/CNS3.",
                            "SMD: standardized mean difference, trial minus control, pooled SD of the "
                            "unweighted cohorts as denominator.",
                            f"|SMD| < {C.BALANCE_THRESHOLD:g} counts as balanced; after weighting "
                            f"{n_bad} row(s) reach it or more.", *footnotes])


def weights_table(ard: pd.DataFrame, footnotes: Sequence[str] = ()) -> Table:
    """Distribution and effective sample size of the ATT weights per cohort (ARD ``ps_weights``)."""
    cohorts = [C.COHORT_TRIAL, C.COHORT_EXTERNAL]
    s = lambda g, name: ard_stat(ard, analysis="ps_weights", param="ATT", group=g, stat_name=name)  # noqa: E731
    rows = [("Subjects, N", lambda g: F.fmt_int(s(g, "n"))),
            ("Effective sample size", lambda g: F.fmt_num(s(g, "ess"), 1)),
            ("Sum of weights", lambda g: F.fmt_num(s(g, "sum"), 1)),
            ("Mean", lambda g: F.fmt_num(s(g, "mean"), 3)),
            ("Median (Q1, Q3)", lambda g: f"{F.fmt_num(s(g, 'median'), 3)} ({F.fmt_num(s(g, 'q1'), 3)}, "
                                          f"{F.fmt_num(s(g, 'q3'), 3)})"),
            ("Min, Max", lambda g: f"{F.fmt_num(s(g, 'min'), 3)}, {F.fmt_num(s(g, 'max'), 3)}"),
            ("Weights truncated", lambda g: F.fmt_int(s(g, "n_truncated")))]
    frame = pd.DataFrame([[fn(g) for g in cohorts] for _, fn in rows], columns=cohorts)
    frame.insert(0, "Weight", [r[0] for r in rows])
    lo, hi = C.IPTW_TRUNCATE_PERCENTILES
    return Table(title="Propensity-score weights (ATT) and effective sample size", frame=frame,
                 headers=["Weight", *[cohort_label(g) for g in cohorts]],
                 footnotes=[f"Estimand {C.IPTW_ESTIMAND}: trial subjects weight 1, controls ps/(1-ps)"
                            f"{' rescaled to sum to the number of controls (stabilised)' if C.IPTW_STABILIZE else ''}; "
                            + (f"weights above the {hi}th percentile of all weights set to it." if lo == 0 else
                               f"weights truncated at the {lo}th and {hi}th percentiles of all weights."),
                            "Effective sample size: (sum w)^2 / sum w^2 (Kish).", *footnotes])


def bias_table(views: Sequence[View] = VIEWS) -> Table:
    """The analyses of the external comparison and the bias each carries, in words."""
    frame = pd.DataFrame({"Analysis": [v.label for v in views], "Bias it carries": [v.bias for v in views]})
    return Table(title="What each view of the comparison can and cannot remove", frame=frame,
                 headers=["Analysis", "Bias it carries"])


# ------------------------------------------------------------------------------------------------
# changes since the previous cut (tables of analysis.regulatory.compare.load_changes)
# ------------------------------------------------------------------------------------------------

KEY_RESULTS = (  # (analysis, param, level, stat_name, label): what a study team looks at first
    ("km", "OS", LEVEL_2Y, "surv", "2-year OS"),
    ("km", "LFS", LEVEL_2Y, "surv", "2-year LFS"),
    ("km_median", "OS", "median", "median", "Median OS (months)"),
    ("km_median", "LFS", "median", "median", "Median LFS (months)"),
    ("km_n", "OS", "", "n_event", "OS events"),
    ("km_n", "LFS", "", "n_event", "LFS events"),
    ("km_diff", "OS", LEVEL_2Y, "diff", "2-year OS difference"),
    ("km_diff", "LFS", LEVEL_2Y, "diff", "2-year LFS difference"),
    ("cox", "OS", "", "hr", "OS hazard ratio"),
    ("cox", "LFS", "", "hr", "LFS hazard ratio"),
    ("logrank", "OS", "", "p", "OS log-rank P"),
    ("logrank", "LFS", "", "p", "LFS log-rank P"),
    ("mrd_rate", "MRD-FC", "NEGATIVE", "rate", "FC-MRD negative rate"),
    ("mrd_rate", "MRD-NGS", "NEGATIVE", "rate", "NGS-MRD negative rate"),
)


def _fmt_change_value(value, stat_name: str) -> str:
    x = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if F.is_missing(x):
        return "NE" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    if stat_name in ("surv", "diff", "rate"):
        return F.fmt_num(100 * x, 1) + "%" if stat_name != "diff" else F.fmt_num(100 * x, 1) + " pp"
    if stat_name == "p":
        return F.fmt_pvalue(x)
    if stat_name == "median":
        return F.fmt_num(x / C.DAYS_PER_MONTH, 1)
    if stat_name == "hr":
        return F.fmt_num(x, F.RATIO_DECIMALS)
    if float(x).is_integer():
        return F.fmt_int(x)
    return F.fmt_num(x, 1)


def fmt_ard_value(value) -> str:
    """An ARD number of any statistic for a listing: counts as integers, other numbers at three
    decimals (formats.fmt_num rounding), missing as "" (absent) or "NE" (not estimable)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or (isinstance(value, str) and not value):
        return ""
    x = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if F.is_missing(x):
        return "NE" if str(value).lower() in ("nan", "inf", "-inf") else str(value)
    return F.fmt_int(x) if float(x).is_integer() else F.fmt_num(x, 3)


def key_result_moves(ard_changes: pd.DataFrame, key_results=KEY_RESULTS) -> pd.DataFrame:
    """The key results (OS/LFS 2-year, medians, event counts, comparisons, MRD rates) per group,
    old and new value formatted, with the status of compare's ARD diff."""
    rows = []
    for analysis, param, level, stat_name, label in key_results:
        sel = ard_changes[(ard_changes["analysis"] == analysis) & (ard_changes["param"] == param)
                          & (ard_changes["level"].fillna("") == level) & (ard_changes["stat_name"] == stat_name)]
        rank = {g: i for i, g in enumerate(COHORT_LABELS)}
        sel = sel.iloc[np.argsort([rank.get(g, len(rank)) for g in sel["group"]], kind="stable")]
        for r in sel.itertuples():
            rows.append({"Result": label, "Group": cohort_label(r.group) if r.group in COHORT_LABELS else r.group,
                         "Previous cut": _fmt_change_value(r.old, stat_name),
                         "This cut": _fmt_change_value(r.new, stat_name), "Status": r.status})
    return pd.DataFrame(rows, columns=["Result", "Group", "Previous cut", "This cut", "Status"])


def ard_moves_by_analysis(ard_changes: pd.DataFrame) -> pd.DataFrame:
    """Per ARD analysis: how many results changed, were added, removed or stayed the same."""
    if ard_changes.empty:
        return pd.DataFrame(columns=["analysis", "changed", "added", "removed", "same"])
    counts = pd.crosstab(ard_changes["analysis"], ard_changes["status"])
    for col in ("changed", "added", "removed", "same"):
        if col not in counts.columns:
            counts[col] = 0
    order = list(dict.fromkeys(ard_changes["analysis"]))
    return counts.loc[order, ["changed", "added", "removed", "same"]].reset_index()


def frame_table(frame: pd.DataFrame, title: str, footnotes: Sequence[str] = (), max_rows: int | None = None,
                empty_text: str = "None.") -> Table:
    """Any text frame as a :class:`Table`, cut to ``max_rows`` with a footnote saying how many
    rows were left out and where they are."""
    shown = frame if max_rows is None else frame.head(max_rows)
    notes = list(footnotes)
    if max_rows is not None and len(frame) > max_rows:
        notes.append(f"First {max_rows} of {len(frame)} rows shown.")
    shown = shown.astype(object).where(shown.notna(), "")
    return listing_table(shown, title, notes, empty_text)


def _rate_in_words(ard: pd.DataFrame, km: str, param: str, group: str) -> str:
    """"est% (95% CI lcl, ucl; n at risk k)" or "not reliably estimable (n at risk k < 10)"."""
    keys = dict(analysis=km, param=param, group=group, level=LEVEL_2Y)
    est, lo, hi, n_risk = (ard_stat(ard, stat_name=s, **keys) for s in ("surv", "lcl", "ucl", "n_risk"))
    if 0 < n_risk < C.MIN_AT_RISK and not np.isnan(est):
        return f"not reliably estimable (n at risk {F.fmt_int(n_risk)} < {C.MIN_AT_RISK})"
    risk = f"; n at risk {F.fmt_int(n_risk)}" if n_risk > 0 else ""
    return f"{F.fmt_num(100 * est, 1)}% (95% CI {F.fmt_num(100 * lo, 1)}, {F.fmt_num(100 * hi, 1)}{risk})"


def two_year_sentence(ard: pd.DataFrame, param: str, prefix: str = "km") -> str:
    """One sentence of the 2-year estimates per cohort, their difference and (naive view) the
    log-rank P, all read from the ARD and formatted."""
    km = "km" if prefix == "km" else f"{prefix}_km"
    s = {g: _rate_in_words(ard, km, param, g) for g in (C.COHORT_TRIAL, C.COHORT_EXTERNAL)}
    d = pct_ci(ard, f"{prefix}_diff", ("diff", "lcl", "ucl"), param=param, level=LEVEL_2Y) + " percentage points"
    if any(t.startswith("not reliably") for t in s.values()):
        d = f"not reliably estimable (a cohort has fewer than {C.MIN_AT_RISK} at risk)"
    text = (f"{PARAM_LABELS.get(param, param)} at 2 years: {s[C.COHORT_TRIAL]} in the sandwich cohort and "
            f"{s[C.COHORT_EXTERNAL]} in the allo-HSCT controls; difference {d}")
    if prefix == "km":
        text += f"; log-rank P = {F.fmt_pvalue(ard_stat(ard, analysis='logrank', param=param, stat_name='p'))} (nominal)"
    carried = [cohort_label(g) for g in (C.COHORT_TRIAL, C.COHORT_EXTERNAL)
               if is_carried_forward(ard, km, param=param, group=g, level=LEVEL_2Y)]
    if carried:
        text += (f". Nobody in {' and '.join(carried)} was followed to 2 years at this cut: that 2-year value is the "
                 "last value of the curve carried forward, not an estimate at 2 years")
    return text + "."


def is_first_cut(tables: dict) -> bool:
    """True when the change tables say there was no previous cut to compare with."""
    summary = tables["summary"]
    values = dict(zip(summary["item"], summary["value"].astype(str)))
    return values.get("from cut", "").startswith("none")


def _summary_value(tables: dict, item: str) -> str:
    s = tables["summary"]
    hit = s.loc[s["item"] == item, "value"]
    return str(hit.iloc[0]) if len(hit) else ""


def _counts(frame: pd.DataFrame, columns: Sequence[str], name: str = "n") -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=[*columns, name])
    return frame.groupby(list(columns), sort=True).size().rename(name).reset_index().astype(str)


def changes_markdown(tables: dict, identifier_columns: Sequence[str], max_rows: int = 60) -> str:
    """The body of the "changes since the previous cut" section as markdown with HTML tables, from
    the tables of ``analysis.regulatory.compare.load_changes``: summary, a call-out for any
    locked cut whose data changed, key results old -> new, subjects added, new events, raw values
    changed for the same key (identifying fields withheld), ARD results that moved, derived-data
    differences. One line when there is no previous cut."""
    from analysis.present.table import to_html

    if is_first_cut(tables):
        return f"This is the first data cut ({_summary_value(tables, 'to cut')}): there is no previous cut to compare with."
    old, new = _summary_value(tables, "from cut"), _summary_value(tables, "to cut")
    out = [f"Compared: **{new}** (this cut) with **{old}** (previous cut"
           f"{', locked' if _summary_value(tables, 'from cut locked') == 'yes' else ''})."]

    def section(title: str, *blocks: str):
        out.append(f"\n## {title}\n")
        out.extend(blocks)

    def html(table: Table) -> str:
        return "\n" + to_html(table) + "\n"

    alerts = tables["locked_alerts"]
    if len(alerts):
        out.append("\n::: {.callout-warning title=\"Data of a locked cut changed\"}\n"
                   f"{len(alerts)} file(s) of a locked cut no longer match its lock manifest: the locked "
                   "results cannot be reproduced from the data now on disk. See the table below.\n:::\n")
        out.append(html(frame_table(alerts, "Locked-cut alerts")))
    else:
        out.append("\nNo locked cut's raw export or outputs changed since it was locked.")
    summary = tables["summary"].rename(columns={"item": "Item", "value": "Value"})
    section("Summary", html(frame_table(summary, f"Changes from {old} to {new}: summary")))

    ard_changes = tables["ard_changes"]
    if ard_changes.empty:
        section("Key results", "\nThe analysis results of both cuts are needed to show how results moved; "
                f"they were not compared ({_summary_value(tables, 'ARD results compared') or 'not available'}).")
    else:
        section("Key results", html(frame_table(key_result_moves(ard_changes), "Key results: previous and this cut",
                                                footnotes=["Survival and rates in %, differences in percentage points "
                                                           "(pp); status from the comparison of the ARD (relative "
                                                           "tolerance of analysis.regulatory)."])))
    section("Subjects added", html(frame_table(
        tables["subjects_added"].rename(columns=str.capitalize), "Subjects added since the previous cut",
        max_rows=max_rows)))
    events = tables["events"]
    section("New events",
            html(frame_table(_counts(events, ["source", "event"]), "New events by type",
                             footnotes=["raw: from the raw forms; ADTTE: a parameter that changed from censored to "
                                        "event in the derived data."])),
            html(frame_table(events, "New events", max_rows=max_rows)))
    raw = withhold_identifiers(tables["raw_changes"], identifier_columns)
    changed = raw[raw["change"] == "value changed"]
    section("Raw values changed",
            html(frame_table(_counts(raw, ["form", "change"]), "Raw records added, removed and values changed, by form")),
            html(frame_table(changed[["form", "subject", "field", "old", "new"]],
                             "Raw values changed for the same key (form, subject, field, old, new)",
                             footnotes=[f"Values of identifying fields ({', '.join(identifier_columns)}) are "
                                        "withheld."], max_rows=max_rows)))
    moved = ard_changes[ard_changes["status"] != "same"] if len(ard_changes) else ard_changes
    moved = moved.assign(**{c: moved[c].map(fmt_ard_value) for c in ("old", "new", "delta")})
    section("Analysis results that moved",
            html(frame_table(ard_moves_by_analysis(ard_changes), "ARD results by analysis and status")),
            html(frame_table(moved, "ARD results changed, added or removed", max_rows=max_rows)))
    derived = tables["derived_changes"]
    section("Derived data differences",
            html(frame_table(_counts(derived, ["dataset", "change"]), "Derived-data differences by dataset",
                             footnotes=[f"Derived differences: {_summary_value(tables, 'derived differences')}."])))
    return "\n".join(out)


def flagged_term(adae: pd.DataFrame, flag: str, default: str) -> str:
    """The preferred term (AEDECOD) of the ADAE records flagged ``flag`` = "Y" (CRSFL, ICANSFL),
    so the grade table reads the ARD rows of the term actually coded; ``default`` when no record
    is flagged. Several terms under one flag is a coding problem: ValueError naming them."""
    terms = sorted(adae.loc[adae[flag] == "Y", "AEDECOD"].dropna().astype(str).unique())
    if len(terms) > 1:
        raise ValueError(f"ADAE: records flagged {flag} = 'Y' carry several preferred terms {terms}")
    return terms[0] if terms else default


PS_COVARIATE_LABELS = {"AGE": "age", "SEX": "sex", "PHSTAT": "Ph status", "CYTORISK": "cytogenetic risk",
                       "LOGWBC": "log10 WBC at diagnosis", "WBCMISS": "WBC missing (indicator)",
                       "CNSPOS": "CNS involvement", "DISSTAT": "remission number (CR1/CR2)",
                       "MRDPRE": "MRD before therapy"}


def ps_model_sentence(ard: pd.DataFrame) -> str:
    """Which covariates the propensity model used and which were left out (ARD ``ps_model``:
    in_model 1/0 per covariate; a covariate with a level present in one cohort only is left out,
    SAP 6.5). Empty when the ARD has no such rows."""
    sel = ard[(ard["analysis"] == "ps_model") & (ard["stat_name"] == "in_model")]
    if sel.empty:
        return ""
    label = lambda c: PS_COVARIATE_LABELS.get(c, c)  # noqa: E731
    used = [label(c) for c, v in zip(sel["level"], sel["stat"]) if v == 1]
    left = [label(c) for c, v in zip(sel["level"], sel["stat"]) if v != 1]
    text = f"The propensity model (main-effects logistic regression) includes {', '.join(used)}."
    if left:
        text += (f" Left out at this cut: {', '.join(left)} (a level occurs in one cohort only, so the model "
                 "could not be estimated with it; its balance is still shown below).")
    return text
