"""Speed of the survival layer against R survival: `python -m benchmarks.run_all [--sizes ...]`.

For each size n (default 10^4, 10^5, 10^6 subjects, seeded) it simulates two arms with
exponential event times (hazards 0.10 and 0.07 per month, in whole days as ADTTE's AVAL) and
exponential censoring, then times, on the same data:

* ours: km_estimates at two times (log-log limits) + logrank + cox (Efron ties);
* R:    survfit + summary(times) + survdiff + coxph(ties = "efron"), timed inside R with
  proc.time() around the three calls only (reading the CSV is excluded, as our timing excludes
  building the DataFrame).

It prints the times, their ratio (ours / R), our peak traced memory (tracemalloc, a second run)
and the largest relative difference between our and R's numbers (a sanity check of the run).
R is skipped with a message where Rscript is missing. Nothing is asserted: the machine is shared.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.stats.survival import cox, km_estimates, logrank

DAYS_PER_MONTH = 30.4375
TIMES = (365.25, 730.5)
SEED = 20261125

R_SCRIPT = """
suppressPackageStartupMessages(library(survival))
d <- read.csv("{csv}")
t0 <- proc.time()[["elapsed"]]
fit <- survfit(Surv(AVAL, 1 - CNSR) ~ ARM, data = d, conf.type = "log-log")
s <- summary(fit, times = c({t1}, {t2}), extend = TRUE)
lr <- survdiff(Surv(AVAL, 1 - CNSR) ~ ARM, data = d)
cx <- coxph(Surv(AVAL, 1 - CNSR) ~ ARM, data = d, ties = "efron")
elapsed <- proc.time()[["elapsed"]] - t0
cat(sprintf("%.17g", c(elapsed, s$surv, s$lower, lr$chisq, coef(cx), sqrt(cx$var[1, 1]))), sep = "\\n")
"""


def simulate(n: int, seed: int = SEED) -> pd.DataFrame:
    """Two arms, exponential event (0.10 / 0.07 per month) and censoring (0.03 per month) times in days."""
    rng = np.random.default_rng(seed)
    arm = np.where(rng.random(n) < 0.5, "A", "B")
    hazard = np.where(arm == "A", 0.10, 0.07) / DAYS_PER_MONTH
    event = rng.exponential(1 / hazard)
    censor = rng.exponential(DAYS_PER_MONTH / 0.03, n)
    return pd.DataFrame({"AVAL": np.ceil(np.minimum(event, censor)), "CNSR": (censor < event).astype(np.int64),
                         "ARM": arm})


def ours(data: pd.DataFrame) -> np.ndarray:
    est = km_estimates(data, "ARM", TIMES, conf_type="log-log")
    test = logrank(data, "ARM")
    model = cox(data, "ARM", ties="efron")
    return np.concatenate([est["surv"], est["lcl"], [test["chisq"].iloc[0]], model["coef"], model["se"]])


def time_ours(data: pd.DataFrame, repeats: int) -> tuple[float, np.ndarray]:
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = ours(data)
        best = min(best, time.perf_counter() - start)
    return best, result


def peak_memory_mb(data: pd.DataFrame) -> float:
    tracemalloc.start()
    ours(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2 ** 20


def time_r(data: pd.DataFrame, workdir: Path) -> tuple[float, np.ndarray] | None:
    if shutil.which("Rscript") is None:
        return None
    csv = workdir / f"bench_{len(data)}.csv"
    data.to_csv(csv, index=False)
    script = workdir / "bench.R"
    script.write_text(R_SCRIPT.format(csv=csv, t1=TIMES[0], t2=TIMES[1]))
    proc = subprocess.run(["Rscript", "--vanilla", str(script)], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"R failed, its timing is skipped (is r-cran-survival installed?): {proc.stderr.strip()[-300:]}")
        return None
    values = np.array([float(v) for v in proc.stdout.split()])
    return values[0], values[1:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10 ** 4, 10 ** 5, 10 ** 6])
    args = parser.parse_args(argv)
    if shutil.which("Rscript") is None:
        print("Rscript not found: R timings skipped (install r-base-core and r-cran-survival to compare)")
    ours(simulate(1000))  # warm-up: imports and first-call costs are not part of the comparison
    header = f"{'n':>9} {'ours (s)':>9} {'R (s)':>9} {'ours/R':>7} {'peak MB':>8} {'max rel diff vs R':>18}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for n in args.sizes:
            data = simulate(n)
            seconds, result = time_ours(data, repeats=3 if n <= 10 ** 5 else 1)
            memory = peak_memory_mb(data)
            r = time_r(data, Path(tmp))
            if r is None:
                print(f"{n:>9} {seconds:>9.3f} {'-':>9} {'-':>7} {memory:>8.1f} {'-':>18}")
                continue
            r_seconds, r_result = r
            rel = np.max(np.abs(result - r_result) / np.maximum(np.abs(r_result), 1e-300))
            print(f"{n:>9} {seconds:>9.3f} {r_seconds:>9.3f} {seconds / r_seconds:>7.2f} {memory:>8.1f} {rel:>18.2e}",
                  flush=True)
    __import__("benchmarks.simulator_calibration", fromlist=["main"]).main([])  # simulator vs literature (issue 10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
