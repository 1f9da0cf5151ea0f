"""Shared test data for the survival-statistics tests (hand-made edge cases and CDISC Pilot 01)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat


def small_trial() -> pd.DataFrame:
    """24 subjects, 3 groups: tied event times, censoring AT event times, group "c" without events,
    delayed entry (ENTRY < AVAL), integer weights IW and non-integer weights FW, a covariate AGE."""
    aval = [2, 3, 3, 3, 5, 5, 6, 8, 8, 9, 12, 15,
            1, 3, 3, 4, 4, 4, 7, 8, 10, 10, 11, 14,
            2, 4, 6, 9]
    cnsr = [0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1,
            0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1,
            1, 1, 1, 1]
    group = ["a"] * 12 + ["b"] * 12 + ["c"] * 4
    entry = [0, 0, 1, 0, 2, 0, 0, 3, 0, 1, 0, 5,
             0, 0, 0, 2, 0, 0, 1, 0, 4, 0, 0, 2,
             0, 1, 0, 0]
    int_weight = [1, 2, 1, 1, 3, 1, 2, 1, 1, 2, 1, 1,
                  2, 1, 1, 1, 2, 1, 1, 3, 1, 1, 2, 1,
                  1, 2, 1, 1]
    rng = np.random.default_rng(20261125)
    frame = pd.DataFrame({"USUBJID": [f"S{i:02d}" for i in range(len(aval))], "AVAL": np.asarray(aval, float),
                          "CNSR": cnsr, "GRP": group, "ENTRY": np.asarray(entry, float), "IW": int_weight,
                          "FW": np.round(rng.uniform(0.3, 2.5, len(aval)), 3),
                          "AGE": np.round(rng.normal(50, 10, len(aval)), 1)})
    frame["CLUSTER"] = [f"C{i // 2}" for i in range(len(aval))]
    return frame


def cdisc_adtte(directory: Path) -> pd.DataFrame:
    """CDISC Pilot 01 ADTTE (TTDE). Read with pyreadstat: pandas.read_sas turns the xport zeros of
    CNSR into 5.4e-79 (an IBM-float conversion artefact), which the functions rightly reject."""
    frame, _ = pyreadstat.read_xport(str(directory / "adtte.xpt"))
    return frame[frame["PARAMCD"] == "TTDE"].reset_index(drop=True)


def test_small_trial_has_the_edge_cases_it_claims():
    frame = small_trial()
    events = frame[frame["CNSR"] == 0]
    assert events.duplicated(["GRP", "AVAL"]).any(), "tied event times"
    censored_at_event_time = frame[(frame["CNSR"] == 1)].merge(events, on=["GRP", "AVAL"])
    assert len(censored_at_event_time) > 0, "a censoring at an event time"
    assert (frame.loc[frame["GRP"] == "c", "CNSR"] == 1).all(), "a group without events"
    assert (frame["ENTRY"] < frame["AVAL"]).all() and (frame["ENTRY"] > 0).any(), "valid delayed entry"
    assert (frame["FW"] != np.floor(frame["FW"])).any(), "non-integer weights"
