"""Restricted mean survival time (RMST), reverse Kaplan-Meier follow-up, and the product-limit
estimator for many weight vectors at once (bootstrap replicates with re-fitted weights).

Generic: nothing here knows the trial. Data frames follow the ADaM ADTTE convention: a time
column (``AVAL``), a censoring column (``CNSR``: 0 event, 1 censored), an optional group column
``by`` and an optional delayed-entry column ``entry`` (subject at risk on (entry, time]).

Public functions
----------------
rmst(adtte, by, tau, ...)                -> RMST up to ``tau`` per group with its SE and CI (R survfit rmean)
rmst_difference(adtte, by, tau, reference) -> difference of RMSTs, Wald CI and z-test
reverse_km_follow_up(adtte, by, ...)     -> median follow-up by reverse Kaplan-Meier (Schemper & Smith 1996)
product_limit_matrix(stop, event, W, start) -> KM curves of many weight vectors (rows of W) on one time grid
rmst_from_curves(times, surv, tau)       -> RMST of each curve of product_limit_matrix
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from analysis.stats._surv_data import check_conf_level, surv_data

__all__ = [
    "product_limit_matrix",
    "reverse_km_follow_up",
    "rmst",
    "rmst_difference",
    "rmst_from_curves",
    "survival_at",
]


def _group_km(stop: np.ndarray, event: np.ndarray, start: np.ndarray | None):
    """Unweighted product-limit fit of one group on its distinct times: times, n_risk, n_event, surv.
    With ``start`` a subject is at risk at t when start < t <= stop (counting-process form)."""
    times, index = np.unique(stop, return_inverse=True)
    leaving = np.bincount(index, minlength=len(times)).astype(float)
    n_event = np.bincount(index, weights=event, minlength=len(times))
    n_risk = np.cumsum(leaving[::-1])[::-1]
    if start is not None:
        # subjects not yet entered at t_k (start >= t_k): by sorting, linear in n (no n x times matrix)
        n_risk = n_risk - (len(start) - np.searchsorted(np.sort(start), times, side="left"))
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n_risk > 0, 1 - n_event / n_risk, 1.0)
    return times, n_risk, n_event, np.cumprod(factor)


def _rmst_one(times, n_risk, n_event, surv, tau: float) -> tuple[float, float]:
    """Area under the KM step function on [0, tau] and its variance, as R's survmean (print.survfit
    rmean = tau): rectangles between the distinct times, the last value carried to tau, and
    Var = sum_k A_k^2 d_k / (n_k (n_k - d_k)), A_k the area from t_k to tau."""
    keep = times <= tau
    with np.errstate(divide="ignore", invalid="ignore"):
        hh = np.where(n_risk - n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    t = np.concatenate([times[keep], [tau]])
    s = np.concatenate([surv[keep], [surv[keep][-1]]]) if keep.any() else np.array([1.0])
    h = np.concatenate([hh[keep], [0.0]]) if keep.any() else np.array([0.0])
    rectangles = np.diff(np.concatenate([[0.0], t])) * np.concatenate([[1.0], s[:-1]])
    tail = np.cumsum(rectangles[1:][::-1])  # area from each time to tau
    variance = float(np.sum(tail ** 2 * h[::-1][1:])) if len(rectangles) > 1 else 0.0
    return float(rectangles.sum()), variance


def rmst(adtte: pd.DataFrame, by: str | None, tau: float, conf_level: float = 0.95, entry: str | None = None, *,
         time: str = "AVAL", cnsr: str = "CNSR") -> pd.DataFrame:
    """Restricted mean survival time up to ``tau`` per group, as R ``print(survfit(...), rmean = tau)``
    (``summary(fit, rmean = tau)$table[, c("rmean", "se(rmean)")]``).

    RMST = integral_0^tau S(t) dt of the Kaplan-Meier step function; SE from R's Greenwood-type
    formula (see ``_rmst_one``); Wald limits rmst -/+ z se (Royston & Parmar 2013). When ``tau`` is
    beyond a group's last observed time the curve is carried flat to ``tau``, as R does; column
    ``extended`` says so and ``last_time`` gives the last observed time.
    Columns: <by>, tau, n, n_event, rmst, se, lcl, ucl, last_time, extended, conf_level, method.
    """
    conf_level = check_conf_level(conf_level)
    tau = float(tau)
    if not np.isfinite(tau) or tau <= 0:
        raise ValueError(f"tau must be a positive number of time units, got {tau!r}")
    data = surv_data(adtte, time=time, cnsr=cnsr, by=by, entry=entry)
    z = norm.ppf(0.5 + conf_level / 2)
    rows = []
    for code, level in enumerate(data.levels):
        part = data.subset(data.group == code) if len(data.levels) > 1 else data
        fit = _group_km(part.stop, part.event, part.start)
        value, variance = _rmst_one(*fit, tau)
        se = float(np.sqrt(variance))
        rows.append({**({by: level} if by is not None else {}), "tau": tau, "n": len(part.stop),
                     "n_event": float(part.event.sum()), "rmst": value, "se": se, "lcl": value - z * se,
                     "ucl": value + z * se, "last_time": float(part.stop.max()),
                     "extended": bool(part.stop.max() < tau), "conf_level": conf_level,
                     "method": "restricted mean survival time (area under the Kaplan-Meier curve to tau), "
                               "R survfit rmean variance, Wald interval"})
    return pd.DataFrame(rows)


def rmst_difference(adtte: pd.DataFrame, by: str, tau: float, reference, conf_level: float = 0.95,
                    entry: str | None = None, *, time: str = "AVAL", cnsr: str = "CNSR") -> pd.DataFrame:
    """Each group's RMST minus the ``reference`` group's, SE sqrt(se_g^2 + se_ref^2) (independent
    groups), Wald interval and two-sided z-test. Columns: <by>, reference, tau, diff, se, lcl, ucl, z, p."""
    table = rmst(adtte, by, tau, conf_level, entry, time=time, cnsr=cnsr)
    if reference not in set(table[by]):
        raise ValueError(f"reference group {reference!r} is not a value of column {by!r}: {list(table[by])}")
    ref = table[table[by] == reference].iloc[0]
    others = table[table[by] != reference].reset_index(drop=True)
    z_crit = norm.ppf(0.5 + conf_level / 2)
    diff = others["rmst"] - ref["rmst"]
    se = np.sqrt(others["se"] ** 2 + ref["se"] ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / se
    return pd.DataFrame({by: others[by], "reference": reference, "tau": float(tau), "diff": diff, "se": se,
                         "lcl": diff - z_crit * se, "ucl": diff + z_crit * se, "z": z,
                         "p": 2 * norm.sf(np.abs(z)), "conf_level": conf_level})


def reverse_km_follow_up(adtte: pd.DataFrame, by: str | None, conf_level: float = 0.95, *, time: str = "AVAL",
                         cnsr: str = "CNSR") -> pd.DataFrame:
    """Median potential follow-up by the reverse Kaplan-Meier method (Schemper & Smith 1996,
    Control Clin Trials 17:343): the KM of the censoring times, i.e. censoring is the "event" and
    the event censors, as R ``survfit(Surv(time, CNSR) ~ by)``. Median and quartiles are read as
    quantile.survfit does (first time with 1 - S >= p; midpoint on a flat stretch), with
    Brookmeyer-Crowley log-log limits for the median. Columns: <by>, n, median, lcl, ucl, q1, q3."""
    from analysis.stats import (
        survival,  # the project's KM quantiles (R quantile.survfit)
    )

    flipped = adtte.assign(__reverse_cnsr__=1 - pd.to_numeric(adtte[cnsr]))
    q = survival.km_quantiles(flipped, by, probs=(0.25, 0.5, 0.75), conf_type="log-log", conf_level=conf_level,
                              time=time, cnsr="__reverse_cnsr__")
    keys = [by] if by is not None else []
    rows = []
    groups = q.groupby(keys, sort=False) if keys else [(None, q)]
    for level, part in groups:
        at = part.set_index("prob")
        level = level[0] if isinstance(level, tuple) else level
        n = len(adtte) if by is None else int((adtte[by] == level).sum())
        rows.append({**({by: level} if by is not None else {}), "n": n, "median": at.at[0.5, "quantile"],
                     "lcl": at.at[0.5, "lcl"], "ucl": at.at[0.5, "ucl"], "q1": at.at[0.25, "quantile"],
                     "q3": at.at[0.75, "quantile"]})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
# many weight vectors at once (bootstrap replicates)
# ------------------------------------------------------------------------------------------------

def product_limit_matrix(stop: np.ndarray, event: np.ndarray, weights: np.ndarray,
                         start: np.ndarray | None = None, columns: np.ndarray | None = None,
                         chunk: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted KM of each row of ``weights`` (replicates x subjects) on the distinct event times.

    d_w(t) = sum of weights of events at t, n_w(t) = sum of weights of subjects with
    start < t <= stop (survfit(weights =) with Surv(start, stop, event)); S(t) = prod (1 - d_w/n_w),
    a factor 1 where nobody of the replicate is at risk. ``columns`` (optional): row i's weight is
    ``weights[:, columns[i]]`` (several data sets share one replicate matrix without copying it);
    by default column i. Returns (event_times (K,), surv (B, K), last_time (B,): each replicate's
    last observed time carrying weight, -inf when none).

    Time and memory are linear in the number of rows: each row enters the risk set at one grid
    index and leaves it at another (sparse +w / -w, then a cumulative sum over the grid), and the
    replicates are taken ``chunk`` at a time, so no rows x times matrix is ever formed."""
    from scipy import sparse

    stop, event = np.asarray(stop, float), np.asarray(event, float)
    weights = np.atleast_2d(np.asarray(weights, float))
    cols = np.arange(len(stop)) if columns is None else np.asarray(columns, int)
    times = np.unique(stop[event > 0])
    n_times = len(times)
    leave = np.searchsorted(times, stop, side="right")          # at risk at grid k < leave
    enter = (np.zeros(len(stop), int) if start is None
             else np.searchsorted(times, np.asarray(start, float), side="right"))  # and k >= enter
    risky = enter < leave
    rows = np.concatenate([np.flatnonzero(risky)] * 2)
    change = sparse.csr_matrix((np.concatenate([np.ones(risky.sum()), -np.ones(risky.sum())]),
                                (rows, np.concatenate([enter[risky], leave[risky]]))), shape=(len(stop), n_times + 1))
    died = np.flatnonzero(event > 0)
    deaths = sparse.csr_matrix((np.ones(len(died)), (died, np.searchsorted(times, stop[died]))),
                               shape=(len(stop), max(n_times, 1)))
    order = np.argsort(stop, kind="stable")[::-1]               # latest first, for last_time
    surv, last_time = np.empty((weights.shape[0], n_times)), np.full(weights.shape[0], -np.inf)
    for b0 in range(0, weights.shape[0], chunk):
        w = weights[b0:b0 + chunk][:, cols]
        n_w = np.cumsum(np.asarray(w @ change), axis=1)[:, :n_times]
        d_w = np.asarray(w @ deaths)[:, :n_times]
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(n_w > 0, 1 - d_w / n_w, 1.0)
        surv[b0:b0 + chunk] = np.cumprod(factor, axis=1)
        carrying = w[:, order] > 0
        last = np.argmax(carrying, axis=1)
        last_time[b0:b0 + chunk] = np.where(carrying.any(axis=1), stop[order][last], -np.inf)
    return times, surv, last_time


def survival_at(times: np.ndarray, surv: np.ndarray, t: float) -> np.ndarray:
    """S(t) of each curve of ``product_limit_matrix`` (the step at or before t; 1 before the first event)."""
    k = np.searchsorted(times, t, side="right")
    return np.ones(surv.shape[0]) if k == 0 else surv[:, k - 1]


def rmst_from_curves(times: np.ndarray, surv: np.ndarray, tau: float) -> np.ndarray:
    """Area under each step curve (1 before the first time) from 0 to ``tau``; the last value is
    carried flat to tau (as R's rmean)."""
    keep = times <= tau
    t = np.concatenate([[0.0], times[keep], [tau]])
    s = np.concatenate([np.ones((surv.shape[0], 1)), surv[:, keep]], axis=1)
    return (np.diff(t)[None, :] * s).sum(axis=1)
