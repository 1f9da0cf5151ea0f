"""analysis.present.ard_views.ard_stat through its key index (issue 15) returns what a scan of
the ARD (analysis.ard.select) returns: hand-made ARD rows, every lookup compared with the scan."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis import ard as A
from analysis.present.ard_views import ard_stat


def small_ard() -> pd.DataFrame:
    rows = [("km", "OS", "TRIAL", "365", "surv", 0.8), ("km", "OS", "TRIAL", "730", "surv", 0.6),
            ("km", "OS", "REGISTRY", "365", "surv", 0.7), ("km", "LFS", "TRIAL", "365", "surv", 0.5),
            ("n", "OS", "TRIAL", "", "n", 40.0), ("dup", "OS", "TRIAL", "", "n", 1.0), ("dup", "OS", "TRIAL", "", "n", 2.0)]
    frame = pd.DataFrame(rows, columns=["context", "param", "group1_level", "variable_level", "stat_name", "stat"])
    for col in A.ARD_COLUMNS:
        if col not in frame:
            frame[col] = ""
    return frame[list(A.ARD_COLUMNS)]


def scan(ard: pd.DataFrame, **keys) -> float:
    sel = A.select(ard, **keys)
    if len(sel) > 1:
        raise KeyError("more than one row")
    return float(sel["stat"].iloc[0]) if len(sel) else float("nan")


@pytest.mark.parametrize("keys", [
    dict(context="km", param="OS", group1_level="TRIAL", variable_level=365, stat_name="surv"),     # int level
    dict(context="km", param="OS", group1_level="TRIAL", variable_level=730.0, stat_name="surv"),   # float level
    dict(context="km", param="LFS", group1_level="REGISTRY", variable_level="365", stat_name="surv"),  # absent
    dict(context="n", param="OS", variable_level=None, stat_name="n"),                              # empty level
    dict(context="km", stat_name="surv", group1_level="REGISTRY"),
])
def test_indexed_lookup_equals_the_scan(keys):
    ard = small_ard()
    want, got = scan(ard, **keys), ard_stat(ard, **keys)
    assert (math.isnan(want) and math.isnan(got)) or want == got


def test_two_matching_rows_and_an_unknown_column_are_errors():
    ard = small_ard()
    with pytest.raises(KeyError, match="2 rows"):
        ard_stat(ard, context="dup", stat_name="n")
    with pytest.raises(KeyError, match="no column"):
        ard_stat(ard, context="km", nonsense="x")


def test_a_new_frame_is_not_answered_from_an_old_index():
    ard = small_ard()
    assert ard_stat(ard, context="n", stat_name="n") == 40.0
    other = small_ard()
    other.loc[other["context"] == "n", "stat"] = 41.0
    other = pd.concat([other, other.iloc[[0]].assign(context="extra")], ignore_index=True)
    assert ard_stat(other, context="n", stat_name="n") == 41.0
    assert ard_stat(other, context="extra", stat_name="surv") == 0.8
