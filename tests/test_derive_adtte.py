"""ADTTE on the hand-made cut: every parameter's rule with answers computed by hand
(AVAL = ADT - STARTDT + 1 days, conventions.AVAL_ADD_ONE_DAY)."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.derive.pipeline import derive_datasets
from analysis.errors import BadDataError
from tests.test_derive_cases import CUT_DATE, case_forms

T = pd.Timestamp


@pytest.fixture(scope="module")
def adtte():
    return derive_datasets(case_forms(), CUT_DATE)["adtte"]


def row(adtte, subj, paramcd):
    usubjid = ("ALLOREG-" if subj.startswith("R") else "SWCART-01-") + subj
    hit = adtte.loc[(adtte.USUBJID == usubjid) & (adtte.PARAMCD == paramcd)]
    assert len(hit) == 1, f"{subj} {paramcd}: {len(hit)} rows"
    return hit.iloc[0]


def test_populations_of_each_parameter(adtte):
    subjects = adtte.groupby("PARAMCD")["USUBJID"].apply(lambda s: sorted(x[-5:] for x in s)).to_dict()
    trial_treated = ["1-001", "1-002", "1-003", "1-004", "1-005"]
    assert subjects["OS"] == sorted(trial_treated + ["R0001", "R0002"])
    assert subjects["LFS"] == sorted(["1-001", "1-002", "1-004", "1-005", "R0001", "R0002"])  # not the NR
    assert subjects["RELNRM"] == subjects["LFS"]
    assert subjects["MRDDURFC"] == ["1-001", "1-002"]
    assert subjects["MRDDURNG"] == ["1-001"]
    assert subjects["OSCR"] == subjects["OS"] and subjects["LFSCR"] == subjects["OS"]
    assert subjects["OSPP"] == ["1-001"] and subjects["LFSPP"] == ["1-001"]


def test_os_from_car_t1_death_and_censoring_at_last_known_alive(adtte):
    r = row(adtte, "01-001", "OS")   # 2024-01-10 -> 2024-12-01: 326 days later
    assert (r.STARTDT, r.ADT, r.AVAL, r.CNSR, r.EVNTDESC, r.SRCVAR) == (
        T("2024-01-10"), T("2024-12-01"), 327, 0, "DEATH", "DTHDT")
    r = row(adtte, "01-002", "OS")   # 2024-01-10 -> 2025-01-15: 356 + 15 days later
    assert (r.ADT, r.AVAL, r.CNSR, r.CNSDTDSC) == (T("2025-01-15"), 372, 1, "LAST KNOWN ALIVE")


def test_os_of_controls_starts_at_allo_hsct(adtte):
    r = row(adtte, "R0001", "OS")    # 2024-02-01 -> 2024-10-01: 29+31+30+31+30+31+31+30 = 243
    assert (r.STARTDT, r.AVAL, r.CNSR, r.COHORT) == (T("2024-02-01"), 244, 0, "ALLO_EXT")


def test_death_after_the_cut_is_censored_at_the_cut(adtte):
    for paramcd in ("OS", "LFS", "OSCR"):
        r = row(adtte, "01-005", paramcd)
        assert (r.ADT, r.CNSR, r.CNSDTDSC) == (T(CUT_DATE), 1, "DATA CUT-OFF"), paramcd
    assert row(adtte, "01-005", "OS").AVAL == 356 + 181 + 1  # rest of 2024 + Jan-Jun 2025


def test_lfs_relapse_then_death_is_a_relapse_event(adtte):
    r = row(adtte, "01-001", "LFS")  # 2024-02-10 -> 2024-09-10: 19+31+30+31+30+31+31+10 = 213
    assert (r.STARTDT, r.ADT, r.AVAL, r.CNSR, r.EVNTDESC) == (T("2024-02-10"), T("2024-09-10"), 214, 0, "RELAPSE")
    assert row(adtte, "01-001", "RELNRM").EVNTTYPE == 1


def test_lfs_death_without_relapse_is_an_event_and_non_relapse_mortality(adtte):
    r = row(adtte, "01-004", "LFS")  # 2024-02-10 -> 2024-06-15: 19+31+30+31+15 = 126
    assert (r.AVAL, r.CNSR, r.EVNTDESC) == (127, 0, "DEATH")
    r = row(adtte, "01-004", "RELNRM")
    assert (r.EVNTTYPE, r.CNSR) == (2, 0)


def test_lfs_and_relnrm_censored_at_last_known_alive_not_last_assessment(adtte):
    """SAP 2.2, one censoring rule for every LFS parameter: 01-002 had its last marrow on
    2024-06-01 and was alive without relapse on 2025-01-15 (REMDT 2024-02-10): censored on
    2025-01-15, not at the last assessment (that made the trial's censoring informative against the
    registry's, docs/sap-notes.md 9.7). 2024-02-10 -> 2025-01-15: 19+31+30+31+30+31+31+30+31+30+31+15
    = 340 days, AVAL 341."""
    r = row(adtte, "01-002", "LFS")
    assert (r.ADT, r.AVAL, r.CNSR, r.CNSDTDSC, r.EVNTTYPE) == (T("2025-01-15"), 341, 1, "LAST KNOWN ALIVE", 0)
    r = row(adtte, "01-002", "RELNRM")
    assert (r.ADT, r.CNSR, r.CNSDTDSC, r.EVNTTYPE) == (T("2025-01-15"), 1, "LAST KNOWN ALIVE", 0)


def test_per_protocol_lfs_censored_at_last_known_alive_not_last_assessment():
    """LFSPP, compared with the registry's LFS (SAP 6.6): a completer (01-002 made one here, CAR-T2
    on 2024-04-09) without an event is censored at the last date known alive 2025-01-15, as the
    registry's controls are at their last follow-up; 2024-04-09 -> 2025-01-15 = 281 days, AVAL 282."""
    from analysis.derive import adtte as A
    d = derive_datasets(case_forms(), CUT_DATE)
    sl = d["adsl"].copy()
    who = sl["USUBJID"].eq("SWCART-01-01-002")
    sl.loc[who, "COMPLFL"], sl.loc[who, "CART2DT"] = "Y", T("2024-04-09")
    assert sl.loc[who, "LSTASDT"].iloc[0] == T("2024-06-01")   # the old rule's date
    lfspp = next(p for p in A.PARAMS if p.param.paramcd == "LFSPP")
    r = A.derive_parameter(lfspp, sl, d["admrd"]).set_index("USUBJID").loc["SWCART-01-01-002"]
    assert (r.ADT, r.AVAL, r.CNSR, r.CNSDTDSC) == (T("2025-01-15"), 282, 1, "LAST KNOWN ALIVE")


def test_every_lfs_parameter_declares_the_same_censoring():
    """The rule is stated once (adtte.LFS_SOURCES): no LFS view can drift back to another one."""
    from analysis.derive import adtte as A
    censors = {p.param.paramcd: p.param.censors for p in A.PARAMS if p.param.paramcd in ("LFS", "RELNRM", "LFSCR", "LFSPP")}
    assert len(censors) == 4 and set(censors.values()) == {A.LFS_SOURCES["censors"]}
    assert A.LFS_SOURCES["censors"][0].date == "LSTALVDT"


def test_mrd_duration_from_first_negative_to_recurrence_or_relapse(adtte):
    # negative 2024-02-10, positive 2024-05-10 (confirmed: relapse 2024-09-10 follows, no FC sample between)
    r = row(adtte, "01-001", "MRDDURFC")
    assert (r.STARTDT, r.ADT, r.AVAL, r.CNSR, r.SRCDOM, r.EVNTDESC) == (
        T("2024-02-10"), T("2024-05-10"), 91, 0, "ADMRD", "CONFIRMED FC-MRD RECURRENCE")
    r = row(adtte, "01-001", "MRDDURNG")  # the non-evaluable 02-10 sample is not the start
    assert (r.STARTDT, r.ADT, r.AVAL, r.EVNTDESC) == (T("2024-05-10"), T("2024-09-10"), 124, "RELAPSE")
    r = row(adtte, "01-002", "MRDDURFC")  # censored at the last evaluable FC sample
    assert (r.ADT, r.CNSR, r.AVAL) == (T("2024-06-01"), 1, 113)


def test_remission_origin_parameters_carry_delayed_entry(adtte):
    r = row(adtte, "01-001", "OSCR")  # CRDT 2023-09-15 -> CAR-T1 2024-01-10: 15+31+30+31+10 = 117
    assert (r.STARTDT, r.ENTRY, r.AVAL) == (T("2023-09-15"), 117, 117 + 327)
    r = row(adtte, "R0001", "OSCR")   # CRDT 2023-08-01 -> allo-HSCT 2024-02-01: 184 days
    assert (r.ENTRY, r.AVAL) == (184, 184 + 244)
    # identity on every subject: AVAL(OSCR) = ENTRY + AVAL(OS), same event status
    os_ = adtte.loc[adtte.PARAMCD == "OS"].set_index("USUBJID")
    cr = adtte.loc[adtte.PARAMCD == "OSCR"].set_index("USUBJID")
    assert ((cr.AVAL - cr.ENTRY) == os_.AVAL.reindex(cr.index)).all()
    assert (cr.CNSR == os_.CNSR.reindex(cr.index)).all()
    assert adtte.loc[~adtte.PARAMCD.isin(["OSCR", "LFSCR"]), "ENTRY"].isna().all()


def test_lfs_from_remission_counts_non_response_as_loss_of_remission(adtte):
    r = row(adtte, "01-003", "LFSCR")   # in CR before CAR-T1, NR on 2024-02-10, died 05-01
    assert (r.ADT, r.CNSR, r.EVNTDESC, r.ENTRY) == (T("2024-02-10"), 0, "RELAPSE", 117)
    assert r.AVAL == 117 + 32           # CAR-T1 2024-01-10 -> 2024-02-10 is 31 days later


def test_lfs_from_remission_censored_at_last_known_alive_not_last_assessment(adtte):
    """LFSCR (primary external comparison, SAP 6.7) is censored where both its events stop being
    ascertained: the last date known alive. 01-002: last assessment 2024-06-01, alive 2025-01-15
    (2025-01-15 - CRDT + 1 days).
    Censoring LFSCR at the last assessment while counting later events biased the primary
    comparison by +0.12 on the log-HR scale under a null (docs/sap-notes.md 9.5)."""
    r = row(adtte, "01-002", "LFSCR")
    assert (r.ADT, r.CNSR, r.CNSDTDSC) == (T("2025-01-15"), 1, "LAST KNOWN ALIVE")
    assert r.AVAL == (T("2025-01-15") - r.STARTDT).days + 1


def test_completer_parameters_start_at_car_t2(adtte):
    r = row(adtte, "01-001", "OSPP")  # 2024-04-09 -> 2024-12-01: 21+31+30+31+31+30+31+30+1 = 236
    assert (r.STARTDT, r.AVAL, r.CNSR) == (T("2024-04-09"), 237, 0)
    assert row(adtte, "01-001", "LFSPP").ADT == T("2024-09-10")


def test_invariants(adtte):
    assert not adtte.duplicated(["USUBJID", "PARAMCD"]).any()
    assert (adtte.AVAL >= 1).all() and set(adtte.CNSR) <= {0, 1}
    assert (adtte.ADT <= adtte.DCUTDT).all()
    assert ((adtte.CNSR == 1) == (adtte.EVNTTYPE == 0)).all()
    assert (adtte.CNSDTDSC.isna() == (adtte.CNSR == 0)).all()
    assert ((adtte.ADT - adtte.STARTDT).dt.days + 1 == adtte.AVAL).all()


def test_remission_after_the_start_of_therapy_is_bad_data():
    forms = case_forms()
    forms["bl"].loc[forms["bl"].SUBJID == "01-002", "CRDTC"] = "2024-02-01"
    with pytest.raises(BadDataError, match="SWCART-01-01-002: remission before therapy .CRDTC. 2024-02-01"):
        derive_datasets(forms, CUT_DATE)


def test_death_before_car_t1_is_bad_data_naming_subject_and_variable():
    forms = case_forms()
    ds = forms["ds"]
    ds.loc[ds.SUBJID == "01-002", ["DTHFL", "DTHDTC"]] = ["Y", "2024-01-05"]
    with pytest.raises(BadDataError, match=r"OS: subject SWCART-01-01-002: event 'DEATH' \(ADSL.DTHDT\) on 2024-01-05"):
        derive_datasets(forms, CUT_DATE)


def test_paramn_follows_the_declaration_order(adtte):
    order = adtte.drop_duplicates("PARAMCD").set_index("PARAMCD")["PARAMN"].to_dict()
    assert order == {"OS": 1, "LFS": 2, "RELNRM": 3, "MRDDURFC": 4, "MRDDURNG": 5, "OSCR": 6,
                     "LFSCR": 7, "OSPP": 8, "LFSPP": 9}
