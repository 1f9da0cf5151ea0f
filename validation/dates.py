"""Raw date text -> the earliest and latest calendar day it can stand for.

A complete date ``YYYY-MM-DD`` stands for one day (earliest = latest). A partial date ``YYYY-MM``
(missing day, allowed for ``pdate`` columns) stands for any day of that month: earliest = the 1st,
latest = the last day of the month. Anything else (missing month, impossible day such as
2024-02-30, stray text) does not parse and gives NaT in both bounds; the type check reports it.

These bounds implement the order rule stated in :data:`PARTIAL_DATE_RULE`.
"""

from __future__ import annotations

import re

import pandas as pd

PARTIAL_DATE_RULE = (
    "Partial dates (YYYY-MM) in order checks: a partial date stands for every day of its month. "
    "An order rule 'A on or before B' is broken only if even the earliest possible day of A is after "
    "the latest possible day of B (for a strict rule 'A before B': only if the earliest day of A is on "
    "or after the latest day of B). A partial date therefore never breaks an order it could satisfy; "
    "the imputation used by the analysis (SAP 2.3, analysis.conventions) plays no part in validation."
)

# Whole value, ASCII digits (a trailing newline or a full-width digit is not a date)
COMPLETE_DATE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
PARTIAL_OR_COMPLETE_DATE = re.compile(r"\A[0-9]{4}-[0-9]{2}(-[0-9]{2})?\Z")


def date_bounds(text: pd.Series, allow_partial: bool) -> tuple[pd.Series, pd.Series]:
    """(earliest, latest) day of each ISO date string as datetime64; NaT where missing or invalid.

    ``allow_partial`` admits ``YYYY-MM`` (raw_spec type ``pdate``); otherwise only ``YYYY-MM-DD``
    (type ``date``) parses. Calendar validity is checked by pandas' strict ISO parser.
    """
    shape = PARTIAL_OR_COMPLETE_DATE if allow_partial else COMPLETE_DATE
    s = text.astype("string")
    well_formed = s.str.fullmatch(shape.pattern).fillna(False).astype(bool)
    is_month = well_formed & (s.str.len() == 7)
    is_day = well_formed & ~is_month
    lo = pd.Series(pd.NaT, index=text.index, dtype="datetime64[s]")
    hi = lo.copy()
    if is_day.any():
        day = pd.to_datetime(s[is_day], format="%Y-%m-%d", errors="coerce").astype("datetime64[s]")
        lo[is_day] = day
        hi[is_day] = day
    if is_month.any():
        first = pd.to_datetime(s[is_month] + "-01", format="%Y-%m-%d", errors="coerce").astype("datetime64[s]")
        lo[is_month] = first
        hi[is_month] = first + pd.offsets.MonthEnd(0)
    return lo, hi
