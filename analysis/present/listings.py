"""Listings of records (data, not statistics): serious adverse events, deaths, and the table
shape of a listing (at most ``LISTING_MAX_ROWS`` rows, a footnote counts the rest)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis import conventions as C
from analysis.present import formats as F
from analysis.present.table import Table

# ------------------------------------------------------------------------------------------------
# safety listings (data, not statistics) and CRS/ICANS timing table
# ------------------------------------------------------------------------------------------------

def _days_since(dates: pd.Series, day0: pd.Series) -> pd.Series:
    """Whole days from ``day0`` (day 0) to ``dates``; missing where either date is missing."""
    return (pd.to_datetime(dates) - pd.to_datetime(day0)).dt.days


def serious_ae_listing(adae: pd.DataFrame) -> pd.DataFrame:
    """Serious treatment-emergent AEs, one row per event: subject, phase, onset day, preferred term,
    CTCAE grade, end day and outcome text ("resolved, N days" or "ongoing at cut"). Days are days
    since CAR-T1 (CAR-T1 = day 0, ASTDT - TRTSDT), the one day convention of every table and
    listing (issue 11, SAP 7.4). Sorted by subject and onset day."""
    sae = adae[(adae["AESER"] == "Y") & (adae["TRTEMFL"] == "Y")].sort_values(["USUBJID", "ASTDY", "AEDECOD"])
    grade = sae["ATOXGR"].astype(float)
    outcome = np.where(sae["AENDY"].isna(), "ongoing at cut",
                       "resolved after " + sae["ADURN"].map(F.fmt_int) + " days")
    outcome = np.where(grade.to_numpy() == 5, "fatal", outcome)
    return pd.DataFrame({
        "Subject": sae["USUBJID"].astype(str).to_numpy(),
        "Phase": sae["APHASE"].astype(str).to_numpy(),
        "Onset day": _days_since(sae["ASTDT"], sae["TRTSDT"]).map(F.fmt_int).to_numpy(),
        "Preferred term": sae["AEDECOD"].astype(str).to_numpy(),
        "Grade": grade.map(F.fmt_int).to_numpy(),
        "End day": _days_since(sae["AENDT"], sae["TRTSDT"]).map(lambda v: "" if F.is_missing(v) else F.fmt_int(v)).to_numpy(),
        "Outcome": outcome,
    })


def death_listing(adsl: pd.DataFrame, cohort: str = C.COHORT_TRIAL) -> pd.DataFrame:
    """Deaths in ``cohort``, one row per subject: subject, day of death since CAR-T1 (DTHDT -
    TRTSDT, CAR-T1 = day 0, as every table and listing), cause, whether a relapse preceded it, and
    the last step of the sandwich reached."""
    d = adsl[(adsl["COHORT"] == cohort) & (adsl["DTHFL"] == "Y")].copy()
    day = _days_since(d["DTHDT"], d["TRTSDT"])
    steps = [("CART2DT", "CAR-T2"), ("AHSCTDT", "auto-HSCT"), ("COLLDT", "stem-cell collection"),
             ("TRTSDT", "CAR-T1")]
    reached = [next((name for col, name in steps if col in d.columns and pd.notna(r[col])), "none")
               for _, r in d.iterrows()]
    relapsed = d["RELDT"].notna() & (d["RELDT"] <= d["DTHDT"])
    out = pd.DataFrame({
        "Subject": d["USUBJID"].astype(str).to_numpy(),
        "Day of death": day.map(F.fmt_int).to_numpy(),
        "Cause": d["DTHCAUS"].fillna("not recorded").astype(str).to_numpy(),
        "Relapse before death": np.where(relapsed, "yes", "no"),
        "Last step reached": reached,
    })
    return out.sort_values("Subject").reset_index(drop=True)


LISTING_MAX_ROWS = 200  # a page lists at most this many records; a footnote counts the rest


def listing_table(listing: pd.DataFrame, title: str, footnotes: Sequence[str] = (),
                  empty_text: str = "None.", max_rows: int | None = LISTING_MAX_ROWS) -> Table:
    """A listing frame as a :class:`Table` (one line "None." when it has no rows); beyond
    ``max_rows`` records (None: no limit) the first ones, with a footnote saying how many more."""
    notes = list(footnotes)
    if max_rows is not None and len(listing) > max_rows:
        notes.append(f"First {max_rows:,} of {len(listing):,} records shown, in the order listed; every record "
                     "is in the derived dataset listed.")
        listing = listing.head(max_rows)
    frame = listing if len(listing) else pd.DataFrame([[empty_text] + [""] * (listing.shape[1] - 1)],
                                                      columns=listing.columns)
    return Table(title=title, frame=frame, headers=list(listing.columns), footnotes=notes)
