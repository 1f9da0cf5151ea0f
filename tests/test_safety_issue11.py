"""Issue 11: disposition, AE periods and their denominators, onset imputation, deaths, CRS/ICANS
by ASTCT grade and infusion, exposure and adherence. Small hand-made frames with answers set by
hand (admiral style), then the same rules checked on the shipped cuts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import ard as A
from analysis.analyze import safety
from analysis.derive import periods
from analysis.derive.pipeline import derive_datasets, read_raw_forms
from analysis.paths import raw_dir
from tests.test_derive_cases import CUT_DATE, case_forms

T = pd.Timestamp
DATES = ("TRTSDT", "CART1EDT", "MOBSTDT", "COLLDT", "CONDSTDT", "AHSCTDT", "NEUTDT", "PLTDT", "CART2DT",
         "DTHDT", "LSTALVDT", "DCUTDT", "RELDT")


def adsl_rows(*rows: dict) -> pd.DataFrame:
    """ADSL of hand-made trial subjects: dates as Timestamps, flags derived as ADSL does."""
    base = {c: None for c in DATES} | {"COHORT": "SANDWICH", "DTHFL": "N", "DCUTDT": "2026-06-30",
                                       "MOBSTAT": None, "CD34YLD": np.nan, "EOTSTT": "COMPLETED", "DCSREAS": None,
                                       "DTHCAUS": None}
    df = pd.DataFrame([base | r for r in rows])
    for c in DATES:
        df[c] = pd.to_datetime(df[c]).astype("datetime64[us]")
    df["ENRLFL"] = "Y"
    df["SAFFL"] = np.where(df["TRTSDT"].notna(), "Y", "N")
    df["MOBFL"] = np.where(df["MOBSTDT"].notna(), "Y", "N")
    df["COLLSFL"] = np.where(df["MOBSTAT"].eq("SUCCESS") & (df["CD34YLD"] >= 2), "Y", "N")
    df["COMPLFL"] = np.where(df["CART2DT"].notna(), "Y", "N")
    df["LFSFL"] = "Y"
    bounds = periods.period_bounds(df)
    return pd.concat([df, bounds, periods.entered_flags(df, bounds)], axis=1)


COMPLETER = dict(USUBJID="S1", TRTSDT="2024-01-10", CART1EDT="2024-01-11", MOBSTDT="2024-03-01",
                 MOBSTAT="SUCCESS", CD34YLD=4.0, COLLDT="2024-03-05", CONDSTDT="2024-04-01",
                 AHSCTDT="2024-04-07", NEUTDT="2024-04-20", PLTDT="2024-04-25", CART2DT="2024-04-09",
                 LSTALVDT="2026-06-01")
FAILED_COLLECTION = dict(USUBJID="S2", TRTSDT="2024-01-10", CART1EDT="2024-01-12", MOBSTDT="2024-03-01",
                         MOBSTAT="FAILED", CD34YLD=1.25, COLLDT="2024-03-05", LSTALVDT="2026-06-01",
                         EOTSTT="DISCONTINUED", DCSREAS="MOBILIZATION FAILURE")
NO_MOBILIZATION = dict(USUBJID="S3", TRTSDT="2024-01-10", CART1EDT="2024-01-12", LSTALVDT="2024-01-30",
                       DTHDT="2024-01-30", DTHFL="Y", DTHCAUS="INFECTION", EOTSTT="DISCONTINUED", DCSREAS="DEATH")


# --- defect 1: disposition --------------------------------------------------------------------------

def _flow(table):
    sel = table[(table["context"] == "disposition") & (table["param"] == "FLOW")]
    return dict(zip(sel["variable_level"], sel["stat"].astype(int)))


def test_failed_mobilization_with_a_collection_date_is_not_a_successful_collection():
    rows = safety.disposition_rows(adsl_rows(COMPLETER, FAILED_COLLECTION, NO_MOBILIZATION))
    assert _flow(rows) == {"Enrolled": 3, "Received CAR-T1": 3, "Mobilized": 2,
                           "Successful stem-cell collection": 1, "Auto-HSCT": 1, "Received CAR-T2": 1}
    exits = rows[rows["param"] == "EXIT"]
    assert set(zip(exits["variable"], exits["variable_level"])) == {("Received CAR-T1", "DEATH"),
                                                          ("Mobilized", "MOBILIZATION FAILURE")}


def test_a_step_reached_without_the_one_before_is_an_error():
    odd = dict(FAILED_COLLECTION, USUBJID="S9", AHSCTDT="2024-04-07")   # transplanted, collection failed
    with pytest.raises(ValueError, match="S9.*Auto-HSCT.*Successful"):
        safety.disposition_rows(adsl_rows(odd))


# --- defect 2: periods that follow the protocol and close -------------------------------------------

def _periods_of(adsl: pd.DataFrame, subject: str, onsets: list[str], crs: list[bool]) -> list[str]:
    row = adsl[adsl["USUBJID"] == subject].iloc[0]
    frame = pd.DataFrame([row] * len(onsets)).reset_index(drop=True)
    onset = pd.Series(pd.to_datetime(onsets)).astype("datetime64[us]")
    return periods.assign_period(onset, pd.Series(crs), frame).tolist()


def test_periods_follow_the_protocol_and_close():
    adsl = adsl_rows(COMPLETER, NO_MOBILIZATION)
    got = _periods_of(adsl, "S1",
                      ["2024-01-09", "2024-02-29", "2024-03-20", "2024-04-12", "2024-04-10", "2024-04-25",
                       "2024-05-07", "2024-05-08", "2025-03-01", "2026-01-09", "2026-01-10", "2024-06-15"],
                      [False, False, False, False, True, False, False, False, False, False, False, True])
    assert got == ["PRE-TREATMENT", "CAR-T1", "MOBILIZATION",
                   "AUTO-HSCT",        # febrile neutropenia in the aplasia, after CAR-T2: transplant toxicity
                   "CAR-T2",           # CRS the day after CAR-T2: the infusion that caused it
                   "CAR-T2",           # after engraftment (04-20), within CAR-T2 + 28
                   "CAR-T2", "POST-TREATMENT",   # CAR-T2 + 28 = 05-07 closes the period
                   "POST-TREATMENT", "POST-TREATMENT",   # TRTSDT + 730 = 2026-01-09: last day of the AE window
                   "AFTER AE WINDOW",
                   "CAR-T2"]           # a late CRS: still attributed to the most recent infusion
    # no mobilization: CAR-T1 closes at the last CAR-T1 infusion + 28 days (01-12 + 28 = 02-09)
    assert _periods_of(adsl, "S3", ["2024-02-09", "2024-02-10"], [False, False]) == ["CAR-T1", "POST-TREATMENT"]


def test_failed_mobilization_closes_28_days_after_collection():
    adsl = adsl_rows(FAILED_COLLECTION)
    assert _periods_of(adsl, "S2", ["2024-04-02", "2024-04-03"], [False, False]) == ["MOBILIZATION", "POST-TREATMENT"]


SHIPPED = ("cut-2024-06-30", "cut-2025-06-30")


@pytest.mark.parametrize("cut", SHIPPED)
def test_shipped_cut_aplasia_toxicity_is_not_car_t2_and_every_teae_has_a_closed_period(cut):
    data = derive_datasets(read_raw_forms(raw_dir(cut)), cut.removeprefix("cut-"))
    adae, adsl = data["adae"], data["adsl"]
    te = adae[adae["TRTEMFL"] == "Y"]
    assert set(te["APHASE"]) <= set(periods.PERIODS)
    aplasia = te[te["AEDECOD"].isin(["Febrile neutropenia", "Mucositis oral"])]
    assert len(aplasia) > 0 and not aplasia["APHASE"].eq("CAR-T2").any()
    merged = te.merge(adsl[["USUBJID", "MOBSTDT", "CONDSTDT"]], on="USUBJID")
    mob = merged[merged["APHASE"] == "MOBILIZATION"]
    assert (mob["CONDSTDT"].isna() | (mob["ASTDT"] < mob["CONDSTDT"])).all()
    assert (mob["ASTDT"] - mob["MOBSTDT"]).dt.days.max() <= 60   # closes; no day-330 "mobilization" event
    crs = te[te["CRSFL"] == "Y"]
    assert (crs["APHASE"] == crs["AINFUS"]).all()


# --- defect 3: denominators = subjects who entered the period ---------------------------------------

def test_ae_by_period_denominator_is_subjects_who_entered():
    adsl = adsl_rows(COMPLETER, FAILED_COLLECTION, NO_MOBILIZATION)
    adae = pd.DataFrame({"USUBJID": ["S1", "S2"], "TRTEMFL": ["Y", "Y"], "APHASE": ["CAR-T2", "MOBILIZATION"]})
    rows = safety.ae_period_rows(adae, adsl)

    def stat(period, name):
        return A.lookup(rows, variable_level=period, stat_name=name)
    assert (stat("CAR-T2", "n_subj"), stat("CAR-T2", "N"), stat("CAR-T2", "pct")) == (1, 1, 100)
    assert (stat("MOBILIZATION", "N"), stat("MOBILIZATION", "pct")) == (2, 50)
    assert stat("POST-TREATMENT", "N") == 2     # S3 died on day 21, before the post-treatment period


@pytest.mark.parametrize("cut", SHIPPED)
def test_shipped_cut_period_denominators_and_disposition(cut):
    data = derive_datasets(read_raw_forms(raw_dir(cut)), cut.removeprefix("cut-"))
    rows = safety.ae_period_rows(data["adae"], data["adsl"])
    trial = data["adsl"][data["adsl"]["COHORT"] == "SANDWICH"]
    assert A.lookup(rows, variable_level="CAR-T2", stat_name="N") == trial["CART2DT"].notna().sum()
    assert A.lookup(rows, variable_level="MOBILIZATION", stat_name="N") == trial["MOBSTDT"].notna().sum()
    assert rows.loc[rows["stat_name"] == "n_events_outside", "stat"].sum() == 0
    # period denominators differ from the N of the safety population (issue 11: 32/40 and 37/40 on the
    # data of the issue, before the issue 10 simulator regenerated the cuts)
    n_saf = int((trial["SAFFL"] == "Y").sum())
    assert A.lookup(rows, variable_level="CAR-T2", stat_name="N") < n_saf
    flow = _flow(safety.disposition_rows(data["adsl"]))
    failed = trial[trial["MOBSTAT"].eq("FAILED") & trial["COLLDT"].notna()]
    assert flow["Successful stem-cell collection"] == trial["COLLDT"].notna().sum() - len(failed)
    if cut == "cut-2025-06-30":   # FAILED mobilization with a collection date (01-012, 02-006 in the issue)
        assert len(failed) > 0   # the defect's case (FAILED with a collection date) is present in the cut


# --- defect 4: partial onsets bounded by every period-opening event of the month ---------------------

def test_partial_onset_goes_after_car_t2_in_that_month():
    forms = case_forms()
    ae = forms["ae"]
    extra = ae.iloc[[0]].assign(AESEQ=99, AESTDTC="2024-04", AEENDTC="2024-04-20")   # CRS, month of CAR-T2 (04-09)
    forms["ae"] = pd.concat([ae, extra], ignore_index=True).astype(ae.dtypes.to_dict())
    adae = derive_datasets(forms, CUT_DATE)["adae"]
    r = adae[(adae["USUBJID"].str.endswith("01-001")) & (adae["AESEQ"] == 99)].iloc[0]
    assert (r["ASTDT"], r["ASTDTF"], r["APHASE"], r["AINFUS"], r["AINFDY"]) == (T("2024-04-09"), "D", "CAR-T2", "CAR-T2", 0)
    counts = safety.imputation_rows(adae)
    assert A.lookup(counts, stat_name="n_onset_imputed") == adae["ASTDTF"].eq("D").sum() == 4
    assert A.lookup(counts, stat_name="n_onset_bounded") == 2   # 01-002 to CAR-T1 01-10, 01-001 to CAR-T2


def test_onset_bound_ignores_events_after_the_end_date():
    adsl = pd.DataFrame({"TRTSDT": [T("2024-01-10")], "MOBSTDT": [T("2024-03-01")], "CONDSTDT": [T("2024-03-20")],
                         "CART2DT": [pd.NaT]}).astype("datetime64[us]")
    bound = periods.onset_lower_bound(pd.Series(["2024-03"]), pd.Series([T("2024-03-10")]).astype("datetime64[us]"), adsl)
    assert bound.iloc[0] == T("2024-03-01")   # conditioning 03-20 is after the AE ended


# --- defect 5: deaths ------------------------------------------------------------------------------

def test_deaths_within_30_and_100_days_and_relapse():
    relapsed = dict(COMPLETER, USUBJID="S4", RELDT="2024-06-01", DTHDT="2024-07-01", DTHFL="Y", DTHCAUS="RELAPSE")
    rows = safety.death_rows(adsl_rows(COMPLETER, NO_MOBILIZATION, relapsed))
    assert A.lookup(rows, variable="WITHIN_CAR-T1", variable_level="30", stat_name="n_subj") == 1     # S3: day 20
    assert A.lookup(rows, variable="WITHIN_auto-HSCT", variable_level="100", stat_name="n_subj") == 1  # S4: 85 days
    assert A.lookup(rows, variable="WITHIN_auto-HSCT", variable_level="100", stat_name="N") == 2
    assert A.lookup(rows, variable="RELAPSE", variable_level="After relapse", stat_name="n_subj") == 1


# --- defect 6: CRS/ICANS by ASTCT grade and infusion -------------------------------------------------

def _crs_adae(with_astct: bool) -> pd.DataFrame:
    df = pd.DataFrame({"USUBJID": ["S1", "S1", "S2"], "TRTEMFL": "Y", "CRSFL": "Y", "ICANSFL": "N",
                       "AINFUS": ["CAR-T1", "CAR-T2", "CAR-T1"]})
    return df.assign(ASTCTGR=[2.0, 3.0, 1.0] if with_astct else np.nan,
                     AETOCI=["Y", "Y", "N"] if with_astct else None, AESTER=["N", "Y", "N"] if with_astct else None)


def test_crs_by_astct_grade_and_infusion():
    rows = safety.crs_icans_grade_rows(_crs_adae(True), adsl_rows(COMPLETER, FAILED_COLLECTION))
    assert A.lookup(rows, param="CRS", variable="ASTCTGR CAR-T1", variable_level=2, stat_name="n_subj") == 1
    assert A.lookup(rows, param="CRS", variable="ASTCTGR CAR-T2", variable_level=3, stat_name="pct") == 100  # 1 of 1 infused
    assert A.lookup(rows, param="CRS", variable="AINFUS", variable_level="CAR-T1", stat_name="n_tocilizumab") == 1


def test_crs_grade_is_unknown_not_zero_when_astct_is_not_recorded():
    rows = safety.crs_icans_grade_rows(_crs_adae(False), adsl_rows(COMPLETER, FAILED_COLLECTION))
    assert A.lookup(rows, param="CRS", variable="AINFUS", variable_level="CAR-T1", stat_name="n_recorded") == 0
    assert np.isnan(A.lookup(rows, param="CRS", variable="ASTCTGR CAR-T1", variable_level=2, stat_name="n_subj"))
    assert np.isnan(A.lookup(rows, param="CRS", variable="AINFUS", variable_level="CAR-T1", stat_name="n_tocilizumab"))


def test_adae_carries_astct_columns_when_collected_and_leaves_them_missing_otherwise():
    forms = case_forms()
    plain = derive_datasets(forms, CUT_DATE)["adae"]
    assert plain["ASTCTGR"].isna().all() and plain["AETOCI"].isna().all()
    ae = forms["ae"].assign(ASTCTGR=pd.NA, AETOCI=pd.NA, AESTER=pd.NA, AEACN="NONE")
    crs = ae["AEDECOD"].eq("Cytokine release syndrome")
    ae.loc[crs, ["ASTCTGR", "AETOCI", "AESTER"]] = ["2", "Y", "N"]
    forms["ae"] = ae
    got = derive_datasets(forms, CUT_DATE)["adae"]
    assert got.loc[got["CRSFL"] == "Y", "ASTCTGR"].tolist() == [2, 2]
    assert got.loc[got["CRSFL"] == "N", "ASTCTGR"].isna().all()
    assert set(got["AEACN"]) == {"NONE"}


# --- missing outputs: exposure, adherence -----------------------------------------------------------

def test_exposure_counts_doses_outside_4_to_6_million():
    adsl = adsl_rows(COMPLETER, FAILED_COLLECTION).assign(DOS1CD22=[5e6, 3.9e6], DOS1CD19=[6e6, 6.1e6],
                                                          DOS2CD22=[4e6, np.nan], DOS2CD19=[7e6, np.nan])
    rows = safety.exposure_rows(adsl)
    assert A.lookup(rows, param="DOSE", variable="ALL", stat_name="n") == 6
    assert A.lookup(rows, param="DOSE", variable="ALL", stat_name="n_outside") == 3   # 3.9, 6.1, 7.0 (x 10^6)
    assert A.lookup(rows, param="ENGRAFT", variable="Neutrophil", stat_name="median") == 13   # 04-07 -> 04-20
    assert A.lookup(rows, param="CD34YLD", stat_name="n_below_min") == 1


def test_shipped_cut_infusions_outside_the_range_recounted_on_the_raw_form():
    data = derive_datasets(read_raw_forms(raw_dir("cut-2025-06-30")), "2025-06-30")
    rows = safety.exposure_rows(data["adsl"])
    cart = read_raw_forms(raw_dir("cut-2025-06-30"))["cart"]
    outside = int(((cart["DOSE"] < 4e6) | (cart["DOSE"] > 6e6)).sum())   # independent count on the raw form
    assert (A.lookup(rows, variable="ALL", stat_name="n"), A.lookup(rows, variable="ALL", stat_name="n_outside")) \
        == (len(cart), outside)
    assert 0 < outside < len(cart)   # the data had 24 of 144; the regenerated cut has its own count


def test_adherence_windows_count_out_of_window_subjects():
    late = dict(COMPLETER, USUBJID="S5", COLLDT="2024-03-10")   # CAR-T1 01-10 -> 03-10: 60 days (> 56)
    rows = safety.adherence_rows(adsl_rows(COMPLETER, late))
    assert A.lookup(rows, variable="CAR-T1 to collection", stat_name="n_late") == 1
    assert A.lookup(rows, variable="Auto-HSCT to CAR-T2", stat_name="n_outside") == 0


# --- presentation: one name for the same row -----------------------------------------------------------

def test_rate_at_one_year_has_one_name_in_every_survival_table():
    from analysis import conventions as C
    from analysis.present.layouts import _time_label
    assert _time_label(C.TIMEPOINT_1Y_DAYS, C.DAYS_PER_MONTH, "months") == "1 year"
    assert _time_label(C.TIMEPOINT_2Y_DAYS, C.DAYS_PER_MONTH, "months") == "2 years"
    assert _time_label(180, C.DAYS_PER_MONTH, "months") == "5.9 months"


def test_deaths_with_and_without_a_grade_5_ae():
    died = dict(NO_MOBILIZATION)
    adae = pd.DataFrame({"USUBJID": ["S3", "S1"], "ATOXGR": [4.0, 5.0]})   # S3 died without a grade 5 AE
    rows = safety.death_rows(adsl_rows(COMPLETER, died), adae)
    assert A.lookup(rows, variable="FATALAE", variable_level="Without a grade 5 AE", stat_name="n_subj") == 1
    assert A.lookup(rows, variable="FATALAE", variable_level="With a grade 5 AE", stat_name="n_subj") == 0


def test_disposition_lists_the_analysis_populations():
    adsl = adsl_rows(COMPLETER, FAILED_COLLECTION, NO_MOBILIZATION).assign(COMPLFL=["Y", "N", "N"], LFSFL=["Y", "Y", "N"])
    rows = safety.disposition_rows(adsl)
    pops = rows[rows["param"] == "POPULATION"]
    assert dict(zip(pops["variable"], pops["stat"].astype(int))) == {"SAFFL": 3, "COMPLFL": 1, "LFSFL": 2}
