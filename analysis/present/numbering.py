"""The numbering registry of the report's tables, figures and listings (ICH E3 section 14/16 style).

One entry per output: its number, population and the notebook that shows it (``program``); a
table or listing is made by its builder in analysis/present/csr/ (``Output.maker``), which the
``rtf`` step writes as RTF and the notebook shows as HTML. The number is put into the title of the
:class:`~analysis.present.table.Table` itself, so the HTML report and the RTF file carry the same
"Table 14.3.1.2" (one source, two renderings), and the footer names the program, the data cut and
the commit. ``docs/reviewers-guide.md`` lists the
same entries (a test keeps the two in agreement).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

COMMIT_ENV = "SAP_REPORT_COMMIT"   # the render step may set it; otherwise read from git


@dataclass(frozen=True)
class Output:
    key: str          # export name (tables/<key>.rtf) or figure label
    kind: str         # Table, Figure or Listing
    number: str       # e.g. 14.3.1.2
    population: str
    program: str      # the notebook that shows it (and draws it, for a figure)
    chunk: str = ""   # the Quarto label of the cell that shows it (tbl-... / fig-...)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.number}"

    @property
    def maker(self) -> str:
        """The program that makes the output: for a table or listing the builder module of the
        ``rtf`` step (analysis/present/csr/, whose Table the notebook shows too); a figure is drawn
        by its notebook."""
        if self.kind == "Figure":
            return self.program
        return f"analysis/present/csr/{_CSR_MODULE[self.program]}.py"


_P = "analysis/notebooks/"
_OV, _POP, _EFF, _MRD = _P + "01-overview.qmd", _P + "02-population.qmd", _P + "03-efficacy.qmd", _P + "04-mrd.qmd"
_SAF, _EXT, _SENS = _P + "05-safety.qmd", _P + "06-external-control.qmd", _P + "07-external-sensitivity.qmd"
# The analysis/present/csr/ module that builds the tables each notebook shows (one per section).
_CSR_MODULE = {_OV: "overview", _POP: "population", _EFF: "efficacy", _MRD: "mrd", _SAF: "safety",
               _EXT: "external", _SENS: "sensitivity"}
_ALL = "All subjects (trial enrolled, external controls)"
_TREATED = "Trial subjects who received CAR-T1; external controls"
_MRD_POP = "Safety population of the trial cohort (received CAR-T1)"
_TTE = "Trial subjects who received CAR-T1; external controls (ATT weights)"
_OS_POP = "OS population: trial from CAR-T1, controls from allo-HSCT"
_LFS_POP = "LFS population: trial from remission after CAR-T1, controls from allo-HSCT"
_MRD_NEG_POP = "Trial subjects with a negative MRD sample after CAR-T1"
# Numbering: 9.x study design; 14.1 population; 14.2.1 survival, 14.2.2 MRD, 14.2.3 external
# comparison, 14.2.4 estimand and sensitivity analyses; 14.3 safety; 16.1 provenance appendices;
# 16.2 listings. ``chunk`` is the Quarto label of the cell that shows the output (one per output).
OUTPUTS = (
    Output("design", "Figure", "9.1.1", "Study design (registry record)", _OV, "fig-design"),
    Output("disposition", "Table", "14.1.1", "Enrolled trial subjects", _POP, "tbl-disposition"),
    Output("consort", "Figure", "14.1.1", "Enrolled trial subjects", _POP, "fig-consort"),
    Output("table1", "Table", "14.1.2", _ALL, _POP, "tbl-table1"),
    Output("exposure", "Table", "14.1.3", "Safety population (received CAR-T1)", _SAF, "tbl-exposure"),
    Output("adherence", "Table", "14.1.4", "Safety population, subjects reaching each step", _SAF, "tbl-adherence"),
    Output("followup", "Table", "14.1.5", "Safety population", _SAF, "tbl-followup"),
    Output("survival_os", "Table", "14.2.1.1", _OS_POP, _EFF, "tbl-os"),
    Output("km_os", "Figure", "14.2.1.1", _OS_POP, _EFF, "fig-os-km"),
    Output("survival_lfs", "Table", "14.2.1.2", _LFS_POP, _EFF, "tbl-lfs"),
    Output("km_lfs", "Figure", "14.2.1.2", _LFS_POP, _EFF, "fig-lfs-km"),
    Output("swimmer", "Figure", "14.2.1.3", "Safety population (received CAR-T1)", _EFF, "fig-swimmer"),
    Output("mrd_rates", "Table", "14.2.2.1", _MRD_POP, _MRD, "tbl-mrd-rate"),
    Output("mrd_best", "Table", "14.2.2.2", _MRD_POP, _MRD, "tbl-mrd-best"),
    Output("mrd_conversion", "Table", "14.2.2.3", _MRD_POP, _MRD, "tbl-mrd-conversion"),
    Output("mrd_agreement", "Table", "14.2.2.4", "Paired FC and NGS samples of the same date, both evaluable, before relapse", _MRD, "tbl-mrd-agreement"),
    Output("mrd_course", "Figure", "14.2.2.1", _MRD_POP, _MRD, "fig-mrd-course"),
    Output("mrd_duration_km", "Figure", "14.2.2.2", _MRD_NEG_POP, _MRD, "fig-mrd-duration"),
    Output("mrd_duration", "Table", "14.2.2.5", _MRD_NEG_POP, _MRD, "tbl-mrd-duration"),
    Output("ext_km_os", "Figure", "14.2.3.1", _TREATED, _EXT, "fig-ext-os-km"),
    Output("ext_km_lfs", "Figure", "14.2.3.2", _TREATED, _EXT, "fig-ext-lfs-km"),
    Output("ext_summary", "Table", "14.2.3.1", _TREATED, _EXT, "tbl-ext-summary"),
    Output("target_trial", "Table", "14.2.4.1", "Protocol of the target trial and its emulation", _SENS, "tbl-target-trial"),
    Output("intercurrent", "Table", "14.2.4.2", "Intercurrent events of the estimand", _SENS, "tbl-intercurrent"),
    Output("tte_primary", "Table", "14.2.4.3", _TTE, _SENS, "tbl-primary"),
    Output("cif_stacked", "Figure", "14.2.4.1", _LFS_POP, _SENS, "fig-cr-stacked"),
    Output("competing_risks", "Table", "14.2.4.4", _LFS_POP, _SENS, "tbl-cr"),
    Output("ps_balance", "Table", "14.2.4.5", _TTE, _SENS, "tbl-balance"),
    Output("love", "Figure", "14.2.4.2", _TTE, _SENS, "fig-love"),
    Output("ps_weights", "Table", "14.2.4.6", _TTE, _SENS, "tbl-weights"),
    Output("weights_hist", "Figure", "14.2.4.3", _TTE, _SENS, "fig-weights"),
    Output("iptw_km", "Figure", "14.2.4.4", _TTE, _SENS, "fig-iptw-km"),
    Output("iptw", "Table", "14.2.4.7", _TTE, _SENS, "tbl-iptw"),
    Output("delayed_entry", "Table", "14.2.4.8", _TREATED, _SENS, "tbl-delayed"),
    Output("landmark", "Table", "14.2.4.9", "Subjects alive and relapse-free at the landmark", _SENS, "tbl-landmark"),
    Output("per_protocol", "Table", "14.2.4.10", "Trial completers (CAR-T2); external controls", _SENS, "tbl-pp"),
    Output("forest_2y", "Figure", "14.2.4.5", _TREATED, _SENS, "fig-forest"),
    Output("forest_rmst", "Figure", "14.2.4.6", _TREATED, _SENS, "fig-forest-rmst"),
    Output("bias", "Table", "14.2.4.11", "Analyses of the external comparison", _SENS, "tbl-bias"),
    Output("ae_overview", "Table", "14.3.1.1", "Safety population", _SAF, "tbl-ae-overview"),
    Output("ae_soc_pt_worst_grade", "Table", "14.3.1.2", "Safety population", _SAF, "tbl-ae-soc-grade"),
    Output("ae_grade3", "Table", "14.3.1.3", "Safety population", _SAF, "tbl-ae-grade3"),
    Output("sae_soc_pt", "Table", "14.3.1.4", "Safety population", _SAF, "tbl-sae"),
    Output("ae_period", "Table", "14.3.1.5", "Subjects who entered each period", _SAF, "tbl-ae-phase"),
    Output("crs_icans_grade", "Table", "14.3.1.6", "Subjects who received each infusion", _SAF, "tbl-crs-icans-grade"),
    Output("crs_icans_timing", "Table", "14.3.1.7", "CRS / ICANS episodes, safety population", _SAF, "tbl-crs-icans-timing"),
    Output("deaths", "Table", "14.3.2.1", "Safety population; transplanted for post-HSCT windows", _SAF, "tbl-deaths"),
    Output("raw_files", "Table", "16.1.13.1", "Raw export files of the data cut", _OV, "tbl-raw-checksums"),
    Output("derived_files", "Table", "16.1.13.2", "Derived datasets of the data cut", _OV, "tbl-derived-checksums"),
    Output("ard_files", "Table", "16.1.13.3", "Analysis results dataset of the data cut", _OV, "tbl-ard-checksums"),
    Output("software", "Table", "16.1.13.4", "Software environment of the report", _OV, "tbl-software"),
    Output("sae_listing", "Listing", "16.2.7.1", "Safety population, serious TEAEs", _SAF, "tbl-sae-listing"),
    Output("death_listing", "Listing", "16.2.7.2", "Safety population, deaths", _SAF, "tbl-death-listing"),
)
BY_KEY = {o.key: o for o in OUTPUTS}


def output(key: str) -> Output:
    if key not in BY_KEY:
        raise KeyError(f"output {key!r} is not in the numbering registry (analysis/present/numbering.py)")
    return BY_KEY[key]


def numbered_title(key: str, title: str) -> str:
    """``"Table 14.3.1.4: <title>"``."""
    return f"{output(key).label}: {title}"


def commit_id(root: Path | None = None) -> str:
    """Short commit of the code that made the output (``SAP_REPORT_COMMIT`` or git), "unknown" outside git."""
    if os.environ.get(COMMIT_ENV):
        return os.environ[COMMIT_ENV]
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                             cwd=root or Path(__file__).resolve().parents[2], timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def footer(key: str, cut: str) -> str:
    """The source line of an output: the program that makes it (and the notebook that shows it),
    data cut and commit."""
    entry = output(key)
    shown = "" if entry.maker == entry.program else f", shown in {entry.program}"
    return f"Program: {entry.maker}{shown}; data cut: {cut}; commit: {commit_id()}."


def number(table, key: str, cut: str, subtitles=()):
    """``table`` with its number in the title, its population as first subtitle (when not already
    stated), extra ``subtitles`` after its own, and the program / cut / commit footer as its source line."""
    entry = output(key)
    subtitles = [*table.subtitles, *subtitles]
    if not any(entry.population.lower() in s.lower() for s in subtitles):
        subtitles = [entry.population, *subtitles]
    return replace(table, title=numbered_title(key, table.title), subtitles=subtitles,
                   source=footer(key, cut))


def rtf_index_markdown(names, folder: str = "tables") -> str:
    """Markdown section of the report index: every RTF table (``names`` = file stems) as a link,
    under its number when registered, in number order."""
    def order(name):
        entry = BY_KEY.get(name)
        return (0, [int(x) for x in entry.number.split(".")], entry.kind) if entry else (1, [], name)
    rows = []
    for name in sorted(names, key=order):
        entry = BY_KEY.get(name)
        label = f"{entry.label}" if entry else "(not numbered)"
        population = entry.population if entry else ""
        rows.append(f"| {label} | [{name}.rtf]({folder}/{name}.rtf) | {population} |")
    return ("## Tables and listings as RTF\n\n| number | file | population |\n|---|---|---|\n"
            + "\n".join(rows) + "\n")


def checklist_markdown() -> str:
    """The reviewer's checklist of docs/reviewers-guide.md (section 2), generated from the registry:
    number, RTF file, population, the program that makes it, the notebook that shows it."""
    rows = ["| number | file | population | made by | shown in | checked |", "|---|---|---|---|---|---|"]
    for o in OUTPUTS:
        file = "(figure in the report)" if o.kind == "Figure" else f"`{o.key}.rtf`"
        rows.append(f"| {o.label} | {file} | {o.population} | `{o.maker}` | `{o.program}` | [ ] |")
    return "\n".join(rows) + "\n"


def outputs_of(program: str) -> list[Output]:
    """The registered outputs of one notebook, in registry order."""
    return [o for o in OUTPUTS if o.program == program]
