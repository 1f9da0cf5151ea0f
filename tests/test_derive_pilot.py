"""ADTTE and ADSL carry the core variables with the same meaning as the real CDISC Pilot 01
ADaM data (cdisc_pilot_dir). The pilot's coding is read from the pilot data itself, then our
derived transport files (read the same way) are checked against it."""

from __future__ import annotations

import pandas as pd
import pyreadstat
import pytest

from analysis.derive.pipeline import derive_cut
from tests.test_derive_cases import CUT, write_case_cut

CORE_TTE = ["USUBJID", "PARAMCD", "PARAM", "AVAL", "STARTDT", "ADT", "CNSR", "EVNTDESC", "SRCDOM",
            "SRCVAR", "SRCSEQ", "SAFFL", "TRTSDT"]
DATES = ["STARTDT", "ADT", "TRTSDT"]


def _read(path):
    """As the pilot is read; numeric zero comes back as ~5e-79 from pandas' IBM-float decoding,
    so numbers are rounded to 6 decimals (dates and day counts are integers)."""
    df = pd.read_sas(path, format="xport", encoding="latin1")
    num = df.select_dtypes("number").columns
    return df.assign(**{c: df[c].round(6) for c in num})


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    root = tmp_path_factory.mktemp("pilot")
    write_case_cut(root)
    return derive_cut(CUT, root)


@pytest.fixture(scope="module")
def pilot_adtte(cdisc_pilot_dir):
    return _read(cdisc_pilot_dir / "adtte.xpt")


def test_pilot_coding_as_found_in_the_pilot_data(pilot_adtte):
    t = pilot_adtte
    # AVAL in days = ADT - STARTDT + 1, dates as SAS day numbers; CNSR 0/1
    assert ((t.ADT - t.STARTDT + 1) == t.AVAL).all()
    assert set(t.CNSR) == {0.0, 1.0}
    # 0 = event (sourced from the event record), 1 = censored (a completion date)
    assert set(t.loc[t.CNSR == 0, "SRCDOM"]) == {"ADAE"}
    assert t.loc[t.CNSR == 1, "EVNTDESC"].str.contains("Completion").all()


def test_our_adtte_has_the_pilot_core_variables_with_the_same_sas_types(cdisc_pilot_dir, ours):
    _, pilot_meta = pyreadstat.read_xport(str(cdisc_pilot_dir / "adtte.xpt"), metadataonly=True)
    _, our_meta = pyreadstat.read_xport(str(ours / "adtte.xpt"), metadataonly=True)
    for col in CORE_TTE:
        assert col in our_meta.column_names, col
        assert pilot_meta.readstat_variable_types[col] == our_meta.readstat_variable_types[col], col
    for col in DATES:
        assert pilot_meta.original_variable_types[col] == our_meta.original_variable_types[col] == "DATE9"
    for col in ("STARTDT", "ADT", "AVAL", "CNSR", "EVNTDESC", "SRCSEQ", "SAFFL", "USUBJID"):
        assert our_meta.column_names_to_labels[col] == pilot_meta.column_names_to_labels[col], col


def test_our_adtte_values_follow_the_pilot_meaning(ours):
    t = _read(ours / "adtte.xpt")
    for col in ("PARAMCD", "EVNTDESC", "SRCDOM", "SRCVAR", "SAFFL", "USUBJID"):
        t[col] = t[col].astype(str)
    assert ((t.ADT - t.STARTDT + 1) == t.AVAL).all()        # same day arithmetic on SAS day numbers
    assert set(t.CNSR) <= {0.0, 1.0}
    events, censored = t.loc[t.CNSR == 0], t.loc[t.CNSR == 1]
    assert set(events.EVNTDESC) <= {"DEATH", "RELAPSE", "CONFIRMED FC-MRD RECURRENCE", "CONFIRMED NGS-MRD RECURRENCE"}  # SAP 4.4
    assert not set(censored.EVNTDESC) & {"DEATH", "RELAPSE"}
    # SRCDOM names an ADaM dataset and SRCVAR one of its variables, as in the pilot
    assert set(t.SRCDOM) <= {"ADSL", "ADMRD", "ADTTE"}
    adsl = _read(ours / "adsl.xpt")
    assert set(t.loc[t.SRCDOM == "ADSL", "SRCVAR"]) <= set(adsl.columns)
    # every (subject, date) pointed to in ADSL holds that date
    sl = adsl.assign(USUBJID=adsl.USUBJID.astype(str)).set_index("USUBJID")
    for _, r in t.loc[t.SRCDOM == "ADSL"].iterrows():
        assert sl.loc[r.USUBJID, r.SRCVAR] == r.ADT or r.SRCVAR == "DCUTDT"


def test_adsl_saffl_and_trtsdt_mean_what_they_mean_in_the_pilot(cdisc_pilot_dir, ours):
    pilot = _read(cdisc_pilot_dir / "adsl.xpt")
    assert set(pilot.SAFFL.astype(str)) <= {"Y", "N"}
    assert pilot.loc[pilot.SAFFL == "Y", "TRTSDT"].notna().all()   # treated => first-dose date
    sl = _read(ours / "adsl.xpt")
    assert set(sl.SAFFL.astype(str)) == {"Y", "N"}
    assert ((sl.SAFFL == "Y") == sl.TRTSDT.notna()).all()
    _, meta = pyreadstat.read_xport(str(ours / "adsl.xpt"), metadataonly=True)
    assert meta.original_variable_types["TRTSDT"] == "DATE9"
    # the same variable names as the pilot ADSL for what both have
    both = set(pilot.columns) & set(sl.columns)
    assert {"STUDYID", "USUBJID", "SUBJID", "SITEID", "AGE", "AGEU", "AGEGR1", "AGEGR1N", "SEX",
            "SAFFL", "TRTSDT", "DTHFL", "DCSREAS"} <= both
    assert set(pilot.SEX.astype(str)) == set(sl.SEX.astype(str)) == {"M", "F"}
