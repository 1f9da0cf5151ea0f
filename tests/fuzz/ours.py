"""Our results for one fuzz data set, as long rows (method, item, value, note) matching r_batch.R.

Each method runs in its own guard: an exception becomes an "error" row and warnings a "warning"
row, so that refusing bad data (ours) can be compared with R's error or warning.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from analysis.stats import competing as cr
from analysis.stats import survival as sv

TIMES = (0.5, 2.0, 5.0, 9.0)
PROBS = (0.25, 0.5, 0.75)


def _guard(rows: list, method: str, compute) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for item, value in compute():
                rows.append((method, item, float(value), ""))
        except (ValueError, RuntimeError) as error:  # our documented refusals; anything else is a bug
            rows.append((method, "error", np.nan, str(error)))
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)
                and ("Cox model" in str(w.message) or "Fine-Gray" in str(w.message) or "logrank" in str(w.message))]
    if messages:
        rows.append((method, "warning", np.nan, " | ".join(messages)))


def _label(frame: pd.DataFrame, by: str | None) -> list[str]:
    return list(frame[by].astype(str)) if by else ["all"] * len(frame)


def _km(d, by, kw):
    est = sv.km_estimates(d, by, TIMES, conf_type="log-log", **kw)
    for g, row in zip(_label(est, by), est.itertuples()):
        for stat in ("surv", "std_err", "lcl", "ucl", "n_risk"):
            yield f"{g}|{row.time:g}|{stat}", getattr(row, stat)


def _quantiles(d, by, kw):
    q = sv.km_quantiles(d, by, PROBS, conf_type="log-log", **kw)
    for g, row in zip(_label(q, by), q.itertuples()):
        for stat in ("quantile", "lcl", "ucl"):
            yield f"{g}|{row.prob:g}|{stat}", getattr(row, stat)


def _logrank(d, options):
    test = sv.logrank(d, "GRP", rho=options["rho"], strata="STRAT" if options["strata"] else None)
    yield "chisq", test["chisq"].iloc[0]
    for row in test.itertuples():
        yield f"{row.GRP}|observed", row.observed
        yield f"{row.GRP}|expected", row.expected


def _cox(d, by, kw, options):
    fit = sv.cox(d, by, covariates=["X"], strata="STRAT" if options["strata"] else None, **kw)
    for i, row in enumerate(fit.itertuples()):
        yield f"coef{i}", row.coef
        yield f"se{i}", row.se


def _cif(d, by):
    ci = cr.cumulative_incidence(d, by, TIMES)
    for g, row in zip(_label(ci, by), ci.itertuples()):
        yield f"{g}|{row.cause}|{row.time:g}|cif", row.cif
        yield f"{g}|{row.cause}|{row.time:g}|var", row.std_err ** 2


def _gray(d, options):
    test = cr.gray_test(d, "GRP", cause=None, strata="STRAT" if options["strata"] else None)
    for row in test.itertuples():
        yield f"{row.cause}|stat", row.stat


def _fine_gray(d, by):
    fit = cr.fine_gray(d, by, cause=1, covariates=["X"])
    for i, row in enumerate(fit.itertuples()):
        yield f"coef{i}", row.coef
        yield f"se{i}", row.se
    yield "converged", float(fit["converged"].all())


def our_rows(frame: pd.DataFrame, options: dict) -> list[tuple]:
    """All methods on one data set: rows (method, item, value, note)."""
    by = "GRP" if frame["GRP"].nunique() > 1 else None
    kw = {"weights": "W" if options["weights"] != "none" else None, "entry": "ENTRY" if options["entry"] else None}
    rows: list[tuple] = []
    _guard(rows, "km", lambda: _km(frame, by, kw))
    _guard(rows, "quantile", lambda: _quantiles(frame, by, kw))
    _guard(rows, "logrank", lambda: _logrank(frame, options))
    _guard(rows, "cox", lambda: _cox(frame, by, kw, options))
    _guard(rows, "cif", lambda: _cif(frame, by))
    _guard(rows, "gray", lambda: _gray(frame, options))
    _guard(rows, "finegray", lambda: _fine_gray(frame, by))
    return rows
