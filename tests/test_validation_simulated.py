"""Validation of the new kinds of bad data of the simulated study (issue 10), each on a corrupted
copy of the latest shipped cut: the failure line names file, row, subject, column and rule.

- the unit mix-up: a WBC value impossible for its stated unit (bl.WBCDIAGU);
- death <-> fatal AE reconciliation (a non-relapse death in the AE window without a grade 5 AE);
- ASTCT 2019 columns of ae.csv (present exactly for CRS/ICANS; fatal on both scales);
- subsequent therapy (ct.csv) after death; a relapse site outside its code list;
- verbatim AE terms not yet coded: valid when AEDECOD and AEBODSYS are both blank, not half-coded or fatal.
"""

from __future__ import annotations

import pandas as pd
import pytest

from tests.fixtures.corrupt import first_row, read_text, write_text
from tests.test_validation import REPO, frame, lines_of, source_cut, work  # noqa: F401  (fixtures)

CRS = "Cytokine release syndrome"


def _one(lines: list[str], *parts: str) -> str:
    hits = [line for line in lines if all(p in line for p in parts)]
    assert hits, f"no failure line with {parts}; got:\n" + "\n".join(lines)
    return hits[0]


def test_wbc_in_cells_per_ul_labelled_as_1e9_per_l_stops_validation(work):  # noqa: F811
    bl = frame(work, "bl")
    row = first_row(bl, (bl["WBCDIAGU"] == "cells/uL") & (pd.to_numeric(bl["WBCDIAG"], errors="coerce") > 1000))
    bl.loc[row - 1, "WBCDIAGU"] = "10^9/L"   # the classic mix-up: a cells/uL value, unit 10^9/L
    write_text(work, "bl", bl)
    line = _one(lines_of(work, "raw.bl"), f"bl.csv row {row} (SUBJID {bl.loc[row - 1, 'SUBJID']}) WBCDIAG:",
                "WBCDIAGU=10^9/L")
    assert "unit mix-up" in line


def test_wbc_without_its_unit_is_reported(work):  # noqa: F811
    bl = frame(work, "bl")
    row = first_row(bl, bl["WBCDIAG"] != "")
    bl.loc[row - 1, "WBCDIAGU"] = ""
    write_text(work, "bl", bl)
    _one(lines_of(work, "raw.bl"), f"bl.csv row {row}", "WBCDIAGU: empty although WBCDIAG is given")


def test_a_non_relapse_death_without_its_fatal_ae_is_reported(work):  # noqa: F811
    """A subject alive at the cut is recorded as dead of infection on the last-known-alive date,
    inside the AE window (730 days after CAR-T1), with no grade 5 AE: the reconciliation fails."""
    ds, cart = frame(work, "ds"), frame(work, "cart")
    cart1 = cart[(cart["PHASE"] == "CAR-T1") & (cart["PRODUCT"] == "CD22")].set_index("SUBJID")["INFDTC"]
    days = (pd.to_datetime(ds["LSTALVDTC"]) - pd.to_datetime(ds["SUBJID"].map(cart1))).dt.days
    row = first_row(ds, (ds["DTHFL"] == "N") & (days < 730))
    ds.loc[row - 1, ["DTHFL", "DTHDTC", "DTHCAUS"]] = ["Y", ds.loc[row - 1, "LSTALVDTC"], "INFECTION"]
    write_text(work, "ds", ds)
    lines = lines_of(work, "cross.ds")
    _one(lines, f"ds.csv row {row} (SUBJID {ds.loc[row - 1, 'SUBJID']}) DTHCAUS:", "no grade 5 AE")
    assert len([line for line in lines if "grade 5" in line]) == 1


def test_a_death_from_relapse_needs_no_fatal_ae(work):  # noqa: F811
    """The reconciliation is one way for relapse deaths: progression is not an adverse event."""
    ds = frame(work, "ds")
    relapse_deaths = ds[(ds["DTHFL"] == "Y") & (ds["DTHCAUS"] == "RELAPSE")]["SUBJID"]
    ae = frame(work, "ae")
    assert relapse_deaths.size and not ae[ae["SUBJID"].isin(relapse_deaths) & (ae["AETOXGR"] == "5")].size
    assert not [line for line in lines_of(work, "cross.ds") if "grade 5" in line]


@pytest.mark.parametrize("case", ["missing_for_crs", "given_for_other", "fatal_on_one_scale"])
def test_astct_columns(work, case):  # noqa: F811
    ae = frame(work, "ae")
    crs = first_row(ae, (ae["AEDECOD"] == CRS) & (ae["AETOXGR"] != "5"))
    other = first_row(ae, ~ae["AEDECOD"].isin([CRS, "Immune effector cell-associated neurotoxicity syndrome"]))
    if case == "missing_for_crs":
        ae.loc[crs - 1, "ASTCTGR"], row, expect = "", crs, "ASTCTGR: empty although AEDECOD is CRS or ICANS"
    elif case == "given_for_other":
        ae.loc[other - 1, "AETOCI"], row, expect = "Y", other, "AETOCI: Y given although AEDECOD is not CRS or ICANS"
    else:
        ae.loc[crs - 1, "ASTCTGR"], row, expect = "5", crs, "ASTCTGR: 5 with CTCAE grade"
    write_text(work, "ae", ae)
    _one(lines_of(work, "raw.ae"), f"ae.csv row {row} (SUBJID {ae.loc[row - 1, 'SUBJID']}) {expect}")


def test_subsequent_therapy_after_death_and_a_bad_relapse_site(work):  # noqa: F811
    ds = frame(work, "ds")
    dead = ds[ds["DTHFL"] == "Y"].iloc[0]
    ct = read_text(work, "ct")
    extra = pd.DataFrame([{"SUBJID": dead["SUBJID"], "CTSEQ": "99", "CTTYPE": "ALLO-HSCT",
                           "CTSTDTC": (pd.Timestamp(dead["DTHDTC"]) + pd.Timedelta(days=5)).date().isoformat()}])
    write_text(work, "ct", pd.concat([ct, extra], ignore_index=True))
    rs = frame(work, "rs")
    rel = first_row(rs, rs["RSORRES"] == "RELAPSE")
    rs.loc[rel - 1, "RELSITE"] = "SKIN"
    write_text(work, "rs", rs)
    lines = lines_of(work, "cross.ct", "raw.rs")
    _one(lines, f"ct.csv row {len(ct) + 1} (SUBJID {dead['SUBJID']}) CTSTDTC:", "DTHDTC")
    _one(lines, f"rs.csv row {rel}", "RELSITE: SKIN not in {BM, CNS, BM+CNS, OTHER-EM}")


@pytest.mark.parametrize("case", ["uncoded_is_valid", "half_coded", "fatal_uncoded"])
def test_verbatim_terms_not_yet_coded(work, case):  # noqa: F811
    """Issue 10 / SAP 5.1: an AE whose verbatim term is not coded yet (AEDECOD and AEBODSYS both
    blank) is valid; only one of them blank, or an uncoded grade 5 event, stops validation."""
    ae = frame(work, "ae")
    row = first_row(ae, ~ae["AEDECOD"].isin([CRS, "Immune effector cell-associated neurotoxicity syndrome"])
                    & (ae["AETOXGR"] != "5"))
    subj = ae.loc[row - 1, "SUBJID"]
    if case == "uncoded_is_valid":
        ae.loc[row - 1, ["AEDECOD", "AEBODSYS"]] = ["", ""]
    elif case == "half_coded":
        ae.loc[row - 1, "AEDECOD"] = ""
    else:
        ae.loc[row - 1, ["AEDECOD", "AEBODSYS", "AETOXGR"]] = ["", "", "5"]
    write_text(work, "ae", ae)
    lines = lines_of(work, "raw.ae")
    if case == "uncoded_is_valid":
        assert not [line for line in lines if f"ae.csv row {row} " in line], lines
    elif case == "half_coded":
        _one(lines, f"ae.csv row {row} (SUBJID {subj}) AEBODSYS:", "given although AEDECOD is empty")
    else:
        _one(lines, f"ae.csv row {row} (SUBJID {subj}) AEDECOD: empty although AETOXGR is 5")
