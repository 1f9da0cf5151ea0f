"""The admiral-style time-to-event engine (analysis.derive.tte): selection rules checked on
hand-made subjects whose answers are worked out by hand (dates -> AVAL = ADT - STARTDT + 1)."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.derive.dates import DATE_DTYPE
from analysis.errors import BadDataError
from analysis.derive.tte import POPULATION, CensorSource, EventSource, TTEParam, derive_param_tte

CUT = pd.Timestamp("2025-06-30")


def _t(v):
    return pd.NaT if v is None else pd.Timestamp(v)


def _population(**starts):
    return pd.DataFrame({"USUBJID": list(starts), "STARTDT": [_t(v) for v in starts.values()],
                         "DCUTDT": CUT}).astype({"STARTDT": DATE_DTYPE, "DCUTDT": DATE_DTYPE})


def _dates(**given):
    """A subject-level source: USUBJID plus the date columns RELDT, DTHDT, LSTDT, VISDT, those
    given as {subject: date} dicts, the others missing."""
    cols = {c: given.get(c, {}) for c in ("RELDT", "DTHDT", "LSTDT", "VISDT")}
    subjects = sorted({s for c in cols.values() for s in c})
    df = pd.DataFrame({"USUBJID": subjects})
    for name, values in cols.items():
        df[name] = pd.Series([_t(values.get(s)) for s in subjects]).astype(DATE_DTYPE)
    return df


DEATH = EventSource("sl", "DTHDT", "DEATH", "ADSL", evnttype=2)
RELAPSE = EventSource("sl", "RELDT", "RELAPSE", "ADSL", evnttype=1)
LAST_SEEN = CensorSource("sl", "LSTDT", "LAST SEEN", "ADSL")
LAST_VISIT = CensorSource("sl", "VISDT", "LAST VISIT", "ADSL")
ORIGIN = CensorSource(POPULATION, "STARTDT", "ORIGIN", "ADTTE")
PARAM = TTEParam("X", "Test", events=(RELAPSE, DEATH), censors=(LAST_SEEN, LAST_VISIT, ORIGIN))


def _one(result, subject):
    return result.set_index("USUBJID").loc[subject]


def test_earliest_event_wins_over_a_later_event_and_over_censoring():
    sl = _dates(RELDT={"A": "2024-03-01"}, DTHDT={"A": "2024-05-01"}, LSTDT={"A": "2024-06-01"})
    r = _one(derive_param_tte(_population(A="2024-01-01"), {"sl": sl}, PARAM), "A")
    # relapse 2024-03-01 is day 61 of 2024 (Jan 31 + Feb 29 + 1): AVAL = 60 + 1
    assert (r.ADT, r.AVAL, r.CNSR, r.EVNTTYPE, r.EVNTDESC) == (pd.Timestamp("2024-03-01"), 61, 0, 1, "RELAPSE")
    assert pd.isna(r.CNSDTDSC) and r.SRCDOM == "ADSL" and r.SRCVAR == "RELDT"


def test_death_without_relapse_is_the_event_with_its_own_type():
    sl = _dates(DTHDT={"B": "2024-01-10"}, LSTDT={"B": "2024-01-10"})
    r = _one(derive_param_tte(_population(B="2024-01-01"), {"sl": sl}, PARAM), "B")
    assert (r.AVAL, r.CNSR, r.EVNTTYPE, r.SRCVAR) == (10, 0, 2, "DTHDT")


def test_event_beats_censoring_on_the_same_date():
    sl = _dates(DTHDT={"C": "2024-02-01"}, LSTDT={"C": "2024-02-01"}, VISDT={"C": "2024-02-01"})
    r = _one(derive_param_tte(_population(C="2024-01-01"), {"sl": sl}, PARAM), "C")
    assert (r.CNSR, r.EVNTDESC, r.AVAL) == (0, "DEATH", 32)


def test_two_events_on_the_same_date_the_first_declared_wins():
    sl = _dates(RELDT={"D": "2024-02-01"}, DTHDT={"D": "2024-02-01"})
    r = _one(derive_param_tte(_population(D="2024-01-01"), {"sl": sl}, PARAM), "D")
    assert r.EVNTDESC == "RELAPSE" and r.EVNTTYPE == 1


def test_without_event_the_latest_censoring_date_is_used():
    sl = _dates(LSTDT={"E": "2024-04-01"}, VISDT={"E": "2024-05-15"})
    r = _one(derive_param_tte(_population(E="2024-01-01"), {"sl": sl}, PARAM), "E")
    assert (r.ADT, r.CNSR, r.EVNTTYPE, r.CNSDTDSC, r.EVNTDESC) == (
        pd.Timestamp("2024-05-15"), 1, 0, "LAST VISIT", "LAST VISIT")
    assert r.AVAL == 31 + 29 + 31 + 30 + 15  # Jan 1 -> May 15 inclusive = 136 days


def test_an_event_after_the_cut_is_not_used_and_follow_up_is_censored_at_the_cut():
    sl = _dates(DTHDT={"F": "2025-08-01"}, LSTDT={"F": "2025-08-01"}, VISDT={"F": "2025-03-01"})
    r = _one(derive_param_tte(_population(F="2025-06-01"), {"sl": sl}, PARAM), "F")
    assert (r.ADT, r.CNSR, r.EVNTTYPE, r.CNSDTDSC, r.SRCVAR, r.AVAL) == (
        CUT, 1, 0, "DATA CUT-OFF", "DCUTDT", 30)


def test_an_event_on_the_cut_date_is_kept():
    sl = _dates(DTHDT={"G": "2025-06-30"})
    r = _one(derive_param_tte(_population(G="2025-06-01"), {"sl": sl}, PARAM), "G")
    assert (r.CNSR, r.AVAL) == (0, 30)


def test_no_candidate_but_the_origin_gives_aval_one_censored():
    r = _one(derive_param_tte(_population(H="2024-01-01"), {"sl": _dates(LSTDT={})}, PARAM), "H")
    assert (r.AVAL, r.CNSR, r.CNSDTDSC) == (1, 1, "ORIGIN")


def test_censoring_before_the_origin_is_ignored_and_an_event_before_it_is_an_error():
    sl = _dates(LSTDT={"I": "2023-12-01"})
    r = _one(derive_param_tte(_population(I="2024-01-01"), {"sl": sl}, PARAM), "I")
    assert r.CNSDTDSC == "ORIGIN"
    sl = _dates(DTHDT={"J": "2023-12-01"})
    with pytest.raises(BadDataError, match=r"J: event 'DEATH' \(ADSL.DTHDT\) on 2023-12-01 precedes the origin"):
        derive_param_tte(_population(J="2024-01-01"), {"sl": sl}, PARAM)


def test_source_filter_srcseq_and_extra_population_columns():
    records = pd.DataFrame({"USUBJID": ["K", "K", "K"], "SEQ": [1, 2, 3], "KIND": ["a", "b", "b"],
                            "D": pd.to_datetime(["2024-01-05", "2024-01-07", "2024-01-09"]).astype(DATE_DTYPE)})
    ev = EventSource("rec", "D", "B EVENT", "ADXX", srcvar="ADT", srcseq="SEQ", filter=lambda d: d["KIND"].eq("b"))
    pop = _population(K="2024-01-01").assign(ENTRY=3.0)
    r = _one(derive_param_tte(pop, {"rec": records}, TTEParam("Y", "Y", events=(ev,), censors=(ORIGIN,))), "K")
    assert (r.ADT, r.SRCSEQ, r.SRCVAR, r.SRCDOM, r.ENTRY, r.AVAL) == (
        pd.Timestamp("2024-01-07"), 2, "ADT", "ADXX", 3.0, 7)


def test_subjects_without_an_origin_are_not_in_the_parameter():
    pop = _population(L="2024-01-01", M=None)
    out = derive_param_tte(pop, {"sl": _dates(LSTDT={"M": "2024-02-01"})}, PARAM)
    assert out["USUBJID"].tolist() == ["L"]


def test_a_source_naming_a_missing_column_is_a_clear_error():
    bad = TTEParam("Z", "Z", events=(EventSource("sl", "NOSUCHDT", "X", "ADSL"),), censors=(ORIGIN,))
    with pytest.raises(KeyError, match="Z: source 'sl' has no column 'NOSUCHDT'"):
        derive_param_tte(_population(A="2024-01-01"), {"sl": _dates()}, bad)
