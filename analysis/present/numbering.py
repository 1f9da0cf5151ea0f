"""The numbering registry of the report's tables, figures and listings (ICH E3 section 14/16 style).

One entry per output: its number, population and the program (notebook) that makes it. The
number is put into the title of the :class:`~analysis.present.table.Table` itself, so the HTML
report and the RTF file carry the same "Table 14.3.1.2" (one source, two renderings), and the
footer names the program, the data cut and the commit. ``docs/reviewers-guide.md`` lists the
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
    program: str      # the notebook that makes it

    @property
    def label(self) -> str:
        return f"{self.kind} {self.number}"


_P = "analysis/notebooks/"
OUTPUTS = (
    Output("disposition", "Table", "14.1.1", "Enrolled trial subjects", _P + "02-population.qmd"),
    Output("consort", "Figure", "14.1.1", "Enrolled trial subjects", _P + "02-population.qmd"),
    Output("table1", "Table", "14.1.2", "All subjects (trial enrolled, external controls)", _P + "02-population.qmd"),
    Output("exposure", "Table", "14.1.3", "Safety population (received CAR-T1)", _P + "05-safety.qmd"),
    Output("adherence", "Table", "14.1.4", "Safety population, subjects reaching each step", _P + "05-safety.qmd"),
    Output("followup", "Table", "14.1.5", "Safety population", _P + "05-safety.qmd"),
    Output("ae_overview", "Table", "14.3.1.1", "Safety population", _P + "05-safety.qmd"),
    Output("ae_soc_pt_worst_grade", "Table", "14.3.1.2", "Safety population", _P + "05-safety.qmd"),
    Output("ae_grade3", "Table", "14.3.1.3", "Safety population", _P + "05-safety.qmd"),
    Output("sae_soc_pt", "Table", "14.3.1.4", "Safety population", _P + "05-safety.qmd"),
    Output("ae_period", "Table", "14.3.1.5", "Subjects who entered each period", _P + "05-safety.qmd"),
    Output("crs_icans_grade", "Table", "14.3.1.6", "Subjects who received each infusion", _P + "05-safety.qmd"),
    Output("crs_icans_timing", "Table", "14.3.1.7", "CRS / ICANS episodes, safety population", _P + "05-safety.qmd"),
    Output("deaths", "Table", "14.3.2.1", "Safety population; transplanted for post-HSCT windows", _P + "05-safety.qmd"),
    Output("sae_listing", "Listing", "16.2.7.1", "Safety population, serious TEAEs", _P + "05-safety.qmd"),
    Output("death_listing", "Listing", "16.2.7.2", "Safety population, deaths", _P + "05-safety.qmd"),
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
    """The source line of an output: program, data cut and commit."""
    return f"Program: {output(key).program}; data cut: {cut}; commit: {commit_id()}."


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
