"""Propensity score of the external comparison: covariate balance and weights from the ARD, the
weight distribution plot and the sentence naming the model's covariates."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis import conventions as C
from analysis.present import formats as F
from analysis.present import labels as L
from analysis.present.ard_views import ard_stat
from analysis.present.cohort_style import COHORT_COLOURS, cohort_label, cohorts_in
from analysis.present.table import Table

# ------------------------------------------------------------------------------------------------
# propensity score: balance from the ARD, weight distribution
# ------------------------------------------------------------------------------------------------

def balance_from_ard(ard: pd.DataFrame, analysis: str = "ps_balance") -> pd.DataFrame:
    """The balance frame ``analysis.stats.weighting.love_plot`` takes (covariate, level,
    smd_unweighted, smd_weighted, mean_treated, mean_control, mean_control_weighted), rebuilt from
    the ARD rows (variable = covariate, variable_level = level), in ARD order."""
    sel = ard[ard["context"] == analysis]
    if sel.empty:
        raise ValueError(f"the ARD has no {analysis!r} rows")
    wide = sel.pivot_table(index=["variable", "variable_level"], columns="stat_name", values="stat",
                           aggfunc="first", sort=False).reset_index()
    wide = wide.rename(columns={"variable": "covariate", "variable_level": "level"})
    wide.columns.name = None
    return wide


def plot_weight_distribution(frame: pd.DataFrame, by: str = "COHORT", weight: str = "IPTW",
                             ps: str | None = "PS", bins: int = 20):
    """Histograms of the propensity score (left, overlap of the cohorts) and of the weights
    (right), one colour per cohort. ``frame``: one row per subject."""
    panels = [c for c in (ps, weight) if c is not None]
    fig, axes = plt.subplots(1, len(panels), figsize=(7.0, 3.4), squeeze=False)
    cohorts = cohorts_in(frame, by)
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
    s = lambda g, name: ard_stat(ard, context="ps_weights", param="ATT", group1_level=g, stat_name=name)  # noqa: E731
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
    rule = C.IPTW_TRUNCATE_PERCENTILES
    return Table(title="Propensity-score weights (ATT) and effective sample size", frame=frame,
                 headers=["Weight", *[cohort_label(g) for g in cohorts]],
                 footnotes=[f"Estimand {C.IPTW_ESTIMAND}: trial subjects weight 1, controls ps/(1-ps)"
                            f"{' rescaled to sum to the number of controls (stabilised)' if C.IPTW_STABILIZE else ''}; "
                            + C.weight_truncation_words(rule)
                            + (" (SAP 6.5; truncation is a sensitivity analysis of the primary hazard ratio, "
                               "SAP 6.7)." if rule is None else " (SAP 6.5)."),
                            "Effective sample size: (sum w)^2 / sum w^2 (Kish).", *footnotes])


PS_COVARIATE_LABELS = {"AGE": "age", "SEX": "sex", "PHSTAT": "Ph status", "CYTORISK": "cytogenetic risk",
                       "LOGWBC": "log10 WBC at diagnosis", "WBCMISS": "WBC missing (indicator)",
                       "CNSPOS": "CNS involvement", "DISSTAT": "remission number (CR1/CR2)",
                       "MRDPRE": "MRD before therapy"}


def ps_model_sentence(ard: pd.DataFrame) -> str:
    """Which covariates the propensity model used and which were left out (ARD ``ps_model``:
    in_model 1/0 per covariate; a covariate with a level present in one cohort only is left out,
    SAP 6.5). Empty when the ARD has no such rows."""
    sel = ard[(ard["context"] == "ps_model") & (ard["stat_name"] == "in_model")]
    if sel.empty:
        return ""
    label = lambda c: PS_COVARIATE_LABELS.get(c, c)  # noqa: E731
    used = [label(c) for c, v in zip(sel["variable_level"], sel["stat"]) if v == 1]
    left = [label(c) for c, v in zip(sel["variable_level"], sel["stat"]) if v != 1]
    text = f"The propensity model (main-effects logistic regression) includes {', '.join(used)}."
    if left:
        text += (f" Left out at this cut: {', '.join(left)} (a level occurs in one cohort only, so the model "
                 "could not be estimated with it; its balance is still shown below).")
    return text
