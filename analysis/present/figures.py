"""Figures of the SAP report (notebooks 01-04).

Every figure function takes tidy data frames (ADaM-shaped, or results read from the analysis
results dataset) and returns a matplotlib ``Figure`` drawn with the report style
(``analysis.render.style``: Okabe-Ito colours, print sizes). Nothing here reads files or knows a
data cut; the notebooks load the data and pass it in.

* :func:`km_plot` -- Kaplan-Meier curves with censoring marks and a numbers-at-risk table under
  the plot, one column per x-axis tick (``analysis.stats.survival.km_curve`` / ``risk_table``;
  numbers at risk under the curve as recommended by Pocock, Clayton & Altman 2002, "Survival
  plots of time-to-event outcomes in clinical trials", Lancet 359:1686);
* :func:`swimmer_plot` (data: :func:`swimmer_frame`) -- one lane per trial subject: CAR-T1,
  collection, auto-HSCT, CAR-T2, MRD results by method, relapse, death or last contact;
* :func:`mrd_course_plot` (data: :func:`mrd_course_frame`) -- MRD levels on a log axis with each
  sample's sensitivity, undetectable samples drawn at their sensitivity, the thresholds of
  ``conventions.MRD_THRESHOLD``;
* :func:`study_design_diagram` -- the schematic of the sandwich (registry record);
* :func:`consort_diagram` (exits: :func:`consort_exits`) -- CONSORT-style flow.

The ARD -> display-input adapters are in ``analysis.present.ard_views``; the provenance tables
of the overview page in ``analysis.provenance``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from analysis import conventions as C
from analysis.render.style import OKABE_ITO
from analysis.stats import survival

LINE_STYLES = ("-", "--", "-.", ":")
COHORT_LABELS = {C.COHORT_TRIAL: "Sandwich (trial)", C.COHORT_EXTERNAL: "Allo-HSCT (external control)"}


def _months(days) -> np.ndarray:
    """Days -> months (conventions.DAYS_PER_MONTH, SAP 2.1)."""
    return np.asarray(days, dtype="float64") / C.DAYS_PER_MONTH


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing} (has {list(frame.columns)})")


def _style(i: int) -> dict:
    """Colour and line style of the i-th group: distinguishable in colour and in greyscale."""
    return {"color": OKABE_ITO[i % len(OKABE_ITO)], "linestyle": LINE_STYLES[i % len(LINE_STYLES)]}


# ------------------------------------------------------------------------------------------------
# Kaplan-Meier plot with numbers at risk
# ------------------------------------------------------------------------------------------------

def km_ticks(max_days: float, step_months: float | None = None) -> np.ndarray:
    """x-axis ticks in months: 0, step, ... up to the first multiple of ``step_months`` at or
    beyond the longest follow-up (so the last tick closes the axis). Default step: 3 months up
    to 2 years of follow-up, 6 up to 4 years, else 12 (at most ~10 risk-table columns)."""
    if not np.isfinite(max_days) or max_days < 0:
        raise ValueError(f"km_ticks: longest follow-up must be a non-negative number of days, got {max_days!r}")
    if step_months is None:
        span = _months(max_days)
        step_months = 3 if span <= 24 else 6 if span <= 48 else 12
    if step_months <= 0:
        raise ValueError(f"km_ticks: step_months must be positive, got {step_months!r}")
    last = np.ceil(_months(max_days) / step_months - 1e-9) * step_months
    return np.arange(0, max(last, step_months) + step_months / 2, step_months)


def km_plot(adtte: pd.DataFrame, by: str | None = None, *, groups: Sequence | None = None,
            labels: Mapping | None = None, time: str = "AVAL", cnsr: str = "CNSR",
            xlabel: str = "Months from CAR-T1", ylabel: str = "Survival probability",
            step_months: float | None = None, max_months: float | None = None, focus_group: str | None = None,
            title: str | None = None, conf_band: bool = False) -> Figure:
    """Kaplan-Meier curves (``survival.km_curve``: product-limit steps, R survfit) with a "|" at
    every censored time on the curve, and under the plot a numbers-at-risk table
    (``survival.risk_table``: subjects with time >= t, as summary.survfit) read at each x tick.

    ``adtte``: one row per subject (AVAL days, CNSR 0 event / 1 censored); ``by`` the group
    column or None; ``groups`` the groups to draw, in order (default: sorted); ``labels`` group
    -> legend / risk-table label. Times are shown in months (conventions.DAYS_PER_MONTH).
    The x axis ends at ``max_months``, else at the longest follow-up of ``focus_group`` (e.g. the
    trial cohort beside a longer-followed control group), else of all groups, rounded up to a
    tick. ``conf_band`` shades the pointwise log-log 95% band. Artists carry gids for checks:
    ``km:<group>`` (curve), ``censor:<group>`` (censor marks), ``risk:<group>:<tick>`` (counts).
    """
    _require(adtte, [time, cnsr] + ([by] if by else []), "km_plot")
    if adtte.empty:
        raise ValueError("km_plot: no rows to plot")
    data = adtte.copy()
    key = by or "_all"
    if by is None:
        data[key] = "All subjects"
    present = sorted(data[key].dropna().astype(str).unique())
    groups = [str(g) for g in groups] if groups is not None else present
    unknown = [g for g in groups if g not in present]
    if unknown:
        raise ValueError(f"km_plot: groups {unknown} not in column {key!r} (has {present})")
    data[key] = data[key].astype(str)
    data = data[data[key].isin(groups)]
    labels = {g: (labels or {}).get(g, COHORT_LABELS.get(g, g)) for g in groups}

    if focus_group is not None and str(focus_group) not in groups:
        raise ValueError(f"km_plot: focus_group {focus_group!r} is not one of the groups {groups}")
    span_days = (max_months * C.DAYS_PER_MONTH if max_months is not None
                 else data.loc[data[key] == str(focus_group), time].max() if focus_group is not None
                 else data[time].max())
    ticks = km_ticks(float(span_days), step_months)
    curve = survival.km_curve(data, key, conf_type=C.KM_CONF_TYPE, conf_level=C.CONF_LEVEL, time=time, cnsr=cnsr)
    risk = survival.risk_table(data, key, ticks * C.DAYS_PER_MONTH, time=time, cnsr=cnsr)

    n_groups = len(groups)
    fig = plt.figure(figsize=(7.0, 4.6 + 0.25 * n_groups))
    grid = fig.add_gridspec(2, 1, height_ratios=[4.2, 0.45 + 0.28 * n_groups], hspace=0.08)
    ax = fig.add_subplot(grid[0])
    ax_risk = fig.add_subplot(grid[1], sharex=ax)
    for i, g in enumerate(groups):
        part = curve[curve[key] == g]
        x = _months(part["time"])
        style = _style(i)
        ax.step(x, part["surv"], where="post", label=labels[g], gid=f"km:{g}", **style)
        if conf_band:
            ax.fill_between(x, part["lcl"], part["ucl"], step="post", alpha=0.15, color=style["color"], linewidth=0)
        cens = part[part["censored"]]
        ax.plot(_months(cens["time"]), cens["surv"], linestyle="none", marker="|", markersize=7,
                markeredgewidth=1.2, color=style["color"], gid=f"censor:{g}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(ticks[0], ticks[-1])
    ax.set_xticks(ticks)
    ax.set_ylabel(ylabel)
    ax.tick_params(labelbottom=False)
    handles, names = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="black", marker="|", linestyle="none", markersize=7))
    names.append("Censored")
    ax.legend(handles, names, loc="lower left")
    if title:
        ax.set_title(title)

    _draw_risk_table(ax_risk, risk, key, groups, labels, ticks)
    ax_risk.set_xlabel(xlabel)
    # room on the left for the longest risk-table label (about 0.075 in per character at 8.5 pt)
    label_in = 0.075 * max(len(str(v)) for v in labels.values()) + 0.5
    fig.subplots_adjust(left=max(0.12, min(0.45, label_in / fig.get_figwidth())), right=0.97, top=0.95 if title else 0.98, bottom=0.1)
    return fig


def _draw_risk_table(ax, risk: pd.DataFrame, key: str, groups: list[str], labels: Mapping,
                     ticks: np.ndarray) -> None:
    """Numbers at risk as text, one row per group, one column per x tick of the curve above."""
    for i, g in enumerate(groups):
        row = risk[risk[key] == g].sort_values("time")
        y = len(groups) - 1 - i
        for tick, n in zip(ticks, row["n_risk"]):
            ax.text(tick, y, f"{int(n)}", ha="center", va="center", fontsize=8.5,
                    color=_style(i)["color"], gid=f"risk:{g}:{tick:g}")
        ax.text(-0.06, y, labels[g], transform=ax.get_yaxis_transform(), ha="right", va="center",
                fontsize=8.5, color=_style(i)["color"])
    ax.set_ylim(-0.6, len(groups) - 0.4)
    ax.set_yticks([])
    ax.grid(False)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title("Number at risk", fontsize=8.5, loc="left", pad=2)
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])


# ------------------------------------------------------------------------------------------------
# swimmer plot
# ------------------------------------------------------------------------------------------------

# event -> (marker, colour, offset within the lane, legend label). Treatment milestones sit on the
# lane; FC results just above it and NGS just below, so that two samples on one day stay visible.
# Auto-HSCT and CAR-T2 are 2 days apart: the transplant is a larger triangle behind the CAR-T2 mark.
SWIMMER_SIZE = {"Auto-HSCT": 60, "CAR-T2": 18}
SWIMMER_EVENTS: dict[str, tuple[str, str, float, str]] = {
    "CAR-T1": ("D", OKABE_ITO[0], 0.0, "CAR-T1"),
    "Collection": ("s", OKABE_ITO[4], 0.0, "Stem-cell collection"),
    "Auto-HSCT": ("^", OKABE_ITO[2], 0.0, "Auto-HSCT"),
    "CAR-T2": ("D", OKABE_ITO[5], 0.0, "CAR-T2"),
    "FC negative": ("o", "white", 0.22, "FC-MRD negative"),
    "FC positive": ("o", OKABE_ITO[1], 0.22, "FC-MRD positive"),
    "NGS negative": ("v", "white", -0.22, "NGS-MRD negative"),
    "NGS positive": ("v", OKABE_ITO[1], -0.22, "NGS-MRD positive"),
    "Relapse": ("*", OKABE_ITO[3], 0.0, "Relapse / loss of remission"),
    "Death": ("X", "black", 0.0, "Death"),
    "Alive at last contact": (r"$\rightarrow$", "black", 0.0, "Alive at last contact"),
}
SWIMMER_MILESTONES = {"CAR-T1": "TRTSDT", "Collection": "COLLDT", "Auto-HSCT": "AHSCTDT", "CAR-T2": "CART2DT",
                      "Relapse": "RELDT"}


def subject_label(usubjid: str) -> str:
    """Short subject label for an axis: site and subject number ("SWCART-01-01-007" -> "01-007")."""
    return "-".join(str(usubjid).split("-")[-2:])


def swimmer_frame(adsl: pd.DataFrame, admrd: pd.DataFrame, subjects: pd.Series | None = None) -> pd.DataFrame:
    """Long frame of each subject's course for :func:`swimmer_plot`: USUBJID, event (a key of
    SWIMMER_EVENTS), day (days since CAR-T1, TRTSDT = day 0), end (day of death or last contact:
    the lane's length). Subjects: those with TRTSDT (default) or ``subjects``. MRD samples are
    ADMRD sample records (DTYPE missing) after CAR-T1 that are evaluable (EVALFL = Y), negative when
    NEGFL = Y (SAP 4.1 thresholds applied in ADMRD)."""
    _require(adsl, ["USUBJID", "TRTSDT", "DTHDT", "LSTALVDT", *SWIMMER_MILESTONES.values()], "swimmer_frame ADSL")
    _require(admrd, ["USUBJID", "METHOD", "ADT", "DTYPE", "EVALFL", "NEGFL"], "swimmer_frame ADMRD")
    sl = adsl[adsl["TRTSDT"].notna()]
    if subjects is not None:
        sl = sl[sl["USUBJID"].isin(subjects)]
    start = sl.set_index("USUBJID")["TRTSDT"]
    dead = sl.set_index("USUBJID")["DTHDT"]
    end = (dead.fillna(sl.set_index("USUBJID")["LSTALVDT"]) - start).dt.days
    rows = []
    for event, column in SWIMMER_MILESTONES.items():
        days = (sl.set_index("USUBJID")[column] - start).dt.days.dropna()
        rows.append(pd.DataFrame({"USUBJID": days.index, "event": event, "day": days.to_numpy()}))
    rows.append(pd.DataFrame({"USUBJID": end.index, "event": np.where(dead.notna(), "Death", "Alive at last contact"),
                              "day": end.to_numpy()}))
    samples = admrd[admrd["DTYPE"].isna() & (admrd["EVALFL"] == "Y") & admrd["USUBJID"].isin(start.index)]
    day = (samples["ADT"] - samples["USUBJID"].map(start)).dt.days
    samples = samples[day > 0]
    rows.append(pd.DataFrame({
        "USUBJID": samples["USUBJID"].to_numpy(),
        "event": (samples["METHOD"].astype(str) + np.where(samples["NEGFL"] == "Y", " negative", " positive")).to_numpy(),
        "day": day[day > 0].to_numpy()}))
    out = pd.concat(rows, ignore_index=True)
    out["day"] = out["day"].astype(float)
    out["end"] = out["USUBJID"].map(end).astype(float)
    unknown = sorted(set(out["event"]) - set(SWIMMER_EVENTS))
    if unknown:
        raise ValueError(f"swimmer_frame: events without a marker: {unknown} (ADMRD METHOD must be FC or NGS)")
    return out.sort_values(["USUBJID", "day"], ignore_index=True)


SWIMMER_MAX_LANES = 100  # beyond this a page would be feet tall: lanes are sampled (see swimmer_plot)


def swimmer_lanes(ends: pd.Series, max_lanes: int | None) -> tuple[pd.Series, str | None]:
    """The lanes drawn, from every subject's lane end sorted by follow-up, and the note saying
    which ones when not all: at most ``max_lanes``, evenly spaced over that order (so the shortest
    and the longest follow-up are kept and the spread is preserved), deterministic."""
    total = len(ends)
    if max_lanes is None or total <= max_lanes:
        return ends, None
    keep = np.unique(np.linspace(0, total - 1, max_lanes).round().astype(int))
    note = (f"{len(keep):,} of {total:,} patients shown: evenly spaced by length of follow-up, "
            "from the shortest to the longest")
    return ends.iloc[keep], note


def swimmer_plot(events: pd.DataFrame, *, xlabel: str = "Months from CAR-T1", title: str | None = None,
                 max_lanes: int | None = SWIMMER_MAX_LANES) -> Figure:
    """One horizontal lane per subject, from CAR-T1 (0) to death or last contact (``end``), longest
    follow-up at the top; markers at each event of ``events`` (:func:`swimmer_frame`). Lanes carry
    gid ``lane:<USUBJID>``; the y tick labels are the subject numbers. With more than
    ``max_lanes`` subjects (None: no limit) a sample of lanes is drawn (:func:`swimmer_lanes`)
    and the figure's title says how many of how many (gid ``note:sampled``)."""
    _require(events, ["USUBJID", "event", "day", "end"], "swimmer_plot")
    if events.empty:
        raise ValueError("swimmer_plot: no subjects")
    ends, note = swimmer_lanes(events.groupby("USUBJID")["end"].first().sort_values(kind="stable"), max_lanes)
    if note:
        events = events[events["USUBJID"].isin(ends.index)]
        title = f"{title}\n{note}" if title else note
    lane = {s: i for i, s in enumerate(ends.index)}
    fig, ax = plt.subplots(figsize=(7.0, max(3.0, 0.9 + 0.19 * len(lane))))
    for s, i in lane.items():
        ax.barh(i, _months(ends[s]), height=0.5, color="#DDDDDD", edgecolor="none", gid=f"lane:{s}", zorder=1)
    for event, (marker, colour, offset, label) in SWIMMER_EVENTS.items():
        part = events[events["event"] == event]
        if part.empty:
            continue
        ax.scatter(_months(part["day"]), part["USUBJID"].map(lane) + offset, marker=marker,
                   s=SWIMMER_SIZE.get(event, 26), facecolor=colour,
                   edgecolor="black" if colour == "white" else colour, linewidths=0.7,
                   label=label, zorder=2 if event == "Auto-HSCT" else 3, gid=f"event:{event}")
    ax.set_yticks(list(lane.values()), [subject_label(s) for s in lane], fontsize=6.5)
    ax.set_ylim(-0.8, len(lane) - 0.2)
    ax.set_xlim(left=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Subject")
    ax.grid(axis="y", visible=False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    if title:
        ax.set_title(title, **({"fontsize": 9, "gid": "note:sampled"} if note else {}))
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------
# MRD course
# ------------------------------------------------------------------------------------------------

def mrd_course_frame(admrd: pd.DataFrame) -> pd.DataFrame:
    """MRD sample records (DTYPE missing) of ADMRD with what the plot needs: USUBJID, METHOD,
    day (ADT - TRTSDT), level (AVAL; for an undetectable sample its sensitivity SENS, the most it
    can be), undetectable (MRDUND = Y), SENS, evaluable (EVALFL = Y)."""
    _require(admrd, ["USUBJID", "METHOD", "DTYPE", "ADT", "TRTSDT", "AVAL", "MRDUND", "SENS", "EVALFL"],
             "mrd_course_frame ADMRD")
    s = admrd[admrd["DTYPE"].isna()]
    und = (s["MRDUND"] == "Y").to_numpy()
    level = np.where(und, s["SENS"].astype(float), s["AVAL"].astype(float))
    return pd.DataFrame({"USUBJID": s["USUBJID"].astype(str).to_numpy(), "METHOD": s["METHOD"].astype(str).to_numpy(),
                         "day": (s["ADT"] - s["TRTSDT"]).dt.days.astype(float).to_numpy(), "level": level,
                         "undetectable": und, "SENS": s["SENS"].astype(float).to_numpy(),
                         "evaluable": (s["EVALFL"] == "Y").to_numpy()})


MRD_LINES_AS_ONE_ABOVE = 200  # subjects per panel beyond which their lines are drawn as one artist


def _subject_lines(ax, part: pd.DataFrame, **style) -> None:
    """Each subject's samples joined by a line (``part`` sorted by USUBJID and day). Up to
    MRD_LINES_AS_ONE_ABOVE subjects one line each; beyond, one line broken by NaN between
    subjects: the same drawing, but one artist instead of thousands (time grew with patients)."""
    if part["USUBJID"].nunique() <= MRD_LINES_AS_ONE_ABOVE:
        for _, subj in part.groupby("USUBJID"):
            ax.plot(_months(subj["day"]), subj["level"], **style)
        return
    new_subject = part["USUBJID"].ne(part["USUBJID"].shift()).to_numpy()
    breaks = np.flatnonzero(new_subject)[1:]
    x = np.insert(_months(part["day"]).astype(float), breaks, np.nan)
    y = np.insert(part["level"].to_numpy(dtype=float), breaks, np.nan)
    ax.plot(x, y, gid="subject-lines", **style)


def mrd_course_plot(samples: pd.DataFrame, thresholds: Mapping[str, float] = C.MRD_THRESHOLD, *,
                    methods: Sequence[str] | None = None, xlabel: str = "Months from CAR-T1") -> Figure:
    """One panel per MRD method: each subject's samples joined by a thin grey line; detected
    levels as filled circles, undetectable samples as open triangles at their sensitivity; each
    sample's sensitivity as a short grey bar; the negativity threshold (SAP 4.1,
    conventions.MRD_THRESHOLD) as a dashed line. Log y axis. Gids: ``detected:<m>``,
    ``undetectable:<m>``, ``sensitivity:<m>``, ``threshold:<m>``."""
    _require(samples, ["USUBJID", "METHOD", "day", "level", "undetectable", "SENS"], "mrd_course_plot")
    methods = list(methods) if methods is not None else [m for m in thresholds if m in set(samples["METHOD"])]
    if not methods:
        raise ValueError(f"mrd_course_plot: no samples of the methods {list(thresholds)}")
    fig, axes = plt.subplots(len(methods), 1, figsize=(7.0, 2.9 * len(methods)), sharex=True, squeeze=False)
    for ax, method in zip(axes[:, 0], methods):
        part = samples[(samples["METHOD"] == method) & (samples["day"] >= 0)].sort_values(["USUBJID", "day"])
        _subject_lines(ax, part, color="#BBBBBB", linewidth=0.6, zorder=1)
        ax.plot(_months(part["day"]), part["SENS"], linestyle="none", marker="_", markersize=7, color="#777777",
                markeredgewidth=1.0, zorder=2, gid=f"sensitivity:{method}", label="Sample sensitivity")
        det = part[~part["undetectable"]]
        ax.plot(_months(det["day"]), det["level"], linestyle="none", marker="o", markersize=4.5,
                color=OKABE_ITO[1], zorder=3, gid=f"detected:{method}", label="Detected level")
        und = part[part["undetectable"]]
        ax.plot(_months(und["day"]), und["level"], linestyle="none", marker="v", markersize=5,
                markerfacecolor="white", markeredgecolor=OKABE_ITO[0], zorder=3, gid=f"undetectable:{method}",
                label="Undetectable (at sensitivity)")
        threshold = thresholds[method]
        ax.axhline(threshold, color="black", linestyle="--", linewidth=1, gid=f"threshold:{method}",
                   label=f"Negativity threshold {threshold:.0e}".replace("e-0", "e-"))
        ax.set_yscale("log")
        low = min(part["level"].min(), part["SENS"].min(), threshold) if len(part) else threshold
        ax.set_ylim(low / 5, 1.5)
        ax.set_ylabel(f"{method}-MRD (fraction)")
        ax.set_title(f"{method}-MRD (negative below {threshold:.0e})".replace("e-0", "e-"), loc="left")
    axes[-1, 0].set_xlabel(xlabel)
    axes[-1, 0].set_xlim(left=0)
    handles, names = axes[0, 0].get_legend_handles_labels()
    names = ["Negativity threshold" if n.startswith("Negativity") else n for n in names]
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.legend(handles, names, loc="lower center", ncol=4, fontsize=8)
    return fig


# ------------------------------------------------------------------------------------------------
# diagrams
# ------------------------------------------------------------------------------------------------

def _box(ax, x: float, y: float, text: str, width: float, height: float, colour: str = "#E8F1FA", gid=None,
         fontsize: float = 8.5):
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.01,rounding_size=0.02",
                                facecolor=colour, edgecolor="#333333", linewidth=1, gid=gid))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], label: str | None = None,
           label_offset: tuple[float, float] = (0, 0.06)):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color="#333333", linewidth=1))
    if label:
        ax.text((start[0] + end[0]) / 2 + label_offset[0], (start[1] + end[1]) / 2 + label_offset[1], label,
                ha="center", va="center", fontsize=8, color="#333333", style="italic")


STUDY_DESIGN_STEPS = (
    ("Remission\nafter chemo-\ntherapy\n(often MRD+)", None),
    ("CAR-T1\nCD22, then\nCD19\nCAR-T cells", ""),
    ("Stem-cell\nmobilization\nand\ncollection", "6-8 wk"),
    ("BuCy\nconditioning\nand\nauto-HSCT", "4 wk"),
    ("CAR-T2\nCD22 + CD19\nCAR-T cells", "+2 d"),
    ("Follow-up\nOS, LFS,\nMRD (FC,\nNGS), AEs", ""),
)


def study_design_diagram(steps: Sequence[tuple[str, str | None]] = STUDY_DESIGN_STEPS) -> Figure:
    """The sandwich as a schematic (registry record): boxes for each stage, arrows labelled with
    the planned interval to the next stage (``steps``: (box text, interval label into this box)),
    and the endpoint time origins under it. Boxes carry gids ``design:<i>``."""
    n = len(steps)
    fig, ax = plt.subplots(figsize=(7.0, 2.4))
    ax.set_xlim(0, n)
    ax.set_ylim(0, 1)
    ax.axis("off")
    width, height = 0.74, 0.56
    for i, (text, interval) in enumerate(steps):
        x = i + 0.5
        colour = "#FCE9D9" if "CAR-T" in text else "#E8F1FA"
        _box(ax, x, 0.6, text, width, height, colour=colour, gid=f"design:{i}", fontsize=7.5)
        if i:
            _arrow(ax, (x - 1 + width / 2, 0.6), (x - width / 2, 0.6), interval or None, label_offset=(0, 0.34))
    ax.text(n / 2, 0.1, "OS from CAR-T1; LFS from the first remission documented after CAR-T1.\n"
            f"MRD negative: flow cytometry < {C.MRD_THRESHOLD['FC']:.0e}, IgH NGS < {C.MRD_THRESHOLD['NGS']:.0e}"
            .replace("e-0", "e-"), ha="center", va="center", fontsize=8)
    fig.tight_layout()
    return fig


def consort_exits(adsl: pd.DataFrame, steps: Sequence[tuple[str, str]], reason: str = "DCSREAS") -> pd.DataFrame:
    """Subjects leaving the flow between consecutive ``steps`` ((label, ADSL column)), by
    ``reason``: a step is reached when its column is "Y" (a flag) or not missing (a date).
    Returns after_step, reason, n (missing reason: "Not recorded"). A subject who reaches a step
    without the one before is a data error (ValueError naming the subject)."""
    _require(adsl, ["USUBJID", reason, *[c for _, c in steps]], "consort_exits ADSL")
    reached = pd.DataFrame({label: adsl[col].notna() if pd.api.types.is_datetime64_any_dtype(adsl[col])
                            else (adsl[col] == "Y").fillna(False) for label, col in steps}).astype(bool)
    rows = []
    for (before, _), (after, _) in zip(steps[:-1], steps[1:]):
        skipped = reached[after] & ~reached[before]
        if skipped.any():
            raise ValueError(f"consort_exits: subject {adsl.loc[skipped, 'USUBJID'].iloc[0]} reached "
                             f"{after!r} without {before!r}")
        left = adsl[reached[before] & ~reached[after]]
        for why, n in left[reason].fillna("Not recorded").astype(str).value_counts().sort_index().items():
            rows.append({"after_step": before, "reason": why.capitalize(), "n": int(n)})
    return pd.DataFrame(rows, columns=["after_step", "reason", "n"])


def consort_diagram(flow: Sequence[tuple[str, int]], exits: pd.DataFrame) -> Figure:
    """CONSORT-style flow: a box per step with its n (``flow``, in order) and, beside each arrow,
    a box with the subjects who stopped there and their reasons (``exits`` from
    :func:`consort_exits`). The exits at each step must equal the drop in n to the next step:
    a mismatch (e.g. counts from a different source) is an error, not a drawing. Gids:
    ``step:<label>``, ``exit:<label>``."""
    _require(exits, ["after_step", "reason", "n"], "consort_diagram exits")
    for (label, n), (_, n_next) in zip(flow[:-1], flow[1:]):
        stopped = int(exits.loc[exits["after_step"] == label, "n"].sum())
        if stopped != n - n_next:
            raise ValueError(f"consort_diagram: {stopped} exits after {label!r} but the flow drops "
                             f"from {n} to {n_next}")
    k = len(flow)
    fig, ax = plt.subplots(figsize=(7.0, 1.15 * k + 0.3))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, k)
    ax.axis("off")
    for i, (label, n) in enumerate(flow):
        y = k - 0.5 - i
        _box(ax, 0.3, y, f"{label}\nn = {n}", 0.42, 0.5, gid=f"step:{label}")
        if i + 1 < k:
            _arrow(ax, (0.3, y - 0.25), (0.3, y - 0.75))
            part = exits[exits["after_step"] == label]
            if len(part):
                text = f"Stopped: n = {int(part['n'].sum())}\n" + "\n".join(
                    f"{r}: {n_r}" for r, n_r in zip(part["reason"], part["n"]))
                ax.add_patch(FancyArrowPatch((0.3, y - 0.5), (0.62, y - 0.5), arrowstyle="-|>", mutation_scale=10,
                                             color="#777777", linewidth=0.8))
                ax.text(0.64, y - 0.5, text, ha="left", va="center", fontsize=8,
                        bbox={"boxstyle": "round,pad=0.3", "facecolor": "#F5F5F5", "edgecolor": "#777777"},
                        gid=f"exit:{label}")
    fig.tight_layout()
    return fig
