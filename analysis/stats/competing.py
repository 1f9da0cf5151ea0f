"""Competing-risks estimation and testing on one-row-per-subject frames.

Data convention (any ADaM-style frame, nothing trial-specific): one row per subject, a time
column (default ``AVAL``, >= 0) and an event-type column (default ``EVNTTYPE``): 0 = censored,
1, 2, ... = the cause that ended follow-up. Any positive integer code is a cause.

Public functions
----------------
cumulative_incidence(data, by, times, ...)  Aalen-Johansen CIF with Gray's delta-method variance
                                            (exactly as cmprsk::cuminc + timepoints).
gray_test(data, by, cause=1, ...)           Gray's (1988) K-sample test (cmprsk::cuminc $Tests).
fine_gray(data, by, cause=1, covariates)   Fine-Gray subdistribution hazard model with the
                                            Fine & Gray (1999) sandwich variance (cmprsk::crr).

The three reproduce the Fortran of cmprsk 2.2-11 (R. Gray), re-expressed with NumPy arrays;
tests/test_stats_competing.py checks them against R to stated tolerances.
"""

from __future__ import annotations

import warnings
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats._cox import _singular_columns, _solve_nonsingular
from analysis.stats._surv_data import (_first_bad_row, check_choice, check_conf_level, check_single_parameter,
                                       group_codes, numeric_column)

CENSORED = 0
CONF_TYPES = ("log-log", "plain", "log")

__all__ = ["cumulative_incidence", "gray_test", "fine_gray"]


# ------------------------------------------------------------------------------------------------
# input checks (the column rules are the survival module's, so messages read the same)
# ------------------------------------------------------------------------------------------------

def _require_columns(data: pd.DataFrame, columns: Iterable[str | None]) -> None:
    """Raise ValueError naming every column of ``columns`` that ``data`` lacks."""
    missing = [c for c in columns if c is not None and c not in data.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing}; columns present: {list(data.columns)}")


def _z(conf_level: float) -> float:
    """Two-sided normal quantile for ``conf_level`` (1.959964 for 0.95)."""
    return float(stats.norm.ppf(0.5 + check_conf_level(conf_level) / 2))


def _competing_input(data: pd.DataFrame, by: str | None, event_type: str, time: str, splitting: tuple = ()):
    """Checked arrays: times (finite, >= 0), event codes (integers >= 0), group codes, levels.
    A PARAMCD column must hold one parameter unless it is ``by`` or in ``splitting`` (as the
    survival functions: several ADaM parameters must not be pooled silently)."""
    _require_columns(data, [time, event_type, by])
    if len(data) == 0:
        raise ValueError("the competing-risks data frame has no rows")
    check_single_parameter(data, (by, *splitting))
    t = numeric_column(data, time, "analysis time")
    if (t < 0).any():
        raise ValueError(f"column {time!r} (analysis time) must be >= 0: first negative at "
                         f"{_first_bad_row(data, t < 0)}")
    code = numeric_column(data, event_type, "event type, 0 = censored, k = cause k")
    bad = (code < 0) | (code != np.round(code))
    if bad.any():
        raise ValueError(f"column {event_type!r} (event type) must hold integers >= 0 (0 = censored); "
                         f"found {code[np.flatnonzero(bad)[0]]!r} at {_first_bad_row(data, bad)}")
    groups, levels = group_codes(data, by)
    return t, code.astype(int), groups, levels


# ------------------------------------------------------------------------------------------------
# cumulative incidence
# ------------------------------------------------------------------------------------------------

def _distinct_time_counts(t_sorted: np.ndarray, *indicators: np.ndarray):
    """Distinct times, number at risk just before each, and per-time sums of each indicator."""
    times, first, counts = np.unique(t_sorted, return_index=True, return_counts=True)
    n_risk = len(t_sorted) - first
    sums = [np.add.reduceat(ind.astype(float), first) for ind in indicators]
    return times, n_risk.astype(float), counts, sums


def _tie_factor(n_events: np.ndarray, n_risk: np.ndarray) -> np.ndarray:
    """cmprsk's correction for tied events: 1 - (d - 1)/(Y - 1) when d > 1, else 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_events > 1, 1 - (n_events - 1) / (n_risk - 1), 1.0)


def _aalen_johansen(t_sorted: np.ndarray, any_event: np.ndarray, cause_event: np.ndarray):
    """CIF of one cause in one group at each distinct time, with cmprsk's variance.

    Estimate: F(t) = sum_{s<=t} S(s-) d1(s)/Y(s) with S the all-cause Kaplan-Meier (Aalen &
    Johansen 1978). Variance: the delta-method estimator of Gray as coded in cmprsk's ``cinc``
    (Fortran), accumulating v1, v2, v3 over cause and competing event times and reporting
    v1 + F^2 v3 - 2 F v2 at cause-of-interest event times only (between them the variance is
    carried forward, as cuminc's step output does).
    Returns distinct times, n at risk, cumulative cause events, F and Var(F) (step values).
    """
    times, n_risk, _, (d_any, d1) = _distinct_time_counts(t_sorted, any_event, cause_event)
    d2 = d_any - d1
    surv = np.cumprod(1 - d_any / n_risk)                 # S(t), all-cause KM
    surv_before = np.concatenate([[1.0], surv[:-1]])      # S(t-)
    cif = np.cumsum(surv_before * d1 / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_surv = np.where(surv > 0, 1 / surv, 0.0)
    base = surv_before ** 2 / n_risk ** 2
    # competing events contribute only while S(t) > 0 (cinc skips them otherwise)
    w2 = np.where((d2 > 0) & (surv > 0), base * _tie_factor(d2, n_risk) * d2, 0.0)
    w1 = np.where(d1 > 0, base * _tie_factor(d1, n_risk) * d1, 0.0)
    a2, a1 = cif * inv_surv, 1 + inv_surv * cif            # t4 of the two blocks in cinc
    v1 = np.cumsum(a2 ** 2 * w2 + a1 ** 2 * w1)
    v2 = np.cumsum(inv_surv * a2 * w2 + inv_surv * a1 * w1)
    v3 = np.cumsum(inv_surv ** 2 * (w2 + w1))
    var_at_cause = v1 + cif ** 2 * v3 - 2 * cif * v2
    # carry the variance forward from the last cause-of-interest event time
    last_cause = np.maximum.accumulate(np.where(d1 > 0, np.arange(len(times)), -1))
    var = np.where(last_cause >= 0, var_at_cause[np.maximum(last_cause, 0)], 0.0)
    return times, n_risk, np.cumsum(d1), cif, var


def _confidence_limits(cif: np.ndarray, se: np.ndarray, z: float, conf_type: str):
    """CI for a probability in [0, 1].

    log-log: g = log(-log F), Var(g) = Var(F)/(F log F)^2, giving F^exp(+-z se/(F log F))
    (the transform used with cuminc output, e.g. Pintilie 2006, ch. 4); plain: F +- z se
    clipped to [0, 1]; log: F exp(+-z se/F) capped at 1. Where F is 0 or 1, or se is 0, both
    limits equal F (the transforms are undefined there).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log-log":
            k = np.exp(z * se / (cif * np.log(cif)))
            lo, hi = np.minimum(cif ** k, cif ** (1 / k)), np.maximum(cif ** k, cif ** (1 / k))
        elif conf_type == "plain":
            lo, hi = np.clip(cif - z * se, 0, 1), np.clip(cif + z * se, 0, 1)
        elif conf_type == "log":
            lo, hi = cif * np.exp(-z * se / cif), np.minimum(cif * np.exp(z * se / cif), 1)
        else:
            raise ValueError(f"conf_type must be one of {CONF_TYPES}, got {conf_type!r}")
    degenerate = (cif <= 0) | (cif >= 1) | (se <= 0)
    nan = np.isnan(cif)
    lo = np.where(nan, np.nan, np.where(degenerate, cif, lo))
    hi = np.where(nan, np.nan, np.where(degenerate, cif, hi))
    return lo, hi


def _step_values(step_times: np.ndarray, requested: np.ndarray, *steps: np.ndarray) -> list[np.ndarray]:
    """Right-continuous step functions read at ``requested`` times: the value at the last step
    time <= t, and 0 before the first step (every step function here starts at 0)."""
    idx = np.searchsorted(step_times, requested, side="right") - 1
    return [np.where(idx >= 0, values[np.maximum(idx, 0)], 0) for values in steps]


def _time_points(times) -> np.ndarray:
    """Requested time points, sorted and distinct; an error (as km_estimates) if any is not finite."""
    values = np.atleast_1d(np.asarray(times, dtype="float64"))
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"times must be one or more finite numbers, got {times!r}")
    return np.unique(values)


def cumulative_incidence(data: pd.DataFrame, by: str | None, times: Sequence[float] | None = None,
                         event_type: str = "EVNTTYPE", time: str = "AVAL",
                         conf_level: float = 0.95, conf_type: str = "log-log",
                         causes: Sequence[int] | None = None) -> pd.DataFrame:
    """Cumulative incidence functions (Aalen-Johansen) with confidence limits, per group and cause.

    Method: F_k(t) = sum_{s<=t} S(s-) d_k(s) / Y(s), S the all-cause Kaplan-Meier (Aalen &
    Johansen 1978; Kalbfleisch & Prentice 2002, s. 8.2). Standard error: square root of Gray's
    delta-method variance exactly as ``cmprsk::cuminc`` computes it (Fortran ``cinc``; tie
    correction 1-(d-1)/(Y-1)); read at ``times`` as ``cmprsk::timepoints`` does (right-continuous
    step; the variance is the one at the last event of the cause <= t). The interval is NOT
    produced by cuminc; it is formed here on the ``conf_type`` scale, by default log(-log):
    F^exp(+-z*se/(F*log F)).

    Parameters: ``by`` a grouping column or None; ``times`` the time points (default: every
    distinct observed time); ``causes`` the event codes to report (default: every positive code
    present in the data).
    Returns one row per (group, cause, time): <by>, cause, time, n_risk (at risk just before
    t), n_event (events of this cause <= t), cif, std_err, lcl, ucl. Times beyond a group's last
    follow-up, or negative, give NaN estimates (not estimable; timepoints gives NA).
    """
    t_all, ev_all, grp_all, levels = _competing_input(data, by, event_type, time)
    z = _z(conf_level)
    check_choice(conf_type, CONF_TYPES, "conf_type")
    if causes is None:
        causes = sorted(int(c) for c in np.unique(ev_all[ev_all != CENSORED]))
        if not causes:
            raise ValueError(f"column {event_type!r} has no events of any cause (every row is 0 = censored): "
                             "no cumulative incidence to estimate; pass causes=[...] to get CIFs of 0")
    causes = [int(c) for c in causes]
    if not causes or min(causes) <= CENSORED:
        raise ValueError(f"causes must be one or more positive event codes of column {event_type!r}, got {causes}")
    requested = np.unique(t_all) if times is None else _time_points(times)
    rows = []
    for code, level in enumerate(levels):
        in_group = grp_all == code
        order = np.argsort(t_all[in_group], kind="stable")
        t_g, ev_g = t_all[in_group][order], ev_all[in_group][order]
        for cause in causes:
            step_t, _n_risk, n_ev, cif, var = _aalen_johansen(t_g, ev_g != CENSORED, ev_g == cause)
            est, var_t, n_event = _step_values(step_t, requested, cif, var, n_ev)
            # not estimable after the group's last follow-up (timepoints gives NA there)
            estimable = (requested >= 0) & (requested <= t_g[-1])
            est, se = np.where(estimable, est, np.nan), np.where(estimable, np.sqrt(var_t), np.nan)
            lo, hi = _confidence_limits(est, se, z, conf_type)
            frame = pd.DataFrame({"cause": cause, "time": requested,
                                  "n_risk": len(t_g) - np.searchsorted(t_g, requested, side="left"),
                                  "n_event": n_event.astype(int),
                                  "cif": est, "std_err": se, "lcl": lo, "ucl": hi})
            if by is not None:
                frame.insert(0, by, level)
            rows.append(frame)
    return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------------------------------------------
# Gray's test
# ------------------------------------------------------------------------------------------------

@np.errstate(divide="ignore", invalid="ignore")  # groups with nobody at risk are masked out
def _gray_stratum(t: np.ndarray, status: np.ndarray, group: np.ndarray, n_groups: int, rho: float):
    """Score vector and covariance of Gray's test in one stratum (cmprsk Fortran ``crst``).

    ``t`` sorted; ``status`` 0 censored, 1 cause of interest, 2 any other cause; ``group``
    coded 0..n_groups-1. Loops over distinct times, vectorised over groups. Variable names
    follow the Fortran so the two can be read side by side: f1m/f1 group CIFs and skmm/skm group
    all-cause KMs just before/at t; tr and tq Gray's sums of R_k and of R_k (1 - F_k(t-)); a and
    c his score-weight matrices; v2 and v3 the accumulated variance pieces.
    """
    g1 = n_groups - 1
    # counts by (distinct time, status, group), and the number at risk at each time, computed once;
    # the loop visits event times only (at a censoring-only time no quantity of the test changes)
    _, time_index = np.unique(t, return_inverse=True)
    counts = np.zeros((time_index.max() + 1, 3, n_groups))
    np.add.at(counts, (time_index, status, group), 1.0)
    at_risk_all = np.cumsum(counts.sum(axis=1)[::-1], axis=0)[::-1]
    event_times = np.flatnonzero(counts[:, 1:, :].sum(axis=(1, 2)) > 0)
    score, cov = np.zeros(g1), np.zeros((g1, g1))
    f1m, f1 = np.zeros(n_groups), np.zeros(n_groups)       # group CIFs, left/right continuous
    skmm, skm = np.ones(n_groups), np.ones(n_groups)       # group all-cause KMs, left/right
    v3, v2, c = np.zeros(n_groups), np.zeros((g1, n_groups)), np.zeros((n_groups, n_groups))
    fm = 0.0                                               # pooled weighted CIF, left continuous
    for k in event_times:
        d, at_risk = counts[k], at_risk_all[k]
        nd1, nd2 = d[1].sum(), d[2].sum()
        act = at_risk > 0
        skm = np.where(act, skmm * (at_risk - d[1] - d[2]) / np.where(act, at_risk, 1), skm)
        f1 = np.where(act, f1m + skmm * d[1] / np.where(act, at_risk, 1), f1)
        t1 = np.where(act, at_risk / skmm, 0.0)
        tr = t1.sum()
        tq = np.where(act, at_risk * (1 - f1m) / skmm, 0.0).sum()
        f = fm + nd1 / tr
        fb = (1 - fm) ** rho
        a = fb * (np.diag(t1) - np.outer(t1, t1) / tr)
        if nd1 > 0:
            c = c + np.where(a != 0, a * nd1 / (tr * (1 - fm)), 0.0)
        score += np.where(act, fb * (d[1] - nd1 * at_risk * (1 - f1m) / (skmm * tq)), 0.0)[:g1]
        if nd1 > 0:
            t4 = np.where(skm > 0, 1 - (1 - f) / skm, 1.0)
            t5 = 1 - (nd1 - 1) / (tr * skmm - 1) if nd1 > 1 else np.ones(n_groups)
            t3 = np.where(act, t5 * skmm * nd1 / (tr * np.where(act, at_risk, 1)), 0.0)
            v3 += t4 ** 2 * t3
            k1 = a[:g1, :] - t4 * c[:g1, :]
            v2 += k1 * t4 * t3
            cov += (k1 * t3) @ k1.T
        if nd2 > 0:
            use = (skm > 0) & (d[2] > 0)
            t4 = np.where(use, (1 - f) / skm, 0.0)
            t5 = np.where(d[2] > 1, 1 - (d[2] - 1) / (at_risk - 1), 1.0)
            t3 = np.where(use, t5 * skmm ** 2 * d[2] / at_risk ** 2, 0.0)
            v3 += t4 ** 2 * t3
            k2 = t4 * c[:g1, :]
            v2 -= k2 * t4 * t3
            cov += (k2 * t3) @ k2.T
        fm, f1m, skmm = f, f1.copy(), skm.copy()
    cov += (c[:g1] * v3) @ c[:g1].T + c[:g1] @ v2.T + v2 @ c[:g1].T
    return score, cov


def gray_test(data: pd.DataFrame, by: str, cause: int | None = 1, event_type: str = "EVNTTYPE",
              time: str = "AVAL", strata: str | None = None, rho: float = 0.0) -> pd.DataFrame:
    """Gray's (1988, Ann. Stat. 16:1141) test of equal cumulative incidence across groups.

    Method: the K-sample score test comparing weighted subdistribution hazards, weight
    (1 - F(t-))^rho (rho = 0 by default, as cuminc), with Gray's variance estimator; the
    statistic s' V^-1 s is referred to chi-square with K-1 df; stratified by summing scores and
    variances over strata. Reproduces ``cmprsk::cuminc(...)$Tests`` (Fortran ``crstm``).
    ``cause`` a code or None for every cause present.
    Returns one row per cause: cause, stat, df, p. If V is singular, stat and p are NaN (cuminc
    reports -1).
    """
    if by is None:
        raise ValueError("gray_test compares groups: give a `by` column")
    t_all, ev_all, group, levels = _competing_input(data, by, event_type, time, (strata,))
    if len(levels) < 2:
        raise ValueError(f"column {by!r}: need at least two groups, found {levels}")
    strat, _ = group_codes(data, strata, "strata")
    causes = sorted(int(c) for c in np.unique(ev_all[ev_all != CENSORED])) if cause is None else [int(cause)]
    if not causes:
        raise ValueError(f"column {event_type!r} has no events of any cause (every row is 0 = censored): "
                         "Gray's test has nothing to compare")
    order = np.argsort(t_all, kind="stable")
    rows = []
    for k in causes:
        status = np.where(ev_all == CENSORED, 0, np.where(ev_all == k, 1, 2))
        score, cov = np.zeros(len(levels) - 1), np.zeros((len(levels) - 1,) * 2)
        for s in pd.unique(strat[order]):
            sel = order[strat[order] == s]
            s_score, s_cov = _gray_stratum(t_all[sel], status[sel], group[sel], len(levels), rho)
            score, cov = score + s_score, cov + s_cov
        df = len(levels) - 1
        # singular, as cuminc's qr() rank test; an absolute floor (scaled by the events of the cause)
        # also catches a covariance that is rounding noise (groups confounded with strata)
        if np.linalg.matrix_rank(cov, tol=1e-9 * max(1.0, float((ev_all == k).sum()))) < df:
            stat = np.nan
        else:
            stat = float(score @ np.linalg.solve(cov, score))
        rows.append({"cause": k, "stat": stat, "df": df, "p": float(stats.chi2.sf(stat, df))})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
# Fine-Gray model
# ------------------------------------------------------------------------------------------------

def _design_matrix(data: pd.DataFrame, by: str | None, covariates: Sequence[str] | None,
                   reference=None) -> pd.DataFrame:
    """Numeric design: `by` and non-numeric covariates dummy-coded against their reference
    level (``reference`` for `by`, else the first sorted level); numeric covariates as given."""
    parts = []
    for col in ([by] if by is not None else []) + list(covariates or []):
        values = data[col]
        if values.isna().any():
            raise ValueError(f"column {col!r}: {int(values.isna().sum())} missing value(s); "
                             "the model needs complete covariates")
        if col != by and pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            parts.append(values.astype(float).rename(col).reset_index(drop=True))
            continue
        levels = sorted(pd.unique(values))
        ref = reference if (col == by and reference is not None) else levels[0]
        if ref not in levels:
            raise ValueError(f"column {col!r}: reference level {ref!r} not among {levels}")
        for level in levels:
            if level != ref:
                parts.append(pd.Series((values == level).to_numpy(dtype=float), name=f"{col}={level}"))
    if not parts:
        raise ValueError("no model terms: give `by` and/or `covariates`")
    design = pd.concat(parts, axis=1)
    constant = [c for c in design.columns if design[c].nunique() < 2]
    if constant:
        raise ValueError(f"model term(s) {constant} are constant in the data; cannot estimate them")
    centred = design.to_numpy(dtype=float) - design.to_numpy(dtype=float).mean(axis=0)
    aliased = _singular_columns(centred.T @ centred)
    if aliased.any():
        raise ValueError(f"model term(s) {list(design.columns[aliased])} are linear combinations of earlier terms "
                         f"{[c for c, a in zip(design.columns, aliased) if not a]} (collinear); drop them")
    return design


def _censoring_km_before(t: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """G(t_i-): Kaplan-Meier of the censoring distribution just before each subject's time."""
    times, n_risk, _, (n_cens,) = _distinct_time_counts(t, censored)
    g = np.cumprod(1 - n_cens / n_risk)
    g_before = np.concatenate([[1.0], g[:-1]])
    return g_before[np.searchsorted(times, t)]


def _tail_sums(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """sum of rows values[k:] for each k in ``index`` (0 past the end): reverse cumulative sums."""
    tail = np.cumsum(values[::-1], axis=0)[::-1]
    return np.concatenate([tail, np.zeros((1,) + values.shape[1:])], axis=0)[index]


def _head_sums(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """sum of rows values[:k] for each k in ``index``: cumulative sums with a leading 0."""
    head = np.cumsum(values, axis=0)
    return np.concatenate([np.zeros((1,) + values.shape[1:]), head], axis=0)[index]


class _FineGrayTerms:
    """Risk-set quantities of the Fine-Gray pseudo partial likelihood for data sorted by time.

    Weights (Fine & Gray 1999, eq. 6, as cmprsk::crr): at a cause-1 time t_i subject j is in
    the risk set with weight 1 if t_j >= t_i, G(t_i-)/G(t_j-) if a competing event occurred
    before t_i, else 0; G the censoring KM. Ties are handled by Breslow's method, as crr.

    The weight factorises, so no n_events x n matrix is needed: for any per-subject value v_j,
    sum_j w_ij v_j = sum_{t_j >= t_i} v_j + G(t_i-) sum_{competing j, t_j < t_i} v_j / G(t_j-), a
    reverse and a forward cumulative sum over the sorted times. Every quantity below (likelihood,
    score, information, the score residuals eta and the censoring correction psi of the sandwich) is
    built from such sums: O(n p^2) time and memory per iteration, where crr's Fortran is O(n n_events).
    """

    def __init__(self, t, status, x):
        self.t, self.status, self.x = t, status, x
        self.fail = np.flatnonzero(status == 1)
        self.g = _censoring_km_before(t, status == 0)            # G(t_j-)
        self.competing = (status == 2).astype(float)
        self.t_fail = t[self.fail]
        self.g_fail = self.g[self.fail]
        self.before_fail = np.searchsorted(t, self.t_fail, side="left")   # rows with t_j < t_i
        p = x.shape[1]
        self.outer = (x[:, :, None] * x[:, None, :]).reshape(len(t), p * p)

    def _weighted_sums(self, values: np.ndarray) -> np.ndarray:
        """sum_j w_ij values_j at each failure i (values: n rows, any number of columns)."""
        at_risk = _tail_sums(values, self.before_fail)
        scaled = values * (self.competing / self.g).reshape((-1,) + (1,) * (values.ndim - 1))
        earlier = _head_sums(scaled, self.before_fail)
        return at_risk + self.g_fail.reshape((-1,) + (1,) * (values.ndim - 1)) * earlier

    def moments(self, beta):
        r = np.exp(self.x @ beta)
        s0 = self._weighted_sums(r)
        xbar = self._weighted_sums(r[:, None] * self.x) / s0[:, None]
        return r, s0, xbar

    def loglik_score_information(self, beta):
        r, s0, xbar = self.moments(beta)
        p = self.x.shape[1]
        xf = self.x[self.fail]
        loglik = float((xf @ beta - np.log(s0)).sum())
        score = (xf - xbar).sum(axis=0)
        s2 = (self._weighted_sums(r[:, None] * self.outer) / s0[:, None]).sum(axis=0).reshape(p, p)
        info = s2 - xbar.T @ xbar
        return loglik, score, info

    def _score_residuals(self, r, s0, xbar) -> np.ndarray:
        """eta_j = delta_j (x_j - xbar_j) - r_j sum_i w_ij (x_j - xbar_i) / S0_i (crrvv's first part):
        failures i with t_i <= t_j count with weight 1, later ones (for a competing j) with
        G(t_i-)/G(t_j-)."""
        t, x = self.t, self.x
        upto = np.searchsorted(self.t_fail, t, side="right")             # failures with t_i <= t_j
        h0, h1 = _head_sums(1 / s0, upto), _head_sums(xbar / s0[:, None], upto)
        k0 = _tail_sums(self.g_fail / s0, upto)                          # failures with t_i > t_j
        k1 = _tail_sums(self.g_fail[:, None] * xbar / s0[:, None], upto)
        later = (self.competing / self.g)[:, None]
        eta = -r[:, None] * (x * h0[:, None] - h1 + later * (x * k0[:, None] - k1))
        eta[self.fail] += x[self.fail] - xbar
        return eta

    def _censoring_correction(self, r, s0, xbar) -> np.ndarray:
        """psi_j, the term for estimating G (Fine & Gray 1999, s. 3; crrvv): with q(u) = sum over
        failures t_i >= u and competing j with t_j < u of w_ij r_j (x_j - xbar_i) / S0_i
        = K0(u) B1(u) - K1(u) B0(u) (K the failure sums of G(t_i-)/S0_i [xbar_i], B the competing sums
        of r_j/G(t_j-) [x_j]), psi_j = -sum_{u <= t_j} c_u q(u) / Y(u)^2 + [j censored] q(t_j)/Y(t_j)."""
        t, status, x = self.t, self.status, self.x
        times, first = np.unique(t, return_index=True)
        n_risk = (len(t) - first).astype(float)
        n_cens = np.add.reduceat((status == 0).astype(float), first)
        keep = n_cens > 0
        psi = np.zeros_like(x)
        if not keep.any():
            return psi
        u, y_u, c_u = times[keep], n_risk[keep], n_cens[keep]
        from_u = np.searchsorted(self.t_fail, u, side="left")
        k0 = _tail_sums(self.g_fail / s0, from_u)
        k1 = _tail_sums(self.g_fail[:, None] * xbar / s0[:, None], from_u)
        before_u = np.searchsorted(t, u, side="left")
        weight = self.competing * r / self.g
        b0, b1 = _head_sums(weight, before_u), _head_sums(weight[:, None] * x, before_u)
        q = k0[:, None] * b1 - k1 * b0[:, None]
        cumulative = np.cumsum(c_u[:, None] * q / y_u[:, None] ** 2, axis=0)
        k = np.searchsorted(u, t, side="right") - 1
        psi = np.where(k[:, None] >= 0, -cumulative[np.maximum(k, 0)], 0.0)
        own = status == 0
        ku = np.searchsorted(u, t[own])
        psi[own] += q[ku] / y_u[ku][:, None]
        return psi

    def sandwich_middle(self, beta):
        """Sum over subjects of (eta_i + psi_i)(eta_i + psi_i)' (Fine & Gray 1999, s. 3;
        cmprsk Fortran ``crrvv``): eta the score residual, psi the correction for estimating G."""
        r, s0, xbar = self.moments(beta)
        resid = self._score_residuals(r, s0, xbar) + self._censoring_correction(r, s0, xbar)
        return resid.T @ resid


def _newton_raphson(terms: _FineGrayTerms, n_par: int, max_iter: int = 50, tol: float = 1e-10):
    """Maximise the pseudo log partial likelihood by Newton-Raphson with step halving.

    A term whose information vanishes on the way (its estimate runs off to infinity: a level with
    no event of the cause) gets no further step, as coxph's cholesky2 does; the fit is then
    reported as not converged, as it is when the information ends below 1e-4 of its start."""
    beta = np.zeros(n_par)
    loglik, score, info = terms.loglik_score_information(beta)
    initial_info = np.diag(info).copy()
    vanished = np.zeros(n_par, dtype=bool)
    for _ in range(max_iter):
        step, singular = _solve_nonsingular(info, score)
        vanished |= singular
        for _halving in range(30):
            new_beta = beta + step
            new_loglik, new_score, new_info = terms.loglik_score_information(new_beta)
            if np.isfinite(new_loglik) and new_loglik >= loglik - 1e-12:
                break
            step = step / 2
        else:
            raise RuntimeError("Fine-Gray fit: step halving failed to increase the likelihood")
        beta, loglik, score, info = new_beta, new_loglik, new_score, new_info
        if np.max(np.abs(step)) < tol:
            # an information collapsed to < 1e-4 of its start: the estimate runs off to infinity and the
            # score can be exactly 0 in double precision there (a false convergence)
            collapsed = np.diag(info) < 1e-4 * initial_info
            return beta, loglik, info, not (vanished.any() or collapsed.any())
    return beta, loglik, info, False


def fine_gray(data: pd.DataFrame, by: str | None, cause: int = 1,
              covariates: Sequence[str] | None = None, event_type: str = "EVNTTYPE",
              time: str = "AVAL", reference=None, conf_level: float = 0.95) -> pd.DataFrame:
    """Fine-Gray (1999, JASA 94:496) proportional subdistribution hazards model.

    Method: maximises the censoring-weighted pseudo partial likelihood (weights from the
    Kaplan-Meier of the censoring distribution, evaluated just before each time; Breslow ties);
    variance: Fine & Gray's sandwich H^-1 (sum (eta_i + psi_i)^2) H^-1, which accounts for
    estimating the censoring distribution. Reproduces ``cmprsk::crr`` (single censoring group,
    no time-varying terms). ``by`` is dummy-coded against ``reference`` (default first sorted
    level); non-numeric covariates are dummy-coded against their first sorted level. Any event
    code other than 0 and ``cause`` is a competing event.
    Returns one row per term: term, coef, shr, se, z, p, lcl, ucl (Wald, on the log scale),
    n, n_events, converged. Time and memory grow as n (p^2): no n_events x n matrix is formed.
    Collinear or constant terms are refused with the terms named.
    """
    t_all, ev_all, _, _ = _competing_input(data, by, event_type, time, tuple(covariates or ()))
    _require_columns(data, list(covariates or []))
    design = _design_matrix(data, by, covariates, reference)
    order = np.argsort(t_all, kind="stable")
    status = np.where(ev_all == CENSORED, 0, np.where(ev_all == cause, 1, 2))[order]
    if not (status == 1).any():
        raise ValueError(f"column {event_type!r}: no event of cause {cause}; cannot fit")
    x = design.to_numpy(dtype=float)[order]
    terms = _FineGrayTerms(t_all[order], status, x)
    beta, _, info, converged = _newton_raphson(terms, x.shape[1])
    if not converged:
        warnings.warn(f"Fine-Gray model for cause {cause} did not converge (coefficients "
                      f"{dict(zip(design.columns, np.round(beta, 3)))}); a level with no events of "
                      "this cause makes its estimate diverge", RuntimeWarning, stacklevel=2)
    info_inv = np.linalg.pinv(info) if not converged else np.linalg.inv(info)
    cov = info_inv @ terms.sandwich_middle(beta) @ info_inv
    se = np.sqrt(np.diag(cov))
    z = _z(conf_level)
    return pd.DataFrame({
        "term": list(design.columns), "coef": beta, "shr": np.exp(beta), "se": se,
        "z": beta / se, "p": 2 * stats.norm.sf(np.abs(beta / se)),
        "lcl": np.exp(beta - z * se), "ucl": np.exp(beta + z * se),
        "n": len(x), "n_events": int((status == 1).sum()), "converged": converged})
