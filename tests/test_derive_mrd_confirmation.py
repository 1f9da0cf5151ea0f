"""MRD samples after relapse and confirmation of MRD recurrence (SAP 4.2, 4.4), on the hand-made
cut of tests/test_derive_cases.py with samples added here; answers worked out by hand.

Subject 01-002 (no relapse): FC negative 2024-02-10 (5e-5 < 1e-4), then (added) a transient
positive 2024-04-01 (2e-4) followed by a negative 2024-05-01, then the undetectable 2024-06-01.
A single transient positive does not end negativity: MRDDURFC is censored at the last evaluable
sample 2024-06-01 (AVAL 113), as without the blip. With a second consecutive positive instead,
the recurrence is the first of the two (2024-04-01, AVAL 52).
"""

from __future__ import annotations

import pandas as pd

from analysis.derive.pipeline import derive_datasets
from tests.test_derive_cases import CUT_DATE, _mrd, case_forms

T = pd.Timestamp


def _derive(extra):
    forms = case_forms()
    forms["mrd"] = pd.concat([forms["mrd"], pd.DataFrame(extra)], ignore_index=True) \
        if isinstance(forms["mrd"], pd.DataFrame) else forms["mrd"] + extra
    return derive_datasets(forms, CUT_DATE)


def _sample(admrd, subj, date):
    return admrd[(admrd.USUBJID == "SWCART-01-" + subj) & (admrd.ADT == T(date)) & (admrd.BESTFL == "N")
                 & (admrd.METHOD == "FC")]


def _row(adtte, subj, paramcd):
    hit = adtte.loc[(adtte.USUBJID == "SWCART-01-" + subj) & (adtte.PARAMCD == paramcd)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_a_transient_positive_does_not_end_mrd_negativity():
    data = _derive([_mrd("01-002", "2024-04-01", "FC", level=2e-4, sens=1e-5),
                    _mrd("01-002", "2024-05-01", "FC", level=1e-5, sens=1e-5)])
    r = _row(data["adtte"], "01-002", "MRDDURFC")
    assert (r.CNSR, r.ADT, r.AVAL) == (1, T("2024-06-01"), 113)
    blip = _sample(data["admrd"], "01-002", "2024-04-01")
    assert blip["CNFPOSFL"].tolist() == ["N"]


def test_two_consecutive_positives_confirm_the_first():
    data = _derive([_mrd("01-002", "2024-04-01", "FC", level=2e-4, sens=1e-5),
                    _mrd("01-002", "2024-05-01", "FC", level=3e-4, sens=1e-5)])
    r = _row(data["adtte"], "01-002", "MRDDURFC")
    assert (r.CNSR, r.ADT, r.AVAL, r.EVNTDESC) == (0, T("2024-04-01"), 52, "CONFIRMED FC-MRD RECURRENCE")


def test_samples_on_or_after_relapse_are_not_used():
    """01-001 relapses 2024-09-10 (loss of remission). A negative FC sample added on 2024-10-01 is
    flagged ANL01FL = N and does not make 01-001 'negative after relapse': the best FC status keeps
    its first negative 2024-02-10, and the MRD-duration censoring never moves past the relapse."""
    data = _derive([_mrd("01-001", "2024-10-01", "FC", level=1e-6, sens=1e-5)])
    m = data["admrd"]
    late = _sample(m, "01-001", "2024-10-01")
    assert late["ANL01FL"].tolist() == ["N"]
    r = _row(data["adtte"], "01-001", "MRDDURFC")
    assert r.ADT <= T("2024-09-10")
