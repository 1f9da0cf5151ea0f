"""ADMRD on the hand-made cut: sample classification against the protocol thresholds
(FC 1e-4, NGS 1e-6) and best post-CAR-T1 status, expected values set by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.derive.admrd import classify_mrd
from analysis.derive.pipeline import derive_datasets
from analysis.errors import BadDataError
from tests.test_derive_cases import CUT_DATE, case_forms

T = pd.Timestamp


@pytest.fixture(scope="module")
def admrd():
    return derive_datasets(case_forms(), CUT_DATE)["admrd"]


def sample(admrd, subj, paramcd, day):
    hit = admrd.loc[(admrd.USUBJID == "SWCART-01-" + subj) & (admrd.PARAMCD == paramcd) & (admrd.ADT == T(day))
                    & (admrd.BESTFL == "N")]
    assert len(hit) == 1
    return hit.iloc[0]


@pytest.mark.parametrize("subj,paramcd,day,evalfl,negfl,aval,avalc", [
    ("01-001", "MRDFC", "2024-02-10", "Y", "Y", 0.0, "UNDETECTABLE"),    # undetectable, sens 1e-5 <= 1e-4
    ("01-001", "MRDFC", "2024-05-10", "Y", "N", 2e-4, "2.00E-04"),       # 2e-4 >= 1e-4: positive
    ("01-001", "MRDNGS", "2024-02-10", "N", "N", 0.0, "UNDETECTABLE"),   # sens 1e-5 worse than 1e-6
    ("01-001", "MRDNGS", "2024-05-10", "Y", "Y", 0.0, "UNDETECTABLE"),   # sens 1e-6 == threshold
    ("01-002", "MRDFC", "2024-02-10", "Y", "Y", 5e-5, "5.00E-05"),       # measured below 1e-4
    ("01-004", "MRDFC", "2024-02-10", "Y", "N", 3e-4, "3.00E-04"),
])
def test_sample_classification(admrd, subj, paramcd, day, evalfl, negfl, aval, avalc):
    r = sample(admrd, subj, paramcd, day)
    assert (r.EVALFL, r.NEGFL, r.AVALC, r.POSTFL, r.BESTFL) == (evalfl, negfl, avalc, "Y", "N")
    assert r.AVAL == pytest.approx(aval, rel=0, abs=0)
    assert r.THRESH == {"MRDFC": 1e-4, "MRDNGS": 1e-6}[paramcd]


def test_sample_before_car_t1_is_not_post_and_has_negative_study_day(admrd):
    r = sample(admrd, "01-001", "MRDFC", "2024-01-05")
    assert (r.POSTFL, r.ADY) == ("N", -5)
    assert sample(admrd, "01-001", "MRDFC", "2024-02-10").ADY == 32  # 2024-01-10 is day 1


def test_best_status_per_treated_subject_and_method(admrd):
    best = admrd.loc[admrd.BESTFL == "Y"]
    assert (best.DTYPE == "BEST").all() and (best.AVALC == best.BESTSTAT).all()
    assert admrd.loc[admrd.BESTFL == "N", ["DTYPE", "BESTSTAT"]].isna().all().all()
    got = {(r.USUBJID[-6:], r.PARAMCD): (r.BESTSTAT, r.ADT) for r in best.itertuples()}
    nat = pd.NaT
    expected = {
        ("01-001", "MRDFC"): ("NEGATIVE", T("2024-02-10")),
        ("01-001", "MRDNGS"): ("NEGATIVE", T("2024-05-10")),
        ("01-002", "MRDFC"): ("NEGATIVE", T("2024-02-10")),
        ("01-002", "MRDNGS"): ("NOT EVALUABLE", nat),       # no NGS sample
        ("01-003", "MRDFC"): ("NOT EVALUABLE", nat),
        ("01-003", "MRDNGS"): ("NOT EVALUABLE", nat),
        ("01-004", "MRDFC"): ("POSITIVE", T("2024-02-10")),
        ("01-004", "MRDNGS"): ("NOT EVALUABLE", T("2024-02-10")),  # only a non-evaluable sample
        ("01-005", "MRDFC"): ("NOT EVALUABLE", nat),
        ("01-005", "MRDNGS"): ("NOT EVALUABLE", nat),
    }
    assert got.keys() == expected.keys()   # 01-006 (never infused) has no best status
    for key, (status, day) in expected.items():
        assert got[key][0] == status, key
        assert (pd.isna(got[key][1]) and pd.isna(day)) or got[key][1] == day, key


def test_classification_rule_on_its_boundaries():
    thr = pd.Series([1e-4] * 5, dtype="Float64")
    level = pd.Series([1e-4, 9.99e-5, 0, 0, 0], dtype="Float64")
    und = pd.Series(["N", "N", "Y", "Y", "Y"], dtype="string")
    sens = pd.Series([1e-5, 1e-5, 1e-4, 1.0001e-4, 1e-3], dtype="Float64")
    evalfl, negfl = classify_mrd(level, und, sens, thr)
    assert evalfl.tolist() == ["Y", "Y", "Y", "N", "N"]
    assert negfl.tolist() == ["N", "Y", "Y", "N", "N"]  # a level AT the threshold is not < threshold


def test_a_detectable_sample_without_level_is_bad_data():
    forms = case_forms()
    forms["mrd"].loc[1, "MRDUND"] = "N"   # 01-001 FC 2024-02-10 has no level
    with pytest.raises(BadDataError, match="mrd.csv column MRDLEVEL: subject 01-001 sample 2024-02-10 FC"):
        derive_datasets(forms, CUT_DATE)
