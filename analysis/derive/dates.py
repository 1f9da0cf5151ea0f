"""Dates: parsing complete ISO 8601 dates and imputing partial ones (SAP 2.3).

One rule, defined in ``analysis.conventions``: a missing day is imputed to the first of the month
for start/onset dates (``START_DATE_IMPUTATION = "first"``) and to the last day of the month for
end dates (``END_DATE_IMPUTATION = "last"``); a missing month is never imputed (the validation
step rejects it, and :func:`impute_dates` refuses it too). The imputation flag follows admiral's
``derive_vars_dt``: ``"D"`` when the day was imputed, missing otherwise.

Like admiral's ``min_dates`` / ``max_dates`` arguments, an optional bound replaces the imputed
date when the bound lies inside the range of dates the partial value allows: for an AE onset
``2024-03`` with CAR-T1 on 2024-03-15, "first of the month" would wrongly make the AE
pre-treatment, so the onset is imputed to 2024-03-15 (SAP 2.3 and 5).

All derived dates are ``DATE_DTYPE`` (day precision; no time part).
"""

from __future__ import annotations

import re

import pandas as pd

from analysis import conventions
from analysis.errors import BadDataError

DATE_DTYPE = "datetime64[us]"
DAY_IMPUTED = "D"  # admiral's --DTF value when the day was imputed

_FULL = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YEAR_MONTH = re.compile(r"^\d{4}-\d{2}$")


def _where(where: str, subjects: pd.Series | None, index) -> str:
    who = f"subject {subjects.loc[index]}" if subjects is not None else f"row {index}"
    return f"{where}: {who}"


def _parse_exact(values: pd.Series, fmt: str) -> pd.Series:
    return pd.to_datetime(values, format=fmt, errors="coerce").astype(DATE_DTYPE)


def parse_dates(values: pd.Series, *, where: str, subjects: pd.Series | None = None) -> pd.Series:
    """Complete ISO 8601 dates (YYYY-MM-DD) -> ``DATE_DTYPE``; missing stays missing (NaT).

    Anything else (a partial or impossible date) raises ``BadDataError`` naming ``where``
    (e.g. ``"ds.csv column DTHDTC"``), the subject and the value.
    """
    text = values.astype("string")
    parsed = _parse_exact(text, "%Y-%m-%d")
    bad = text.notna() & (parsed.isna() | ~text.fillna("").str.match(_FULL))
    if bad.any():
        i = bad[bad].index[0]
        raise BadDataError(f"{_where(where, subjects, i)}: {text.loc[i]!r} is not a complete date "
                           f"YYYY-MM-DD (rule: complete ISO 8601 date; {int(bad.sum())} such value(s))")
    return parsed


def _month_bounds(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    first = _parse_exact(text + "-01", "%Y-%m-%d")
    last = (first + pd.offsets.MonthEnd(0)).astype(DATE_DTYPE)
    return first, last


def impute_dates(values: pd.Series, rule: str, *, where: str, subjects: pd.Series | None = None,
                 min_dates: pd.Series | None = None, max_dates: pd.Series | None = None,
                 ) -> tuple[pd.Series, pd.Series]:
    """Impute partial dates (YYYY-MM) by ``rule`` (``"first"`` or ``"last"`` day of the month).

    Returns ``(dates, flags)``: the dates as ``DATE_DTYPE`` and the admiral-style imputation flag
    (``"D"`` where the day was imputed, missing otherwise). ``min_dates`` (with ``"first"``) and
    ``max_dates`` (with ``"last"``) are per-row bounds aligned on ``values``: where the bound
    falls inside the month of a partial date, the imputed date is moved to the bound when the
    plain rule would put it before ``min_dates`` / after ``max_dates`` (admiral ``derive_vars_dt``
    ``min_dates`` / ``max_dates``). Complete dates are never changed. Reference: SAP 2.3.
    """
    if rule not in ("first", "last"):
        raise ValueError(f"imputation rule must be 'first' or 'last', not {rule!r}")
    text = values.astype("string")
    partial = text.fillna("").str.match(_YEAR_MONTH)
    full = text.where(~partial)
    dates = parse_dates(full, where=where, subjects=subjects)
    month = text.where(partial)
    first, last = _month_bounds(month)
    bad_month = partial & first.isna()
    if bad_month.any():
        i = bad_month[bad_month].index[0]
        raise BadDataError(f"{_where(where, subjects, i)}: {text.loc[i]!r} is not a valid year-month "
                           "(rule: partial dates may omit only the day)")
    imputed = first if rule == "first" else last
    bound = min_dates if rule == "first" else max_dates
    if bound is not None:
        bound = bound.astype(DATE_DTYPE)
        in_month = bound.notna() & (bound >= first) & (bound <= last)
        beyond = (imputed < bound) if rule == "first" else (imputed > bound)
        imputed = imputed.mask(partial & in_month & beyond, bound)
    dates = dates.mask(partial, imputed)
    flags = pd.Series(pd.NA, index=values.index, dtype="string").mask(partial, DAY_IMPUTED)
    return dates, flags


def impute_start_dates(values: pd.Series, **kwargs) -> tuple[pd.Series, pd.Series]:
    """Start/onset dates: the SAP rule ``conventions.START_DATE_IMPUTATION`` (first of month)."""
    return impute_dates(values, conventions.START_DATE_IMPUTATION, **kwargs)


def impute_end_dates(values: pd.Series, **kwargs) -> tuple[pd.Series, pd.Series]:
    """End/resolution dates: the SAP rule ``conventions.END_DATE_IMPUTATION`` (last of month)."""
    return impute_dates(values, conventions.END_DATE_IMPUTATION, **kwargs)


def study_day(dates: pd.Series, reference: pd.Series) -> pd.Series:
    """CDISC study day: ``date - reference + 1`` on or after the reference, ``date - reference``
    before it (there is no day 0). Missing when either date is missing."""
    diff = (dates - reference).dt.days.astype("Float64")
    return diff.where(diff < 0, diff + 1)


def days_between(later: pd.Series, earlier: pd.Series) -> pd.Series:
    """Whole days ``later - earlier`` as a float (missing when either date is missing)."""
    return (later - earlier).dt.days.astype("Float64")
