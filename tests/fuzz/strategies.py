"""Hypothesis strategy for small survival / competing-risks data sets that stress the edge cases.

Each drawn data set has 2-30 subjects in 1-3 groups with: tied times (integer grid) or untied
ones, censoring patterns (none, all, mixed, heavy), zero-event groups (they occur naturally with
small groups and heavy censoring), case weights (none, integer, non-integer), delayed entry,
two strata, a numeric covariate and an event type (0 censored, 1 or 2 the cause). Profiles: "ci"
(30 examples, derandomised, for `make test`) and "fuzz" (1,000, for `make fuzz`), chosen with the
HYPOTHESIS_PROFILE environment variable.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

_COMMON = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck), "print_blob": False}
settings.register_profile("ci", max_examples=30, derandomize=True, **_COMMON)
settings.register_profile("fuzz", max_examples=1000, **_COMMON)


def active_profile() -> str:
    """The profile named by HYPOTHESIS_PROFILE ("ci" when unset); applied to the fuzz only, not loaded
    globally, so other hypothesis tests keep their own settings."""
    return os.environ.get("HYPOTHESIS_PROFILE", "ci")

WEIGHTS = ("none", "integer", "fraction")


@st.composite
def datasets(draw) -> tuple[pd.DataFrame, dict]:
    """(ADTTE-like frame, options) with columns AVAL, CNSR, EVNTTYPE, ENTRY, W, GRP, STRAT, X."""
    n = draw(st.integers(2, 30))
    tied = draw(st.booleans())
    time_values = st.integers(1, 10).map(float) if tied else \
        st.floats(0.1, 20, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 2))
    aval = np.array(draw(st.lists(time_values, min_size=n, max_size=n)))
    pattern = draw(st.sampled_from(["mixed", "none", "all", "heavy"]))
    censored = {"none": lambda: [False] * n, "all": lambda: [True] * n,
                "mixed": lambda: draw(st.lists(st.booleans(), min_size=n, max_size=n)),
                "heavy": lambda: draw(st.lists(st.sampled_from([True, True, True, False]), min_size=n, max_size=n))}
    cnsr = np.array(censored[pattern](), dtype=int)
    cause = np.array(draw(st.lists(st.sampled_from([1, 1, 2]), min_size=n, max_size=n)))
    n_groups = draw(st.integers(1, 3))
    group = np.array(draw(st.lists(st.integers(0, n_groups - 1), min_size=n, max_size=n)))
    weights = draw(st.sampled_from(WEIGHTS))
    w = {"none": lambda: np.ones(n),
         "integer": lambda: np.array(draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)), float),
         "fraction": lambda: np.round(np.array(draw(st.lists(st.floats(0.2, 3), min_size=n, max_size=n))), 2)}[weights]()
    entry = draw(st.booleans())
    share = np.array(draw(st.lists(st.sampled_from([0.0, 0.0, 0.25, 0.5, 0.8]), min_size=n, max_size=n)))
    frame = pd.DataFrame({
        "AVAL": aval, "CNSR": cnsr, "EVNTTYPE": np.where(cnsr == 1, 0, cause),
        "ENTRY": np.round(aval * share, 2) if entry else np.zeros(n),
        "W": w, "GRP": np.array(list("ABC"))[group],
        "STRAT": np.array(["s1", "s2"])[draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))],
        "X": np.array(draw(st.lists(st.integers(-2, 3), min_size=n, max_size=n)), float)})
    options = {"weights": weights, "entry": entry, "strata": draw(st.booleans()), "rho": draw(st.sampled_from([0, 1]))}
    return frame, options
