"""CRS and ICANS timing (SAP 5): onset day after the CAR-T infusion that preceded the event, and
duration, per episode, as ARD rows (analysis ``crs_icans_timing``).

Definitions (stated once, printed in the report footnote through ``METHOD``):

* an *episode* is one ADAE record flagged CRSFL = "Y" (or ICANSFL = "Y"), treatment-emergent
  (TRTEMFL = "Y") in the trial cohort;
* *onset day* = ASTDT - date of the most recent CAR-T infusion on or before ASTDT (ADAE AINFDY,
  derived once in analysis/derive/periods.py: CART2DT for CAR-T2; for CAR-T1 the last CAR-T1
  infusion, CART1EDT, when on or before onset, else TRTSDT), the infusion day being day 0 -- the convention of CAR-T
  toxicity reports (Lee et al. 2019, ASTCT consensus grading). An episode starting before
  CAR-T1 has no infusion and is left out (counted in ``n_no_infusion``);
* *duration* = ADURN (AENDT - ASTDT + 1 days); episodes still ongoing at the cut (no AENDT) are
  counted in ``n_ongoing`` and left out of the duration summary;
* quantiles: linear interpolation (R quantile type 7, numpy default).

The level of each row is the infusion the episode followed ("CAR-T1", "CAR-T2") or "ANY".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import conventions as C
from analysis import ard

ANALYSIS = "crs_icans_timing"
SYNDROMES = {"CRS": "CRSFL", "ICANS": "ICANSFL"}
ANY_INFUSION = "ANY"
METHOD = ("CRS/ICANS episodes (treatment-emergent ADAE records flagged CRSFL/ICANSFL): onset day = onset "
          "date minus the date of the most recent CAR-T infusion on or before it (infusion day = day 0); "
          "duration = end - onset + 1 days, ongoing episodes excluded; median, quartiles (type 7), range")


def episodes(adae: pd.DataFrame, adsl: pd.DataFrame, flag: str) -> pd.DataFrame:
    """One row per treatment-emergent trial episode with ``flag`` = "Y": USUBJID, ATOXGR,
    INFUSION ("CAR-T1" / "CAR-T2" / None), ONSETDY (days after that infusion), ADURN."""
    missing = [c for c in ("USUBJID", "ASTDT", "ADURN", "TRTEMFL", flag) if c not in adae.columns]
    if missing:
        raise ValueError(f"ADAE lacks column(s) {missing} needed for the {flag} timing summary")
    trial = adsl.loc[adsl["COHORT"] == C.COHORT_TRIAL, ["USUBJID", "TRTSDT", "CART2DT"]]
    ev = adae[(adae[flag] == "Y") & (adae["TRTEMFL"] == "Y")]
    if {"AINFUS", "AINFDY"} <= set(ev.columns):
        # ADAE states the causing infusion and the days since it (SAP 5.2, analysis/derive/periods.py)
        ev = ev.merge(trial[["USUBJID"]], on="USUBJID", how="inner")
        return pd.DataFrame({
            "USUBJID": ev["USUBJID"].to_numpy(), "ATOXGR": ev["ATOXGR"].astype(float).to_numpy(),
            "INFUSION": ev["AINFUS"].astype(object).where(ev["AINFUS"].notna(), None).to_numpy(),
            "ONSETDY": ev["AINFDY"].astype(float).to_numpy(), "ADURN": ev["ADURN"].astype(float).to_numpy()})
    ev = ev[["USUBJID", "ASTDT", "ADURN", "ATOXGR"]].merge(trial, on="USUBJID", how="inner")
    after_cart2 = ev["CART2DT"].notna() & (ev["ASTDT"] >= ev["CART2DT"])
    after_cart1 = ev["TRTSDT"].notna() & (ev["ASTDT"] >= ev["TRTSDT"])
    infusion_date = ev["CART2DT"].where(after_cart2, ev["TRTSDT"].where(after_cart1))
    out = pd.DataFrame({
        "USUBJID": ev["USUBJID"].to_numpy(),
        "ATOXGR": ev["ATOXGR"].astype(float).to_numpy(),
        "INFUSION": np.where(after_cart2, "CAR-T2", np.where(after_cart1, "CAR-T1", None)),
        "ONSETDY": (ev["ASTDT"] - infusion_date).dt.days.astype(float).to_numpy(),
        "ADURN": ev["ADURN"].astype(float).to_numpy(),
    })
    return out


def describe(values) -> dict[str, float]:
    """n, median, q1, q3, min, max of the non-missing values (NaN statistics when none)."""
    x = np.asarray(pd.Series(values, dtype=float).dropna())
    if x.size == 0:
        return {"n": 0, "median": np.nan, "q1": np.nan, "q3": np.nan, "min": np.nan, "max": np.nan}
    return {"n": x.size, "median": float(np.median(x)), "q1": float(np.quantile(x, 0.25)),
            "q3": float(np.quantile(x, 0.75)), "min": float(x.min()), "max": float(x.max())}


def timing_rows(adae: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """ARD rows: per syndrome and infusion (and ANY), the onset-day and duration summaries, with
    episode counts (n_episodes, n_subj, n_ongoing, n_no_infusion)."""
    parts = []
    for syndrome, flag in SYNDROMES.items():
        if flag not in adae.columns:
            continue
        ep = episodes(adae, adsl, flag)
        groups = [(ANY_INFUSION, ep)] + [(inf, ep[ep["INFUSION"] == inf]) for inf in ("CAR-T1", "CAR-T2")]
        for level, sub in groups:
            parts.append(ard.rows(ANALYSIS, syndrome, C.COHORT_TRIAL, "EPISODES", level, {
                "n_episodes": len(sub), "n_subj": sub["USUBJID"].nunique(),
                "n_ongoing": int(sub["ADURN"].isna().sum()),
                "n_no_infusion": int(sub["INFUSION"].isna().sum())}))
            parts.append(ard.rows(ANALYSIS, syndrome, C.COHORT_TRIAL, "ONSETDY", level, describe(sub["ONSETDY"])))
            parts.append(ard.rows(ANALYSIS, syndrome, C.COHORT_TRIAL, "ADURN", level, describe(sub["ADURN"])))
    return ard.concat(parts)
