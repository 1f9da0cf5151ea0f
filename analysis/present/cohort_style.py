"""Cohort display of the external-comparison sections: names, colours, line styles, the ARD
level texts of the 1- and 2-year estimates, days -> months."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import conventions as C
from analysis.present.figures import COHORT_LABELS
from analysis.present.style import OKABE_ITO

# cohort display names: one definition, in analysis.present.figures (whose km_plot draws the
# unweighted overlaid KM curves of notebook 06)
COHORT_COLOURS = {C.COHORT_TRIAL: OKABE_ITO[0], C.COHORT_EXTERNAL: OKABE_ITO[1]}
COHORT_LINESTYLES = {C.COHORT_TRIAL: "-", C.COHORT_EXTERNAL: "--"}
LEVEL_2Y = repr(C.TIMEPOINT_2Y_DAYS)      # ARD level text of the 2-year estimate ("730.5")
LEVEL_1Y = repr(C.TIMEPOINT_1Y_DAYS)      # "365.25"
PARAM_LABELS = {"OS": "Overall survival", "LFS": "Leukemia-free survival"}


def cohort_label(cohort: str) -> str:
    return COHORT_LABELS.get(str(cohort), str(cohort))


def to_months(days):
    """Days -> months (conventions.DAYS_PER_MONTH = 365.25 / 12)."""
    return np.asarray(days, dtype=float) / C.DAYS_PER_MONTH


def cohorts_in(frame: pd.DataFrame, by: str) -> list[str]:
    """Cohorts present, trial first, then control, then any other in order of appearance."""
    present = list(dict.fromkeys(frame[by].astype(str)))
    known = [c for c in COHORT_LABELS if c in present]
    return known + [c for c in present if c not in known]
