"""The summary tables of ``analysis.stats.tables`` as rows in the shape of the pharmaverse
``cards`` ARD (group1/group1_level, group2/group2_level, variable/variable_level, stat_name,
stat), so that the analysis layer only adds its context.

Trial-agnostic: the grouping variable, the SOC / term variables and the statistic names are
arguments. A hierarchy (a preferred term within its SOC) is carried by its own columns
(group2 = the SOC variable, group2_level = the SOC), never packed into one string. So is a
comparison of two groups: group1_level is the compared level, and the reference level is
group2_level of group2 ``REFERENCE_GROUP`` (never "A vs B").
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.stats import tables

CARDS_COLUMNS = ["group1", "group1_level", "group2", "group2_level", "group3", "group3_level", "variable",
                 "variable_level", "stat_name", "stat"]
# the AE tables' statistics under the names an incidence ARD uses
AE_STAT_NAMES = {"n": "n_subj", "events": "n_events", "pct": "pct", "N": "N"}
OVERALL_VARIABLE = "ANY"   # variable of the "any adverse event" rows
# group2 of a comparison row: its level is the reference level of group1's variable (the name
# analysis.ard.REFERENCE_GROUP declares; stats imports no other layer)
REFERENCE_GROUP = "REFERENCE"
GRADE_VARIABLE = inspect.signature(tables.ae_summary).parameters["grade"].default   # ae_summary's default


def _text(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str)


def cards_rows(tidy: pd.DataFrame, by: str, variable, variable_level, *, group2: str | pd.Series = "",
               group2_level: str | pd.Series = "", group3: str | pd.Series = "", group3_level: str | pd.Series = "",
               stat_names: Mapping[str, str] | None = None, extra: Sequence[str] = ()) -> pd.DataFrame:
    """Cards rows of a tidy frame with columns ``group, stat_name, stat``: ``variable`` /
    ``variable_level`` (and ``group2`` / ``group3`` with their levels) are constants or per-row series;
    ``stat_names`` renames statistics; ``extra`` columns of ``tidy`` are kept after the cards ones."""
    names = stat_names or {}
    out = pd.DataFrame({
        "group1": by, "group1_level": _text(tidy["group"]),
        "group2": group2, "group2_level": group2_level, "group3": group3, "group3_level": group3_level,
        "variable": variable, "variable_level": variable_level,
        "stat_name": tidy["stat_name"].map(lambda s: names.get(s, s)), "stat": tidy["stat"].astype(float),
    }, index=tidy.index)
    for c in ("group2", "group2_level", "group3", "group3_level", "variable", "variable_level"):
        out[c] = _text(out[c])
    for c in extra:
        out[c] = _text(tidy[c])
    return out[[*CARDS_COLUMNS, *extra]].reset_index(drop=True)


def table1_cards(adsl: pd.DataFrame, by: str, variables: Sequence[str], **kwargs) -> pd.DataFrame:
    """``tables.table1`` as cards rows: variable / variable_level per characteristic and level."""
    tidy = tables.table1(adsl, by, variables, **kwargs)
    reference = _text(tidy["reference"])
    return cards_rows(tidy, by, tidy["variable"], _text(tidy["level"]),
                      group2=reference.where(reference == "", REFERENCE_GROUP), group2_level=reference)


def ae_summary_cards(adae: pd.DataFrame, adsl: pd.DataFrame, by: str, *, soc: str = "AEBODSYS",
                     term: str = "AEDECOD", **kwargs) -> pd.DataFrame:
    """``tables.ae_summary`` as cards rows, the population rows (N) dropped (``ae_overview_cards``
    carries N): any AE (variable ``OVERALL_VARIABLE``), per SOC (variable ``soc``), per term
    (variable ``term``, its SOC in group2 / group2_level). The grade scope is group3: the grade
    variable with level k (subjects by their worst grade k) or ">=k" (any event of grade k or
    more); empty for any grade."""
    tidy = tables.ae_summary(adae, adsl, by, soc=soc, term=term, **kwargs)
    tidy = tidy[tidy["section"] != "population"]
    section = tidy["section"]
    is_term = section == "term"
    variable = section.map({"overall": OVERALL_VARIABLE, "soc": soc, "term": term})
    level = _text(tidy["soc"]).where(section == "soc", _text(tidy["term"]).where(is_term, ""))
    graded = _text(tidy["grade"]) != tables.ANY_GRADE
    grade_variable = kwargs.get("grade", GRADE_VARIABLE) or ""
    return cards_rows(tidy, by, variable, level, group2=pd.Series(soc, index=tidy.index).where(is_term, ""),
                      group2_level=_text(tidy["soc"]).where(is_term, ""),
                      group3=pd.Series(grade_variable, index=tidy.index).where(graded, ""),
                      group3_level=_text(tidy["grade"]).where(graded, ""), stat_names=AE_STAT_NAMES)


def ae_overview_cards(adae: pd.DataFrame, adsl: pd.DataFrame, by: str, *, variable: str = "category",
                      **kwargs) -> pd.DataFrame:
    """``tables.ae_overview`` as cards rows: one variable_level per overview category."""
    tidy = tables.ae_overview(adae, adsl, by, **kwargs)
    return cards_rows(tidy, by, variable, _text(tidy["category"]), stat_names=AE_STAT_NAMES)


def ae_by_cards(adae: pd.DataFrame, adsl: pd.DataFrame, by: str, var: str, **kwargs) -> pd.DataFrame:
    """``tables.ae_by`` as cards rows: variable ``var``, one variable_level per level."""
    tidy = tables.ae_by(adae, adsl, by, var, **kwargs)
    return cards_rows(tidy, by, var, _text(tidy["level"]), stat_names=AE_STAT_NAMES)


# --- estimates of the survival, competing-risk and weighting functions as cards rows --------------

def result_cards(frame: pd.DataFrame, stats: Mapping[str, str], *, by: str = "", group_level=None,
                 variable: str = "", variable_col: str | None = None, level_col: str | None = None,
                 level="", reference: str = "") -> pd.DataFrame:
    """Cards rows of a result frame with one row per estimate (e.g. per group and time): every
    statistic of ``stats`` (stat_name -> frame column) becomes its own row, in the frame's row
    order. group1 is ``by`` with its level from that column (or the constant ``group_level``);
    variable / variable_level are the constants or come from ``variable_col`` / ``level_col``.
    A comparison names its ``reference`` level (group2 ``REFERENCE_GROUP``).
    Levels are passed on as they are (the ARD writer formats them)."""
    n, names = len(frame), list(stats)

    def each_row(column: str | None, constant) -> np.ndarray:
        values = frame[column].to_numpy(dtype=object) if column else np.full(n, constant, dtype=object)
        return np.repeat(values, len(names))

    values = frame[list(stats.values())].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return pd.DataFrame({
        "group1": by, "group1_level": each_row(None if group_level is not None else by or None, group_level or ""),
        "group2": REFERENCE_GROUP if reference else "", "group2_level": reference, "group3": "", "group3_level": "",
        "variable": each_row(variable_col, variable), "variable_level": each_row(level_col, level),
        "stat_name": np.tile(np.asarray(names, dtype=object), n), "stat": values.reshape(-1),
    }, columns=CARDS_COLUMNS)


KM_ESTIMATE_STATS = ("n_risk", "n_event", "surv", "std_err", "lcl", "ucl")


def km_cards(km: pd.DataFrame, by: str, stats=KM_ESTIMATE_STATS, variable: str = "AVAL") -> pd.DataFrame:
    """``survival.km_estimates`` rows (columns ``by``, time and ``stats``) as cards rows:
    variable_level = the time."""
    return result_cards(km, {s: s for s in stats}, by=by, variable=variable, level_col="time")


def km_quantile_cards(quantiles: pd.DataFrame, by: str, variable: str = "AVAL",
                      names: Mapping[float, str] | None = None) -> pd.DataFrame:
    """``survival.km_quantiles`` rows as cards rows: the quantile's name (``names``, default
    0.5 -> "median") is both its variable_level and its stat_name, then its CI (lcl, ucl)."""
    names = names or {0.5: "median"}
    parts = [result_cards(quantiles[quantiles["prob"] == prob], {name: "quantile", "lcl": "lcl", "ucl": "ucl"},
                          by=by, variable=variable, level=name) for prob, name in names.items()]
    return pd.concat(parts, ignore_index=True)


CIF_STATS = ("n_risk", "n_event", "cif", "std_err", "lcl", "ucl")


def cif_cards(cif: pd.DataFrame, by: str, cause, stats=CIF_STATS, variable: str = "AVAL") -> pd.DataFrame:
    """``competing.cumulative_incidence`` rows of one ``cause`` as cards rows (variable_level = the time)."""
    return result_cards(cif[cif["cause"] == cause], {s: s for s in stats}, by=by, variable=variable, level_col="time")


BALANCE_STATS = ("smd_unweighted", "smd_weighted", "mean_treated", "mean_control", "mean_control_weighted")


def balance_cards(balance: pd.DataFrame, by: str, compared: str, reference: str,
                  stats=BALANCE_STATS) -> pd.DataFrame:
    """``weighting.balance`` rows as cards rows of the comparison of group1 ``by`` at the level
    ``compared`` with the ``reference`` level (group2 ``REFERENCE_GROUP``), variable = the
    covariate, variable_level = its level."""
    return result_cards(balance, {s: s for s in stats}, by=by, group_level=compared, reference=reference,
                        variable_col="covariate", level_col="level")
