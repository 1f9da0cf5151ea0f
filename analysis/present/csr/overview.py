"""Section 16.1.13 (shown by analysis/notebooks/01-overview.qmd): provenance of the data cut --
checksums of the raw export, the derived datasets and the ARD, and the software versions."""

from __future__ import annotations

import pandas as pd

from analysis import paths
from analysis import provenance as PV
from analysis.present.table import Table


def _plain(title: str, frame: pd.DataFrame, footnotes=(), subtitles=()) -> Table:
    """A display table whose headers are the frame's columns."""
    return Table(title=title, frame=frame, headers=list(frame.columns), footnotes=list(footnotes),
                 subtitles=list(subtitles))


def raw_files(inputs) -> Table:
    raw, source = PV.raw_checksums(inputs.cut, inputs.root)
    return _plain("Raw input files of the data cut", raw, subtitles=[f"data/raw/{inputs.cut}/"],
                  footnotes=[f"SHA-256 from the {source}."])


def derived_files(inputs) -> Table:
    folder = paths.derived_dir(inputs.cut, inputs.root)
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    return _plain("Derived datasets (ADaM)", PV.output_checksums(folder, names, "derive", inputs.cut, inputs.root),
                  subtitles=[f"data/derived/{inputs.cut}/"],
                  footnotes=["SHA-256 of each file as read by this report; 'matches' when it equals the hash "
                             "the derive step recorded when it wrote the file."])


def ard_files(inputs) -> Table:
    folder = paths.report_dir(inputs.cut, inputs.root)
    names = sorted(p.name for p in folder.glob("ard*") if p.is_file())
    return _plain("Analysis results dataset", PV.output_checksums(folder, names, "analyze", inputs.cut, inputs.root),
                  subtitles=[f"reports/{inputs.cut}/"],
                  footnotes=["Every number in the tables of this report is read from ard.csv; "
                             "ard_methods.csv names the method of each analysis."])


def software(inputs) -> Table:
    commit = pd.DataFrame([("Repository commit", PV.git_commit())], columns=["Package", "Version"])
    return _plain("Software", pd.concat([commit, PV.package_versions()], ignore_index=True),
                  footnotes=["Versions as installed in the environment that made this table "
                             "(pinned in requirements.lock)."])
