"""ADSL on the hand-made cut (tests/test_derive_cases.py): each expected value set by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.derive.adsl import derive_adsl
from analysis.errors import BadDataError
from analysis.raw_spec import IDENTIFIER_COLUMNS
from tests.test_derive_cases import CUT_DATE, case_forms

T = pd.Timestamp


@pytest.fixture(scope="module")
def adsl():
    return derive_adsl(case_forms(), CUT_DATE).set_index("SUBJID")


def test_one_row_per_subject_trial_and_controls_together(adsl):
    assert adsl.index.tolist() == ["01-001", "01-002", "01-003", "01-004", "01-005", "01-006", "R0001", "R0002"]
    assert adsl["USUBJID"].is_unique
    assert adsl.loc["01-001", "USUBJID"] == "SWCART-01-01-001"
    assert adsl.loc["R0001", "USUBJID"] == "ALLOREG-R0001"
    assert adsl["COHORT"].tolist() == ["SANDWICH"] * 6 + ["ALLO_EXT"] * 2


def test_key_dates_of_the_completer(adsl):
    r = adsl.loc["01-001"]
    assert (r.NEUTDT, r.PLTDT) == (T("2024-04-20"), T("2024-04-25"))
    assert (r.TRTSDT, r.CART1EDT, r.MOBSTDT, r.COLLDT, r.CONDSTDT, r.AHSCTDT, r.CART2DT) == (
        T("2024-01-10"), T("2024-01-11"), T("2024-03-01"), T("2024-03-05"), T("2024-04-01"),
        T("2024-04-07"), T("2024-04-09"))
    assert (r.REMDT, r.RELDT, r.DTHDT, r.DTHFL, r.LSTASDT) == (
        T("2024-02-10"), T("2024-09-10"), T("2024-12-01"), "Y", T("2024-09-10"))
    assert (r.SAFFL, r.COMPLFL, r.LFSFL, r.EOTSTT) == ("Y", "Y", "Y", "COMPLETED")
    assert r.DCUTDT == T(CUT_DATE)


def test_subject_stopping_after_collection_is_not_a_completer_and_keeps_the_reason(adsl):
    r = adsl.loc["01-002"]
    assert (r.COLLDT, r.SAFFL, r.COMPLFL) == (T("2024-03-05"), "Y", "N")
    assert pd.isna(r.AHSCTDT) and pd.isna(r.CART2DT)
    assert (r.EOTSTT, r.DCSREAS, r.EOTDT) == ("DISCONTINUED", "PHYSICIAN DECISION", T("2024-03-20"))
    # last known alive: the collected date is later than every assessment
    assert r.LSTALVDT == T("2025-01-15") and r.LSTASDT == T("2024-06-01")


def test_non_responder_is_not_in_the_lfs_population_and_has_lost_the_prior_remission(adsl):
    r = adsl.loc["01-003"]
    assert pd.isna(r.REMDT) and r.LFSFL == "N" and r.SAFFL == "Y"
    assert r.RELDT == T("2024-02-10")   # NR after CAR-T1: the remission before therapy is lost


def test_enrolled_but_never_infused_is_not_in_the_safety_population(adsl):
    r = adsl.loc["01-006"]
    assert (r.ENRLFL, r.SAFFL, r.COMPLFL, r.LFSFL) == ("Y", "N", "N", "N")
    assert pd.isna(r.TRTSDT)


def test_external_controls_are_recoded_to_the_trial_coding(adsl):
    r1, r2 = adsl.loc["R0001"], adsl.loc["R0002"]
    assert (r1.PHSTAT, r1.CYTORISK, r1.MRDPRE, r1.SEX, r1.DONOR) == ("POS", "HIGH", "POS", "F", "MSD")
    assert (r2.PHSTAT, r2.CYTORISK, r2.MRDPRE, r2.SEX) == ("NEG", "STANDARD", "NEG", "M")
    assert (r1.ALLOHSDT, r1.REMDT, r1.RELDT, r1.DTHDT, r1.DTHCAUS) == (
        T("2024-02-01"), T("2024-02-01"), T("2024-08-01"), T("2024-10-01"), "GVHD")
    assert (r1.ENRLFL, r1.SAFFL, r1.LFSFL, r2.DTHFL) == ("N", "N", "Y", "N")
    assert set(adsl.loc[adsl.COHORT == "SANDWICH", "SEX"]) == {"M", "F"}  # 1 -> M, 2 -> F
    assert adsl.loc["01-002", "SEX"] == "F"


def test_partial_diagnosis_date_is_imputed_to_the_first_with_a_flag(adsl):
    assert (adsl.loc["01-001", "DIAGDT"], adsl.loc["01-001", "DIAGDTF"]) == (T("2023-06-01"), "D")
    assert adsl.loc["R0002", "DIAGDT"] == T("2022-11-03") and pd.isna(adsl.loc["R0002", "DIAGDTF"])


def test_age_groups(adsl):
    assert adsl.loc["01-003", ["AGE", "AGEGR1", "AGEGR1N"]].tolist() == [35, "<40", 1]
    assert adsl.loc["01-004", ["AGE", "AGEGR1", "AGEGR1N"]].tolist() == [40, ">=40", 2]


def test_no_identifier_reaches_adsl(adsl):
    assert not set(IDENTIFIER_COLUMNS) & set(adsl.columns)
    values = set(adsl.astype(str).to_numpy().ravel())
    assert not {"AB", "H123", "1990-01"} & values


def test_subject_unknown_to_dm_is_bad_data_naming_the_form():
    forms = case_forms()
    forms["cart"].loc[0, "SUBJID"] = "01-099"
    with pytest.raises(BadDataError, match=r"cart.csv column SUBJID: subject\(s\) \['01-099'\] not in dm.csv"):
        derive_adsl(forms, CUT_DATE)


def test_completed_without_car_t2_is_bad_data():
    forms = case_forms()
    forms["ds"].loc[forms["ds"].SUBJID == "01-002", "EOTSTAT"] = "COMPLETED"
    with pytest.raises(BadDataError, match=r"ds.csv column EOTSTAT: subject\(s\) \['01-002'\] COMPLETED"):
        derive_adsl(forms, CUT_DATE)


def test_treatment_variables(adsl):
    assert adsl.loc["01-001", "TRT01P"] == adsl.loc["01-001", "TRT01A"] == "CAR-T/AUTO-HSCT SANDWICH"
    assert adsl.loc["01-006", "TRT01P"] == "CAR-T/AUTO-HSCT SANDWICH" and pd.isna(adsl.loc["01-006", "TRT01A"])
    assert adsl.loc["R0001", "TRT01A"] == "ALLO-HSCT (EXTERNAL CONTROL)"


def test_last_known_alive_uses_complete_ae_dates_not_partial_ones():
    forms = case_forms()
    ae = forms["ae"]
    ae.loc[(ae.SUBJID == "01-002") & (ae.AESEQ == 3), "AEENDTC"] = "2025-02-03"   # after 2025-01-15
    ae.loc[(ae.SUBJID == "01-002") & (ae.AESEQ == 2), "AEENDTC"] = "2025-03"      # partial: not used
    r = derive_adsl(forms, CUT_DATE).set_index("SUBJID").loc["01-002"]
    assert r.LSTALVDT == T("2025-02-03")
