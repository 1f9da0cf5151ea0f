"""Small seeded sampling helpers shared by the trial and external-control generators.

Everything draws from an explicit ``numpy.random.Generator``; nothing depends on time, hash
ordering or global state, so one seed gives byte-identical output.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np

DAYS_PER_YEAR = 365.25


def uniform_int(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    """Integer uniform on the closed interval ``bounds``."""
    low, high = bounds
    return int(rng.integers(low, high + 1))


def choice(rng: np.random.Generator, probs: dict):
    """One key of ``probs`` drawn with the given probabilities (dict order is the code order)."""
    u = rng.random() * sum(probs.values())
    cumulative = 0.0
    for key, p in probs.items():
        cumulative += p
        if u < cumulative:
            return key
    return key   # u within rounding of the total: the last category


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def lognormal_days(rng: np.random.Generator, median: float, sigma: float, low: int, high: int) -> int:
    """A whole number of days, lognormal around ``median``, clipped to [low, high]."""
    return int(min(high, max(low, round(median * math.exp(sigma * rng.standard_normal())))))


def truncated_normal(rng: np.random.Generator, mean: float, sd: float, low: float, high: float) -> float:
    """Normal draw restricted to [low, high] by rejection (the bounds are within 3 sd here)."""
    for _ in range(1000):
        x = rng.normal(mean, sd)
        if low <= x <= high:
            return float(x)
    raise ValueError(f"truncated_normal: no draw in [{low}, {high}] for N({mean}, {sd})")


def add_days(d: date, days: int) -> date:
    return d + timedelta(days=int(days))


def date_between(rng: np.random.Generator, start: date, end: date) -> date:
    return add_days(start, uniform_int(rng, (0, (end - start).days)))


def piecewise_exponential_time(rng: np.random.Generator, entry: float, rates: tuple[float, ...],
                               breaks: tuple[float, ...]) -> float:
    """Event time from a piecewise-constant hazard, given survival to ``entry`` (delayed entry).

    ``rates[k]`` (events per day) applies on [breaks[k-1], breaks[k]) with breaks[-1] = 0 and the
    last rate open-ended; ``len(rates) == len(breaks) + 1``. Inversion of the cumulative hazard:
    H(T) - H(entry) = E with E ~ Exp(1) (Cox & Oakes 1984, sec. 2.2).
    """
    if len(rates) != len(breaks) + 1:
        raise ValueError("piecewise_exponential_time: need one more rate than breaks")
    remaining = float(rng.exponential(1.0))
    edges = (0.0, *breaks, math.inf)
    t = entry
    for k, rate in enumerate(rates):
        start, end = edges[k], edges[k + 1]
        if t >= end:
            continue
        t = max(t, start)
        if rate <= 0:
            t = end
            continue
        span_hazard = rate * (end - t)
        if remaining <= span_hazard:
            return t + remaining / rate
        remaining -= span_hazard
        t = end
    return math.inf
