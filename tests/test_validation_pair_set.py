"""The vectorised CTCAE pair rule (validation.pair_set) decides every row as Great Expectations'
own ``column_pair_values.in_set`` metric does (its iterrows loop, written out, is the reference)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from validation.pair_set import ExpectColumnPairValuesToBeInSetVectorised, pairs_in_set


def gx_reference(a: pd.Series, b: pd.Series, pairs) -> list[bool]:
    """GX 1.x's pandas metric (column_pair_values_in_set.py, ``_pandas``) written out: iterrows,
    a null value read as None, then tuple membership."""
    allowed = {(x, y) for x, y in pairs}
    out = []
    for _, t in pd.DataFrame({"A": a, "B": b}).iterrows():
        out.append(((None if pd.isnull(t["A"]) else t["A"]), (None if pd.isnull(t["B"]) else t["B"])) in allowed)
    return out


def test_pairs_in_set_matches_great_expectations_row_by_row():
    terms = pd.Series(["Sepsis", "Sepsis", "Febrile neutropenia", None, "Sepsis", "Rash"], dtype="str")
    grades = pd.Series([3.0, 1.0, 3.0, 3.0, np.nan, 2.0])   # the __num helper column: floats, NaN when missing
    pairs = [("Sepsis", 3), ("Sepsis", 4), ("Febrile neutropenia", 3), ("Rash", 1), ("Rash", 2)]
    got = pairs_in_set(terms, grades, pairs)
    assert got.tolist() == [True, False, True, False, False, True]   # by hand: 3.0 == 3, NaN / None fail
    assert got.tolist() == gx_reference(terms, grades, pairs)
    socs = pd.Series(["Infections and infestations", "Investigations", pd.NA], dtype="string")
    soc_pairs = [("Sepsis", "Infections and infestations")]
    names = pd.Series(["Sepsis", "Sepsis", "Sepsis"], dtype="str")
    assert pairs_in_set(names, socs, soc_pairs).tolist() == gx_reference(names, socs, soc_pairs) \
        == [True, False, False]
    assert pairs_in_set(names, socs, None).all(), "no set given: vacuously true, as GX"


def test_the_rule_is_reported_under_the_great_expectations_name():
    from validation.form_suites import pair_in_set
    rule = pair_in_set("ae.csv", "AEDECOD", "AEBODSYS", [("Sepsis", "Infections and infestations")], "SOC", None)
    assert isinstance(rule.expectation, ExpectColumnPairValuesToBeInSetVectorised)
    assert rule.expectation_type == "expect_column_pair_values_to_be_in_set"
