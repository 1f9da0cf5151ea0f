"""Checking and unpacking of ADaM time-to-event data frames for the survival functions.

Every survival function takes an ADTTE-like data frame: a time column (AVAL), a censoring column
(CNSR, 0 = event, 1 = censored, the ADaM convention), and optionally a grouping column, case
weights, a delayed-entry (left-truncation) time and a cluster id. This module turns those columns
into NumPy arrays once, after checking them, so that bad input fails with a ValueError that names
the column, the first offending row and the rule -- never deep inside a computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SurvData:
    """Checked survival data as arrays. ``group`` holds codes 0..len(levels)-1 into ``levels``."""

    stop: np.ndarray            # float64 event/censoring time (AVAL)
    event: np.ndarray           # float64 1.0 = event, 0.0 = censored (1 - CNSR)
    weight: np.ndarray          # float64 case weights (1.0 when none)
    start: np.ndarray | None    # float64 entry time, or None for right-censored data
    group: np.ndarray           # int64 group codes
    levels: list                # group labels in R factor order (sorted)
    by: str | None
    weighted: bool

    def subset(self, mask: np.ndarray) -> "SurvData":
        """The rows selected by ``mask`` (levels kept)."""
        return SurvData(self.stop[mask], self.event[mask], self.weight[mask],
                        None if self.start is None else self.start[mask], self.group[mask],
                        self.levels, self.by, self.weighted)


def _first_bad_row(frame: pd.DataFrame, bad: np.ndarray) -> str:
    position = int(np.flatnonzero(bad)[0])
    return f"row {frame.index[position]!r} (position {position}), {int(bad.sum())} row(s) in all"


def _require_column(frame: pd.DataFrame, column: str, role: str) -> pd.Series:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame of ADaM time-to-event data, got {type(frame).__name__}")
    if column not in frame.columns:
        raise ValueError(f"column {column!r} ({role}) is missing from the data; "
                         f"columns present: {list(frame.columns)}")
    return frame[column]


def numeric_column(frame: pd.DataFrame, column: str, role: str, *, allow_missing: bool = False) -> np.ndarray:
    """Column ``column`` as float64; ValueError naming the column if non-numeric or missing values."""
    series = _require_column(frame, column, role)
    if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
        raise ValueError(f"column {column!r} ({role}) must be numeric, found dtype {series.dtype}")
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    if not allow_missing:
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(f"column {column!r} ({role}) has missing or infinite values: first at "
                             f"{_first_bad_row(frame, bad)}")
    return values


def group_codes(frame: pd.DataFrame, by: str | None, role: str = "grouping variable") -> tuple[np.ndarray, list]:
    """Integer codes and sorted levels of column ``by`` (one level ``None`` when ``by`` is None)."""
    if by is None:
        return np.zeros(len(frame), dtype=np.int64), [None]
    series = _require_column(frame, by, role)
    missing = series.isna().to_numpy()
    if missing.any():
        raise ValueError(f"column {by!r} ({role}) has missing values: first at {_first_bad_row(frame, missing)}")
    codes, levels = pd.factorize(series, sort=True)
    return codes.astype(np.int64), list(levels)


def check_single_parameter(frame: pd.DataFrame, splitting: tuple = ()) -> None:
    """ADaM BDS data hold one row per subject and parameter: if a PARAMCD column is present it must
    hold one parameter, unless PARAMCD is itself a grouping/strata column (``splitting``)."""
    if "PARAMCD" in frame.columns and "PARAMCD" not in splitting:
        params = pd.unique(frame["PARAMCD"].dropna())
        if len(params) > 1:
            raise ValueError(f"column 'PARAMCD' holds several parameters {sorted(map(str, params))}: select one "
                             "parameter before a survival analysis (or group by PARAMCD)")


def surv_data(frame: pd.DataFrame, *, time: str = "AVAL", cnsr: str = "CNSR", by: str | None = None,
              weights: str | None = None, entry: str | None = None, splitting: tuple = ()) -> SurvData:
    """Check and unpack ADTTE columns.

    Rules (each a ValueError naming the column, first bad row and rule): the time column is
    numeric, finite and >= 0; CNSR is exactly 0 or 1 (ADaM); weights are finite and >= 0; entry
    times are finite and strictly below the time (as R's Surv(start, stop) requires); the grouping
    column has no missing values; a PARAMCD column, if present, holds one parameter (unless it is
    ``by`` or listed in ``splitting``). An empty data frame is an error.
    """
    if len(frame) == 0:
        raise ValueError("the time-to-event data frame has no rows")
    check_single_parameter(frame, (by, *splitting))
    stop = numeric_column(frame, time, "analysis time")
    bad = stop < 0
    if bad.any():
        raise ValueError(f"column {time!r} (analysis time) must be >= 0: first negative at {_first_bad_row(frame, bad)}")
    censor = numeric_column(frame, cnsr, "censoring flag, 0 = event / 1 = censored")
    bad = (censor != 0) & (censor != 1)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise ValueError(f"column {cnsr!r} (censoring flag) must be 0 (event) or 1 (censored); found "
                         f"{censor[position]:g} at {_first_bad_row(frame, bad)}")
    if weights is None:
        weight = np.ones(len(frame))
    else:
        weight = numeric_column(frame, weights, "case weights")
        bad = weight < 0
        if bad.any():
            raise ValueError(f"column {weights!r} (case weights) must be >= 0: first negative at "
                             f"{_first_bad_row(frame, bad)}")
    start = None
    if entry is not None:
        start = numeric_column(frame, entry, "entry (left-truncation) time")
        bad = start >= stop
        if bad.any():
            raise ValueError(f"column {entry!r} (entry time) must be below {time!r} (R: stop time must be > "
                             f"start time): first violation at {_first_bad_row(frame, bad)}")
    stop, start = merge_near_ties(stop, start, time, entry)
    codes, levels = group_codes(frame, by)
    return SurvData(stop, 1.0 - censor, weight, start, codes, levels, by, weights is not None)


def merge_near_ties(stop: np.ndarray, start: np.ndarray | None, time: str = "time", entry: str | None = None,
                    tolerance: float = np.sqrt(np.finfo(float).eps)) -> tuple[np.ndarray, np.ndarray | None]:
    """Treat times closer than ``tolerance`` as tied, as R survival's aeqSurv (timefix = TRUE).

    Times computed two ways (e.g. days / 30.4375) can differ in the last bits; R's survfit and
    coxph merge distinct times whose gap is <= tolerance in absolute terms or relative to the mean
    absolute time, replacing each by the smallest of its run. We do the same so that risk sets
    and ties agree with R.
    """
    values = stop if start is None else np.concatenate([stop, start])
    distinct = np.unique(values)
    gaps = np.diff(distinct)
    tied = (gaps <= tolerance) | (gaps / np.mean(np.abs(distinct)) <= tolerance) if len(distinct) > 1 else gaps > 0
    if not tied.any():
        return stop, start
    cuts = distinct[np.concatenate([[True], ~tied])]
    snap = lambda x: cuts[np.searchsorted(cuts, x, side="right") - 1]  # noqa: E731  (findInterval)
    new_stop = snap(stop)
    if start is None:
        return new_stop, None
    new_start = snap(start)
    bad = new_start >= new_stop
    if bad.any():
        raise ValueError(f"columns {entry!r} and {time!r}: an entry time is within {tolerance:.2g} of its "
                         f"exit time (zero-length interval after merging near-tied times, as R's aeqSurv): "
                         f"first at position {int(np.flatnonzero(bad)[0])}")
    return new_stop, new_start


def require_groups(levels: list, by: str, purpose: str) -> None:
    """ValueError unless column ``by`` has two or more groups (a comparison needs them)."""
    if len(levels) < 2:
        raise ValueError(f"column {by!r} has only one group ({levels}); {purpose} needs two or more")


def check_choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    """``value`` if it is one of ``allowed``; else ValueError listing the options."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def check_conf_level(conf_level: float) -> float:
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level must be strictly between 0 and 1, got {conf_level!r}")
    return float(conf_level)
