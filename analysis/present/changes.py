"""The changes page (section 08): key results that moved and the change tables of
``analysis.regulatory.compare.load_changes`` as markdown, identifier values withheld."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis import ard as A
from analysis import conventions as C
from analysis.present import formats as F
from analysis.present.cohort_style import COHORT_LABELS, LEVEL_2Y, cohort_label
from analysis.present.listings import listing_table
from analysis.present.table import Table

# the raw-change tables come from compare, which withholds identifier values at the source; the
# report applies the same function again to whatever tables it is handed
from analysis.regulatory.compare import WITHHELD, withhold_identifiers  # noqa: F401

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


def _group_text(row) -> str:
    """The group of an ARD change row for display: a cohort's name, or "compared vs reference"
    for a comparison (group2 ``REFERENCE``, ``analysis.ard.Comparison``)."""
    if row.group2 == A.REFERENCE_GROUP:
        return f"{row.group1_level} vs {row.group2_level}"
    return cohort_label(row.group1_level) if row.group1_level in COHORT_LABELS else row.group1_level


def key_result_moves(ard_changes: pd.DataFrame, key_results=KEY_RESULTS) -> pd.DataFrame:
    """The key results (OS/LFS 2-year, medians, event counts, comparisons, MRD rates) per group,
    old and new value formatted, with the status of compare's ARD diff."""
    rows = []
    for analysis, param, level, stat_name, label in key_results:
        sel = ard_changes[(ard_changes["context"] == analysis) & (ard_changes["param"] == param)
                          & (ard_changes["variable_level"].fillna("") == level) & (ard_changes["stat_name"] == stat_name)]
        rank = {g: i for i, g in enumerate(COHORT_LABELS)}
        sel = sel.iloc[np.argsort([rank.get(g, len(rank)) for g in sel["group1_level"]], kind="stable")]
        for r in sel.itertuples():
            rows.append({"Result": label, "Group": _group_text(r),
                         "Previous cut": _fmt_change_value(r.old, stat_name),
                         "This cut": _fmt_change_value(r.new, stat_name), "Status": r.status})
    return pd.DataFrame(rows, columns=["Result", "Group", "Previous cut", "This cut", "Status"])


def ard_moves_by_analysis(ard_changes: pd.DataFrame) -> pd.DataFrame:
    """Per ARD analysis: how many results changed, were added, removed or stayed the same."""
    if ard_changes.empty:
        return pd.DataFrame(columns=["analysis", "changed", "added", "removed", "same"])
    counts = pd.crosstab(ard_changes["context"], ard_changes["status"])
    for col in ("changed", "added", "removed", "same"):
        if col not in counts.columns:
            counts[col] = 0
    order = list(dict.fromkeys(ard_changes["context"]))
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
