"""Pipeline step 'submission': Define-XML for the cut's datasets, then the identifier check over
every output (derived data, ARD, report files, define.xml itself)."""

from __future__ import annotations

from pathlib import Path

from analysis.regulatory.define_xml import write_define
from analysis.regulatory.identifiers import check_identifiers


def submission_cut(cut: str, root: Path | None = None) -> None:
    write_define(cut, root)
    check_identifiers(cut, root)
