"""ADAE on the hand-made cut: imputation, treatment emergence, phase at onset and the
worst-grade occurrence flags, expected values set by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.derive.pipeline import derive_datasets
from tests.test_derive_cases import CUT_DATE, case_forms

T = pd.Timestamp


@pytest.fixture(scope="module")
def adae():
    df = derive_datasets(case_forms(), CUT_DATE)["adae"]
    return df.assign(SUBJ=df.USUBJID.str[-6:], AESEQ=df.AESEQ.astype(int)).set_index(["SUBJ", "AESEQ"])


def test_ae_before_car_t1_is_not_treatment_emergent(adae):
    r = adae.loc[("01-002", 1)]
    assert (r.TRTEMFL, r.APHASE, r.ASTDY, r.AOCCFL, r.AOCCPFL) == ("N", "PRE-TREATMENT", -5, "N", "N")


def test_partial_onset_in_the_month_of_car_t1_is_imputed_to_car_t1(adae):
    r = adae.loc[("01-002", 2)]   # "2024-01" with CAR-T1 on 2024-01-10; ends "2024-02"
    assert (r.ASTDT, r.ASTDTF, r.AENDT, r.AENDTF) == (T("2024-01-10"), "D", T("2024-02-29"), "D")
    assert (r.TRTEMFL, r.ASTDY, r.ADURN, r.ADURU) == ("Y", 1, 22 + 29, "DAYS")


def test_partial_onset_in_another_month_goes_to_the_first(adae):
    r = adae.loc[("01-004", 3)]   # "2024-02", CAR-T1 in January
    assert (r.ASTDT, r.ASTDTF) == (T("2024-02-01"), "D")
    assert pd.isna(r.AENDT) and pd.isna(r.ADURN) and pd.isna(r.AENDTF)


def test_onset_bound_never_puts_the_onset_after_the_end(adae):
    r = adae.loc[("01-005", 1)]   # "2024-01" ended 2024-01-08, before CAR-T1 on 01-10
    assert (r.ASTDT, r.ASTDTF, r.TRTEMFL, r.APHASE) == (T("2024-01-01"), "D", "N", "PRE-TREATMENT")


def test_complete_dates_are_not_flagged(adae):
    r = adae.loc[("01-001", 1)]
    assert (r.ASTDT, r.AENDT, r.ADURN) == (T("2024-01-12"), T("2024-01-16"), 5)
    assert pd.isna(r.ASTDTF) and pd.isna(r.AENDTF)


@pytest.mark.parametrize("key,phase", [
    (("01-001", 1), "CAR-T1"),        # 2024-01-12, after CAR-T1 2024-01-10
    (("01-001", 5), "MOBILIZATION"),  # 2024-03-02, mobilization from 03-01
    (("01-001", 4), "AUTO-HSCT"),     # 2024-04-02, conditioning from 04-01, CAR-T2 04-09
    (("01-001", 2), "CAR-T2"),        # 2024-04-10
    (("01-002", 4), "CAR-T1"),
])
def test_phase_at_onset(adae, key, phase):
    assert adae.loc[key, "APHASE"] == phase


def test_worst_grade_flags_one_record_per_subject_and_term(adae):
    # CRS of 01-001: grade 2 (seq 1) and grade 3 (seq 2) -> seq 2
    assert adae.loc[("01-001", 1), "AOCCPFL"] == "N" and adae.loc[("01-001", 2), "AOCCPFL"] == "Y"
    # Fever of 01-002: both grade 2, onsets 01-10 (seq 2) and 01-20 (seq 3) -> earliest, seq 2
    assert adae.loc[("01-002", 2), "AOCCPFL"] == "Y" and adae.loc[("01-002", 3), "AOCCPFL"] == "N"
    # Sepsis of 01-004: both grade 3 on 2024-03-01 -> lowest AESEQ
    assert adae.loc[("01-004", 1), "AOCCPFL"] == "Y" and adae.loc[("01-004", 2), "AOCCPFL"] == "N"
    emergent = adae.loc[adae.TRTEMFL == "Y"].reset_index()
    assert (emergent.groupby(["SUBJ", "AEDECOD"])["AOCCPFL"].apply(lambda s: (s == "Y").sum()) == 1).all()
    assert (emergent.groupby(["SUBJ", "AEBODSYS"])["AOCCSFL"].apply(lambda s: (s == "Y").sum()) == 1).all()
    assert (emergent.groupby("SUBJ")["AOCCFL"].apply(lambda s: (s == "Y").sum()) == 1).all()


def test_worst_grade_per_subject_and_soc(adae):
    assert adae.loc[("01-001", 4), "AOCCFL"] == "Y"      # grade 4 neutropenia is the subject's worst
    assert adae.loc[("01-001", 2), "AOCCSFL"] == "Y"     # Immune system disorders: CRS grade 3


def test_flags_and_grades(adae):
    assert adae.loc[("01-001", 1), ["CRSFL", "ICANSFL", "ATOXGR", "ATOXGRC"]].tolist() == ["Y", "N", 2, "2"]
    assert adae.loc[("01-002", 4), ["CRSFL", "ICANSFL"]].tolist() == ["N", "Y"]
    assert (adae.SAFFL == "Y").all() and (adae.COHORT == "SANDWICH").all()


def test_ae_with_onset_after_the_cut_is_not_used(adae):
    assert ("01-005", 2) not in adae.index and ("01-005", 1) in adae.index
    assert (adae.ASTDT <= T(CUT_DATE)).all()


def test_partial_end_in_the_month_of_death_is_imputed_to_the_death_date(adae):
    r = adae.loc[("01-004", 4)]   # ends "2024-06"; died 2024-06-15
    assert (r.AENDT, r.AENDTF, r.ADURN) == (T("2024-06-15"), "D", 15)


def test_a_verbatim_term_not_yet_coded_is_kept_counted_and_shown_as_not_coded():
    """Issue 10 / SAP 5.1: AEDECOD and AEBODSYS blank (not coded yet). ADAE keeps the record with
    both missing (never guessed), it stays treatment-emergent by its date, the AE table counts it
    under "Not coded", and the ARD ae_coding rows count it."""
    from analysis.analyze import safety
    from analysis.raw_io import parse_form
    from analysis.stats.tables import NOT_CODED, ae_summary
    from tests.test_derive_cases import case_text_forms

    text = case_text_forms()
    ae = text["ae"]
    row = ae.index[(ae["SUBJID"] == "01-004") & (ae["AESEQ"].astype(str) == "3")][0]   # Anemia "2024-02"
    ae.loc[row, ["AEDECOD", "AEBODSYS"]] = [None, None]
    forms = {name: parse_form(df, name) for name, df in text.items()}
    derived = derive_datasets(forms, CUT_DATE)
    adae, adsl = derived["adae"], derived["adsl"]
    r = adae[(adae["USUBJID"].str.endswith("01-004")) & (adae["AESEQ"].astype(int) == 3)].iloc[0]
    assert pd.isna(r["AEDECOD"]) and pd.isna(r["AEBODSYS"]) and r["AETERM"] == "anemia"
    assert (r["TRTEMFL"], r["ASTDT"]) == ("Y", T("2024-02-01"))
    table = ae_summary(adae, adsl, by="COHORT", pop_flag="SAFFL", grade=None)
    hit = table[(table["section"] == "term") & (table["soc"] == NOT_CODED) & (table["term"] == NOT_CODED)
                & (table["stat_name"] == "n") & (table["group"] == "SANDWICH")]
    assert list(hit["stat"]) == [1]
    rows = safety.coding_rows(adae).set_index("stat_name")["stat"]
    assert (rows["n_uncoded"], rows["n_uncoded_teae"], rows["n_subj_uncoded_teae"]) == (1, 1, 1)
    assert rows["n_records"] == len(adae)
