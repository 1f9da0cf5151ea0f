"""Speed and memory of the competing-risks layer against cmprsk: CIF, Gray's test, Fine-Gray.

For each size n (seeded) two arms get exponential cause-1 (0.10 / 0.07 per month), cause-2 (0.05)
and censoring (0.03) times, in whole days. Timed on the same data:

* CIF:        ours cumulative_incidence(by arm, 2 times)  vs  cuminc() on each arm (no test) + timepoints;
* CIF+Gray:   ours cumulative_incidence + gray_test(by arm) vs  cuminc(group = arm) + timepoints
              (cuminc computes Gray's test together with the CIFs, so the two are timed together);
* Fine-Gray:  ours fine_gray(arm + age)                    vs  crr(cov1 = cbind(arm, age)).

R is timed inside R (proc.time around the call only), one Rscript per method so that a slow crr
(O(n x events) per iteration) can be stopped at ``r_timeout`` seconds: the ratio is then an upper
bound ("<"). Peak memory: ours by tracemalloc, R's by gc()'s "max used" (Mb). The largest
relative difference of the numbers (CIF estimates, Gray statistic, Fine-Gray coefficients) checks
that both computed the same thing. Nothing is asserted: the machine is shared.
"""

from __future__ import annotations

import subprocess
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.stats.competing import cumulative_incidence, fine_gray, gray_test

from analysis.conventions import DAYS_PER_MONTH, DAYS_PER_YEAR, TIMEPOINT_2Y_DAYS  # SAP 2.1

TIMES = (DAYS_PER_YEAR, TIMEPOINT_2Y_DAYS)
SEED = 20261130

R_PRELUDE = """
suppressPackageStartupMessages(library(cmprsk))
d <- read.csv("{csv}")
invisible(gc(reset = TRUE))
t0 <- proc.time()[["elapsed"]]
"""
R_METHODS = {
    "CIF": """v <- c(); for (a in sort(unique(d$ARM))) {{ s <- d[d$ARM == a, ];
                tp <- timepoints(cuminc(s$AVAL, s$EVNTTYPE), c({t1}, {t2})); v <- c(v, tp$est[1, ]) }}""",
    "CIF+Gray": """ci <- cuminc(d$AVAL, d$EVNTTYPE, d$ARM); tp <- timepoints(ci, c({t1}, {t2}));
                   v <- ci$Tests[1, "stat"]""",
    "Fine-Gray": """f <- crr(d$AVAL, d$EVNTTYPE, cbind(d$ARM == "B", d$AGE), gtol = 1e-9); v <- f$coef""",
}
R_EPILOGUE = """
elapsed <- proc.time()[["elapsed"]] - t0
mb <- sum(gc()[, 6])
cat(sprintf("%.17g", c(elapsed, mb, v)), sep = "\\n")
"""


# R is not run above these sizes: crr's cost grows as n x events per iteration (its 10^4 fit takes
# about a minute here; at 10^5 it ran past the 900 s timeout in `make bench` and wasted 15 min).
# The table prints the reason and the last size R ran, with its time, instead.
R_MAX_N = {"Fine-Gray": 10 ** 4}
R_QUADRATIC = "crr is quadratic in n (n x events per iteration)"


def simulate(n: int, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = np.where(rng.random(n) < 0.5, "A", "B")
    cause1 = rng.exponential(DAYS_PER_MONTH / np.where(arm == "A", 0.10, 0.07))
    cause2 = rng.exponential(DAYS_PER_MONTH / 0.05, n)
    censor = rng.exponential(DAYS_PER_MONTH / 0.03, n)
    first = np.minimum.reduce([cause1, cause2, censor])
    code = np.select([first == cause1, first == cause2], [1, 2], 0)
    return pd.DataFrame({"AVAL": np.ceil(first), "EVNTTYPE": code, "ARM": arm,
                         "AGE": np.round(rng.normal(60, 10, n), 1)})


def _ours(method: str, data: pd.DataFrame) -> np.ndarray:
    if method == "CIF":
        return cumulative_incidence(data, "ARM", TIMES, causes=[1])["cif"].to_numpy()
    if method == "CIF+Gray":
        cumulative_incidence(data, "ARM", TIMES)
        return gray_test(data, "ARM", cause=1)["stat"].to_numpy()
    return fine_gray(data, "ARM", cause=1, covariates=["AGE"])["coef"].to_numpy()


def time_ours(method: str, data: pd.DataFrame) -> tuple[float, float, np.ndarray]:
    start = time.perf_counter()
    result = _ours(method, data)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    _ours(method, data)
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    return seconds, peak, result


def time_r(method: str, csv: Path, timeout: float) -> tuple[float, float, np.ndarray] | str:
    script = csv.with_suffix(f".{method.replace('-', '')}.R")
    script.write_text(R_PRELUDE.format(csv=csv) + R_METHODS[method].format(t1=TIMES[0], t2=TIMES[1]) + R_EPILOGUE)
    try:
        proc = subprocess.run(["Rscript", "--vanilla", str(script)], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"> {timeout:.0f} s"
    if proc.returncode != 0:
        return f"R failed: {proc.stderr.strip()[-200:]}"
    values = np.array([float(v) for v in proc.stdout.split()])
    return values[0], values[1], values[2:]


def run(sizes: list[int], workdir: Path, r_timeout: float) -> None:
    header = (f"{'method':<10} {'n':>7} {'ours (s)':>9} {'R (s)':>9} {'ours/R':>8} {'ours MB':>8} {'R MB':>7} "
              f"{'max rel diff':>12}")
    print(header)
    print("-" * len(header))
    _ours("Fine-Gray", simulate(500))  # warm-up
    last_r: dict[str, str] = {}   # method -> "n = ..., R ... s" of the last size R ran
    for n in sizes:
        data = simulate(n)
        csv = workdir / f"competing_{n}.csv"
        data.to_csv(csv, index=False)
        for method in ("CIF", "CIF+Gray", "Fine-Gray"):
            seconds, peak, result = time_ours(method, data)
            if n > R_MAX_N.get(method, n):
                print(f"{method:<10} {n:>7} {seconds:>9.3f} {'not run':>9} {'-':>8} {peak:>8.1f} {'-':>7} {'-':>12}"
                      f"  (R not run above n = {R_MAX_N[method]:,}: {R_QUADRATIC}; last R run: "
                      f"{last_r.get(method, 'none')})", flush=True)
                continue
            r = time_r(method, csv, r_timeout)
            if not isinstance(r, str):
                last_r[method] = f"n = {n:,}, R {r[0]:.1f} s"
            if isinstance(r, str):
                bound = f"<{seconds / r_timeout:.1e}" if r.startswith(">") else "-"
                print(f"{method:<10} {n:>7} {seconds:>9.3f} {r:>9} {bound:>8} {peak:>8.1f} {'-':>7} {'-':>12}",
                      flush=True)
                continue
            r_seconds, r_mb, r_result = r
            rel = np.max(np.abs(result - r_result) / np.maximum(np.abs(r_result), 1e-300))
            print(f"{method:<10} {n:>7} {seconds:>9.3f} {r_seconds:>9.3f} {seconds / r_seconds:>8.3f} {peak:>8.1f} "
                  f"{r_mb:>7.1f} {rel:>12.2e}", flush=True)
