"""Partial-date imputation (SAP 2.3): one rule, admiral derive_vars_dt flags and bounds.
Expected values are worked out by hand from the calendar."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.derive.dates import (
    DATE_DTYPE, impute_end_dates, impute_start_dates, parse_dates, study_day,
)
from analysis.errors import BadDataError


def _d(*values):
    return pd.Series([pd.NaT if v is None else pd.Timestamp(v) for v in values]).astype(DATE_DTYPE)


def _s(*values):
    return pd.Series(list(values), dtype="string")


def test_start_dates_missing_day_goes_to_first_of_month_with_flag_d():
    dates, flags = impute_start_dates(_s("2024-03", "2024-03-17", None, "2024-02"), where="t")
    assert dates.tolist() == _d("2024-03-01", "2024-03-17", None, "2024-02-01").tolist()
    assert flags.tolist() == ["D", pd.NA, pd.NA, "D"]


def test_end_dates_missing_day_goes_to_last_of_month_including_leap_february():
    dates, flags = impute_end_dates(_s("2024-02", "2023-02", "2024-12", "2024-04-03"), where="t")
    assert dates.tolist() == _d("2024-02-29", "2023-02-28", "2024-12-31", "2024-04-03").tolist()
    assert flags.tolist() == ["D", "D", "D", pd.NA]


def test_min_date_in_the_same_month_replaces_the_first_of_month():
    # admiral min_dates: onset 2024-03 with CAR-T1 on 2024-03-15 -> 2024-03-15 (not pre-treatment);
    # a bound in another month, or missing, leaves the plain rule; complete dates never move.
    values = _s("2024-03", "2024-03", "2024-03", "2024-03-02")
    bounds = _d("2024-03-15", "2024-02-20", None, "2024-03-15")
    dates, flags = impute_start_dates(values, where="t", min_dates=bounds)
    assert dates.tolist() == _d("2024-03-15", "2024-03-01", "2024-03-01", "2024-03-02").tolist()
    assert flags.tolist() == ["D", "D", "D", pd.NA]


def test_max_date_in_the_same_month_replaces_the_last_of_month():
    values = _s("2024-06", "2024-06", "2024-05")
    bounds = _d("2024-06-10", "2024-07-01", "2024-06-10")
    dates, _ = impute_end_dates(values, where="t", max_dates=bounds)
    assert dates.tolist() == _d("2024-06-10", "2024-06-30", "2024-05-31").tolist()


@pytest.mark.parametrize("bad", ["2024", "2024-13", "2024-02-30", "24-01-01", "2024/01/02"])
def test_a_missing_month_or_impossible_date_is_bad_data_naming_the_place(bad):
    with pytest.raises(BadDataError, match=r"ae.csv column AESTDTC: subject 01-009: '.*'"):
        impute_start_dates(_s(bad), where="ae.csv column AESTDTC", subjects=pd.Series(["01-009"]))


def test_parse_dates_refuses_partial_dates():
    with pytest.raises(BadDataError, match="not a complete date"):
        parse_dates(_s("2024-01-05", "2024-02"), where="ds.csv column DTHDTC")


def test_study_day_has_no_day_zero():
    ref = _d("2024-01-10", "2024-01-10", "2024-01-10", "2024-01-10")
    got = study_day(_d("2024-01-10", "2024-01-11", "2024-01-09", None), ref)
    assert got.tolist() == [1.0, 2.0, -1.0, pd.NA]
