"""Membership tests on identifier columns that stay fast at scale (issue 15).

pandas' Arrow-backed string columns answer ``Series.isin(values)`` by converting every value to a
pyarrow scalar one at a time: 0.15 s for 19,000 subject identifiers, called some 50 times by the
analyze step (8 s at x100, 80 s at x1000). A hash lookup on plain Python objects gives the same
answer in milliseconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def isin(series: pd.Series, values) -> pd.Series:
    """``series.isin(values)`` (same index, boolean; a missing value matches nothing)."""
    values = list(values) if isinstance(values, (set, frozenset, dict)) else values
    wanted = pd.unique(np.asarray(pd.Series(values, dtype=object).dropna(), dtype=object))
    return series.astype(object).isin(wanted) & series.notna()
