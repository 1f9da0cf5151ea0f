"""The ``rtf`` step (``python -m analysis rtf``): every numbered table and listing of the report as
``reports/<cut>/tables/<key>.rtf`` for the clinical study report, built from the ARD (listings:
the derived datasets) by analysis.present.csr -- the same Table objects the notebooks show as
HTML, so numbers, titles, footnotes and values agree by construction. Each page carries the
analysis status of the cut (interim / final, SAP 3.7) in its page header. The folder is replaced
whole or not at all; the render step links every file from the report index."""

from __future__ import annotations

from pathlib import Path

from analysis import conventions as C
from analysis import paths
from analysis.atomic import atomic_dir
from analysis.present.csr.context import load_inputs
from analysis.present.csr.registry import BUILDERS, show
from analysis.present.table import write_outputs

TABLES_DIR = "tables"   # reports/<cut>/tables/


def status_header(cut: str) -> str:
    """The page-header line of every RTF page: interim / final status of the cut (SAP 3.7,
    conventions.CUT_STATUS; never guessed from the date) and the synthetic-data warning."""
    status = C.cut_status(cut)
    word = "Analysis status undeclared" if status == "undeclared" else f"{status.capitalize()} analysis"
    return f"{word}, data cut {cut} (SYNTHETIC data)"


def rtf_cut(cut: str, root: Path | None = None) -> Path:
    """Write reports/<cut>/tables/<key>.rtf (and the same table's HTML fragment <key>.html) for
    every key of BUILDERS; returns the folder."""
    inputs = load_inputs(cut, root)
    target = paths.report_dir(inputs.cut, root) / TABLES_DIR
    header = status_header(inputs.cut)
    with atomic_dir(target) as scratch:
        for key in BUILDERS:
            write_outputs(show(key, inputs), scratch, key, page_header=header)
    return target
