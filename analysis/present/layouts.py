"""From tidy result frames to display tables (:class:`analysis.present.table.Table`).

Inputs are the tidy frames of ``analysis.stats.tables`` (``table1``, ``ae_summary``,
``ae_overview``) and the result frames of ``analysis.stats.survival`` / ``rates``
(``km_quantiles``, ``km_estimates``, ``km_difference``, ``logrank``, ``cox``,
``binomial_rate``). All rounding goes through ``analysis.present.formats``; every table names its
methods in footnotes.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from analysis import conventions
from analysis.present import formats as F
from analysis.present.table import Table

# stat_name / grade vocabulary of analysis.stats.tables (kept literal: present does not import
# stats, so a formatting change never touches the numbers)
_MISSING_LEVEL = "Missing"
_TOTAL = "Total"

FOOTNOTE_SMD = ("SMD: standardized mean difference (absolute); continuous: difference in means over "
                "the root mean of the two variances; categorical: Yang & Dalton (2012) "
                "multinomial form, missing values as a level.")
FOOTNOTE_TABLE1_PCT = "Percentages are of all subjects in the column, missing values included."
FOOTNOTE_AE_PCT = ("n (%) [E]: number (percentage) of subjects with at least one event [number of "
                   "events]; percentages are of N, the subjects of the population in the column.")
FOOTNOTE_AE_WORST = "A subject with several events is counted once per row, at the worst grade."
FOOTNOTE_NE = "NE: not estimable."
FOOTNOTE_MONTH = f"1 month = {conventions.DAYS_PER_MONTH:g} days."

_CI_METHOD = {"clopper-pearson": "Exact Clopper-Pearson", "exact": "Exact Clopper-Pearson",
              "clopper-pearson exact": "Exact Clopper-Pearson",
              "wilson": "Wilson score", "jeffreys": "Jeffreys", "wald": "Wald",
              "agresti-coull": "Agresti-Coull"}


def _group_columns(tidy: pd.DataFrame, groups: Sequence[str] | None, n_rows: pd.DataFrame) -> list[str]:
    """Groups to show, in the given order, else in the order of the N rows of the tidy frame."""
    available = list(dict.fromkeys(n_rows["group"]))
    if groups is None:
        return available
    unknown = [g for g in groups if g not in available]
    if unknown:
        raise ValueError(f"groups {unknown} not in the results (available: {available})")
    return list(groups)


def _lookup(tidy: pd.DataFrame, keys: list[str]) -> dict:
    """(key values..., stat_name) -> stat, for fast cell assembly."""
    return {tuple(row[:-1]): row[-1] for row in tidy[keys + ["stat_name", "stat"]].itertuples(index=False)}


# ------------------------------------------------------------------------------------------------
# Table 1
# ------------------------------------------------------------------------------------------------

def _with_table1_descriptors(tidy: pd.DataFrame) -> pd.DataFrame:
    """Accept Table 1 rows without ``label``/``var_type`` (e.g. read back from the analysis
    results dataset): the label defaults to the variable name, and a variable with percentage
    rows is categorical, any other continuous."""
    out = tidy.copy()
    out["level"] = out["level"].fillna("").astype(str)
    out["reference"] = out["reference"].fillna("").astype(str) if "reference" in out.columns else ""
    if "label" not in out.columns:
        out["label"] = out["variable"]
    if "var_type" not in out.columns:
        categorical = set(out.loc[out["stat_name"] == "pct", "variable"])
        out["var_type"] = ["count" if v == "N" else "categorical" if v in categorical else "continuous"
                           for v in out["variable"]]
    return out


def format_table1(tidy: pd.DataFrame, groups: Sequence[str] | None = None,
                  raw_decimals: dict[str, int] | None = None, show_smd: bool = True,
                  title: str = "Demographic and baseline characteristics",
                  subtitles: Sequence[str] = (), footnotes: Sequence[str] = ()) -> Table:
    """Display of :func:`analysis.stats.tables.table1`. Per continuous variable rows n, Mean (SD),
    Median (Q1, Q3), Min, Max and Missing (when any); non-normal ones show Median (Q1, Q3)
    first. Categorical levels as n (%), "Missing" last. ``raw_decimals``: the recorded precision
    of each continuous variable (default 0), see :mod:`analysis.present.formats`. SMD columns
    (one per pair of groups) on the variable's label row."""
    raw_decimals = dict(raw_decimals or {})
    tidy = _with_table1_descriptors(tidy)
    n_rows = tidy[tidy["variable"] == "N"]
    columns = _group_columns(tidy, groups, n_rows)
    n_of = dict(zip(n_rows["group"], n_rows["stat"]))
    # one SMD column per compared pair (group, reference), headed "group vs reference"
    smd_pairs = list(dict.fromkeys(tidy.loc[tidy["stat_name"] == "smd", ["group", "reference"]]
                                   .itertuples(index=False, name=None))) if show_smd else []
    smd_groups = [f"{g} vs {r}" for g, r in smd_pairs]
    look = _lookup(tidy, ["variable", "level", "group", "reference"])

    labels, indent, cells = [], [], []

    def row(label: str, level: int, values: list[str], smd: list[str] | None = None):
        labels.append(label)
        indent.append(level)
        cells.append(values + (smd if smd is not None else [""] * len(smd_groups)))

    body = tidy[tidy["variable"] != "N"]
    for variable, var_rows in body.groupby("variable", sort=False):
        label = var_rows["label"].iloc[0]
        var_type = var_rows["var_type"].iloc[0]
        smd = [F.fmt_smd(look.get((variable, "", g, r, "smd"))) for g, r in smd_pairs]
        if var_type == "categorical":
            row(f"{label}, n (%)", 0, [""] * len(columns), smd)
            levels = [lv for lv in dict.fromkeys(var_rows.loc[var_rows["stat_name"] == "n", "level"])]
            levels = [lv for lv in levels if lv != _MISSING_LEVEL] + \
                [lv for lv in levels if lv == _MISSING_LEVEL]
            for lv in levels:
                row(lv, 1, [F.fmt_n_pct(look.get((variable, lv, g, "", "n")), look.get((variable, lv, g, "", "pct")))
                            for g in columns])
            continue
        p = raw_decimals.get(variable, 0)
        stat = lambda g, s: look.get((variable, "", g, "", s))  # noqa: E731, B023  (called in this iteration)
        row(label, 0, [""] * len(columns), smd)
        lines = [("n", [F.fmt_int(stat(g, "n")) for g in columns]),
                 ("Mean (SD)", [F.fmt_mean_sd(stat(g, "mean"), stat(g, "sd"), p) for g in columns]),
                 ("Median (Q1, Q3)", [F.fmt_median_q1q3(stat(g, "median"), stat(g, "q1"), stat(g, "q3"), p)
                                      for g in columns]),
                 ("Min, Max", [F.fmt_range(stat(g, "min"), stat(g, "max"), p) for g in columns])]
        if var_type == "continuous_nonnormal":
            lines = [lines[0], lines[2], lines[1], lines[3]]
        if any((stat(g, "missing") or 0) > 0 for g in columns):
            lines.append(("Missing", [F.fmt_int(stat(g, "missing")) for g in columns]))
        for text, values in lines:
            row(text, 1, values)

    frame = pd.DataFrame(cells, columns=[*columns, *[f"SMD {g}" for g in smd_groups]])
    frame.insert(0, "Characteristic", labels)
    headers = ["Characteristic", *[F.fmt_header(g, n_of.get(g)) for g in columns],
               *[f"SMD\n{g}" for g in smd_groups]]
    notes = [FOOTNOTE_TABLE1_PCT, "Q1, Q3: first and third quartiles; SD: standard deviation."]
    if smd_groups:
        notes.append(FOOTNOTE_SMD)
    return Table(title=title, frame=frame, headers=headers, indent=indent,
                 subtitles=list(subtitles), footnotes=[*notes, FOOTNOTE_NE, *footnotes])


# ------------------------------------------------------------------------------------------------
# adverse events
# ------------------------------------------------------------------------------------------------

def _grade_label(grade: str) -> str:
    if grade == "any":
        return "Any grade"
    if grade == "missing":
        return "Grade missing"
    if grade.startswith(">="):
        return f"Grade \u2265 {grade[2:]}"
    return f"Grade {grade}"


def _ae_order(tidy: pd.DataFrame, sort: str) -> list[tuple[str, str]]:
    """(soc, term) rows in display order: SOC then its terms. ``sort="frequency"``: descending
    number of subjects (all columns summed), ties alphabetical; ``"alpha"``: SOC alphabetical,
    terms by descending frequency (CDISC Pilot 01 Table 14-5.01 layout)."""
    n_any = tidy[(tidy["grade"] == "any") & (tidy["stat_name"] == "n") & (tidy["group"] != _TOTAL)]
    soc_n = n_any[n_any["section"] == "soc"].groupby("soc")["stat"].sum()
    term_n = n_any[n_any["section"] == "term"].groupby(["soc", "term"])["stat"].sum()
    if sort == "frequency":
        socs = sorted(soc_n.index, key=lambda s: (-soc_n[s], s))
    elif sort == "alpha":
        socs = sorted(soc_n.index)
    else:
        raise ValueError(f"sort must be 'frequency' or 'alpha', got {sort!r}")
    order = []
    for soc in socs:
        terms = term_n.loc[soc]
        order.append((soc, ""))
        order += [(soc, t) for t in sorted(terms.index, key=lambda t: (-terms[t], t))]
    return order


def format_ae_table(tidy: pd.DataFrame, groups: Sequence[str] | None = None,
                    grades: Sequence[str] = ("any",), show_events: bool = True,
                    sort: str = "frequency", min_pct: float | None = None,
                    event_label: str = "TEAE",
                    title: str = "Treatment-emergent adverse events by system organ class and "
                                 "preferred term",
                    subtitles: Sequence[str] = (), footnotes: Sequence[str] = ()) -> Table:
    """Display of :func:`analysis.stats.tables.ae_summary`: an overall row, then each SOC with
    its preferred terms indented. One column per group x grade in ``grades`` (e.g.
    ``("any", ">=3")`` or ``("any", "1", "2", "3", "4", "5")``). Cells ``n (%) [E]`` (or
    ``n (%)`` without events). ``min_pct``: keep only terms reaching that percentage in some
    group for the first grade shown (their SOC rows stay)."""
    n_rows = tidy[tidy["section"] == "population"]
    columns = _group_columns(tidy, groups, n_rows)
    n_of = dict(zip(n_rows["group"], n_rows["stat"]))
    known = set(tidy["grade"]) - {""}
    missing_grades = [g for g in grades if g not in known]
    if missing_grades:
        raise ValueError(f"grades {missing_grades} not in the AE summary (available: {sorted(known)})")
    look = _lookup(tidy, ["section", "soc", "term", "grade", "group"])
    order = _ae_order(tidy, sort)
    if min_pct is not None:
        keep = lambda soc, term: max(look.get(("term", soc, term, grades[0], g, "pct"), 0) or 0  # noqa: E731
                                     for g in columns) >= min_pct
        order = [(s, t) for s, t in order if t == "" or keep(s, t)]
        # a SOC without any remaining term is dropped with its terms
        with_terms = {s for s, t in order if t}
        order = [(s, t) for s, t in order if s in with_terms]

    def cell(section, soc, term, grade, group):
        key = (section, soc, term, grade, group)
        n, pct, ev = (look.get(key + (s,)) for s in ("n", "pct", "events"))
        return F.fmt_n_pct_events(n, pct, ev) if show_events else F.fmt_n_pct(n, pct)

    combos = [(g, gr) for g in columns for gr in grades]
    labels = [f"Subjects with at least one {event_label}"]
    indent = [0]
    cells = [[cell("overall", "", "", gr, g) for g, gr in combos]]
    for soc, term in order:
        labels.append(term or soc)
        indent.append(1 if term else 0)
        section = "term" if term else "soc"
        cells.append([cell(section, soc, term, gr, g) for g, gr in combos])

    one_grade = len(grades) == 1
    keys = [g if one_grade else f"{g} | {_grade_label(gr)}" for g, gr in combos]
    headers = [F.fmt_header(g, n_of.get(g)) + ("" if one_grade else "\n" + _grade_label(gr))
               for g, gr in combos]
    frame = pd.DataFrame(cells, columns=keys)
    frame.insert(0, "System organ class / Preferred term", labels)
    notes = [FOOTNOTE_AE_PCT if show_events else FOOTNOTE_AE_PCT.replace(" [E]", "").replace(
        " [number of events]", "")]
    if any(g != "any" and not g.startswith(">=") for g in grades):
        notes.append(FOOTNOTE_AE_WORST)
    if min_pct is not None:
        notes.append(f"Preferred terms with an incidence of at least {F.fmt_num(min_pct, 1)}% in any column.")
    order_note = ("SOCs and terms by decreasing incidence" if sort == "frequency"
                  else "SOCs alphabetical, terms by decreasing incidence")
    notes.append(f"{order_note}, summed over the columns.")
    return Table(title=title, frame=frame,
                 headers=["System organ class\nPreferred term", *headers], indent=indent,
                 subtitles=list(subtitles), footnotes=[*notes, *footnotes])


def format_ae_overview(tidy: pd.DataFrame, groups: Sequence[str] | None = None,
                       show_events: bool = True, title: str = "Overview of adverse events",
                       subtitles: Sequence[str] = (), footnotes: Sequence[str] = (),
                       category: str = "category", row_header: str = "Category") -> Table:
    """Display of :func:`analysis.stats.tables.ae_overview` (one row per category), or of
    :func:`analysis.stats.tables.ae_by` with ``category="level"`` (one row per level)."""
    n_rows = tidy[tidy["stat_name"] == "N"]
    columns = _group_columns(tidy, groups, n_rows)
    n_of = dict(zip(n_rows["group"], n_rows["stat"]))
    look = _lookup(tidy, [category, "group"])
    categories = [c for c in dict.fromkeys(tidy.loc[tidy["stat_name"] != "N", category])]
    fmt = F.fmt_n_pct_events if show_events else (lambda n, p, e: F.fmt_n_pct(n, p))
    cells = [[fmt(look.get((c, g, "n")), look.get((c, g, "pct")), look.get((c, g, "events")))
              for g in columns] for c in categories]
    frame = pd.DataFrame(cells, columns=columns)
    frame.insert(0, row_header, categories)
    return Table(title=title, frame=frame,
                 headers=[row_header, *[F.fmt_header(g, n_of.get(g)) for g in columns]],
                 subtitles=list(subtitles),
                 footnotes=[FOOTNOTE_AE_PCT if show_events else FOOTNOTE_AE_PCT.replace(" [E]", ""),
                            *footnotes])


# ------------------------------------------------------------------------------------------------
# survival
# ------------------------------------------------------------------------------------------------

def _time_scale(time_unit: str) -> tuple[float, str]:
    if time_unit == "months":
        return conventions.DAYS_PER_MONTH, "months"
    if time_unit == "days":
        return 1.0, "days"
    if time_unit == "years":
        return conventions.DAYS_PER_YEAR, "years"
    raise ValueError(f"time_unit must be 'days', 'months' or 'years', got {time_unit!r}")


def _step_value(curve: pd.DataFrame, t: float) -> pd.Series | None:
    """The row of a KM frame in effect at time t (last row with time <= t)."""
    upto = curve[curve["time"] <= t + 1e-9]
    return None if upto.empty else upto.iloc[-1]


def _percentile_label(prob: float) -> str:
    pct = F.fmt_num(100 * prob, 0)
    return "Median" if pct == "50" else f"{pct}th percentile"


def _first(frame: pd.DataFrame | None, column: str, default: str) -> str:
    if frame is None or column not in frame.columns or frame.empty:
        return default
    return str(frame[column].iloc[0])


def _levels(frame: pd.DataFrame, by: str | None) -> pd.Series:
    """Group label of each row (the single group of an ungrouped analysis is "All")."""
    return frame[by].astype(str) if by else pd.Series("All", index=frame.index)


def _time_label(t_days: float, scale: float, unit: str) -> str:
    # issue 11: a timepoint of whole years is named in years everywhere ("1 year", "2 years"),
    # the same row name as the external-comparison tables, whatever the time unit of the table
    years = t_days / conventions.DAYS_PER_YEAR
    if years >= 1 and abs(years - round(years)) < 1e-9:
        return f"{round(years)} year" + ("s" if round(years) > 1 else "")
    value = t_days / scale
    return f"{F.fmt_num(value, 1 if value % 1 else 0)} {unit}"


def _count_rows(counts: pd.DataFrame, by, columns) -> list[tuple[str, list[str], str]]:
    ct = counts.assign(_g=_levels(counts, by)).set_index("_g")
    events = [F.fmt_n_pct(ct["events"][g], 100 * ct["events"][g] / ct["n"][g])
              if g in ct.index and ct["n"][g] > 0 else F.NE for g in columns]
    return [("Subjects, N", [F.fmt_int(ct["n"].get(g)) for g in columns], ""),
            ("Events, n (%)", events, "")]


def _quantile_rows(quantiles, by, columns, scale, unit, conf_text, decimals):
    q = quantiles.assign(_g=_levels(quantiles, by))
    rows = []
    for prob in sorted(q["prob"].unique(), key=lambda p: (abs(p - 0.5) > 1e-9, p)):  # median first
        part = q[(q["prob"] - prob).abs() < 1e-9].set_index("_g")
        values = [F.fmt_est_ci(*(part[c].get(g, float("nan")) / scale for c in ("quantile", "lcl", "ucl")),
                               decimals=decimals) for g in columns]
        rows.append((f"{_percentile_label(prob)}, {unit} ({conf_text} CI)", values, ""))
    return rows


def _rate_rows(estimates, by, columns, timepoints, scale, unit, conf_text, decimals):
    est = estimates.assign(_g=_levels(estimates, by))
    rows = []
    for t in timepoints:
        values = []
        for g in columns:
            at = _step_value(est[est["_g"] == g].sort_values("time"), t)
            values.append(F.NE if at is None else
                          F.fmt_est_ci(100 * at["surv"], 100 * at["lcl"], 100 * at["ucl"], decimals))
        rows.append((f"Rate at {_time_label(t, scale, unit)}, % ({conf_text} CI)", values, ""))
    return rows


def _comparison_rows(by, columns, difference, cox, logrank, scale, unit, conf_text, decimals):
    """Rows whose only value sits in the Comparison column, and the footnotes naming methods."""
    blank = [""] * len(columns)
    rows, notes = [], []
    if difference is not None and not difference.empty:
        for _, d in difference.iterrows():
            name = f" ({d[by]} - {d['reference']})" if by and "reference" in d else ""
            rows.append((f"Difference in rate at {_time_label(d['time'], scale, unit)}{name}, "
                         f"percentage points ({conf_text} CI)", blank,
                         F.fmt_est_ci(100 * d["diff"], 100 * d["lcl"], 100 * d["ucl"], decimals)))
        default = "Greenwood standard errors, Wald interval"
        notes.append(f"Difference in KM rates: {_first(difference, 'method', default)}.")
    if cox is not None and not cox.empty:
        for _, c in cox.iterrows():
            rows.append((f"Hazard ratio ({c['term']}) ({conf_text} CI)", blank,
                         F.fmt_est_ci(c["hr"], c["lcl"], c["ucl"], F.RATIO_DECIMALS)))
            rows.append((f"Cox Wald P ({c['term']})", blank, F.fmt_pvalue(c["p"])))
        default = f"Cox proportional hazards model, {conventions.COX_TIES} ties, Wald interval"
        notes.append(f"Hazard ratio: {_first(cox, 'method', default)}.")
    if logrank is not None and not logrank.empty:
        rows.append(("Log-rank P", blank, F.fmt_pvalue(logrank["p"].iloc[0])))
        notes.append(f"P-value: two-sided, {_first(logrank, 'method', 'log-rank test')}.")
    return rows, notes


def format_survival_summary(quantiles: pd.DataFrame, by: str | None,
                            estimates: pd.DataFrame | None = None,
                            timepoints: Sequence[float] = (),
                            logrank: pd.DataFrame | None = None,
                            cox: pd.DataFrame | None = None,
                            difference: pd.DataFrame | None = None,
                            counts: pd.DataFrame | None = None,
                            groups: Sequence | None = None, time_unit: str = "months",
                            decimals: int = 1, endpoint: str = "Overall survival",
                            title: str | None = None, subtitles: Sequence[str] = (),
                            footnotes: Sequence[str] = ()) -> Table:
    """Kaplan-Meier summary by group.

    Rows: N and events (``counts``: <by>, n, events; else the ``logrank`` frame's n and
    observed), the quantiles of ``km_quantiles`` (median first, times in ``time_unit``), the KM
    survival rate in % at each of ``timepoints`` (days; read off ``km_estimates`` as the step in
    effect at that time), then -- in a "Comparison" column -- the difference of rates
    (``km_difference``, percentage points), the hazard ratio(s) (``cox``: term, hr, lcl, ucl, p)
    and the log-rank p-value. Footnotes name the methods from the frames' ``method`` columns.
    """
    scale, unit = _time_scale(time_unit)
    columns = [str(g) for g in groups] if groups is not None else \
        list(dict.fromkeys(_levels(quantiles, by)))
    conf_text = F.fmt_conf_level(float(_first(quantiles, "conf_level", str(conventions.CONF_LEVEL))))
    if counts is None and logrank is not None and not logrank.empty:
        counts = logrank.rename(columns={"observed": "events"})
    has_counts = counts is not None and not counts.empty

    rows = _count_rows(counts, by, columns) if has_counts else []
    rows += _quantile_rows(quantiles, by, columns, scale, unit, conf_text, decimals)
    if estimates is not None:
        rows += _rate_rows(estimates, by, columns, timepoints, scale, unit, conf_text, decimals)
    comparison_rows, notes = _comparison_rows(by, columns, difference, cox, logrank, scale, unit,
                                              conf_text, decimals)
    comparison = bool(comparison_rows)
    rows += comparison_rows

    km_source = estimates if estimates is not None else quantiles
    conf_type = _first(km_source, "conf_type", conventions.KM_CONF_TYPE)
    km_method = _first(km_source, "method", "Kaplan-Meier, Greenwood variance").split(";")[0]
    notes.insert(0, f"{conf_text} CI: {km_method}, {conf_type} transform; CIs of the quantiles "
                    f"by inverting the pointwise band (Brookmeyer & Crowley 1982).")
    if unit == "months":
        notes.append(FOOTNOTE_MONTH)

    frame = pd.DataFrame([values + ([comp] if comparison else []) for _, values, comp in rows],
                         columns=[*columns, *(["Comparison"] if comparison else [])])
    frame.insert(0, endpoint, [label for label, _, _ in rows])
    n_of = counts.assign(_g=_levels(counts, by)).set_index("_g")["n"].to_dict() if has_counts else {}
    headers = [endpoint, *[F.fmt_header(g, n_of[g]) if g in n_of else g for g in columns],
               *(["Comparison"] if comparison else [])]
    return Table(title=title or f"{endpoint}: Kaplan-Meier summary", frame=frame, headers=headers,
                 subtitles=list(subtitles), footnotes=[*notes, FOOTNOTE_NE, *footnotes])


# ------------------------------------------------------------------------------------------------
# rates
# ------------------------------------------------------------------------------------------------

def format_rates(rates: pd.DataFrame, by: str | None = None, label: str | None = None,
                 groups: Sequence | None = None, decimals: int = 1,
                 title: str = "Response rates", subtitles: Sequence[str] = (),
                 footnotes: Sequence[str] = ()) -> Table:
    """Display of ``binomial_rate`` results (x, n, rate, lcl, ucl, method): per endpoint (column
    ``label``, else one row) a row ``x/n (%)`` and an indented row with the CI in %, one column
    per group of column ``by`` (else a single column)."""
    data = rates.copy()
    data["_g"] = data[by].astype(str) if by else "All"
    data["_label"] = data[label].astype(str) if label else "Rate"
    columns = [str(g) for g in groups] if groups is not None else list(dict.fromkeys(data["_g"]))
    conf = float(data["conf_level"].iloc[0]) if "conf_level" in data.columns else conventions.CONF_LEVEL
    conf_text = F.fmt_conf_level(conf)
    look = data.set_index(["_label", "_g"])
    if look.index.duplicated().any():
        raise ValueError("format_rates: more than one rate per label and group")
    labels, indent, cells = [], [], []
    for name in dict.fromkeys(data["_label"]):
        labels += [f"{name}, n/N (%)", f"{conf_text} CI"]
        indent += [0, 1]
        first, second = [], []
        for g in columns:
            if (name, g) not in look.index:
                first.append(F.NE)
                second.append(F.NE)
                continue
            r = look.loc[(name, g)]
            first.append(f"{F.fmt_int(r['x'])}/{F.fmt_int(r['n'])} ({F.fmt_num(100 * r['rate'], decimals)})"
                         if r["n"] > 0 else f"0/0 ({F.NE})")
            second.append(F.fmt_ci(100 * r["lcl"], 100 * r["ucl"], decimals))
        cells += [first, second]
    frame = pd.DataFrame(cells, columns=columns)
    frame.insert(0, "Endpoint", labels)
    method_names = data["method"] if "method" in data.columns else pd.Series([conventions.BINOMIAL_CI])
    methods = sorted({_CI_METHOD.get(str(m).lower(), str(m)) for m in method_names})
    notes = [f"{m} {conf_text} CI." for m in methods]
    # "N = n" only where every endpoint of the group has the same denominator
    counts = {g: n.iloc[0] for g, n in data.groupby("_g")["n"] if n.nunique() == 1}
    headers = ["Endpoint", *[F.fmt_header(g, counts[g]) if g in counts else g for g in columns]]
    return Table(title=title, frame=frame, headers=headers, indent=indent, subtitles=list(subtitles),
                 footnotes=[*notes, FOOTNOTE_NE, *footnotes])
