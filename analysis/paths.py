"""The one place that sets paths. Every step reads and writes through these functions."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

from analysis.errors import BadDataError
from analysis.messages import say

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


# --- the cut a command works on (command line: --cut, --from, --to) ----------------------------------

def check_cut(cut: str, root: Path | None = None) -> str:
    """A cut named on the command line must exist in data/raw/ as a plain folder named
    cut-<calendar date> (else bad data, exit 3)."""
    if not is_cut_name(cut):
        raise BadDataError(f"{cut!r} is not a data cut name (expected cut-YYYY-MM-DD with a calendar date, "
                           f"a folder of {raw_root(root)})")
    if raw_dir(cut, root).is_symlink():
        raise BadDataError(f"{raw_dir(cut, root)} is a symbolic link; refused: a raw cut is a plain "
                           f"folder of {raw_root(root)}")
    cuts = list_cuts(root)
    if cut not in cuts:
        raise BadDataError(f"data cut {cut!r} not found in {raw_root(root)}; "
                           f"available: {', '.join(cuts) or 'none'}")
    return cut


def resolve_cut(cut: str | None, root: Path | None = None) -> str:
    """The named cut (checked), or the latest in data/raw/ when none is named."""
    if cut is not None:
        return check_cut(cut, root)
    for name in ignored_cut_folders(root):
        say(f"note: ignoring {raw_root(root) / name}: not a cut (a cut is a plain folder named "
            f"cut-YYYY-MM-DD with a calendar date)")
    try:
        return latest_cut(root)
    except FileNotFoundError as exc:
        raise BadDataError(f"{exc}; run `python -m analysis simulate` or add a raw export") from None


def project_root(root: Path | None) -> Path:
    """``root`` as given on the command line, else the default project root (ROOT)."""
    return root if root is not None else ROOT
