"""Issue 10 gaps: the relapse site (rs.RELSITE) and the allo-HSCT after stopping the sandwich
(ct.csv, the intercurrent event of SAP 6.3) reach ADSL and ADTTE. Hand-made cut
(tests/test_derive_cases.py), answers by hand:

- 01-001 relapses on 2024-09-10 with RELSITE CNS, then gets chemotherapy (09-20) and an allo-HSCT
  on 2024-10-15: salvage after relapse, not the intercurrent event;
- 01-002 stopped after collection in CR and gets an allo-HSCT on 2024-07-01: the intercurrent
  event (ALLOICDT 2024-07-01); follow-up continues past it (treatment policy);
- 01-003 never reached remission (NR): RELDT is the NR assessment, without a site.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.derive.pipeline import derive_datasets
from analysis.raw_io import parse_form
from tests.test_derive_cases import CUT_DATE, case_text_forms

T = pd.Timestamp


@pytest.fixture(scope="module")
def derived():
    text = case_text_forms()
    rs = text["rs"]
    rs["RELSITE"] = None
    rs.loc[(rs["SUBJID"] == "01-001") & (rs["RSORRES"] == "RELAPSE"), "RELSITE"] = "CNS"
    text["ct"] = pd.concat([text["ct"], pd.DataFrame([
        dict(SUBJID="01-001", CTSEQ=2, CTTYPE="ALLO-HSCT", CTSTDTC="2024-10-15"),
        dict(SUBJID="01-002", CTSEQ=1, CTTYPE="ALLO-HSCT", CTSTDTC="2024-07-01")])], ignore_index=True)
    forms = {name: parse_form(df, name) for name, df in text.items()}
    return derive_datasets(forms, CUT_DATE)


def _adsl(derived, subj):
    adsl = derived["adsl"]
    return adsl[adsl["SUBJID"] == subj].iloc[0]


def test_relapse_site_on_the_subject_and_on_the_relapse_event_only(derived):
    assert _adsl(derived, "01-001")["RELSITE"] == "CNS"
    r3 = _adsl(derived, "01-003")
    assert pd.notna(r3["RELDT"]) and pd.isna(r3["RELSITE"])     # NR: loss of remission without a site
    adtte = derived["adtte"]
    s1 = adtte[adtte["USUBJID"].str.endswith("01-001")].set_index("PARAMCD")
    assert (s1.loc["LFS", "EVNTDESC"], s1.loc["LFS", "RELSITE"]) == ("RELAPSE", "CNS")
    assert s1.loc["RELNRM", "RELSITE"] == "CNS"
    assert s1.loc["OS", "EVNTDESC"] == "DEATH" and pd.isna(s1.loc["OS", "RELSITE"])   # not a relapse row
    assert adtte.loc[adtte["EVNTDESC"].ne("RELAPSE"), "RELSITE"].isna().all()


def test_allo_hsct_in_remission_after_stopping_is_the_intercurrent_event(derived):
    assert _adsl(derived, "01-002")["ALLOICDT"] == T("2024-07-01")
    assert pd.isna(_adsl(derived, "01-001")["ALLOICDT"])    # allo-HSCT after relapse: salvage
    adtte = derived["adtte"]
    os2 = adtte[adtte["USUBJID"].str.endswith("01-002") & adtte["PARAMCD"].eq("OS")].iloc[0]
    # treatment policy: the subject is followed past the event (OS censored at last known alive)
    assert os2["ALLOICDT"] == T("2024-07-01") and os2["ADT"] > os2["ALLOICDT"] and os2["CNSR"] == 1
    controls = derived["adsl"][derived["adsl"]["COHORT"] == "ALLO_EXT"]
    assert controls["ALLOICDT"].isna().all() and controls["RELSITE"].isna().all()


def test_course_rows_count_the_intercurrent_event_and_relapse_sites(derived):
    """ARD ``course`` on the hand-made cut, counted by hand: safety population 01-001..01-005 (5);
    ALLOICDT only for 01-002 -> 1 (20.0 %); relapses: 01-001 (CNS) and 01-003 (NR, no site) -> 2."""
    from analysis import ard as A
    from analysis.analyze import safety
    from analysis.present import safety_tables as ST
    rows = safety.course_rows(derived["adsl"])
    ice = lambda s: A.lookup(rows, param="ALLOICE", stat_name=s)  # noqa: E731
    assert (ice("n_subj"), ice("N"), ice("pct")) == (1, 5, 20.0)
    site = lambda lv, s: A.lookup(rows, param="RELSITE", variable_level=lv, stat_name=s)  # noqa: E731
    assert (site("CNS", "n_subj"), site("NOT RECORDED", "n_subj"), site("CNS", "N")) == (1, 1, 2)
    assert "1 (20.0) of the 5 subjects" in ST.intercurrent_sentence(rows)
    assert ST.relapse_site_sentence(rows) == ("Site of the first relapse, of the 2 subjects who relapsed: isolated CNS "
                                              "1 (50.0); no site (loss of remission: NR) 1 (50.0) (SAP 8).")
