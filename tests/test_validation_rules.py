"""Validation's form-consistency and cross-form rules (validation/): each rule, broken once in
a copy of the latest shipped cut, is reported with the exact failure line (file, row, subject,
column, rule). Split from tests/test_validation.py (same approach: rows to corrupt are picked from
the data, expected lines are built from the test's own inputs; only the touched suites run)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.raw_spec import CTCAE_TERMS
from tests.fixtures.corrupt import copy_cut, first_row, set_cell, write_text
from tests.validation_cut import day_after as _day
from tests.validation_cut import frame, lines_of, shipped_cut


@pytest.fixture(scope="module")
def source_cut() -> tuple[Path, str]:
    return shipped_cut()


@pytest.fixture
def work(source_cut, tmp_path) -> Path:
    """A fresh copy of the cut's raw folder to corrupt."""
    src, cut = source_cut
    return copy_cut(src, tmp_path, cut)


# --- form consistency rules ---------------------------------------------------------------------------

def test_ctcae_grade_and_soc_of_the_term(work):
    ae = frame(work, "ae")
    set_cell(work, "ae", 1, "AEDECOD", "Febrile neutropenia")
    set_cell(work, "ae", 1, "AEBODSYS", "Blood and lymphatic system disorders")
    set_cell(work, "ae", 1, "AETOXGR", "1")
    set_cell(work, "ae", 2, "AEDECOD", "Sepsis")
    set_cell(work, "ae", 2, "AEBODSYS", "Investigations")
    set_cell(work, "ae", 2, "AETOXGR", "3")
    lines = lines_of(work, "raw.ae")
    s1, s2 = ae.loc[0, "SUBJID"], ae.loc[1, "SUBJID"]
    assert (f"ae.csv row 1 (SUBJID {s1}) AETOXGR: grade 1 not allowed for 'Febrile neutropenia' "
            "(CTCAE 5.0 grades {3, 4, 5}) [expect_column_pair_values_to_be_in_set]") in lines
    assert (f"ae.csv row 2 (SUBJID {s2}) AEBODSYS: Investigations is not the SOC of 'Sepsis' "
            "(CTCAE 5.0: Infections and infestations) [expect_column_pair_values_to_be_in_set]") in lines
    assert CTCAE_TERMS["Sepsis"][0] == "Infections and infestations"


def test_mrd_level_vs_undetectable_and_sensitivity(work):
    mrd = frame(work, "mrd")
    und = first_row(mrd, mrd["MRDUND"] == "Y")
    det = first_row(mrd, mrd["MRDUND"] == "N")
    set_cell(work, "mrd", und, "MRDLEVEL", "0.001")
    set_cell(work, "mrd", det, "MRDSENS", "1e-3")
    set_cell(work, "mrd", det, "MRDLEVEL", "1e-4")
    other = next(i + 1 for i in range(len(mrd)) if mrd.loc[i, "MRDUND"] == "N" and i + 1 != det)
    set_cell(work, "mrd", other, "MRDLEVEL", "")
    lines = lines_of(work, "raw.mrd")
    s = lambda r: mrd.loc[r - 1, "SUBJID"]  # noqa: E731
    assert (f"mrd.csv row {und} (SUBJID {s(und)}) MRDLEVEL: 0.001 given although MRDUND=Y (undetectable) "
            "(must be empty) [expect_column_values_to_be_null]") in lines
    assert (f"mrd.csv row {det} (SUBJID {s(det)}) MRDLEVEL: 1e-4 is below the assay sensitivity MRDSENS 1e-3 "
            "although detectable (MRDUND=N) [expect_column_pair_values_a_to_be_greater_than_b]") in lines
    assert (f"mrd.csv row {other} (SUBJID {s(other)}) MRDLEVEL: empty although MRDUND=N (detectable) (required) "
            "[expect_column_values_to_not_be_null]") in lines


def test_mobilization_outcome_agrees_with_yield(work):
    mob = frame(work, "mob")
    ok = [i + 1 for i in mob.index[mob["MOBSTAT"] == "SUCCESS"]]
    set_cell(work, "mob", ok[0], "MOBSTAT", "FAILED")          # yield >= 2: not a failure
    set_cell(work, "mob", ok[1], "CD34", "1.5")                 # success below the minimum dose
    set_cell(work, "mob", ok[2], "COLLDTC", "")                 # success without collection date
    lines = lines_of(work, "raw.mob")
    s = lambda r: mob.loc[r - 1, "SUBJID"]  # noqa: E731
    y0 = mob.loc[ok[0] - 1, "CD34"]
    assert (f"mob.csv row {ok[0]} (SUBJID {s(ok[0])}) CD34: {y0} not in [0, 2) when MOBSTAT=FAILED "
            "(a yield at the minimum dose is a success) [expect_column_values_to_be_between]") in lines
    assert (f"mob.csv row {ok[1]} (SUBJID {s(ok[1])}) CD34: 1.5 not in [2, inf] when MOBSTAT=SUCCESS "
            "(minimum CD34+ dose for an auto-HSCT) [expect_column_values_to_be_between]") in lines
    assert (f"mob.csv row {ok[2]} (SUBJID {s(ok[2])}) COLLDTC: empty although MOBSTAT=SUCCESS (required) "
            "[expect_column_values_to_not_be_null]") in lines
    assert (f"mob.csv row {ok[2]} (SUBJID {s(ok[2])}) CD34: {mob.loc[ok[2] - 1, 'CD34']} given although COLLDTC "
            "is empty (no collection, no yield) (must be empty) [expect_column_values_to_be_null]") in lines


def test_disposition_reason_agrees_with_status(work):
    ds = frame(work, "ds")
    done = [i + 1 for i in ds.index[ds["EOTSTAT"] == "COMPLETED"]]
    set_cell(work, "ds", done[0], "DCREAS", "WITHDRAWAL")
    set_cell(work, "ds", done[1], "EOTSTAT", "DISCONTINUED")
    lines = lines_of(work, "raw.ds")
    s = lambda r: ds.loc[r - 1, "SUBJID"]  # noqa: E731
    assert (f"ds.csv row {done[0]} (SUBJID {s(done[0])}) DCREAS: WITHDRAWAL given although EOTSTAT is "
            "COMPLETED/ONGOING (must be empty) [expect_column_values_to_be_null]") in lines
    assert (f"ds.csv row {done[1]} (SUBJID {s(done[1])}) DCREAS: empty although EOTSTAT=DISCONTINUED (required) "
            "[expect_column_values_to_not_be_null]") in lines


def test_disposition_agrees_with_treatment(work):
    ds = frame(work, "ds")
    cart = frame(work, "cart")
    mob = frame(work, "mob")
    no_cart2 = set(ds["SUBJID"]) - set(cart.loc[cart["PHASE"] == "CAR-T2", "SUBJID"])
    row = first_row(ds, ds["SUBJID"].isin(no_cart2))
    set_cell(work, "ds", row, "EOTSTAT", "COMPLETED")
    set_cell(work, "ds", row, "DCREAS", "")
    set_cell(work, "ds", row, "DCDTC", "")
    mob_ok = set(mob.loc[mob["MOBSTAT"] == "SUCCESS", "SUBJID"])
    row2 = first_row(ds, ds["SUBJID"].isin(mob_ok) & (ds["EOTSTAT"] == "COMPLETED"))
    set_cell(work, "ds", row2, "EOTSTAT", "DISCONTINUED")
    set_cell(work, "ds", row2, "DCREAS", "MOBILIZATION FAILURE")
    set_cell(work, "ds", row2, "DCDTC", ds.loc[row2 - 1, "LSTALVDTC"])
    lines = lines_of(work, "cross.ds")
    assert (f"ds.csv row {row} (SUBJID {ds.loc[row - 1, 'SUBJID']}) EOTSTAT: COMPLETED but cart.csv has no CAR-T2 "
            "infusion for the subject [expect_column_values_to_be_in_set]") in lines
    assert (f"ds.csv row {row2} (SUBJID {ds.loc[row2 - 1, 'SUBJID']}) DCREAS: MOBILIZATION FAILURE but mob.csv has no "
            "failed mobilization for the subject [expect_column_values_to_be_in_set]") in lines


def test_manifest_row_count_is_checked(work):
    import json
    m = json.loads((work / "manifest.json").read_text())
    if not isinstance(m.get("files", {}).get("rs.csv"), dict) or "rows" not in m["files"]["rs.csv"]:
        pytest.skip("this cut's manifest states no row counts")
    n = m["files"]["rs.csv"]["rows"]
    m["files"]["rs.csv"]["rows"] = n + 1
    (work / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    lines = lines_of(work, refresh=False)
    assert f"rs.csv: {n} data rows but manifest.json states {n + 1} [manifest_sha256]" in lines


def test_death_flag_and_date_agree(work):
    ds = frame(work, "ds")
    dead = first_row(ds, ds["DTHFL"] == "Y")
    alive = first_row(ds, ds["DTHFL"] == "N")
    set_cell(work, "ds", dead, "DTHDTC", "")
    set_cell(work, "ds", alive, "DTHDTC", ds.loc[alive - 1, "LSTALVDTC"])
    lines = lines_of(work, "raw.ds")
    assert (f"ds.csv row {dead} (SUBJID {ds.loc[dead - 1, 'SUBJID']}) DTHDTC: empty although DTHFL=Y (required) "
            "[expect_column_values_to_not_be_null]") in lines
    assert (f"ds.csv row {alive} (SUBJID {ds.loc[alive - 1, 'SUBJID']}) DTHDTC: {ds.loc[alive - 1, 'LSTALVDTC']} "
            "given although DTHFL=N (must be empty) [expect_column_values_to_be_null]") in lines


def test_remission_needs_fewer_than_5_percent_blasts(work):
    rs = frame(work, "rs")
    row = first_row(rs, rs["RSORRES"].isin(["CR", "CRi"]))
    set_cell(work, "rs", row, "BMBLAST", "40")
    lines = lines_of(work, "raw.rs")
    assert (f"rs.csv row {row} (SUBJID {rs.loc[row - 1, 'SUBJID']}) BMBLAST: 40 not in [0, 5) when RSORRES is "
            "CR/CRi [expect_column_values_to_be_between]") in lines


# --- cross-form rules ------------------------------------------------------------------------------------

def test_subject_not_in_dm(work):
    set_cell(work, "ae", 1, "SUBJID", "09-999")
    lines = lines_of(work, "cross.ae")
    assert "ae.csv row 1 (SUBJID 09-999) SUBJID: 09-999 is not in dm.csv [expect_column_values_to_be_in_set]" in lines


def _cart_row(cart, subj, phase, product):
    return first_row(cart, (cart["SUBJID"] == subj) & (cart["PHASE"] == phase) & (cart["PRODUCT"] == product))


def test_protocol_sequence(work):
    hsct = frame(work, "hsct")
    cart = frame(work, "cart")
    mob = frame(work, "mob")
    subj = hsct.loc[0, "SUBJID"]          # a subject who had the whole sandwich
    cd22 = _cart_row(cart, subj, "CAR-T1", "CD22")
    cd19 = _cart_row(cart, subj, "CAR-T1", "CD19")
    cart2 = _cart_row(cart, subj, "CAR-T2", "CD19")
    mobr = first_row(mob, mob["SUBJID"] == subj)
    d22 = cart.loc[cd22 - 1, "INFDTC"]
    # CD19 the day before CD22; CAR-T2 on the HSCT day; conditioning on the collection day
    set_cell(work, "cart", cd19, "INFDTC", _day(d22, -1))
    set_cell(work, "cart", cart2, "INFDTC", hsct.loc[0, "HSCTDTC"])
    set_cell(work, "hsct", 1, "CONDSTDTC", mob.loc[mobr - 1, "COLLDTC"])
    lines = lines_of(work, "cross.cart", "cross.hsct")
    assert (f"cart.csv row {cd19} (SUBJID {subj}) INFDTC: {_day(d22, -1)} is before CAR-T1 CD22 infusion cart.INFDTC "
            f"{d22} (CAR-T1: CD22 before CD19) [expect_column_pair_values_a_to_be_greater_than_b]") in lines
    assert (f"cart.csv row {cart2} (SUBJID {subj}) INFDTC: {hsct.loc[0, 'HSCTDTC']} is on or before auto-HSCT "
            f"hsct.HSCTDTC {hsct.loc[0, 'HSCTDTC']} (CAR-T2 follows the auto-HSCT) "
            "[expect_column_pair_values_a_to_be_greater_than_b]") in lines
    coll = mob.loc[mobr - 1, "COLLDTC"]
    assert (f"hsct.csv row 1 (SUBJID {subj}) CONDSTDTC: {coll} is on or before stem-cell collection mob.COLLDTC "
            f"{coll} [expect_column_pair_values_a_to_be_greater_than_b]") in lines


def test_mobilization_before_car_t1_ends(work):
    mob = frame(work, "mob")
    cart = frame(work, "cart")
    subj = mob.loc[0, "SUBJID"]
    last = cart.loc[(cart["SUBJID"] == subj) & (cart["PHASE"] == "CAR-T1"), "INFDTC"].max()
    set_cell(work, "mob", 1, "MOBSTDTC", last)
    lines = lines_of(work, "cross.mob")
    assert (f"mob.csv row 1 (SUBJID {subj}) MOBSTDTC: {last} is on or before last CAR-T1 infusion cart.INFDTC "
            f"{last} [expect_column_pair_values_a_to_be_greater_than_b]") in lines


def test_hsct_needs_successful_collection_and_car_t2_needs_hsct(work):
    hsct = frame(work, "hsct")
    subj = hsct.loc[0, "SUBJID"]
    mob = frame(work, "mob")
    mrow = first_row(mob, mob["SUBJID"] == subj)
    for col, v in (("MOBSTAT", "FAILED"), ("COLLDTC", ""), ("CD34", "")):
        set_cell(work, "mob", mrow, col, v)
    write_text(work, "hsct", hsct.iloc[1:])   # and a CAR-T2 subject without HSCT record
    cart = frame(work, "cart")
    c2 = _cart_row(cart, subj, "CAR-T2", "CD22")
    lines = lines_of(work, "cross.cart")
    assert (f"cart.csv row {c2} (SUBJID {subj}) PHASE: CAR-T2 infusion but the subject has no auto-HSCT record "
            "in hsct.csv [expect_column_values_to_be_in_set]") in lines
    write_text(work, "hsct", hsct)
    lines = lines_of(work, "cross.hsct")
    assert (f"hsct.csv row 1 (SUBJID {subj}) HSCTDTC: auto-HSCT but mob.csv has no successful stem-cell collection "
            "for the subject [expect_column_values_to_be_in_set]") in lines


def _dead_subject(cut_dir):
    ds = frame(cut_dir, "ds")
    ae = frame(cut_dir, "ae")
    dead = ds.loc[ds["DTHFL"] == "Y"]
    with_ae = dead[dead["SUBJID"].isin(ae["SUBJID"])]
    assert len(with_ae), "the clean cut has no subject who died and had an AE"
    return with_ae.iloc[0]["SUBJID"], with_ae.iloc[0]["DTHDTC"]


def test_events_after_death_and_partial_date_rule(work):
    subj, death = _dead_subject(work)
    ae = frame(work, "ae")
    rows = [i + 1 for i in ae.index[ae["SUBJID"] == subj]]
    after = _day(death, 1)
    set_cell(work, "ae", rows[0], "AESTDTC", after)
    set_cell(work, "ae", rows[0], "AEENDTC", "")
    death_month = death[:7]
    next_month = (pd.Timestamp(death) + pd.offsets.MonthBegin(1)).strftime("%Y-%m")
    if len(rows) > 1:   # the death month itself may contain the onset: no failure (partial-date rule)
        set_cell(work, "ae", rows[1], "AESTDTC", death_month)
        set_cell(work, "ae", rows[1], "AEENDTC", "")
    rs = frame(work, "rs")
    rsrow = first_row(rs, rs["SUBJID"] == subj)
    set_cell(work, "rs", rsrow, "RSDTC", after)
    lines = lines_of(work, "cross.ae", "cross.rs")
    assert (f"ae.csv row {rows[0]} (SUBJID {subj}) AESTDTC: {after} is after death ds.DTHDTC {death} "
            "[expect_column_pair_values_a_to_be_greater_than_b]") in lines
    assert (f"rs.csv row {rsrow} (SUBJID {subj}) RSDTC: {after} is after death ds.DTHDTC {death} "
            "[expect_column_pair_values_a_to_be_greater_than_b]") in lines
    if len(rows) > 1:
        assert not any(f"ae.csv row {rows[1]} " in ln for ln in lines)
        set_cell(work, "ae", rows[1], "AESTDTC", next_month)   # even its 1st day is after death
        lines = lines_of(work, "cross.ae")
        assert (f"ae.csv row {rows[1]} (SUBJID {subj}) AESTDTC: {next_month} is after death ds.DTHDTC {death} "
                "[expect_column_pair_values_a_to_be_greater_than_b]") in lines


def test_assessment_before_enrollment(work):
    mrd = frame(work, "mrd")
    dm = frame(work, "dm")
    subj = mrd.loc[0, "SUBJID"]
    enrl = dm.loc[dm["SUBJID"] == subj, "ENRLDTC"].iloc[0]
    set_cell(work, "mrd", 1, "MRDDTC", _day(enrl, -3))
    lines = lines_of(work, "cross.mrd")
    assert (f"mrd.csv row 1 (SUBJID {subj}) MRDDTC: {_day(enrl, -3)} is before enrollment dm.ENRLDTC {enrl} "
            "[expect_column_pair_values_a_to_be_greater_than_b]") in lines


def test_grade5_ae_requires_death(work):
    ds = frame(work, "ds")
    ae = frame(work, "ae")
    alive = set(ds.loc[ds["DTHFL"] == "N", "SUBJID"])
    row = first_row(ae, ae["SUBJID"].isin(alive) & ae["AEDECOD"].map(lambda t: 5 in CTCAE_TERMS[t][1]))
    set_cell(work, "ae", row, "AETOXGR", "5")
    lines = lines_of(work, "cross.ae")
    assert (f"ae.csv row {row} (SUBJID {ae.loc[row - 1, 'SUBJID']}) AETOXGR: grade 5 (fatal) but ds.DTHFL is N "
            "[expect_column_values_to_be_in_set]") in lines
