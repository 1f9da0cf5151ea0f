"""The dataset specification: SAS transport v5 limits checked when declared, and ``conform``
refusing a derived frame that does not match its spec."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.derive import adae, admrd, adsl, adtte
from analysis.derive.spec import DatasetSpec, char, conform, date, num, predecessors, spec_to_dict

SPECS = (adsl.SPEC, adtte.SPEC, admrd.SPEC, adae.SPEC)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_declared_specs_obey_transport_v5_and_name_every_origin(spec):
    assert len(spec.name) <= 8 and len(spec.label) <= 40
    for v in spec.variables:
        assert len(v.name) <= 8 and v.name.isupper() and 0 < len(v.label) <= 40
        if v.origin in ("Derived", "Predecessor", "Collected"):
            assert v.source or v.derivation, f"{spec.name}.{v.name}: say where it comes from"


def test_bad_declarations_are_refused():
    with pytest.raises(ValueError, match="1-8 upper-case"):
        char("TOOLONGNAME", "x", "Derived")
    with pytest.raises(ValueError, match="allows 1-40"):
        num("X", "y" * 41, "Derived")
    with pytest.raises(ValueError, match="origin"):
        num("X", "x", "Invented")
    with pytest.raises(ValueError, match="key variables not declared"):
        DatasetSpec("ADX", "x", ("USUBJID",), (num("X", "x", "Derived"),))
    with pytest.raises(ValueError, match="declared twice"):
        DatasetSpec("ADX", "x", (), (num("X", "x", "Derived"), num("X", "x", "Derived")))


SMALL = DatasetSpec("ADX", "Small", ("USUBJID",), (
    char("USUBJID", "Unique Subject Identifier", "Derived", "dm"),
    num("AVAL", "Analysis Value", "Derived", "x"),
    date("ADT", "Analysis Date", "Derived", "x"),
))


def _frame(**over):
    df = pd.DataFrame({"USUBJID": pd.Series(["B", "A"], dtype="string"), "AVAL": [2.0, 1.0],
                       "ADT": pd.to_datetime(["2024-01-02", "2024-01-01"]).astype("datetime64[us]")})
    return df.assign(**over)


def test_conform_orders_and_sorts_by_keys():
    out = conform(_frame()[["ADT", "AVAL", "USUBJID"]], SMALL)
    assert list(out.columns) == ["USUBJID", "AVAL", "ADT"] and out["USUBJID"].tolist() == ["A", "B"]
    d = spec_to_dict(SMALL, out)
    assert [v["length"] for v in d["variables"]] == [1, 8, 8] and d["variables"][2]["format"] == "DATE9."


@pytest.mark.parametrize("bad,match", [
    (dict(EXTRA=1), "undeclared: \\['EXTRA'\\]"),
    (dict(USUBJID=pd.Series(["A", "A"], dtype="string")), "not unique"),
    (dict(AVAL=["1", "2"]), "declared Num"),
    (dict(ADT=["2024-01-01", "2024-01-02"]), "declared date"),
])
def test_conform_refuses_frames_that_do_not_match(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        conform(_frame(**bad), SMALL)


@pytest.mark.parametrize("values, expected", [
    (["a", "abc", None], 3),
    (["é", "a"], 2),                       # é is 2 bytes in UTF-8 though one character
    (["日本", "abcde"], 6),                 # 3 bytes per character
    ([None, None], 1),                     # all missing: SAS minimum length
    ([], 1),
])
def test_char_length_counts_utf8_bytes_of_the_longest_value(values, expected):
    from analysis.derive.spec import char_length
    for dtype in ("string", object):
        assert char_length(pd.Series(values, dtype=dtype)) == expected


# --- predecessors: variables copied from ADSL are declared once (issue 16) -----------------------

def test_predecessors_copy_label_type_and_date_format_from_their_source():
    source = DatasetSpec("ADSL", "Subject-Level", ("USUBJID",), (
        char("USUBJID", "Unique Subject Identifier", "Derived", "dm.SUBJID", "STUDYID-SUBJID"),
        date("TRTSDT", "Date of First Infusion", "Derived", "ex.EXSTDTC")))
    usubjid, trtsdt = predecessors(source, "USUBJID", "TRTSDT")
    assert (usubjid.label, usubjid.type, usubjid.origin, usubjid.source, usubjid.derivation) == \
        ("Unique Subject Identifier", "Char", "Predecessor", "ADSL.USUBJID", "")
    assert trtsdt.date and trtsdt.type == "Num" and trtsdt.source == "ADSL.TRTSDT"
    with pytest.raises(ValueError, match=r"ADSL declares no \['AGE'\]"):
        predecessors(source, "AGE")


def test_every_predecessor_of_adsl_carries_the_adsl_label():
    declared = {v.name: v for v in adsl.SPEC.variables}
    copies = [(m.SPEC.name, v) for m in (adae, admrd, adtte) for v in m.SPEC.variables
              if v.origin == "Predecessor" and v.source.startswith("ADSL.")]
    assert len(copies) >= 25
    for dataset, v in copies:
        assert (v.label, v.type, v.date) == (declared[v.name].label, declared[v.name].type, declared[v.name].date), \
            (dataset, v.name)
