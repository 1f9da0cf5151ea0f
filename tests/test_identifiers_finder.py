"""The identifier check's value search (analysis.regulatory.identifiers.ValueFinder) finds exactly
what searching each value in turn finds (the obvious, quadratic method), in linear time."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.regulatory.identifiers import Identifier, ValueFinder


def ident(value: str) -> Identifier:
    return Identifier("HOSPRN", "01-001", value, "dm")


value_text = st.text(alphabet="AB12-é", min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(value_text, min_size=1, max_size=6, unique=True), text=st.text(alphabet="AB12-é x", max_size=60))
def test_same_first_occurrences_as_searching_each_value(values, text):
    finder = ValueFinder({v: ident(v) for v in values})
    expected = {v: text.find(v) for v in values if text.find(v) >= 0}
    assert finder.first_positions(text) == expected


def test_leftmost_value_prefers_the_earliest_then_the_longest():
    finder = ValueFinder({v: ident(v) for v in ("H12345", "H123456", "1980-05-17")})
    assert finder.leftmost("x 1980-05-17 H123456") == "1980-05-17"
    assert finder.leftmost("x H1234567") == "H123456"
    assert finder.leftmost("H99999 and 1980-05-18") is None


def test_one_value_among_many_in_a_long_text():
    values = {f"H{i:06d}": ident(f"H{i:06d}") for i in range(20000)}
    finder = ValueFinder(values)
    text = " ".join(f"row {i} day 2024-01-{i % 28 + 1:02d} code X{i:06d}" for i in range(20000)) + " H019999"
    assert finder.first_positions(text) == {"H019999": len(text) - 7}
    assert len(finder.patterns) == 1, "20000 values of one shape: one scan of the text"


def test_cells_as_text_decode_bytes_and_keep_numbers_searchable():
    import numpy as np
    import pandas as pd

    from analysis.regulatory.identifiers import _dataset_cells_as_text
    df = pd.DataFrame({"f": [1.5, np.nan, 123456.0], "i": pd.array([1, None, 3], dtype="Int64"),
                       "s": pd.array(["a", None, "H12345"], dtype="string"), "o": [b"x\xc3\xa9", None, "y"],
                       "d": pd.to_datetime(["1980-05-17", None, "2001-01-02"])})
    text = _dataset_cells_as_text(df)
    assert text.loc[2, "f"] == "123456.0", "a number that is an identifier's digits is still found"
    assert text.loc[0, "o"] == "xé" and text.loc[0, "d"] == "1980-05-17" and text.loc[2, "i"] == "3"
    assert text.isna().sum().to_dict() == {"f": 1, "i": 1, "s": 1, "o": 1, "d": 1}
