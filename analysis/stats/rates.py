"""Binomial rates (responders / patients) with confidence intervals.

Generic: ``binomial_rate(x, n)`` knows nothing of the trial. Methods (Newcombe 1998, Stat Med
17:857, reviews all three):

* "clopper-pearson" (exact, the SAP default): limits from the beta distribution,
  lower = Beta^-1(a/2; x, n - x + 1) (0 when x = 0), upper = Beta^-1(1 - a/2; x + 1, n - x)
  (1 when x = n) [Clopper & Pearson 1934]; identical to R binom.test and
  scipy.stats.binomtest(...).proportion_ci("exact").
* "wilson": score interval without continuity correction [Wilson 1927]; as
  scipy's proportion_ci("wilson") and R prop.test(correct = FALSE).
* "wald": p -/+ z sqrt(p (1 - p) / n), clipped to [0, 1] (shown for comparison only; poor
  coverage near 0 and 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import beta, norm

METHODS = ("clopper-pearson", "wilson", "wald")
METHOD_LABELS = {"clopper-pearson": "Clopper-Pearson exact", "wilson": "Wilson score", "wald": "Wald (normal approximation)"}


def _counts(x, n) -> tuple[np.ndarray, np.ndarray]:
    xs = np.atleast_1d(np.asarray(x, dtype="float64"))
    ns = np.atleast_1d(np.asarray(n, dtype="float64"))
    xs, ns = np.broadcast_arrays(xs, ns)
    for name, values in (("x", xs), ("n", ns)):
        if np.any(~np.isfinite(values)) or np.any(values != np.floor(values)) or np.any(values < 0):
            raise ValueError(f"{name} must be whole numbers >= 0, got {values.tolist()}")
    if np.any(ns == 0):
        raise ValueError(f"n must be >= 1 (a rate of 0 patients is undefined), got {ns.tolist()}")
    if np.any(xs > ns):
        raise ValueError(f"x must not exceed n, got x = {xs.tolist()}, n = {ns.tolist()}")
    return xs, ns


def clopper_pearson(x: np.ndarray, n: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    alpha = 1 - conf_level
    with np.errstate(invalid="ignore"):
        lower = np.where(x == 0, 0.0, beta.ppf(alpha / 2, x, n - x + 1))
        upper = np.where(x == n, 1.0, beta.ppf(1 - alpha / 2, x + 1, n - x))
    return lower, upper


def wilson(x: np.ndarray, n: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    z = norm.ppf(1 - (1 - conf_level) / 2)
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.maximum(centre - half, 0.0), np.minimum(centre + half, 1.0)


def wald(x: np.ndarray, n: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    z = norm.ppf(1 - (1 - conf_level) / 2)
    p = x / n
    half = z * np.sqrt(p * (1 - p) / n)
    return np.maximum(p - half, 0.0), np.minimum(p + half, 1.0)


_LIMITS = {"clopper-pearson": clopper_pearson, "wilson": wilson, "wald": wald}


def binomial_rate(x, n, conf_level: float = 0.95, method: str = "clopper-pearson") -> pd.DataFrame:
    """Rate x / n with a two-sided confidence interval; x and n are numbers or equal-length arrays.

    Returns one row per (x, n): x, n, rate, lcl, ucl, conf_level, method (the method's name, for
    a table footnote).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level must be strictly between 0 and 1, got {conf_level!r}")
    xs, ns = _counts(x, n)
    lower, upper = _LIMITS[method](xs, ns, conf_level)
    return pd.DataFrame({"x": xs.astype(np.int64), "n": ns.astype(np.int64), "rate": xs / ns, "lcl": lower,
                         "ucl": upper, "conf_level": float(conf_level), "method": METHOD_LABELS[method]})
