"""The shipped cut the validation tests corrupt, and how they read failure lines (shared by
tests/test_validation.py and tests/test_validation_rules.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis import paths
from tests.fixtures.corrupt import read_text, refresh_manifest
from validation.report import failure_lines
from validation.runner import check_cut

REPO = Path(__file__).resolve().parent.parent


def shipped_cut() -> tuple[Path, str]:
    """The latest shipped cut (data/raw is committed; `python -m analysis simulate` rebuilds it)."""
    shipped = paths.list_cuts(REPO)
    if not shipped:
        pytest.fail(f"no raw data cut in {paths.raw_root(REPO)}")
    cut = shipped[-1]
    return paths.raw_dir(cut, REPO), cut


def lines_of(cut_dir: Path, *suites: str, refresh: bool = True) -> list[str]:
    """All failure lines (uncapped) of the named suites plus the file/manifest checks."""
    if refresh:
        refresh_manifest(cut_dir)
    outcomes = check_cut(cut_dir, paths.cut_date(cut_dir.name), only=set(suites))
    return failure_lines(outcomes, cap=10**9)


def frame(cut_dir: Path, form: str) -> pd.DataFrame:
    return read_text(cut_dir, form)


def subject_of(cut_dir, form, row, col="SUBJID"):
    return frame(cut_dir, form).loc[row - 1, col]


def day_after(text: str, days: int) -> str:
    """The ISO date ``days`` after ``text``."""
    return (pd.Timestamp(text) + pd.Timedelta(days=days)).strftime("%Y-%m-%d")
