"""Treatment periods of the sandwich for adverse events (SAP 5.2): the ONE place where their rules live.

The protocol's steps (registry record): CAR-T1 (CD22 then CD19 CAR-T) -> stem-cell mobilization and
collection 6-8 weeks later -> BuCy conditioning and auto-HSCT about 4 weeks after collection ->
CAR-T2 two days after the transplant -> follow-up. Each period opens on a protocol event and
closes, so that every treatment-emergent AE (onset within the AE window) falls in exactly one.

Periods, as ADSL APxxSDT / APxxEDT (dates, both inclusive; "+ 28" is 28 days after the event,
event day = day 0, the convention of CAR-T toxicity reports):

====  ================  ==========================  =================================================
xx    period            opens (APxxSDT)             closes (APxxEDT)
====  ================  ==========================  =================================================
01    CAR-T1            TRTSDT (first CAR-T1)       MOBSTDT - 1; without mobilization CART1EDT + 28
02    MOBILIZATION      MOBSTDT                     CONDSTDT - 1; without conditioning the collection
                                                    (or, none, mobilization start) + 28
03    AUTO-HSCT         CONDSTDT                    NEUTDT (neutrophil engraftment: end of aplasia);
                                                    not engrafted: AHSCTDT (or CONDSTDT) + 28
04    CAR-T2            CART2DT                     CART2DT + 28
05    POST-TREATMENT    day after the latest close  end of the AE window
====  ================  ==========================  =================================================

The AE window is TRTSDT to TRTSDT + 730 days (registry: AEs after CAR-T1, time frame 2 years);
every close is capped at it. Periods 03 and 04 overlap (CAR-T2 is given during the transplant
aplasia): an AE starting in the overlap belongs to AUTO-HSCT (aplasia toxicity: febrile
neutropenia, mucositis, VOD, infections), except CRS and ICANS, which are always attributed to
the CAR-T infusion that caused them: the most recent infusion on or before onset (CAR-T1 or CAR-T2).

A subject *entered* a period (APxxFL = Y, the denominator of AE-by-period tables) when the period
opened on or before the end of the subject's observation: the death date, else the last date
known alive, and never after the data cut.
"""

from __future__ import annotations

import pandas as pd

from analysis import conventions

ACUTE_WINDOW_DAYS = 28          # SAP 5.2: acute window after an infusion / procedure
AE_WINDOW_DAYS = int(conventions.TIMEPOINT_2Y_DAYS)   # SAP 5.1: 730 days after CAR-T1
PERIODS = ("CAR-T1", "MOBILIZATION", "AUTO-HSCT", "CAR-T2", "POST-TREATMENT")
PRE_TREATMENT = "PRE-TREATMENT"
AFTER_WINDOW = "AFTER AE WINDOW"
INFUSION_PERIODS = ("CAR-T1", "CAR-T2")
# Protocol events that bound the imputation of a partial AE onset (SAP 2.3 / 5.2): the events that
# open a period, i.e. the ones whose side of the onset changes the period or the causing infusion.
PROTOCOL_EVENTS = ("TRTSDT", "MOBSTDT", "CONDSTDT", "CART2DT")


def _days(n: int) -> pd.Timedelta:
    return pd.Timedelta(days=n)


def period_columns(k: int) -> tuple[str, str, str]:
    """ADSL names of period ``k`` (1-based): start, end and entered flag."""
    return f"AP{k:02d}SDT", f"AP{k:02d}EDT", f"AP{k:02d}FL"


def period_bounds(adsl: pd.DataFrame) -> pd.DataFrame:
    """APxxSDT / APxxEDT of every subject (rows aligned on ``adsl``), from TRTSDT, CART1EDT,
    MOBSTDT, COLLDT, CONDSTDT, AHSCTDT, NEUTDT, CART2DT. Missing when the period never opened."""
    a = adsl
    window_end = a["TRTSDT"] + _days(AE_WINDOW_DAYS)
    acute = _days(ACUTE_WINDOW_DAYS)
    one = _days(1)
    starts = [a["TRTSDT"], a["MOBSTDT"], a["CONDSTDT"], a["CART2DT"]]
    ends = [
        (a["MOBSTDT"] - one).fillna(a["CART1EDT"].fillna(a["TRTSDT"]) + acute),
        (a["CONDSTDT"] - one).fillna(a["COLLDT"].fillna(a["MOBSTDT"]) + acute),
        a["NEUTDT"].fillna(a["AHSCTDT"].fillna(a["CONDSTDT"]) + acute),
        a["CART2DT"] + acute,
    ]
    out = {}
    last_close = pd.Series(pd.NaT, index=a.index, dtype=a["TRTSDT"].dtype)
    for k, (start, end) in enumerate(zip(starts, ends), start=1):
        s_col, e_col, _ = period_columns(k)
        opened = start.notna() & a["TRTSDT"].notna()
        out[s_col] = start.where(opened)
        out[e_col] = end.where(opened).where(lambda e: e <= window_end, window_end).where(opened)
        last_close = pd.concat([last_close, out[e_col]], axis=1).max(axis=1)
    s_col, e_col, _ = period_columns(len(PERIODS))
    post_start = last_close + one
    has_post = a["TRTSDT"].notna() & (post_start <= window_end)
    out[s_col] = post_start.where(has_post)
    out[e_col] = window_end.where(has_post)
    return pd.DataFrame(out, index=a.index).astype(a["TRTSDT"].dtype)


def entered_flags(adsl: pd.DataFrame, bounds: pd.DataFrame) -> pd.DataFrame:
    """APxxFL: "Y" when period xx opened on or before the end of observation (death date, else
    last known alive; never after the cut), else "N"."""
    observed_to = adsl["DTHDT"].fillna(adsl["LSTALVDT"])
    observed_to = observed_to.where(observed_to <= adsl["DCUTDT"], adsl["DCUTDT"])
    flags = {}
    for k in range(1, len(PERIODS) + 1):
        s_col, _, f_col = period_columns(k)
        entered = bounds[s_col].notna() & (bounds[s_col] <= observed_to)
        flags[f_col] = pd.Series(entered.map({True: "Y", False: "N"}), index=adsl.index, dtype="string")
    return pd.DataFrame(flags, index=adsl.index)


def causing_infusion(onset: pd.Series, adsl_dates: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(infusion, day 0) of each onset: "CAR-T2" when CART2DT <= onset, else "CAR-T1" when TRTSDT
    <= onset; day 0 is the most recent infusion date on or before onset (CART2DT, else CART1EDT
    when it is on or before onset, else TRTSDT). Missing before CAR-T1."""
    t2 = adsl_dates["CART2DT"].notna() & (adsl_dates["CART2DT"] <= onset)
    t1 = adsl_dates["TRTSDT"].notna() & (adsl_dates["TRTSDT"] <= onset)
    last_t1 = adsl_dates["CART1EDT"].where(adsl_dates["CART1EDT"] <= onset, adsl_dates["TRTSDT"])
    infusion = pd.Series(pd.NA, index=onset.index, dtype="string").mask(t1, "CAR-T1").mask(t2, "CAR-T2")
    day0 = adsl_dates["CART2DT"].where(t2, last_t1.where(t1))
    return infusion, day0


def assign_period(onset: pd.Series, infusion_attributed: pd.Series, adsl_dates: pd.DataFrame) -> pd.Series:
    """APHASE of each AE onset (SAP 5.2). ``adsl_dates`` carries TRTSDT, CART1EDT, CART2DT and the
    APxxSDT / APxxEDT of the subject, aligned on ``onset``; ``infusion_attributed`` is True for
    CRS / ICANS (period = the causing infusion). Other AEs: the first period, in protocol order,
    whose [APxxSDT, APxxEDT] holds the onset (AUTO-HSCT before CAR-T2 in their overlap)."""
    a = adsl_dates
    phase = pd.Series(pd.NA, index=onset.index, dtype="string")
    for k, name in enumerate(PERIODS, start=1):
        s_col, e_col, _ = period_columns(k)
        inside = phase.isna() & a[s_col].notna() & (onset >= a[s_col]) & (onset <= a[e_col])
        phase = phase.mask(inside, name)
    infusion, _ = causing_infusion(onset, a)
    window_end = a["TRTSDT"] + _days(AE_WINDOW_DAYS)
    in_window = a["TRTSDT"].notna() & (onset >= a["TRTSDT"]) & (onset <= window_end)
    phase = phase.mask(in_window & infusion_attributed.fillna(False).astype(bool) & infusion.notna(), infusion)
    phase = phase.mask(a["TRTSDT"].isna() | (onset < a["TRTSDT"]), PRE_TREATMENT)
    phase = phase.mask(a["TRTSDT"].notna() & (onset > window_end), AFTER_WINDOW)
    return phase


def onset_lower_bound(partial: pd.Series, end: pd.Series, adsl_dates: pd.DataFrame) -> pd.Series:
    """admiral ``min_dates`` for a partial onset ``YYYY-MM`` (SAP 2.3): the latest protocol event
    (``PROTOCOL_EVENTS``) of the subject that falls in that month and is not after the (imputed)
    end date ``end``. Missing when no event falls in the month (the 1st of the month is used)."""
    month = partial.astype("string").where(partial.astype("string").str.len() == 7)
    bound = pd.Series(pd.NaT, index=partial.index, dtype="datetime64[us]")
    for col in PROTOCOL_EVENTS:
        if col not in adsl_dates.columns:
            continue
        ev = adsl_dates[col].astype("datetime64[us]")
        same_month = ev.notna() & month.notna() & (ev.dt.strftime("%Y-%m").astype("string") == month)
        usable = same_month.fillna(False) & (end.isna() | (ev <= end))
        later = usable & (bound.isna() | (ev > bound))
        bound = bound.mask(later, ev)
    return bound
