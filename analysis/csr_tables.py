"""The key tables and listings of the clinical study report, built once from the ARD (and, for
the listings, the derived datasets) -- the ``rtf`` step writes them as RTF, the report's notebooks
show the very same Table objects (``show(key, inputs)``): one source, two renderings.

The ``rtf`` step (``python -m analysis rtf``) writes ``reports/<cut>/tables/<key>.rtf`` (and the
HTML fragment ``<key>.html``, as before) for every builder below and ``tables/index.md`` (a link to each under its number and population, in number order:
analysis/present/numbering.py); the render step puts that section on the report's index page.
It runs after analyze and does not depend on rendering: changing an RTF layout re-runs this step
only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from analysis import conventions as C
from analysis import paths
from analysis.analyze import sap
from analysis.atomic import atomic_dir
from analysis.present import figures as FG
from analysis.present import figures_external as FX
from analysis.present import maturity as M
from analysis.present import numbering as NB
from analysis.present import safety_tables as ST
from analysis.present.layouts import format_ae_table, format_rates, format_table1
from analysis.present.table import Table, write_outputs

TABLES_DIR = "tables"          # reports/<cut>/tables/
INDEX_FILE = "index.md"        # tables/index.md: the section render puts on the report's index page
INPUT_DATASETS = ("adsl", "adae")

# --- wording shared with the notebooks that show these tables -----------------------------------------
ENDPOINTS = {"OS": "Overall survival", "LFS": "Leukemia-free survival"}
ORIGIN_NOTE = ("Time origin: trial cohort, CAR-T1 (OS) and the first remission documented after CAR-T1 (LFS); "
               "external controls, the allo-HSCT (both endpoints).")
THRESHOLD_TEXT = {m: f"{t:.0e}".replace("e-0", "e-") for m, t in C.MRD_THRESHOLD.items()}
MRD_METHOD_NAMES = {"FC": "Flow cytometry (FC)", "NGS": "IgH next-generation sequencing (NGS)"}
MRD_RATE_LABELS = {f"MRD-{m}": f"{MRD_METHOD_NAMES[m]}, negative < {THRESHOLD_TEXT[m]}" for m in C.MRD_THRESHOLD}
MRD_POPULATION = "Safety population of the trial cohort (received CAR-T1)"


def load_inputs(cut: str | None, root=None) -> FX.SectionInputs:
    """The cut's ARD, ard_methods.csv and the datasets the listings read."""
    return FX.load_section_inputs(cut, root, datasets=INPUT_DATASETS)


def synthetic_subtitle(inputs) -> str:
    return f"Data cut {inputs.cut} (SYNTHETIC data)"


def method_of(inputs, analysis: str, default: str = "") -> str:
    """The method text of ``analysis`` (reports/<cut>/ard_methods.csv)."""
    return methods_dict(inputs).get(analysis, default)


def method_lines(inputs, *analyses: str) -> list[str]:
    """Footnote lines "Method: ..." of each analysis listed in ard_methods.csv."""
    methods = methods_dict(inputs)
    return [f"Method: {methods[a]}." for a in analyses if a in methods]


def methods_dict(inputs) -> dict[str, str]:
    return dict(zip(inputs.methods["analysis"], inputs.methods["method"], strict=True))


def _safety(inputs, table: Table, key: str) -> Table:
    """A section 14.3 table: numbered, with the cut."""
    return NB.number(table, key, inputs.cut, [f"Data cut {inputs.cut}."])


def ae_tidy(inputs, analysis: str = "ae"):
    """AE rows of the ARD for format_ae_table, with the cohort label instead of its code."""
    ard = inputs.ard
    rows = ard[ard["analysis"].isin([analysis, "ae_overview"])].copy()
    rows.loc[rows["analysis"] == analysis, "analysis"] = "ae"
    tidy = FX.ae_tidy_from_ard(rows)
    return tidy.assign(group=tidy["group"].map(FX.cohort_label))


# --- section 14.1: population ---------------------------------------------------------------------------

def disposition(inputs) -> Table:
    return NB.number(ST.disposition_table(inputs.ard, method_of(inputs, "disposition")), "disposition",
                     inputs.cut, [synthetic_subtitle(inputs)])


def table1(inputs) -> Table:
    labels = FG.COHORT_LABELS
    frame = FG.table1_frame(inputs.ard, sap.TABLE1_VARIABLES, sap.TABLE1_NONNORMAL, labels)
    table = format_table1(frame, groups=[labels[C.COHORT_TRIAL], labels[C.COHORT_EXTERNAL], "Total"],
                          raw_decimals={"WBCDIAG": 1},
                          title="Demographic and baseline characteristics by cohort",
                          subtitles=["All subjects: trial cohort (enrolled) and external allo-HSCT controls",
                                     synthetic_subtitle(inputs)],
                          footnotes=[f"Method: {method_of(inputs, 'table1')}.",
                                     "WBC at diagnosis is summarised by median (Q1, Q3) first (skewed distribution)."])
    return NB.number(table, "table1", inputs.cut)


# --- efficacy and MRD ----------------------------------------------------------------------------------

def survival(paramcd: str) -> Callable:
    def build(inputs) -> Table:
        """Rates with numbers at risk, follow-up, RMST; unreliable rates shown as such (SAP 3.5)."""
        return M.efficacy_table(inputs.ard, paramcd, ENDPOINTS[paramcd], ORIGIN_NOTE,
                                subtitles=[f"ADTTE PARAMCD = {paramcd}", synthetic_subtitle(inputs)],
                                methods=methods_dict(inputs))
    return build


def mrd_rates(inputs) -> Table:
    frame = FG.mrd_rate_frame(inputs.ard, MRD_RATE_LABELS).assign(group=FG.COHORT_LABELS[C.COHORT_TRIAL])
    return format_rates(frame, by="group", label="label", title="MRD-negative rate after CAR-T1, by method",
                        subtitles=[MRD_POPULATION, synthetic_subtitle(inputs)],
                        footnotes=[f"Method: {method_of(inputs, 'mrd_rate')}.",
                                   "A subject is MRD-negative by a method when at least one evaluable sample after "
                                   "CAR-T1 is negative (best status, SAP 4.3)."])


def mrd_conversion(inputs) -> Table:
    return M.mrd_rates_table(inputs.ard, subtitles=[MRD_POPULATION, synthetic_subtitle(inputs)],
                             methods=methods_dict(inputs))


# --- section 14.3: safety ------------------------------------------------------------------------------

def _ard_table(key: str, make: Callable, analysis: str) -> Callable:
    """A safety table drawn from the ARD with its one method line."""
    return lambda inputs: _safety(inputs, make(inputs.ard, method_of(inputs, analysis)), key)


def ae_overview(inputs) -> Table:
    return _safety(inputs, ST.overview_table(inputs.ard, method_lines(inputs, "ae_overview")), "ae_overview")


def ae_soc_pt_worst_grade(inputs) -> Table:
    table = format_ae_table(ae_tidy(inputs), grades=("any", "1", "2", "3", "4", "5"), show_events=False,
                            title="Treatment-emergent adverse events by system organ class, preferred term and "
                                  "worst grade",
                            subtitles=["Safety population"], footnotes=method_lines(inputs, "ae"))
    return _safety(inputs, table, "ae_soc_pt_worst_grade")


def ae_grade3(inputs) -> Table:
    table = format_ae_table(ae_tidy(inputs), grades=(">=3",), show_events=True,
                            title="Treatment-emergent adverse events of CTCAE grade 3 or higher",
                            subtitles=["Safety population"], footnotes=method_lines(inputs, "ae"))
    return _safety(inputs, table, "ae_grade3")


def sae_soc_pt(inputs) -> Table:
    table = format_ae_table(ae_tidy(inputs, "sae"), grades=("any",), show_events=True,
                            title="Serious treatment-emergent adverse events by system organ class and preferred term",
                            subtitles=["Safety population"], footnotes=method_lines(inputs, "sae"))
    return _safety(inputs, table, "sae_soc_pt")


def crs_icans_timing(inputs) -> Table:
    return _safety(inputs, FX.timing_table(inputs.ard, method=method_of(inputs, "crs_icans_timing", None)),
                   "crs_icans_timing")


def sae_listing(inputs) -> Table:
    listing = FX.serious_ae_listing(inputs.derived["adae"])
    listing["Phase"] = listing["Phase"].map(ST.PERIOD_LABELS).fillna(listing["Phase"])   # labels, not codes
    table = FX.listing_table(listing.rename(columns={"Phase": "Period"}),
                             title="Serious treatment-emergent adverse events",
                             footnotes=["Onset and end day: study day from CAR-T1 (day 1 = CAR-T1). Outcome from "
                                        "the end date; 'fatal' for grade 5. Period: the period at onset (SAP 5.2)."])
    return _safety(inputs, table, "sae_listing")


def death_listing(inputs) -> Table:
    adae = inputs.derived["adae"]
    deaths = FX.death_listing(inputs.derived["adsl"])
    fatal_terms = adae[adae["ATOXGR"].astype(float) == 5].groupby("USUBJID")["AEDECOD"].agg("; ".join)
    deaths["Grade 5 AE"] = deaths["Subject"].map(fatal_terms).fillna("none recorded")
    table = FX.listing_table(deaths, title="Deaths, sandwich cohort",
                             footnotes=["Day of death: study day from CAR-T1 (day 1 = CAR-T1).",
                                        "Relapse before death: a relapse date on or before the death date. Last "
                                        "step: the latest step of the sandwich the subject received. Grade 5 AE: the "
                                        "CTCAE grade 5 term(s) of the subject in ADAE."])
    return _safety(inputs, table, "death_listing")


# key (tables/<key>.rtf, numbering registry key) -> builder(inputs) -> Table
BUILDERS: dict[str, Callable] = {
    "disposition": disposition,
    "table1": table1,
    "survival_os": survival("OS"),
    "survival_lfs": survival("LFS"),
    "mrd_rates": mrd_rates,
    "mrd_conversion": mrd_conversion,
    "exposure": _ard_table("exposure", ST.exposure_table, "exposure"),
    "adherence": _ard_table("adherence", ST.adherence_table, "adherence"),
    "followup": _ard_table("followup", ST.followup_table, "followup_observed"),
    "ae_overview": ae_overview,
    "ae_soc_pt_worst_grade": ae_soc_pt_worst_grade,
    "ae_grade3": ae_grade3,
    "sae_soc_pt": sae_soc_pt,
    "ae_period": _ard_table("ae_period", ST.ae_period_table, "ae_by"),
    "crs_icans_grade": _ard_table("crs_icans_grade", ST.crs_icans_table, "crs_icans_grade"),
    "crs_icans_timing": crs_icans_timing,
    "deaths": _ard_table("deaths", ST.death_table, "deaths"),
    "sae_listing": sae_listing,
    "death_listing": death_listing,
}


def show(key: str, inputs) -> Table:
    """The table ``key`` as the rtf step writes it (for a notebook to display)."""
    return BUILDERS[key](inputs)


def rtf_cut(cut: str, root: Path | None = None) -> Path:
    """The rtf step: every table of BUILDERS as reports/<cut>/tables/<key>.rtf (and its HTML
    fragment <key>.html), plus index.md (the folder is replaced whole or not at all). Returns it."""
    inputs = load_inputs(cut, root)
    target = paths.report_dir(cut, root) / TABLES_DIR
    with atomic_dir(target) as scratch:
        for key, build in BUILDERS.items():
            write_outputs(build(inputs), scratch, key)   # <key>.rtf for the CSR, <key>.html fragment
        (scratch / INDEX_FILE).write_text(NB.rtf_index_markdown(BUILDERS, TABLES_DIR), encoding="utf-8")
    return target
