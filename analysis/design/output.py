"""Outputs of a design run (SAP 9.4), numbers first, display second: the ARD of the performance
measures (``design_ard.csv``, the analysis ARD's columns), every replicate's estimates
(``design_replicates.csv``), a table (``design_table.csv``) and a figure (``design.svg``), both
on one HTML page (``index.html``). All bytes depend on the results only (no dates), so the same
run gives the same files whatever the number of workers."""

from __future__ import annotations

import html
import io
import math
from pathlib import Path

import pandas as pd

from analysis import ard
from analysis.atomic import atomic_write_bytes
from analysis.design.performance import ALPHA, performance_ard
from analysis.design.replicate import COMPARISONS, ENDPOINT, PRIMARY_COMPARISON
from analysis.design.runner import records_bytes
from analysis.design.scenarios import Scenario

FILES = {"ard": "design_ard.csv", "replicates": "design_replicates.csv", "table": "design_table.csv",
         "figure": "design.svg", "page": "index.html"}
LABEL = {"naive": "Naive Cox", "weighted": "ATT-weighted Cox", "common_time_0": "Common time zero (primary)",
         "landmark": "Landmark Cox", "per_protocol": "Per-protocol Cox", "rmst": "RMST difference (days)"}


def _cell(value: float, mcse: float, digits: int) -> str:
    if not math.isfinite(value):
        return "NE"
    return f"{value:.{digits}f} ({mcse:.{digits}f})" if math.isfinite(mcse) else f"{value:.{digits}f}"


def table(design_ard: pd.DataFrame, scenarios: list[Scenario]) -> pd.DataFrame:
    """One row per scenario x comparison: each measure as 'estimate (Monte Carlo SE)'."""
    wide = design_ard.pivot_table(index=["group1_level", "variable"], columns="stat_name", values="stat",
                                  aggfunc="first", dropna=False)
    rows = []
    for s in scenarios:
        for c in COMPARISONS:
            if (s.name, c) not in wide.index:
                continue
            m = wide.loc[(s.name, c)]
            rows.append({
                "scenario": s.name, "comparison": LABEL[c], "n_sim": int(m["n_sim"]), "failed": int(m["n_failed"]),
                "truth (MCSE)": "unknown" if not math.isfinite(m["truth"]) else _cell(m["truth"], m["truth_mcse"], 3),
                "mean": _cell(m["mean"], math.nan, 3), "bias (MCSE)": _cell(m["bias"], m["bias_mcse"], 3),
                "empSE (MCSE)": _cell(m["empse"], m["empse_mcse"], 3),
                "coverage (MCSE)": _cell(m["coverage"], m["coverage_mcse"], 3),
                "rejection rate (MCSE)": _cell(m["rejection"], m["rejection_mcse"], 3),
                "rejection is": "type I error" if s.truth_known else "power",
            })
    return pd.DataFrame(rows)


def figure_svg(design_ard: pd.DataFrame, scenarios: list[Scenario]) -> bytes:
    """Bias (+- 1.96 MCSE) and coverage of the log-HR comparisons in the scenarios whose truth is
    known, and the rejection rate of every comparison in every scenario."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    matplotlib.rcParams["svg.hashsalt"] = "design"   # stable element ids: same figure, same bytes
    wide = design_ard.pivot_table(index=["group1_level", "variable"], columns="stat_name", values="stat", aggfunc="first",
                                  dropna=False)
    fig, axes = plt.subplots(1, 3, figsize=(13, 0.5 * len(COMPARISONS) + 2.5), sharey=True)
    ypos = {c: k for k, c in enumerate(COMPARISONS)}
    names = [s.name for s in scenarios]
    for j, s in enumerate(scenarios):
        offset = (j - (len(names) - 1) / 2) * 0.8 / max(len(names), 1)
        for c in COMPARISONS:
            if (s.name, c) not in wide.index:
                continue
            m = wide.loc[(s.name, c)]
            y = ypos[c] + offset
            if math.isfinite(m["truth"]) and c != "rmst":
                axes[0].errorbar(m["bias"], y, xerr=1.96 * m["bias_mcse"], fmt="o", color=f"C{j}", ms=4)
                axes[1].errorbar(m["coverage"], y, xerr=1.96 * m["coverage_mcse"], fmt="o", color=f"C{j}", ms=4)
            axes[2].errorbar(m["rejection"], y, xerr=1.96 * m["rejection_mcse"], fmt="o", color=f"C{j}", ms=4,
                             label=s.name if c == COMPARISONS[0] else None)
    axes[0].axvline(0, color="grey", lw=0.8)
    axes[1].axvline(1 - ALPHA, color="grey", lw=0.8)
    axes[2].axvline(ALPHA, color="grey", lw=0.8, ls="--")
    axes[0].set_yticks(range(len(COMPARISONS)), [LABEL[c] for c in COMPARISONS])
    axes[0].invert_yaxis()
    # short labels: the three panels sit side by side (longer ones overlapped); the condition is in the title
    axes[0].set_xlabel("bias of the log HR")
    axes[1].set_xlabel("coverage of the 95% CI")
    axes[2].set_xlabel(f"rejection rate at alpha = {ALPHA:g} (dashed)")
    fig.legend(loc="lower center", ncol=min(len(names), 5), fontsize=7, frameon=False)
    fig.suptitle("Operating characteristics of the external comparison (LFS); bars: +-1.96 Monte Carlo SE; "
                 "bias and coverage where the truth was computed", fontsize=10)
    fig.tight_layout(rect=(0, 0.04 + 0.03 * math.ceil(len(names) / 5), 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()


def page(frame: pd.DataFrame, svg: bytes, scenarios: list[Scenario], settings: dict) -> bytes:
    spec = pd.DataFrame([s.as_dict() for s in scenarios])
    text = "\n".join([
        "<!doctype html><html><head><meta charset='utf-8'><title>Operating characteristics</title>",
        ("<style>body{font-family:sans-serif;max-width:80em;margin:2em auto}table{border-collapse:collapse;"
        "font-size:0.85em}td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>"),
        "<h1>Operating characteristics of the external comparison by simulation</h1>",
        (f"<p>Endpoint {ENDPOINT}; primary comparison: {html.escape(LABEL[PRIMARY_COMPARISON])} (SAP 6.7). "
        "Each cell: estimate (Monte Carlo SE; Morris, White &amp; Crowther 2019). NE: not estimable. "
        "True values: the primary estimand (ATT, LFS from treatment start on the common clock) computed by a large "
        "counterfactual simulation of the trial population under both strategies with the analysed follow-up "
        "(analysis.simulate.truth, SAP 9.2), with its own Monte Carlo SE; every comparison is measured against it. "
        "Without a computed truth a value is 'unknown' and only power and empirical SE are given.</p>"),
        "<p>" + "; ".join(f"{html.escape(str(k))}: {html.escape(str(v))}" for k, v in settings.items()) + "</p>",
        frame.to_html(index=False, escape=True), svg.decode("utf-8").split("?>", 1)[-1],
        "<h2>Scenarios</h2>", spec.to_html(index=False, escape=True), "</body></html>\n"])
    return text.encode("utf-8")


def write_outputs(out: Path, records: pd.DataFrame, scenarios: list[Scenario], settings: dict,
                  truths: dict | None = None, truth_mcse: dict | None = None) -> dict:
    """``truths`` / ``truth_mcse``: scenario -> {estimand: value} (analysis.simulate.truth via the
    command line); a scenario without one has an unknown truth (NaN: no bias or coverage)."""
    truths = {s.name: (truths or {}).get(s.name, math.nan) for s in scenarios}
    truth_mcse = {s.name: (truth_mcse or {}).get(s.name, math.nan) for s in scenarios}
    design_ard = performance_ard(records, truths, ENDPOINT, truth_mcse)
    frame = table(design_ard, scenarios)
    svg = figure_svg(design_ard, scenarios)
    content = {"ard": ard.to_csv_bytes(design_ard), "replicates": records_bytes(records),
               "table": frame.to_csv(index=False, lineterminator="\n").encode("utf-8"), "figure": svg,
               "page": page(frame, svg, scenarios, settings)}
    for key, data in content.items():
        atomic_write_bytes(out / FILES[key], data)
    return {"ard": design_ard, "table": frame, "files": [out / FILES[k] for k in content]}


def summary_lines(design_ard: pd.DataFrame) -> list[str]:
    """Printed at the end of a run: bias, coverage and rejection rate per scenario x comparison."""
    wide = design_ard.pivot_table(index=["group1_level", "variable"], columns="stat_name", values="stat", aggfunc="first",
                                  sort=False, dropna=False)
    lines = [f"{'scenario':28s} {'comparison':14s} {'bias (MCSE)':>16s} {'coverage (MCSE)':>16s} {'rejection (MCSE)':>17s}"]
    for (scenario, comparison), m in wide.iterrows():
        lines.append(f"{scenario:28s} {comparison:14s} {_cell(m['bias'], m['bias_mcse'], 3):>16s} "
                     f"{_cell(m['coverage'], m['coverage_mcse'], 3):>16s} {_cell(m['rejection'], m['rejection_mcse'], 3):>17s}")
    return lines
