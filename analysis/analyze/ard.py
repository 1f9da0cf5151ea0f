"""The analysis results dataset (ARD): one number per row, long format, full precision.

Columns: analysis, param, group, variable, level, stat_name, stat. The method behind each
``analysis`` (CI transform, test, variance) is listed once in ``ard_methods.csv`` beside it, so
that every table footnote can print it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

ARD_COLUMNS = ["analysis", "param", "group", "variable", "level", "stat_name", "stat"]
KEY_COLUMNS = ARD_COLUMNS[:-1]


def rows(analysis: str, param: str, group: str, variable: str, level, stats: Mapping[str, float]) -> pd.DataFrame:
    """ARD rows for one cell: every statistic in ``stats`` becomes its own row."""
    return pd.DataFrame({
        "analysis": analysis, "param": param, "group": str(group), "variable": variable,
        "level": _level_text(level), "stat_name": list(stats), "stat": [_number(v) for v in stats.values()],
    }, columns=ARD_COLUMNS)


def from_frame(frame: pd.DataFrame, *, analysis: str, param: str, group_col: str | None, variable: str,
               level_col: str | None, stats: Mapping[str, str], group_value: str | None = None,
               level_value=None) -> pd.DataFrame:
    """ARD rows from a tidy result frame: ``stats`` maps ARD stat_name -> frame column."""
    parts = []
    for _, rec in frame.iterrows():
        group = rec[group_col] if group_col else group_value
        level = rec[level_col] if level_col else level_value
        parts.append(rows(analysis, param, group, variable, level, {k: rec[c] for k, c in stats.items()}))
    return concat(parts)


def concat(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if p is not None and len(p)]
    if not parts:
        return pd.DataFrame(columns=ARD_COLUMNS)
    return pd.concat(parts, ignore_index=True)[ARD_COLUMNS]


def _number(value) -> float:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return float("nan")
    return float(value)


def _level_text(level) -> str:
    if level is None or (isinstance(level, float) and np.isnan(level)):
        return ""
    if isinstance(level, float) and level.is_integer():
        return str(int(level))
    return str(level)


def check(ard: pd.DataFrame) -> pd.DataFrame:
    """The ARD's own contract: exact columns, unique keys, numeric stats."""
    if list(ard.columns) != ARD_COLUMNS:
        raise ValueError(f"ARD columns {list(ard.columns)} != {ARD_COLUMNS}")
    dup = ard.duplicated(KEY_COLUMNS, keep=False)
    if dup.any():
        raise ValueError("ARD keys not unique:\n" + ard.loc[dup, KEY_COLUMNS].head(10).to_string())
    if not pd.api.types.is_float_dtype(ard["stat"]):
        raise ValueError("ARD stat column must be numeric")
    return ard


def to_csv_bytes(ard: pd.DataFrame) -> bytes:
    """CSV with 17 significant digits: the float round-trips exactly."""
    buf = io.StringIO()
    ard.to_csv(buf, index=False, float_format="%.17g", lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={c: str for c in KEY_COLUMNS}, keep_default_na=False,
                       na_values={"stat": ["", "nan", "NaN"]})


def lookup(ard: pd.DataFrame, **keys) -> float:
    """The one stat matching ``keys`` (analysis=..., param=..., stat_name=...); error if not one."""
    sel = ard
    for k, v in keys.items():
        sel = sel[sel[k] == str(v)]
    if len(sel) != 1:
        raise KeyError(f"ARD lookup {keys}: {len(sel)} rows")
    return float(sel["stat"].iloc[0])
