"""What every table builder reads: the section inputs of one cut (ARD, ard_methods.csv, the
derived datasets the listings need) and the wording shared by the sections (cut lines, method
footnotes)."""

from __future__ import annotations

from dataclasses import replace

from analysis.present import ard_views as AV
from analysis.present import comparison_tables as CT
from analysis.present.table import Table

# Every dataset a table or listing of the report reads (the rtf step loads them once).
DATASETS = ("adsl", "adtte", "admrd", "adae")


def load_inputs(cut: str | None, root=None, datasets=DATASETS) -> AV.SectionInputs:
    """The cut's ARD, ard_methods.csv and derived datasets (the one loader, analysis.present.ard_views)."""
    return AV.load_section_inputs(cut, root, datasets=datasets)


def synthetic_line(inputs) -> str:
    """Subtitle of the population, efficacy and MRD tables."""
    return f"Data cut {inputs.cut} (SYNTHETIC data)"


def cut_line(inputs) -> str:
    """Subtitle of the safety and external-comparison tables."""
    return f"Data cut {inputs.cut}."


def method_of(inputs, analysis: str, default=""):
    """The method text of ``analysis`` (reports/<cut>/ard_methods.csv)."""
    return methods_dict(inputs).get(analysis, default)


def methods_dict(inputs) -> dict[str, str]:
    return dict(zip(inputs.methods["analysis"], inputs.methods["method"], strict=True))


def method_lines(inputs, *analyses: str) -> list[str]:
    """Footnote lines "Method: ..." of each analysis listed in ard_methods.csv."""
    methods = methods_dict(inputs)
    return [f"Method: {methods[a]}." for a in analyses if a in methods]


def named_method_lines(inputs, *analyses: str) -> list[str]:
    """Footnote lines "<display name>: method" (external comparison, analysis.present.labels)."""
    return CT.methods_lookup(inputs.methods, *analyses)


def with_subtitles(table: Table, *lines: str) -> Table:
    """``table`` with ``lines`` added under its own subtitles."""
    return replace(table, subtitles=[*table.subtitles, *lines])
