"""Survival statistics on ADaM time-to-event data frames (ADTTE): Kaplan-Meier, log-rank, Cox.

Generic: nothing here knows the trial. Every function takes an ADTTE-like data frame whose time
column (default ``AVAL``) and censoring column (default ``CNSR``: 0 = event, 1 = censored) are
arguments, an optional grouping column ``by`` (None = one group), and returns a tidy pandas
DataFrame that names the method used (so a table can print it in a footnote).

Every estimate reproduces R's survival package (Therneau; tested against survival 3.5 in
tests/test_stats_survival*.py): survfit + summary.survfit(times, extend = TRUE) for
:func:`km_estimates`, quantile.survfit for :func:`km_quantiles`, survdiff for :func:`logrank`,
coxph for :func:`cox`. Groups are ordered as R orders factor levels (sorted values).
Computations are vectorised over sorted times (no per-subject Python loops): on 10^6 subjects
km_estimates + logrank + cox together take about 1 s, about 1/10 of R's time
(benchmarks/run_all.py). Times closer than sqrt(machine eps) are merged as R's aeqSurv does.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm

from analysis.stats import _km
from analysis.stats._cox import cox  # noqa: F401  (public: re-exported here)
from analysis.stats._surv_data import (SurvData, check_choice, check_conf_level, group_codes, require_groups,
                                      surv_data)

__all__ = ["km_estimates", "km_curve", "risk_table", "km_quantiles", "km_difference", "logrank", "cox"]


def _variance_method(data: SurvData, variance: str | None) -> str:
    """R's rule: Greenwood, unless case weights are not all integers (then the IJ variance)."""
    if variance is not None:
        return check_choice(variance, _km.VARIANCES, "variance")
    if data.weighted and np.any(data.weight != np.floor(data.weight)):
        return "ij"
    return "greenwood"


def _fits(data: SurvData, variance: str) -> list[tuple[object, _km.KMFit]]:
    """One product-limit fit per group, in level order."""
    fits = []
    for code, level in enumerate(data.levels):
        part = data.subset(data.group == code) if len(data.levels) > 1 else data
        fits.append((level, _km.km_fit(part.stop, part.event, part.weight, part.start, variance)))
    return fits


def _frame(by: str | None, pieces: list[tuple[object, dict]]) -> pd.DataFrame:
    """Stack per-group dicts of arrays into one frame with the group column first."""
    frames = []
    for level, columns in pieces:
        frame = pd.DataFrame(columns)
        if by is not None:
            frame.insert(0, by, level)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _times(times) -> np.ndarray:
    values = np.sort(np.atleast_1d(np.asarray(times, dtype="float64")))
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"times must be one or more finite numbers, got {times!r}")
    return values


VARIANCE_LABELS = {"greenwood": "Greenwood variance",
                   "ij": "infinitesimal-jackknife variance (non-integer case weights)"}


def _method_columns(frame: pd.DataFrame, variance: str, conf_type: str, conf_level: float) -> pd.DataFrame:
    frame["conf_type"] = conf_type
    frame["conf_level"] = conf_level
    frame["method"] = f"Kaplan-Meier, {VARIANCE_LABELS[variance]}"
    return frame


def beyond_follow_up(km: pd.DataFrame) -> pd.Series:
    """True for Kaplan-Meier rows (columns n_risk, surv) read after a group's longest follow-up:
    nobody is at risk at the time and the curve has not reached 0, so the product-limit estimate
    is not defined there (R's summary.survfit(extend = TRUE) carries the last value forward; it
    must be reported as not estimable). The one statement of this rule."""
    return (km["n_risk"] == 0) & (km["surv"] > 0)


def km_estimates(adtte: pd.DataFrame, by: str | None, times: Iterable[float], conf_type: str = "log-log",
                 conf_level: float = 0.95, weights: str | None = None, entry: str | None = None, *,
                 time: str = "AVAL", cnsr: str = "CNSR", variance: str | None = None) -> pd.DataFrame:
    """Kaplan-Meier survival at given times, as R's ``summary(survfit(...), times, extend = TRUE)``.

    Columns: <by>, time, n_risk, n_event, n_censor, surv, std_err, lcl, ucl, conf_type,
    conf_level, method. ``surv`` is the KM step at or before each time; ``std_err`` is the SE of
    S(t) (S times the SE of log S, as summary.survfit reports it); ``n_risk`` is the number at risk
    at the time (0 after the last observation); ``n_event``/``n_censor`` count the interval since
    the previous requested time. Limits: ``conf_type`` "log-log" (on log(-log S)), "log" or
    "plain" (clipped to [0, 1]) exactly as survfit (see :func:`analysis.stats._km.conf_limits`).
    ``weights`` names a case-weight column (survfit(weights=)); ``entry`` a delayed-entry time
    column (Surv(entry, time, event)). ``variance`` None follows R (Greenwood; infinitesimal
    jackknife when weights are non-integer); "greenwood" or "ij" force one.
    """
    check_choice(conf_type, _km.CONF_TYPES, "conf_type")
    conf_level = check_conf_level(conf_level)
    data = surv_data(adtte, time=time, cnsr=cnsr, by=by, weights=weights, entry=entry)
    method = _variance_method(data, variance)
    requested = _times(times)
    pieces = [(level, _km.at_times(fit, requested, conf_type, conf_level)) for level, fit in _fits(data, method)]
    return _method_columns(_frame(by, pieces), method, conf_type, conf_level)


def km_curve(adtte: pd.DataFrame, by: str | None, conf_type: str = "log-log", conf_level: float = 0.95,
             weights: str | None = None, entry: str | None = None, *, time: str = "AVAL", cnsr: str = "CNSR",
             variance: str | None = None) -> pd.DataFrame:
    """The whole KM step function for plotting: one row per distinct time, plus the origin row.

    Columns: <by>, time, n_risk, n_event, n_censor, censored (True where a censoring mark
    belongs), surv, std_err, lcl, ucl, conf_type, conf_level, method. Row values are those of
    survfit0(survfit(...)): S just after each time, the first row being (origin, S = 1).
    """
    check_choice(conf_type, _km.CONF_TYPES, "conf_type")
    conf_level = check_conf_level(conf_level)
    data = surv_data(adtte, time=time, cnsr=cnsr, by=by, weights=weights, entry=entry)
    method = _variance_method(data, variance)
    pieces = []
    for level, fit in _fits(data, method):
        lower, upper = _km.fit_limits(fit, conf_type, conf_level)
        pieces.append((level, {"time": fit.time, "n_risk": fit.n_risk, "n_event": fit.n_event,
                               "n_censor": fit.n_censor, "censored": fit.n_censor > 0, "surv": fit.surv,
                               "std_err": _km.std_err_surv(fit.surv, fit.se_log), "lcl": lower, "ucl": upper}))
    return _method_columns(_frame(by, pieces), method, conf_type, conf_level)


def risk_table(adtte: pd.DataFrame, by: str | None, times: Iterable[float], weights: str | None = None,
               entry: str | None = None, *, time: str = "AVAL", cnsr: str = "CNSR") -> pd.DataFrame:
    """Numbers at risk under a KM plot: <by>, time, n_risk, cum_event, cum_censor.

    n_risk as summary.survfit (at risk at the time); cum_event / cum_censor count from the origin
    up to and including the time.
    """
    table = km_estimates(adtte, by, times, weights=weights, entry=entry, time=time, cnsr=cnsr)
    keys = [by] if by is not None else []
    grouped = table.groupby(keys, sort=False) if keys else None
    table["cum_event"] = grouped["n_event"].cumsum() if keys else table["n_event"].cumsum()
    table["cum_censor"] = grouped["n_censor"].cumsum() if keys else table["n_censor"].cumsum()
    return table[keys + ["time", "n_risk", "cum_event", "cum_censor"]]


def km_quantiles(adtte: pd.DataFrame, by: str | None, probs: Iterable[float] = (0.25, 0.5, 0.75),
                 conf_type: str = "log-log", conf_level: float = 0.95, weights: str | None = None,
                 entry: str | None = None, *, time: str = "AVAL", cnsr: str = "CNSR",
                 variance: str | None = None) -> pd.DataFrame:
    """Quantiles of the KM curve with Brookmeyer-Crowley limits, as R's quantile.survfit.

    Columns: <by>, prob, quantile, lcl, ucl, conf_type, conf_level, method. ``prob`` p is the
    fraction that has had the event: the quantile is the first time with 1 - S(t) >= p (the median
    for p = 0.5); where S equals 1 - p over an interval it is the midpoint of that interval
    (R's convention); NaN where not reached. Limits invert the pointwise ``conf_type`` band
    (Brookmeyer & Crowley 1982), so they follow the choice of conf_type as in R, including a limit
    curve that is not monotone (R's search by value). One stated difference: where R's weighted KM
    falls to -2.2e-16 instead of 0 by rounding, R reports a later time; values equal to 1e-12 are
    equal here, so the quantile is the first time S reaches 1 - p (tests/test_stats_fuzz_findings.py).
    """
    check_choice(conf_type, _km.CONF_TYPES, "conf_type")
    conf_level = check_conf_level(conf_level)
    prob_values = np.atleast_1d(np.asarray(probs, dtype="float64"))
    if prob_values.size == 0 or np.any(~np.isfinite(prob_values)) or np.any((prob_values < 0) | (prob_values > 1)):
        raise ValueError(f"probs must be numbers in [0, 1], got {probs!r}")
    data = surv_data(adtte, time=time, cnsr=cnsr, by=by, weights=weights, entry=entry)
    method = _variance_method(data, variance)
    pieces = [(level, _km.quantiles(fit, prob_values, conf_type, conf_level)) for level, fit in _fits(data, method)]
    frame = _method_columns(_frame(by, pieces), method, conf_type, conf_level)
    frame["method"] = frame["method"] + "; Brookmeyer-Crowley limits"
    return frame


def km_difference(adtte: pd.DataFrame, by: str, time: float, reference, conf_level: float = 0.95,
                  weights: str | None = None, entry: str | None = None, *, time_col: str = "AVAL",
                  cnsr: str = "CNSR", variance: str | None = None) -> pd.DataFrame:
    """Difference in KM survival at one time, each group minus ``reference``, Wald interval.

    diff = S_g(t) - S_ref(t); se = sqrt(SE_g^2 + SE_ref^2) with the Greenwood SE of S(t) of each
    independent group (Klein & Moeschberger 2003, 7.8); limits diff -/+ z se; z = diff / se;
    p two-sided normal. Columns: <by>, reference, time, surv, surv_reference, diff, se, lcl, ucl,
    z, p, conf_level, method. The time column is ``time_col`` (``time`` is the time point).
    """
    if by is None:
        raise ValueError("km_difference needs a grouping column `by`")
    conf_level = check_conf_level(conf_level)
    data = surv_data(adtte, time=time_col, cnsr=cnsr, by=by, weights=weights, entry=entry)
    require_groups(data.levels, by, "a difference of survival")
    variance = _variance_method(data, variance)
    table = km_estimates(adtte, by, [time], weights=weights, entry=entry, time=time_col, cnsr=cnsr,
                         variance=variance)
    if reference not in set(table[by]):
        raise ValueError(f"reference group {reference!r} is not a value of column {by!r}: {list(table[by])}")
    ref = table[table[by] == reference].iloc[0]
    others = table[table[by] != reference].reset_index(drop=True)
    z_crit = norm.ppf(1 - (1 - conf_level) / 2)
    diff = others["surv"] - ref["surv"]
    se = np.sqrt(others["std_err"] ** 2 + ref["std_err"] ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / se
    return pd.DataFrame({by: others[by], "reference": reference, "time": float(time), "surv": others["surv"],
                         "surv_reference": ref["surv"], "diff": diff, "se": se, "lcl": diff - z_crit * se,
                         "ucl": diff + z_crit * se, "z": z, "p": 2 * norm.sf(np.abs(z)), "conf_level": conf_level,
                         "method": f"difference of Kaplan-Meier estimates, {VARIANCE_LABELS[variance]}, "
                                   "Wald interval and test"})


def _logrank_stratum(stop, event, group, n_groups, rho) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed, expected and variance matrix of the G-rho statistic in one stratum (survdiff).

    At each distinct event time t_k with weight w_k = S(t_k-)^rho (pooled KM, left limit):
    O_g += w_k d_gk, E_g += w_k d_k n_gk / n_k, V_gh += w_k^2 d_k (n_k - d_k) / (n_k - 1)
    * (n_gk / n_k) (delta_gh - n_hk / n_k) [Harrington & Fleming 1982; R survdiff].
    """
    time, time_index = np.unique(stop, return_inverse=True)
    size = len(time)
    cell = group * size + time_index
    deaths = np.bincount(cell, weights=event, minlength=n_groups * size).reshape(n_groups, size)
    leaving = np.bincount(cell, minlength=n_groups * size).reshape(n_groups, size).astype(float)
    at_risk = np.cumsum(leaving[:, ::-1], axis=1)[:, ::-1]
    d_total, n_total = deaths.sum(axis=0), at_risk.sum(axis=0)
    has_event = d_total > 0
    if not has_event.any():  # a stratum without events adds nothing
        return np.zeros(n_groups), np.zeros(n_groups), np.zeros((n_groups, n_groups))
    deaths, at_risk, d_total, n_total = deaths[:, has_event], at_risk[:, has_event], d_total[has_event], n_total[has_event]
    surv_left = np.concatenate([[1.0], np.cumprod(1 - d_total / n_total)[:-1]])
    weight = surv_left ** rho
    observed = np.einsum("gk,k->g", deaths, weight)  # einsum: no BLAS threads on long vectors
    share = at_risk / n_total
    expected = np.einsum("gk,k->g", share, weight * d_total)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.where(n_total > 1, weight ** 2 * d_total * (n_total - d_total) / (n_total - 1), 0.0)
    variance = np.diag(np.einsum("gk,k->g", share, spread)) - np.einsum("gk,k,hk->gh", share, spread, share)
    return observed, expected, variance


def logrank(adtte: pd.DataFrame, by: str, rho: float = 0, strata: str | None = None, *, time: str = "AVAL",
            cnsr: str = "CNSR") -> pd.DataFrame:
    """G-rho family test of equal survival across groups, as R's ``survdiff(..., rho)``.

    rho = 0 is the log-rank (Mantel-Haenszel) test, rho = 1 the Peto & Peto modification of the
    Gehan-Wilcoxon test. With ``strata`` the observed, expected and variance are summed over
    strata (stratified test). chisq = (O - E)' V^- (O - E) over all groups but the first, with
    df = (number of groups with expected > 0) - 1, as survdiff; without any event chisq is 0, df 0
    (survdiff would print -1) and p NaN, with a warning. Right-censored data only (survdiff
    has neither weights nor delayed entry).

    Returns one row per group: <by>, n, observed, expected, o_minus_e, variance (diagonal of V),
    chisq, df, p (repeated on each row), method.
    """
    if by is None:
        raise ValueError("logrank needs a grouping column `by`")
    rho = float(rho)
    data = surv_data(adtte, time=time, cnsr=cnsr, by=by, splitting=(strata,))
    require_groups(data.levels, by, "a log-rank test")
    n_groups = len(data.levels)
    strata_codes, strata_levels = group_codes(adtte, strata, "strata")
    observed = np.zeros(n_groups)
    expected = np.zeros(n_groups)
    variance = np.zeros((n_groups, n_groups))
    for code in range(len(strata_levels)):
        mask = strata_codes == code if len(strata_levels) > 1 else slice(None)
        o, e, v = _logrank_stratum(data.stop[mask], data.event[mask], data.group[mask], n_groups, rho)
        observed, expected, variance = observed + o, expected + e, variance + v
    usable = expected > 0
    df = max(int(usable.sum()) - 1, 0)  # survdiff's sum(exp > 0) - 1 is -1 without events: report 0
    if not usable.any():
        warnings.warn(f"logrank: no events in the data (column {cnsr!r} is 1 on every row): chisq 0 on 0 df, "
                      "p not defined (NaN), as survdiff's chisq 0 and p NA", RuntimeWarning, stacklevel=2)
    if df < 1:
        chisq = 0.0
    else:
        diff = (observed - expected)[usable][1:]
        sub = variance[np.ix_(usable, usable)][1:, 1:]
        if np.linalg.matrix_rank(sub) < len(sub):  # e.g. every group in a stratum of its own
            warnings.warn(f"logrank: the variance matrix of {by!r} is singular (a group compared with no "
                          "other within any stratum?); chisq uses its pseudo-inverse", RuntimeWarning, stacklevel=2)
            chisq = float(diff @ np.linalg.pinv(sub) @ diff)
        else:
            chisq = float(diff @ np.linalg.solve(sub, diff))
    p_value = float(chi2.sf(chisq, df)) if df >= 1 else np.nan
    name = "log-rank" if rho == 0 else ("Peto-Peto" if rho == 1 else "G-rho")
    method = f"{name} test (survdiff G-rho family, rho = {rho:g})" + (f", stratified by {strata}" if strata else "")
    return pd.DataFrame({by: data.levels, "n": np.bincount(data.group, minlength=n_groups), "observed": observed,
                         "expected": expected, "o_minus_e": observed - expected, "variance": np.diag(variance),
                         "chisq": chisq, "df": df, "p": p_value, "method": method})
