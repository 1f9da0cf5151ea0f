"""The one place that sets paths. Every step reads and writes through these functions."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# ANALYSIS_ROOT lets tests and `reproduce` run the whole pipeline in a scratch tree.
ROOT = Path(os.environ.get("ANALYSIS_ROOT", REPO_ROOT)).resolve()

CUT_PATTERN = re.compile(r"^cut-(\d{4}-\d{2}-\d{2})$")


def raw_root(root: Path | None = None) -> Path:
    return (root or ROOT) / "data" / "raw"


def derived_root(root: Path | None = None) -> Path:
    return (root or ROOT) / "data" / "derived"


def reports_root(root: Path | None = None) -> Path:
    return (root or ROOT) / "reports"


def raw_dir(cut: str, root: Path | None = None) -> Path:
    return raw_root(root) / cut


def derived_dir(cut: str, root: Path | None = None) -> Path:
    return derived_root(root) / cut


def report_dir(cut: str, root: Path | None = None) -> Path:
    return reports_root(root) / cut


NOTEBOOKS_DIR = REPO_ROOT / "analysis" / "notebooks"
SAP_NOTES = REPO_ROOT / "docs" / "sap-notes.md"


def cut_date(cut: str) -> str:
    """'cut-2025-06-30' -> '2025-06-30'; a name that is not cut-<a calendar date> is a ValueError."""
    m = CUT_PATTERN.match(cut)
    if not m:
        raise ValueError(f"not a data cut name: {cut!r} (expected cut-YYYY-MM-DD)")
    try:
        date.fromisoformat(m.group(1))
    except ValueError:
        raise ValueError(f"not a data cut name: {cut!r} ({m.group(1)} is not a calendar date)") from None
    return m.group(1)


def is_cut_name(name: str) -> bool:
    try:
        cut_date(name)
    except ValueError:
        return False
    return True


def list_cuts(root: Path | None = None) -> list[str]:
    """Data cuts present in data/raw/, oldest first: plain folders named cut-<calendar date>
    (a symbolic link or an impossible date such as cut-2025-02-30 is never a cut, nor the latest)."""
    base = raw_root(root)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.is_symlink() and is_cut_name(p.name))


def ignored_cut_folders(root: Path | None = None) -> list[str]:
    """Entries of data/raw/ that look like cuts but are not (impossible date, symbolic link)."""
    base = raw_root(root)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if CUT_PATTERN.match(p.name) and p.name not in list_cuts(root))


def latest_cut(root: Path | None = None) -> str:
    cuts = list_cuts(root)
    if not cuts:
        raise FileNotFoundError(f"no data cut in {raw_root(root)} (expected folders cut-YYYY-MM-DD)")
    return cuts[-1]


def previous_cut(cut: str, root: Path | None = None) -> str | None:
    cuts = list_cuts(root)
    earlier = [c for c in cuts if c < cut]
    return earlier[-1] if earlier else None
