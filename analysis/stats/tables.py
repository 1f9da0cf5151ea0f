"""Descriptive tables as tidy numbers: Table 1 (baseline characteristics) and adverse-event
incidence summaries.

Every function returns a *tidy long* data frame of unrounded numbers, one statistic per row;
rounding and layout belong to ``analysis.present``. Nothing here knows the trial: column names
(subject id, population flag, grade, ...) are arguments with CDISC ADaM defaults, so the same
code runs on this study's ADaM and on CDISC Pilot 01.

References
----------
* Table 1 statistics: ``tableone`` (Pollard et al., JAMIA Open 2018).
* Standardized mean difference: Austin PC, Stat Med 2009;28:3083 (continuous, Cohen's d with the
  average of the two group variances); Yang D & Dalton JE, SAS Global Forum 2012 paper 335
  (categorical, multinomial Mahalanobis form). Both as in R ``tableone::ExtractSmd``.
* AE incidence: ICH E3 section 12.2 / FDA "Standard Safety Tables and Figures" (2022): subjects
  counted once per row (at their worst grade in grade breakdowns), percentages over the number
  of subjects in the analysis population of each group, events counted separately.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.stats._table_inputs import (_blank_to_na, _check_groups, _group_order, _level_text,
                                          _object_strings, _require_columns)

if TYPE_CHECKING:  # imported where a table is built: the notebooks and other steps that only
    from tableone import TableOne  # import this module for its names need not load it (1 s)

TIDY_TABLE1_COLUMNS = ["variable", "label", "var_type", "level", "group", "reference", "stat_name", "stat"]
TIDY_AE_COLUMNS = ["section", "soc", "term", "grade", "group", "stat_name", "stat"]

MISSING_LEVEL = "Missing"
NOT_CODED = "Not coded"
TOTAL_GROUP = "Total"
ANY_GRADE = "any"
MISSING_GRADE = "missing"
CONTINUOUS_STATS = ("n", "missing", "mean", "sd", "median", "q1", "q3", "min", "max")

# tableone's own placeholder for a missing categorical value (preprocessors.handle_categorical_nulls)
_TABLEONE_NULL = "None"
# tableone's names of the continuous summaries -> ours
_TABLEONE_CONT = {"count": "n", "mean": "mean", "std": "sd", "median": "median",
                  "q25": "q1", "q75": "q3", "min": "min", "max": "max"}


# ------------------------------------------------------------------------------------------------
# Table 1
# ------------------------------------------------------------------------------------------------

def smd_continuous(mean1: float, sd1: float, mean2: float, sd2: float) -> float:
    """Absolute standardized mean difference of a continuous variable (Austin 2009, eq. 1):
    ``|m1 - m2| / sqrt((s1^2 + s2^2) / 2)``; NaN when both SDs are zero."""
    pooled = np.sqrt((sd1 ** 2 + sd2 ** 2) / 2.0)
    return float(abs(mean1 - mean2) / pooled) if pooled > 0 else float("nan")


def smd_categorical(p1: Sequence[float], p2: Sequence[float]) -> float:
    """Multinomial standardized difference of Yang & Dalton (2012):
    ``sqrt((p1 - p2)' S^-1 (p1 - p2))`` over the level proportions without the first level,
    with ``S = (S1 + S2) / 2`` and ``Sk = diag(pk) - pk pk'``. The Moore-Penrose inverse is used
    so that a level absent from both groups does not make S singular (as R tableone's
    ``MASS::ginv``). For two levels this is ``|p1 - p2| / sqrt((p1 q1 + p2 q2) / 2)``."""
    a = np.asarray(p1, dtype=float)[1:]
    b = np.asarray(p2, dtype=float)[1:]
    if a.size == 0:
        return float("nan")
    cov = (np.diag(a) - np.outer(a, a) + np.diag(b) - np.outer(b, b)) / 2.0
    diff = a - b
    return float(np.sqrt(max(diff @ np.linalg.pinv(cov) @ diff, 0.0)))


def table1(adsl: pd.DataFrame, by: str, variables: Sequence[str],
           categorical: Sequence[str] | None = None, nonnormal: Sequence[str] | None = None,
           labels: dict[str, str] | None = None, total: bool = True) -> pd.DataFrame:
    """Baseline characteristics by group, computed with ``tableone.TableOne``.

    Continuous variables: n (non-missing), missing, mean, SD (ddof=1), median, Q1, Q3 (linear
    interpolation, numpy default), min, max. Categorical variables: per level the count ``n``
    and ``pct`` of all subjects of the group; missing values form their own level ``"Missing"``
    (never dropped, and included in the denominator). Variables listed in ``nonnormal`` are
    marked ``var_type="continuous_nonnormal"`` so the display shows median (Q1, Q3) first.

    Standardized mean differences (absolute values) for every pair of groups are rows with
    ``stat_name="smd"``, ``group="A"`` and ``reference="B"`` (empty on every other row); they are tableone's ``smd`` (continuous: Cohen's
    d with averaged variances; categorical: Yang & Dalton 2012 over all levels incl. Missing),
    recomputed with :func:`smd_categorical` (pseudo-inverse, as R tableone) where a level is
    absent from both groups: there tableone inverts a singular matrix. Rows with
    ``variable="N"`` carry the group sizes.

    Returns columns ``variable, label, var_type, level, group, reference, stat_name, stat``.
    """
    variables = list(variables)
    categorical = list(categorical or [])
    nonnormal = list(nonnormal or [])
    labels = dict(labels or {})
    continuous = _check_table1_input(adsl, by, variables, categorical, nonnormal)

    groups = _group_order(adsl[by])
    if len(groups) == 0:
        raise ValueError("table1: no subjects (the input frame is empty)")
    data = adsl[[by, *variables]].copy()
    data[by] = data[by].map(_level_text)
    group_names = [_level_text(g) for g in groups]
    if total and TOTAL_GROUP in group_names:
        raise ValueError(f"table1: a group is named {TOTAL_GROUP!r}, the name of the total column; "
                         f"rename it or pass total=False")
    for v in categorical:
        data[v] = _blank_to_na(data[v])  # SAS transport files store a missing text as ""
    # display order of the levels, from the original values (numeric codes sort as numbers)
    level_order = {v: list(dict.fromkeys(_level_text(x) for x in _group_order(data[v])))
                   for v in categorical}
    for v in categorical:
        # tableone compares levels as strings; our own order is restored from level_order
        data[v] = data[v].astype(object).where(data[v].notna(), None)
        data[v] = data[v].map(lambda x: None if x is None else _level_text(x))

    fits = _tableone_fits(data, by, group_names, variables, categorical, continuous, nonnormal,
                          total)

    rows: list[dict] = []
    sizes = data.groupby(by).size()

    def add(variable, var_type, level, group, stat_name, stat, reference=""):
        rows.append({"variable": variable, "label": labels.get(variable, variable),
                     "var_type": var_type, "level": level, "group": group, "reference": reference,
                     "stat_name": stat_name, "stat": float(stat)})

    column_groups = group_names + ([TOTAL_GROUP] if total else [])
    for g in column_groups:
        add("N", "count", "", g, "n", len(data) if g == TOTAL_GROUP else sizes.get(g, 0))

    def var_type_of(v: str) -> str:
        if v in categorical:
            return "categorical"
        return "continuous_nonnormal" if v in nonnormal else "continuous"

    for v in variables:
        t1 = fits[v]
        if v in categorical:
            _table1_categorical(t1, data, v, level_order[v], column_groups, add)
        else:
            _table1_continuous(t1, data, v, var_type_of(v), column_groups, sizes, add)
        if len(groups) > 1:
            _table1_smd(t1, data, v, var_type_of(v), group_names, by, add)

    return pd.DataFrame(rows, columns=TIDY_TABLE1_COLUMNS)


def _check_table1_input(adsl: pd.DataFrame, by: str, variables: list[str], categorical: list[str],
                        nonnormal: list[str]) -> list[str]:
    """Refuse what table1 cannot summarise honestly; returns the continuous variables."""
    _require_columns(adsl, [by, *variables], "table1 input")
    unknown = sorted(set(categorical + nonnormal) - set(variables))
    if unknown:
        raise ValueError(f"table1: {unknown} listed as categorical/nonnormal but not in variables")
    _check_groups(adsl, by, "table1 input", "USUBJID")
    continuous = [v for v in variables if v not in categorical]
    for v in continuous:
        if not pd.api.types.is_numeric_dtype(adsl[v]):
            raise ValueError(f"table1: continuous variable {v!r} is not numeric (dtype "
                             f"{adsl[v].dtype}); list it in categorical= or fix the data")
    return continuous


def _tableone(data: pd.DataFrame, by: str, group_names: list[str], columns: list[str],
              categorical: list[str], nonnormal: list[str], total: bool) -> TableOne:
    from tableone import TableOne
    continuous = [c for c in columns if c not in categorical]
    with warnings.catch_warnings():
        # tableone 0.9.6 trips pandas-4 deprecation and numpy empty-slice warnings on small
        # groups; the numbers are unaffected and are checked in tests/test_stats_tables.py
        warnings.simplefilter("ignore")
        with _object_strings():
            return TableOne(data, columns=columns, categorical=[c for c in categorical if c in columns],
                            continuous=continuous, groupby=by,
                            nonnormal=[c for c in nonnormal if c in columns],
                            order={by: group_names}, smd=len(group_names) > 1, overall=total,
                            missing=True, include_null=True, pval=False, decimals=8)


def _tableone_fits(data, by, group_names, variables, categorical, continuous, nonnormal,
                   total) -> dict[str, TableOne | None]:
    """One TableOne for all variables, except continuous ones without any value in some group:
    tableone cannot describe an empty group, so those get their own fit on the groups that have
    values (the empty groups are reported as n = 0, statistics NaN)."""
    present = {v: [g for g in group_names if data.loc[data[by] == g, v].notna().any()]
               for v in continuous}
    sparse = [v for v in continuous if len(present[v]) < len(group_names)]
    regular = [v for v in variables if v not in sparse]
    fits: dict[str, TableOne | None] = {}
    if regular:
        main = _tableone(data, by, group_names, regular, categorical, nonnormal, total)
        fits.update({v: main for v in regular})
    for v in sparse:
        groups_v = present[v]
        fits[v] = _tableone(data[data[by].isin(groups_v)], by, groups_v, [v], [], nonnormal,
                            total) if groups_v else None
    return fits


def _tableone_group(g: str) -> str:
    return "Overall" if g == TOTAL_GROUP else g


def _described(source: pd.DataFrame | None, stat: str, group: str, v: str, default: float) -> float:
    """One statistic from tableone's describe table. pandas' pivot_table drops a statistic
    column that is NaN in every group (e.g. SD of single values) and a group without values,
    so absence means 'not available' (default), not an error."""
    if source is None or (stat, group) not in source.columns:
        return default
    return source[(stat, group)].loc[v]


def _table1_continuous(t1: TableOne | None, data: pd.DataFrame, v: str, var_type: str,
                       column_groups: list[str], sizes: pd.Series, add) -> None:
    """n, missing, mean, SD, median, Q1, Q3, min, max per group. SD needs n >= 2 (tableone
    returns 0 for a single value; we report NaN = not estimable, as R's sd)."""
    for g in column_groups:
        n_group = len(data) if g == TOTAL_GROUP else int(sizes.get(g, 0))
        source = None if t1 is None else (t1.cont_describe_all if g == TOTAL_GROUP else t1.cont_describe)
        values = {ours: _described(source, theirs, _tableone_group(g), v,
                                   default=0 if ours == "n" else np.nan)
                  for theirs, ours in _TABLEONE_CONT.items()}
        if values["n"] < 2:
            values["sd"] = np.nan
        for ours in CONTINUOUS_STATS:
            value = n_group - values["n"] if ours == "missing" else values[ours]
            add(v, var_type, "", g, ours, value)


def _table1_categorical(t1: TableOne, data: pd.DataFrame, v: str, levels: list[str],
                        column_groups: list[str], add) -> None:
    has_missing = data[v].isna().any()
    for g in column_groups:
        source = t1.cat_describe_all if g == TOTAL_GROUP else t1.cat_describe
        block = source.loc[v]
        for level in levels + ([_TABLEONE_NULL] if has_missing else []):
            shown = MISSING_LEVEL if (has_missing and level == _TABLEONE_NULL) else level
            freq = block["freq"][_tableone_group(g)].get(level, 0)
            pct = block["percent"][_tableone_group(g)].get(level, 0.0)
            add(v, "categorical", shown, g, "n", freq)
            add(v, "categorical", shown, g, "pct", pct)


def _table1_smd(t1: TableOne | None, data: pd.DataFrame, v: str, var_type: str,
                group_names: list[str], by: str, add) -> None:
    columns = [] if t1 is None or t1.smd_table is None else list(t1.smd_table.columns)
    for g1, g2 in combinations(group_names, 2):
        col = next((c for c in (f"SMD ({g1},{g2})", f"SMD ({g2},{g1})") if c in columns), None)
        # a pair involving a group without values has no SMD
        value = float(t1.smd_table.loc[v, col]) if col else float("nan")
        if var_type == "categorical":
            p1, p2 = _level_proportions(data, v, by, g1, g2)
            if not np.isfinite(value) or np.any((p1 == 0) & (p2 == 0)):
                # A level absent from both groups makes S singular. tableone 0.9.6 then calls
                # np.linalg.inv anyway and returns rounding noise (CDISC Pilot 01 RACE, Placebo
                # vs Low Dose: 0.061 instead of 0.079) or NaN; the Moore-Penrose inverse gives
                # R tableone's (MASS::ginv) value -- see tests/test_stats_tables.py. (Related
                # upstream: tompollard/tableone issue #182 / PR #187, levels absent in a group.)
                value = smd_categorical(p1, p2)
        add(v, var_type, "", g1, "smd", abs(value), reference=g2)


def _level_proportions(data: pd.DataFrame, v: str, by: str, g1: str, g2: str):
    """Level proportions of the two groups over the same (tableone-sorted) levels, missing
    values as the level 'None' as tableone counts them."""
    values = data[v].fillna(_TABLEONE_NULL).astype(str)
    levels = sorted(values.unique())
    return tuple(values[data[by] == g].value_counts(normalize=True).reindex(levels, fill_value=0.0)
                 .to_numpy() for g in (g1, g2))


# ------------------------------------------------------------------------------------------------
# adverse events
# ------------------------------------------------------------------------------------------------

def _flag_is_yes(series: pd.Series) -> pd.Series:
    return series.astype(str).str.strip().str.upper().isin(["Y", "YES", "TRUE", "1"])


def _population(adsl: pd.DataFrame, by: str, pop_flag: str | None, subject: str,
                include_total: bool) -> tuple[pd.DataFrame, list, pd.Series]:
    """Subjects of the analysis population with their group; group sizes N (zero-size groups
    kept: a group with no subject in the population still gets a column)."""
    _require_columns(adsl, [subject, by] + ([pop_flag] if pop_flag else []), "ADSL")
    dup = adsl[subject].duplicated(keep=False)
    if dup.any():
        raise ValueError(f"ADSL: subject(s) {adsl.loc[dup, subject].unique()[:5].tolist()} occur "
                         f"more than once in column {subject!r} (rule: one row per subject)")
    _check_groups(adsl, by, "ADSL", subject)
    groups = [_level_text(g) for g in _group_order(adsl[by])]
    pop = adsl if pop_flag is None else adsl[_flag_is_yes(adsl[pop_flag])]
    pop = pd.DataFrame({subject: pop[subject].to_numpy(), "_group": pop[by].map(_level_text).to_numpy()})
    sizes = pop.groupby("_group").size().reindex(groups, fill_value=0)
    if include_total:
        groups = groups + [TOTAL_GROUP]
        sizes.loc[TOTAL_GROUP] = len(pop)
    return pop, groups, sizes


def _events_in_population(adae: pd.DataFrame, pop: pd.DataFrame, subject: str,
                          trtemfl: str | None, extra_cols: Sequence[str]) -> pd.DataFrame:
    """Events of population subjects (treatment-emergent ones if ``trtemfl``), with the group
    taken from ADSL. An ADAE subject unknown to ADSL is an error, not a silent drop."""
    cols = list(dict.fromkeys([subject] + ([trtemfl] if trtemfl else []) + [c for c in extra_cols if c]))
    _require_columns(adae, cols, "ADAE")
    # only the columns the summaries read: every later filter and merge copies each column
    events = adae[cols]
    if trtemfl:
        events = events[_flag_is_yes(events[trtemfl])]
    return events.merge(pop, on=subject, how="inner", validate="many_to_one")


def _check_adae_subjects(adae: pd.DataFrame, adsl: pd.DataFrame, subject: str) -> None:
    # object dtype: pandas' Arrow-string isin converts each value to a pyarrow scalar (slow at scale)
    unknown = ~adae[subject].astype(object).isin(pd.unique(adsl[subject].dropna().astype(object)))
    if unknown.any():
        rows = adae.index[unknown].tolist()[:5]
        raise ValueError(f"ADAE: subject(s) {adae.loc[unknown, subject].unique()[:5].tolist()} "
                         f"(rows {rows}) not in ADSL column {subject!r} "
                         f"(rule: every AE belongs to a subject in ADSL)")


def _with_total(events: pd.DataFrame, include_total: bool) -> pd.DataFrame:
    if not include_total:
        return events
    return pd.concat([events, events.assign(_group=TOTAL_GROUP)], ignore_index=True)


def _grade_levels(values: pd.Series, grade_levels: Sequence | None) -> list[str]:
    if grade_levels is not None:
        return [str(g) for g in grade_levels]
    numeric = pd.to_numeric(values.dropna(), errors="coerce")
    if numeric.isna().any():
        raise ValueError("grade values are not numeric; pass grade_levels= in order of severity, "
                         "e.g. ('MILD', 'MODERATE', 'SEVERE')")
    return ["1", "2", "3", "4", "5"]


def _normalise_grade(series: pd.Series) -> pd.Series:
    """'3', 3, 3.0 -> '3'; text grades stripped and upper-cased; missing stays NA."""
    def one(x):
        if pd.isna(x) or (isinstance(x, str) and not x.strip()):
            return pd.NA
        if isinstance(x, (int, float, np.integer, np.floating)) and float(x).is_integer():
            return str(int(x))
        text = str(x).strip()
        try:
            f = float(text)
            return str(int(f)) if f.is_integer() else text
        except ValueError:
            return text.upper()
    return series.map(one).astype(object)


def _grade_rank(events: pd.DataFrame, grade: str, levels: list[str], subject: str) -> pd.Series:
    """Rank 1..k of each event's grade within ``levels``; NaN where the grade is missing."""
    norm = _normalise_grade(events[grade])
    upper_levels = [lv.upper() for lv in levels]
    known = norm.isna() | norm.isin(upper_levels) | norm.isin(levels)
    if not known.all():
        bad = events.loc[~known]
        raise ValueError(f"ADAE column {grade!r}: value(s) {sorted(bad[grade].astype(str).unique())} "
                         f"not among the grade levels {levels} (subjects "
                         f"{bad[subject].unique()[:5].tolist()})")
    lookup = {lv: i + 1 for i, lv in enumerate(levels)} | {lv.upper(): i + 1 for i, lv in enumerate(levels)}
    return norm.map(lambda g: np.nan if pd.isna(g) else lookup[g]).astype(float)


def _high_rank(levels: list[str], high_from) -> int | None:
    if high_from is None:
        return None
    key = str(high_from).strip().upper()
    for i, lv in enumerate(levels):
        if lv.upper() == key:
            return i + 1
    raise ValueError(f"grade threshold {high_from!r} is not one of the grade levels {levels}")


def _incidence(events: pd.DataFrame, keys: list[str], subject: str, sizes: pd.Series,
               groups: list[str], frame_keys: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per ``keys`` x group: subjects with >= 1 event (n), n / N (pct, in percent) and number
    of events. Every key combination in ``frame_keys`` appears for every group (zeros kept)."""
    grouped = events.groupby(keys + ["_group"], dropna=False)
    counts = pd.DataFrame({"n": grouped[subject].nunique(), "events": grouped.size()})
    if frame_keys is None:
        frame_keys = events[keys].drop_duplicates() if keys else pd.DataFrame(index=[0])
    return _complete(counts, keys, sizes, groups, frame_keys)


def _complete(counts: pd.DataFrame, keys: list[str], sizes: pd.Series, groups: list[str],
              frame_keys: pd.DataFrame) -> pd.DataFrame:
    """``counts`` (n, events indexed by keys + _group) on every key combination of
    ``frame_keys`` x group, zeros filled, with pct = 100 n / N."""
    full = frame_keys.merge(pd.DataFrame({"_group": groups}), how="cross")
    out = full.merge(counts.reset_index(), on=keys + ["_group"], how="left") if len(counts) else \
        full.assign(n=0, events=0)
    out[["n", "events"]] = out[["n", "events"]].fillna(0).astype(int)
    denom = out["_group"].map(sizes).astype(float)
    out["pct"] = np.where(denom > 0, 100.0 * out["n"] / denom.where(denom > 0, 1.0), np.nan)
    return out


def _counts_by(events: pd.DataFrame, keys: list[str], subject: str, by: str) -> dict:
    """{value of ``by``: its counts (n subjects, events per keys + _group)}: the counts
    ``_incidence`` makes of ``events[events[by] == value]``, for every value in one group-by."""
    grouped = events.groupby(keys + ["_group", by], dropna=False)
    counts = pd.DataFrame({"n": grouped[subject].nunique(), "events": grouped.size()})
    levels = counts.index.get_level_values(by)
    return {value: counts[levels == value].droplevel(by) for value in pd.unique(levels)}


def _melt(frame: pd.DataFrame, id_cols: list[str], stats=("n", "pct", "events")) -> pd.DataFrame:
    long = frame.melt(id_vars=id_cols, value_vars=list(stats), var_name="stat_name",
                      value_name="stat")
    long["stat"] = long["stat"].astype(float)
    return long.rename(columns={"_group": "group"})


def _population_rows(sizes: pd.Series, groups: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"group": groups, "stat_name": "N",
                         "stat": [float(sizes[g]) for g in groups]})


def ae_summary(adae: pd.DataFrame, adsl: pd.DataFrame, by: str, pop_flag: str | None = "SAFFL",
               trtemfl: str | None = "TRTEMFL", grade: str | None = "ATOXGR",
               grade_levels: Sequence | None = None, high_grade_from=3,
               subject: str = "USUBJID", soc: str = "AEBODSYS", term: str = "AEDECOD",
               include_total: bool = False) -> pd.DataFrame:
    """Incidence of (treatment-emergent) adverse events by SOC and preferred term.

    Population: ADSL subjects with ``pop_flag == "Y"`` (all ADSL subjects if None); the group of
    a subject comes from ADSL column ``by``. Events: ADAE rows of population subjects with
    ``trtemfl == "Y"`` (all rows if None). For each row scope -- ``section="overall"`` (any AE),
    ``"soc"`` (per ``soc``) and ``"term"`` (per ``term`` within its ``soc``) -- and each group:

    * ``grade="any"``: ``n`` subjects with >= 1 event (a subject with several events of the same
      term counts once), ``pct`` = 100 n / N, ``events`` = number of events;
    * ``grade=<level>``: subjects counted once at their *worst* grade within the scope (so the
      levels add up to ``any``), and the events of that grade; subjects whose events in the scope
      all lack a grade are counted under ``grade="missing"``;
    * ``grade=">=<high_grade_from>"``: subjects with >= 1 event of that grade or worse, and those
      events.

    ``grade=None`` gives the ``any`` rows only. Grades are ranked by ``grade_levels`` (least to
    most severe; default 1..5 for numeric CTCAE grades; e.g. ``("MILD", "MODERATE", "SEVERE")``
    with ``high_grade_from="SEVERE"`` for AESEV). Rows ``section="population"`` hold N per group,
    N being 0 for a group with nobody in the population (pct is then NaN).

    Returns columns ``section, soc, term, grade, group, stat_name, stat`` (stat_name in n, pct,
    events, N).
    """
    pop, groups, sizes = _population(adsl, by, pop_flag, subject, include_total)
    _require_columns(adae, [soc, term] + ([grade] if grade else []), "ADAE")
    _check_adae_subjects(adae, adsl, subject)
    events = _events_in_population(adae, pop, subject, trtemfl, [soc, term, grade])
    # an uncoded event still counts: it gets a visible label instead of vanishing in a group-by
    events = events.assign(**{c: _blank_to_na(events[c]).fillna(NOT_CODED) for c in (soc, term)},
                           _overall="")
    if grade:
        levels = _grade_levels(adae[grade], grade_levels)
        events["_rank"] = _grade_rank(events, grade, levels, subject)
        high = _high_rank(levels, high_grade_from)
    events = _with_total(events, include_total)

    scopes = [("overall", ["_overall"]), ("soc", [soc]), ("term", [soc, term])]
    pieces = []
    for section, keys in scopes:
        frame_keys = events[keys].drop_duplicates() if section != "overall" else \
            pd.DataFrame({"_overall": [""]})
        parts = [_incidence(events, keys, subject, sizes, groups, frame_keys).assign(grade=ANY_GRADE)]
        if grade:
            parts += _grade_breakdown(events, keys, subject, sizes, groups, frame_keys, levels, high)
        block = pd.concat(parts, ignore_index=True)
        block["section"] = section
        block["soc"] = block[soc] if section != "overall" else ""
        block["term"] = block[term] if section == "term" else ""
        pieces.append(_melt(block[["section", "soc", "term", "grade", "_group", "n", "pct",
                                   "events"]], ["section", "soc", "term", "grade", "_group"]))
    population = _population_rows(sizes, groups).assign(section="population", soc="", term="",
                                                         grade="")
    out = pd.concat([population, *pieces], ignore_index=True)[TIDY_AE_COLUMNS]
    return out


def _grade_breakdown(events, keys, subject, sizes, groups, frame_keys, levels, high):
    """Worst-grade rows (one per level, plus 'missing' if any) and the '>= high' row. The counts
    of every level come from one group-by per column (worst grade, event grade, >= high): at
    100x the study, filtering the events once per level was most of the AE summaries' time."""
    worst = events.groupby(keys + ["_group", subject], dropna=False)["_rank"].max().rename("_worst")
    ev = events[keys + ["_group", subject, "_rank"]].merge(worst.reset_index(), on=keys + ["_group", subject])
    # 0 stands for 'no grade' (ranks are 1..k): a group-by key, where NaN is awkward to select
    ev["_worst0"], ev["_rank0"] = ev["_worst"].fillna(0), ev["_rank"].fillna(0)
    ev["_high"] = ev["_rank"] >= high if high is not None else False
    by_worst, by_rank = (_counts_by(ev, keys, subject, col) for col in ("_worst0", "_rank0"))
    empty = pd.DataFrame({"n": [], "events": []})

    def part(counts_n: pd.DataFrame, counts_e: pd.DataFrame, level: str) -> pd.DataFrame:
        # subjects at this worst grade, but events of this grade from anyone in the scope
        n_part = _complete(counts_n, keys, sizes, groups, frame_keys)
        e_part = _complete(counts_e, keys, sizes, groups, frame_keys)
        return n_part.assign(events=e_part["events"].to_numpy(), grade=level)

    parts = [part(by_worst.get(rank, empty), by_rank.get(rank, empty), level)
             for rank, level in enumerate(levels, start=1)]
    if ev["_rank"].isna().any():  # same rows in every scope, even where no subject is ungraded
        parts.append(part(by_worst.get(0, empty), by_rank.get(0, empty), MISSING_GRADE))
    if high is not None:
        counts = _counts_by(ev, keys, subject, "_high").get(True, empty)
        parts.append(_complete(counts, keys, sizes, groups, frame_keys).assign(grade=f">={levels[high - 1]}"))
    return parts


def ae_overview(adae: pd.DataFrame, adsl: pd.DataFrame, by: str, pop_flag: str | None = "SAFFL",
                trtemfl: str | None = "TRTEMFL", grade: str | None = "ATOXGR",
                grade_levels: Sequence | None = None, high_grade_from=3, fatal_grade=5,
                serious: str | None = "AESER", related: str | None = "AREL",
                related_values: Sequence[str] = ("Y",), subject: str = "USUBJID",
                include_total: bool = False) -> pd.DataFrame:
    """Overview of adverse events: subjects with any TEAE, any serious TEAE (``serious == "Y"``),
    any TEAE of grade >= ``high_grade_from``, any TEAE of grade ``fatal_grade`` (CTCAE grade 5 =
    death), any related TEAE (``related`` value in ``related_values``, case-insensitive). A row is
    left out when its column/threshold argument is None. Same population, denominators and
    counting rules as :func:`ae_summary`.

    Returns columns ``category, group, stat_name, stat`` (stat_name in n, pct, events, N).
    """
    pop, groups, sizes = _population(adsl, by, pop_flag, subject, include_total)
    _require_columns(adae, [c for c in (grade, serious, related) if c], "ADAE")
    _check_adae_subjects(adae, adsl, subject)
    events = _events_in_population(adae, pop, subject, trtemfl, [grade, serious, related])

    ae = "TEAE" if trtemfl else "AE"
    selections: list[tuple[str, pd.Series]] = [(f"Any {ae}", pd.Series(True, index=events.index))]
    if serious:
        selections.append((f"Any serious {ae}", _flag_is_yes(events[serious])))
    if grade:
        levels = _grade_levels(adae[grade], grade_levels)
        rank = _grade_rank(events, grade, levels, subject)
        high = _high_rank(levels, high_grade_from)
        if high is not None:
            selections.append((f"Any {ae} of grade >= {levels[high - 1]}", rank >= high))
        fatal = _high_rank(levels, fatal_grade)
        if fatal is not None:
            selections.append((f"Any {ae} of grade {levels[fatal - 1]}", rank == fatal))
    if related:
        wanted = {str(v).strip().upper() for v in related_values}
        selections.append((f"Any related {ae}",
                           events[related].astype(str).str.strip().str.upper().isin(wanted)))

    pieces = []
    for order, (label, mask) in enumerate(selections):
        chosen = _with_total(events[mask.to_numpy()], include_total).assign(_overall="")
        part = _incidence(chosen, ["_overall"], subject, sizes, groups,
                          pd.DataFrame({"_overall": [""]}))
        pieces.append(_melt(part.assign(category=label, order=order)[
            ["order", "category", "_group", "n", "pct", "events"]], ["order", "category", "_group"]))
    population = _population_rows(sizes, groups).assign(category="N", order=-1)
    out = pd.concat([population, *pieces], ignore_index=True)
    return out.sort_values("order", kind="stable").drop(columns="order")[
        ["category", "group", "stat_name", "stat"]].reset_index(drop=True)


def ae_by(adae: pd.DataFrame, adsl: pd.DataFrame, by: str, var: str, pop_flag: str | None = "SAFFL",
          trtemfl: str | None = "TRTEMFL", levels: Sequence | None = None,
          subject: str = "USUBJID", include_total: bool = False) -> pd.DataFrame:
    """Subjects with >= 1 event and number of events per level of an ADAE column ``var``
    (e.g. treatment phase), by group. Levels come from ``levels`` (all shown, zeros kept) or the
    data; events with a missing ``var`` form the level ``"Missing"``. Same population and
    denominators as :func:`ae_summary`.

    Returns columns ``variable, level, group, stat_name, stat`` (stat_name in n, pct, events, N).
    """
    pop, groups, sizes = _population(adsl, by, pop_flag, subject, include_total)
    _require_columns(adae, [var], "ADAE")
    _check_adae_subjects(adae, adsl, subject)
    events = _events_in_population(adae, pop, subject, trtemfl, [var])
    events["_level"] = events[var].astype(object).where(events[var].notna(), MISSING_LEVEL)
    events["_level"] = events["_level"].map(lambda x: MISSING_LEVEL if str(x).strip() == "" else str(x))
    declared = [str(x) for x in levels] if levels is not None else \
        [str(x) for x in _group_order(events.loc[events["_level"] != MISSING_LEVEL, var])]
    if (events["_level"] == MISSING_LEVEL).any():
        declared.append(MISSING_LEVEL)
    undeclared = sorted(set(events["_level"]) - set(declared))
    if undeclared:
        raise ValueError(f"ADAE column {var!r}: value(s) {undeclared} not among levels {declared}")
    events = _with_total(events, include_total)
    part = _incidence(events, ["_level"], subject, sizes, groups, pd.DataFrame({"_level": declared}))
    long = _melt(part, ["_level", "_group"]).rename(columns={"_level": "level"})
    long["variable"] = var
    population = _population_rows(sizes, groups).assign(variable=var, level="")
    cols = ["variable", "level", "group", "stat_name", "stat"]
    return pd.concat([population, long], ignore_index=True)[cols]
