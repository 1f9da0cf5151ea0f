"""validation.dates: the day bounds behind the partial-date order rule, checked against dates
worked out by hand (calendar facts: 2024 is a leap year, 2023 is not)."""

import pandas as pd

from validation.dates import date_bounds


def _bounds(values, partial):
    lo, hi = date_bounds(pd.Series(values, dtype="str"), allow_partial=partial)
    return [(None if pd.isna(a) else a.strftime("%Y-%m-%d"), None if pd.isna(b) else b.strftime("%Y-%m-%d"))
            for a, b in zip(lo, hi)]


def test_partial_dates_span_their_month():
    assert _bounds(["2024-02", "2023-02", "2024-12", "2024-04"], partial=True) == [
        ("2024-02-01", "2024-02-29"), ("2023-02-01", "2023-02-28"),
        ("2024-12-01", "2024-12-31"), ("2024-04-01", "2024-04-30")]


def test_complete_dates_are_one_day():
    assert _bounds(["2024-02-29", "1999-12-31"], partial=True) == [("2024-02-29",) * 2, ("1999-12-31",) * 2]
    assert _bounds(["2024-02-29"], partial=False) == [("2024-02-29",) * 2]


def test_invalid_text_gives_no_bounds():
    bad = ["2023-02-29", "2024-13", "2024-00", "2024", "2024-1-05", "24-01-05", "2024-01-05 ", "", None, "2024/01/05"]
    assert _bounds(bad, partial=True) == [(None, None)] * len(bad)


def test_partial_date_not_allowed_in_complete_date_columns():
    assert _bounds(["2024-02"], partial=False) == [(None, None)]
