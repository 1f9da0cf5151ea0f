"""Tables and sentences of the external comparison read from the ARD: per-view comparison
tables, competing risks, the 2-year sentence; a Kaplan-Meier value carried beyond follow-up is
marked (``CARRIED``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis import conventions as C
from analysis.present import formats as F
from analysis.present import labels as L
from analysis.present.ard_views import ard_stat
from analysis.present.cohort_style import (
    LEVEL_1Y,
    LEVEL_2Y,
    PARAM_LABELS,
    cohort_label,
    to_months,
)
from analysis.present.table import Table

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
    est, lo, hi = (ard_stat(ard, context=analysis, stat_name=s, **keys) for s in stat_names)
    n_risk = ard_stat(ard, context=analysis, stat_name="n_risk", **keys) if stat_names[0] in ("surv", "cif") \
        else float("nan")
    if 0 < n_risk < C.MIN_AT_RISK and not np.isnan(est):  # SAP 3.5: not a bare number
        return f"not reliably estimable (n at risk {F.fmt_int(n_risk)} < {C.MIN_AT_RISK})"
    text = F.fmt_est_ci(100 * est, 100 * lo, 100 * hi, 1)
    if not np.isnan(n_risk) and n_risk > 0:
        text += f"; n at risk {F.fmt_int(n_risk)}"
    return text + f" {CARRIED}" if mark and is_carried_forward(ard, analysis, **keys) else text


def any_carried(ard: pd.DataFrame, km: str, param: str, level: str) -> bool:
    return any(is_carried_forward(ard, km, param=param, group1_level=g, variable_level=level)
               for g in (C.COHORT_TRIAL, C.COHORT_EXTERNAL))


def is_carried_forward(ard: pd.DataFrame, analysis: str, **keys) -> bool:
    """True when the ARD row of ``analysis`` at ``keys`` has n_risk = 0 (and an estimate)."""
    return ard_stat(ard, context=analysis, stat_name="n_risk", **keys) == 0 and \
        not np.isnan(ard_stat(ard, context=analysis, stat_name=next(
            (s for s in ("surv", "cif") if ((ard["context"] == analysis) & (ard["stat_name"] == s)).any()), "surv"),
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
            ns = [(ard_stat(ard, context=n_name, param=param, group1_level=g, stat_name="n"),
                   ard_stat(ard, context=n_name, param=param, group1_level=g, stat_name="n_event")) for g in cohorts]
            add("Subjects, N", [F.fmt_int(n) for n, _ in ns])
            add("Events, n (%)", [F.fmt_n_pct(e, 100 * e / n if n else float("nan")) for n, e in ns])
        if medians:
            add("Median, months (95% CI)",
                [F.fmt_est_ci(*(to_months(ard_stat(ard, context="km_median", param=param, group1_level=g, stat_name=s))
                                for s in ("median", "lcl", "ucl")), decimals=1) for g in cohorts])
        for level, text in ((LEVEL_1Y, "1 year"), (LEVEL_2Y, "2 years")):
            add(f"Rate at {text}, % (95% CI)",
                [pct_ci(ard, km, param=param, group1_level=g, variable_level=level) for g in cohorts])
        diff = pct_ci(ard, f"{prefix}_diff", ("diff", "lcl", "ucl"), param=param, variable_level=LEVEL_2Y)
        risks = [ard_stat(ard, context=km, param=param, group1_level=g, variable_level=LEVEL_2Y, stat_name="n_risk") for g in cohorts]
        if any(0 < r < C.MIN_AT_RISK for r in risks):  # SAP 3.5
            diff = f"not reliably estimable (a cohort has fewer than {C.MIN_AT_RISK} at risk)"
        if any_carried(ard, km, param, LEVEL_2Y):
            diff += f" {CARRIED}"
        add("Difference at 2 years, percentage points (95% CI)", ["", ""], diff)
        if prefix == "iptw":
            n_boot = ard_stat(ard, context="iptw_diff", param=param, stat_name="n_boot")
            used = ard_stat(ard, context="iptw_diff", param=param, stat_name="n_boot_used")
            valid = ard_stat(ard, context="iptw_diff", param=param, stat_name="n_boot_valid")
            seed = ard_stat(ard, context="iptw_diff", param=param, stat_name="seed")
            add("Bootstrap replicates: fitted; estimating the 2-year difference", ["", ""],
                f"{F.fmt_int(used)} of {F.fmt_int(n_boot)}; {F.fmt_int(valid)} (an interval needs all), seed {F.fmt_int(seed)}")
            add("RMST difference to 24 months, months (95% CI)", ["", ""], F.fmt_est_ci(
                *(ard_stat(ard, context="iptw_rmst_diff", param=param, stat_name=s) / C.DAYS_PER_MONTH
                  for s in ("diff", "lcl", "ucl")), 1))
        hr = [ard_stat(ard, context=f"{prefix}_cox" if prefix != "km" else "cox", param=param, stat_name=s)
              for s in ("hr", "lcl", "ucl", "p")]
        add("Hazard ratio, trial vs control (95% CI)", ["", ""], F.fmt_est_ci(*hr[:3], decimals=F.RATIO_DECIMALS))
        add("Cox Wald P (nominal)" if prefix != "iptw" else "Cox robust Wald P (nominal)", ["", ""], F.fmt_pvalue(hr[3]))
        if tests and prefix == "km":
            add("Log-rank P (nominal)", ["", ""],
                F.fmt_pvalue(ard_stat(ard, context="logrank", param=param, stat_name="p")))
    frame = pd.DataFrame(cells, columns=[*cohorts, "Comparison"])
    frame.insert(0, "Endpoint", labels)
    headers = ["Endpoint"]
    for g in cohorts:
        n = ard_stat(ard, context=n_name, param=params[0], group1_level=g, stat_name="n") if counts else float("nan")
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
            cells.append([pct_ci(ard, "cif", ("cif", "lcl", "ucl"), param=param, group1_level=g, variable_level=level)
                          for g in cohorts] + [""])
        shr = [ard_stat(ard, context="finegray", param=param, stat_name=s) for s in ("shr", "lcl", "ucl", "p")]
        labels += ["Subdistribution HR, trial vs control (95% CI)", "Fine-Gray P", "Gray's test P"]
        indent += [1, 1, 1]
        cells += [["", "", F.fmt_est_ci(*shr[:3], decimals=F.RATIO_DECIMALS)], ["", "", F.fmt_pvalue(shr[3])],
                  ["", "", F.fmt_pvalue(ard_stat(ard, context="gray", param=param, stat_name="p"))]]
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


def _rate_in_words(ard: pd.DataFrame, km: str, param: str, group: str) -> str:
    """"est% (95% CI lcl, ucl; n at risk k)" or "not reliably estimable (n at risk k < 10)"."""
    keys = dict(context=km, param=param, group1_level=group, variable_level=LEVEL_2Y)
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
    d = pct_ci(ard, f"{prefix}_diff", ("diff", "lcl", "ucl"), param=param, variable_level=LEVEL_2Y) + " percentage points"
    if any(t.startswith("not reliably") for t in s.values()):
        d = f"not reliably estimable (a cohort has fewer than {C.MIN_AT_RISK} at risk)"
    text = (f"{PARAM_LABELS.get(param, param)} at 2 years: {s[C.COHORT_TRIAL]} in the sandwich cohort and "
            f"{s[C.COHORT_EXTERNAL]} in the allo-HSCT controls; difference {d}")
    if prefix == "km":
        text += f"; log-rank P = {F.fmt_pvalue(ard_stat(ard, context='logrank', param=param, stat_name='p'))} (nominal)"
    carried = [cohort_label(g) for g in (C.COHORT_TRIAL, C.COHORT_EXTERNAL)
               if is_carried_forward(ard, km, param=param, group1_level=g, variable_level=LEVEL_2Y)]
    if carried:
        text += (f". Nobody in {' and '.join(carried)} was followed to 2 years at this cut: that 2-year value is the "
                 "last value of the curve carried forward, not an estimate at 2 years")
    return text + "."
