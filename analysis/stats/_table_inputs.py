"""Input checks and group / level ordering shared by the descriptive tables of
analysis.stats.tables (Table 1 and the adverse-event summaries). Generic: knows no trial."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import pandas as pd



def _require_columns(frame: pd.DataFrame, columns: Sequence[str], frame_name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{frame_name}: column(s) {missing} not found "
                         f"(available: {sorted(map(str, frame.columns))})")


def _group_order(values: pd.Series) -> list:
    """Groups in a stable, meaningful order: declared categories first, else sorted values."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna())
        return [c for c in values.cat.categories if c in present]
    unique = values.dropna().unique()
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return sorted(unique)
    return sorted(unique, key=str)


def _blank_to_na(series: pd.Series) -> pd.Series:
    """Empty or all-space strings -> missing (how SAS XPT and CSV exports spell a missing text)."""
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        blank = series.map(lambda x: isinstance(x, str) and not x.strip())
        return series.mask(blank)
    return series


def _level_text(x) -> str:
    """Level label of a categorical value: 2.0 -> '2' (numeric codes read from XPT are floats)."""
    if isinstance(x, (float, np.floating)) and float(x).is_integer():
        return str(int(x))
    return str(x)


def _check_groups(frame: pd.DataFrame, by: str, frame_name: str, id_col: str | None) -> None:
    """A subject without a group would silently vanish from every column: refuse it."""
    bad = frame[by].isna()
    if bad.any():
        where = frame.loc[bad, id_col].astype(str).tolist()[:5] if id_col in frame.columns \
            else frame.index[bad].tolist()[:5]
        raise ValueError(f"{frame_name}: {int(bad.sum())} row(s) with missing group column {by!r} "
                         f"(rule: every subject belongs to a group), e.g. {where}")


def _object_strings():
    """Within it, pandas keeps lists of strings as NumPy object arrays instead of inferring its
    pyarrow-backed ``str`` dtype. tableone 0.9.6 rebuilds every categorical column, for every
    group, as a Python list of str and iterates it again element by element: on pyarrow arrays
    that loop was most of Table 1's time at 19,000 subjects (issue 15); the counts are the same
    (only the dtype of tableone's internal frames differs). Without the option (pandas 4): as is."""
    if "infer_string" not in dir(pd.options.future):
        return contextlib.nullcontext()
    return pd.option_context("future.infer_string", False)
