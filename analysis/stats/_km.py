"""Kaplan-Meier core: the estimator, its variance and confidence limits for ONE group, vectorised.

Follows R survival 3.5 (Therneau, "The survival package", survfitKM / survfit_confint /
summary.survfit / quantile.survfit) so that results agree with R to rounding:

* Product-limit estimate S(t) = prod_{t_k <= t} (1 - d_k / n_k) over the distinct observed times
  t_k, with weighted counts d_k (events) and n_k (at risk) [Kalbfleisch & Prentice 2002, 1.4].
  With delayed entry (counting-process data Surv(start, stop, event)) subject i is at risk at t_k
  when start_i < t_k <= stop_i.
* Variance of log S: Greenwood's formula sum d_k / (n_k (n_k - d_k)) [K&P 2002, eq. 1.13]. When
  case weights are not all integers R switches to the infinitesimal-jackknife (IJ, "robust")
  variance Var S(t) = sum_i (w_i dS(t)/dw_i)^2 [Therneau, survival vignette "Robust variance"];
  we do the same and say so in the output.
* The fit is preceded by a row at time min(0, first time) with S = 1 and limits 1 (survfit0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

CONF_TYPES = ("log-log", "log", "plain")
VARIANCES = ("greenwood", "ij")


@dataclass(frozen=True)
class KMFit:
    """A product-limit fit on its distinct times, starting with survfit0's time-origin row."""

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    se_log: np.ndarray      # SE of log S(t) (survfit's std.err when logse = TRUE)
    variance: str           # "greenwood" or "ij"
    origin_added: bool      # True when row 0 is the survfit0 origin row (limits forced to 1)
    last_time: float        # last observed time of the data (quantile.survfit's xmax)


def _weighted_counts(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(index, weights=values, minlength=size)


def _at_risk(time: np.ndarray, time_index: np.ndarray, weight: np.ndarray, start: np.ndarray | None) -> np.ndarray:
    """Weighted number at risk at each distinct time t_k: sum w_i [start_i < t_k <= stop_i].

    Rows leaving at or after t_k are a reverse cumulative sum over the distinct stop times
    (``time_index`` bins the rows); rows entering at or after t_k are subtracted.
    """
    leaving = np.bincount(time_index, weights=weight, minlength=len(time))
    n_risk = np.cumsum(leaving[::-1])[::-1]
    if start is not None:
        n_risk = n_risk - _entering_from(start, weight, time)
    return n_risk


def _entering_from(start: np.ndarray, values: np.ndarray, time: np.ndarray) -> np.ndarray:
    """sum of ``values`` over rows with start_i >= t, for each t in ``time`` (not yet at risk at t)."""
    order = np.argsort(start, kind="stable")
    tail = np.concatenate([np.cumsum(values[order][::-1])[::-1], [0.0]])
    return tail[np.searchsorted(start[order], time, side="left")]


def _entered_before(start: np.ndarray, values: np.ndarray, time: np.ndarray) -> np.ndarray:
    """sum of ``values`` over rows with start_i < t, for each t in ``time`` (already at risk by t)."""
    order = np.argsort(start, kind="stable")
    head = np.concatenate([[0.0], np.cumsum(values[order])])
    return head[np.searchsorted(start[order], time, side="left")]


def _ij_variance_log(stop, event, weight, start, time, n_risk, n_event, time_index) -> np.ndarray:
    """Infinitesimal-jackknife variance of log S(t_k) at every distinct time t_k.

    d log S(t) / d w_i = -b_i(t), b_i(t) = delta_i [s_i <= t] / (n_k(i) - d_k(i))
    - sum_{e_i < t_k <= min(s_i, t)} h_k / (n_k - d_k), with h_k = d_k / n_k. The sum over
    subjects of w_i^2 b_i(t)^2 splits into subjects already out (constant b_i) and subjects still
    at risk, whose part is a quadratic in C(t) = sum_{t_k <= t} h_k / (n_k - d_k); both are
    cumulative sums, so the whole curve costs O(n log n).
    """
    size = len(time)
    with np.errstate(divide="ignore", invalid="ignore"):
        # where S drops to 0 (n_k = d_k) the increment is infinite; S and its variance are 0 from then
        # on, and an infinite C would turn the tail sums of EARLIER times into inf - inf (a subject
        # entering after that time is still subtracted from them): count 0 there instead
        # (weighted counts: n_k - d_k may be a rounding residue like 4e-16, hence the relative test)
        ends = (n_event > 0) & (n_risk - n_event <= 1e-12 * n_risk)
        increment = np.where((n_event > 0) & ~ends, (n_event / n_risk) / (n_risk - n_event), 0.0)
        cum = np.cumsum(increment)
        # C at each row's entry: the sum over distinct times t_k <= e_i (0 before the first time)
        c_entry = np.zeros_like(stop) if start is None else \
            np.concatenate([[0.0], cum])[np.searchsorted(time, start, side="right")]
        own = np.where((event > 0) & ~ends[time_index], 1.0 / (n_risk - n_event)[time_index], 0.0)
        b_final = own - (cum[time_index] - c_entry)
        w2 = weight * weight
        done = np.cumsum(_weighted_counts(time_index, w2 * b_final * b_final, size))
        moments = []
        for power in range(3):
            values = w2 * c_entry ** power
            by_exit = _weighted_counts(time_index, values, size)
            if start is None:
                still_in = np.concatenate([np.cumsum(by_exit[::-1])[::-1][1:], [0.0]])  # s_i > t_k
            else:
                # entered (e_i < t_k) minus already out (s_i <= t_k): sums over present and past rows
                # only, so later entrants (large C(e_i)) cannot leave rounding residue in early times
                still_in = _entered_before(start, values, time) - np.cumsum(by_exit)
            moments.append(still_in)
        var_log = done + cum * cum * moments[0] - 2.0 * cum * moments[1] + moments[2]
    return np.where(np.cumsum(ends) > 0, 0.0, var_log)  # S = 0 from then on: no variance


def km_fit(stop: np.ndarray, event: np.ndarray, weight: np.ndarray, start: np.ndarray | None,
           variance: str) -> KMFit:
    """Product-limit fit of one group (see module docstring for the formulas)."""
    time, time_index = np.unique(stop, return_inverse=True)
    size = len(time)
    n_event = _weighted_counts(time_index, weight * event, size)
    n_censor = _weighted_counts(time_index, weight * (1.0 - event), size)
    n_risk = _at_risk(time, time_index, weight, start)
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(n_event > 0, n_event / n_risk, 0.0)
        surv = np.cumprod(1.0 - hazard)
        if variance == "greenwood":
            var_log = np.cumsum(np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0))
        else:
            var_log = _ij_variance_log(stop, event, weight, start, time, n_risk, n_event, time_index)
            var_log = np.where(surv == 0, 0.0, var_log)  # dS/dw = 0 for all i once S reaches 0
    se_log = np.sqrt(np.maximum(var_log, 0.0))
    origin = min(0.0, float(time[0]))  # survfit0: min(0, first time), even when entries are negative
    origin_added = bool(time[0] != origin)
    if origin_added:
        time = np.concatenate([[origin], time])
        n_risk = np.concatenate([[n_risk[0]], n_risk])
        n_event = np.concatenate([[0.0], n_event])
        n_censor = np.concatenate([[0.0], n_censor])
        surv = np.concatenate([[1.0], surv])
        se_log = np.concatenate([[0.0], se_log])
    return KMFit(time, n_risk, n_event, n_censor, surv, se_log, variance, origin_added, float(stop.max()))


def std_err_surv(surv: np.ndarray, se_log: np.ndarray) -> np.ndarray:
    """SE of S(t) as summary.survfit reports it: S(t) * SE(log S(t)) (NaN where S = 0, SE = Inf)."""
    with np.errstate(invalid="ignore"):
        return surv * se_log


def conf_limits(surv: np.ndarray, se_log: np.ndarray, conf_type: str, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise limits exactly as R survival's survfit_confint (conf.lower = "usual").

    plain:   S -/+ z SE(S), clipped to [0, 1];
    log:     exp(log S -/+ z SE(log S)), upper clipped at 1, NaN where S = 0;
    log-log: exp(-exp(log(-log S) -/+ z SE(log S) / log S)), NaN where S is 0 or 1.
    """
    z = norm.ppf(1 - (1 - conf_level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            half = se_log * surv * z
            return np.maximum(surv - half, 0.0), np.minimum(surv + half, 1.0)
        if conf_type == "log":
            log_s = np.log(np.where(surv == 0, np.nan, surv))
            return np.exp(log_s - z * se_log), np.minimum(np.exp(log_s + z * se_log), 1.0)
        if conf_type == "log-log":
            s = np.where((surv == 0) | (surv == 1), np.nan, surv)
            half = z * se_log / np.log(s)
            loglog = np.log(-np.log(s))
            return np.exp(-np.exp(loglog - half)), np.exp(-np.exp(loglog + half))
    raise ValueError(f"conf_type must be one of {CONF_TYPES}, got {conf_type!r}")


def fit_limits(fit: KMFit, conf_type: str, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Limits on every row of the fit; the survfit0 origin row gets limits (1, 1) as in R."""
    lower, upper = conf_limits(fit.surv, fit.se_log, conf_type, conf_level)
    if fit.origin_added:
        lower[0] = upper[0] = 1.0
    return lower, upper


def at_times(fit: KMFit, times: np.ndarray, conf_type: str, conf_level: float) -> dict[str, np.ndarray]:
    """summary.survfit(fit, times, extend = TRUE) for one group (times sorted ascending).

    S, SE and limits are those of the last fit time <= t; n_risk is that of the first fit time
    >= t (0 beyond the last time); n_event / n_censor count the interval since the previous
    requested time (since the origin for the first).
    """
    lower, upper = fit_limits(fit, conf_type, conf_level)
    at_or_before = np.maximum(np.searchsorted(fit.time, times, side="right"), 1) - 1
    first_not_before = np.searchsorted(fit.time, times, side="left")
    n_risk = np.concatenate([fit.n_risk, [0.0]])[first_not_before]
    upto = np.searchsorted(fit.time, times, side="right")

    def interval_counts(counts: np.ndarray) -> np.ndarray:
        cumulative = np.concatenate([[0.0], np.cumsum(counts)])[upto]
        return np.diff(np.concatenate([[0.0], cumulative]))

    return {"time": times, "n_risk": n_risk, "n_event": interval_counts(fit.n_event),
            "n_censor": interval_counts(fit.n_censor), "surv": fit.surv[at_or_before],
            "std_err": std_err_surv(fit.surv, fit.se_log)[at_or_before],
            "lcl": lower[at_or_before], "ucl": upper[at_or_before]}


def _find_quantile(x: np.ndarray, y: np.ndarray, probs: np.ndarray, tol: float, xmax: float) -> np.ndarray:
    """R survival's internal findq: first x where the cdf y reaches p, midpoint over flat stretches.

    x = (origin, fit times), y = (0, 1 - curve). Where y equals p (within tol) over an interval the
    quantile is the midpoint of that interval; at the last point the midpoint with the last time.
    As in R, the search runs over y sorted by value (approx sorts its abscissae), which matters
    only for a non-monotone confidence-limit curve: the limit is then the time of the smallest
    value of 1 - limit that reaches p, e.g. 16 (not the earlier 5) on R's heart data.
    """
    finite = ~np.isnan(y)
    if not finite.any() or np.nanmax(y) < probs.min():
        return np.full(len(probs), np.nan)
    # duplicated(y) in R: keep the first of equal values (NaN counts as a value too). Values equal to
    # 1e-12 count as equal: a limit that is constant between event times can differ in its last bits
    # between our rows (cumulative sums), and sorting by value (below) must not turn that noise into
    # a later time
    y = np.round(y, 12)
    _, first = np.unique(np.where(finite, y, np.inf), return_index=True)
    keep = np.sort(first)
    x, y = x[keep], y[keep]
    positions = np.arange(len(y))
    ok = ~np.isnan(y)
    ys, pos = y[ok], positions[ok]

    # approx() sorts its x values (here y + shift): a limit curve need not be monotone (delayed
    # entry, IJ variance), and then R takes the point with the smallest y >= p, not the first in time
    by_value = np.argsort(ys, kind="stable")
    ys, pos = ys[by_value], pos[by_value]

    def first_reaching(shift: float) -> np.ndarray:
        # approx(y + shift, 1:n, p, method = "constant", f = 1): the index carried by the smallest
        # y + shift >= p (NA outside [min, max] of y + shift, approx's rule = 1)
        found = np.searchsorted(ys + shift, probs, side="left")
        inside = (probs >= ys[0] + shift) & (found < len(ys))
        return np.where(inside, pos[np.minimum(found, len(ys) - 1)], -1)

    index1, index2 = first_reaching(tol), first_reaching(-tol)
    pick = lambda index: np.where(index >= 0, x[np.maximum(index, 0)], np.nan)  # noqa: E731
    quant = (pick(index1) + pick(index2)) / 2
    quant = np.where(probs == 0, x[0], quant)
    if not np.isnan(y[-1]):
        last = np.abs(probs - y[-1]) < tol
        quant = np.where(last, (pick(index1) + xmax) / 2, quant)
    return quant


def quantiles(fit: KMFit, probs: np.ndarray, conf_type: str, conf_level: float,
              tol: float = np.sqrt(np.finfo(float).eps)) -> dict[str, np.ndarray]:
    """quantile.survfit: the time where 1 - S(t) first reaches p, with Brookmeyer-Crowley limits.

    Brookmeyer & Crowley (1982) limits are the times where the pointwise lower/upper survival
    limits cross 1 - p, which is how R inverts the confidence band (quantile.survfit).
    """
    rows = slice(1, None) if fit.origin_added else slice(None)
    time, surv, se_log = fit.time[rows], fit.surv[rows], fit.se_log[rows]
    lower, upper = conf_limits(surv, se_log, conf_type, conf_level)
    x = np.concatenate([[0.0], time])
    find = lambda curve: _find_quantile(x, np.concatenate([[0.0], 1 - curve]), probs, tol, fit.last_time)  # noqa: E731
    return {"prob": probs, "quantile": find(surv), "lcl": find(lower), "ucl": find(upper)}
