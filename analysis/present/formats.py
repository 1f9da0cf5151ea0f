"""Display rules for numbers, defined once. Every table of the report formats through these.

Rules (SAP "Presentation of results"):

* rounding is half away from zero on the decimal value as printed by Python's shortest repr
  (2.675 -> 2.68, -0.5 -> -1), as SAS ``ROUND`` and R's ``pilot1wrappers::round_sas`` -- not
  Python's binary half-to-even;
* decimals follow the raw precision p of a variable: min/max p, mean/median/quartiles p + 1,
  SD p + 2 (ICH E3-style convention);
* counts with percentages: ``"n (x.x)"``, the percentage to one decimal; a zero count is ``"0"``;
* ``"median (Q1, Q3)"``, ``"mean (SD)"``, ``"min, max"``, ``"est (lcl, ucl)"``;
* a value that is missing, infinite or not estimable prints as ``"NE"``;
* hazard ratios two decimals, SMDs three;
* p-values: three decimals, ``"<0.001"`` below 0.001 and ``">0.999"`` above 0.999.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

NE = "NE"
PCT_DECIMALS = 1
P_DECIMALS = 3
SMD_DECIMALS = 3
RATIO_DECIMALS = 2   # hazard and odds ratios


def is_missing(x) -> bool:
    """True for None, NaN, +-inf, pandas NA and anything that is not a real number."""
    if x is None:
        return True
    try:
        value = float(x)
    except (TypeError, ValueError):
        return True
    return not math.isfinite(value)


def round_half_away(x: float, decimals: int) -> Decimal:
    """Round half away from zero at ``decimals`` places (SAS ROUND), on the shortest repr."""
    quantum = Decimal(1).scaleb(-decimals)
    return Decimal(repr(float(x))).quantize(quantum, rounding=ROUND_HALF_UP)


def fmt_num(x, decimals: int = 1) -> str:
    """A number at fixed decimals, or "NE". Negative zero after rounding prints as 0."""
    if is_missing(x):
        return NE
    value = round_half_away(x, max(int(decimals), 0))
    if value == 0:
        value = abs(value)
    return f"{value:.{max(int(decimals), 0)}f}"


def fmt_int(x) -> str:
    """A count, or "NE"."""
    return NE if is_missing(x) else str(int(round_half_away(x, 0)))


def fmt_n_pct(n, pct, pct_decimals: int = PCT_DECIMALS) -> str:
    """``"n (x.x)"``; ``"0"`` for a zero count; ``"n (NE)"`` when the percentage is missing."""
    if is_missing(n):
        return NE
    if int(n) == 0:
        return "0"
    return f"{fmt_int(n)} ({fmt_num(pct, pct_decimals)})"


def fmt_n_pct_events(n, pct, events, pct_decimals: int = PCT_DECIMALS) -> str:
    """``"n (x.x) [E]"``: subjects, percentage and number of events; ``"0"`` when none."""
    if not is_missing(n) and int(n) == 0:
        return "0"
    return f"{fmt_n_pct(n, pct, pct_decimals)} [{fmt_int(events)}]"


def fmt_mean_sd(mean, sd, raw_decimals: int = 0) -> str:
    """``"mean (SD)"`` at p + 1 and p + 2 decimals."""
    return f"{fmt_num(mean, raw_decimals + 1)} ({fmt_num(sd, raw_decimals + 2)})"


def fmt_median_q1q3(median, q1, q3, raw_decimals: int = 0) -> str:
    """``"median (Q1, Q3)"`` at p + 1 decimals."""
    d = raw_decimals + 1
    return f"{fmt_num(median, d)} ({fmt_num(q1, d)}, {fmt_num(q3, d)})"


def fmt_range(low, high, raw_decimals: int = 0) -> str:
    """``"min, max"`` at the raw precision."""
    return f"{fmt_num(low, raw_decimals)}, {fmt_num(high, raw_decimals)}"


def fmt_ci(lcl, ucl, decimals: int = 1) -> str:
    """``"(lcl, ucl)"``; each limit "NE" when not estimable."""
    return f"({fmt_num(lcl, decimals)}, {fmt_num(ucl, decimals)})"


def fmt_est_ci(est, lcl, ucl, decimals: int = 1) -> str:
    """``"est (lcl, ucl)"``; each part "NE" when not estimable."""
    return f"{fmt_num(est, decimals)} {fmt_ci(lcl, ucl, decimals)}"


def fmt_pvalue(p, decimals: int = P_DECIMALS) -> str:
    """``"<0.001"``, ``">0.999"`` or the p-value at three decimals; "NE" when missing."""
    if is_missing(p):
        return NE
    floor = 10.0 ** -decimals
    if p < floor:
        return f"<{floor:.{decimals}f}"
    if p > 1 - floor:
        return f">{1 - floor:.{decimals}f}"
    return fmt_num(p, decimals)


def fmt_smd(x) -> str:
    """Standardized mean difference at three decimals."""
    return fmt_num(x, SMD_DECIMALS)


def fmt_header(group, n) -> str:
    """Column header of a group: the name, then ``"N = n"`` on a new line."""
    return f"{group}\nN = {fmt_int(n)}"


def fmt_conf_level(conf_level) -> str:
    """0.95 -> "95%"."""
    pct = round(100 * float(conf_level), 6)
    return f"{fmt_num(pct, 0 if pct.is_integer() else 1)}%"
