"""Speed of the survival layer against R survival: `python -m benchmarks.run_all [--sizes ...]`.

For each size n (default 10^4, 10^5, 10^6 subjects, seeded) it simulates two arms with
exponential event times (hazards 0.10 and 0.07 per month, in whole days as ADTTE's AVAL) and
exponential censoring, then times, on the same data:

* ours: km_estimates at two times (log-log limits) + logrank + cox (Efron ties);
* R:    survfit + summary(times) + survdiff + coxph(ties = "efron"), timed inside R with
  proc.time() around the three calls only (reading the CSV is excluded, as our timing excludes
  building the DataFrame).

It prints the times, their ratio (ours / R), our peak traced memory (tracemalloc, a second run)
and the largest relative difference between our and R's numbers (a sanity check of the run), then
the KM + log-rank + Cox ratio at the largest size against its target (<= 0.3 x R at 10^6).
Then the competing-risks layer (benchmarks/competing.py: CIF, Gray, Fine-Gray against cmprsk,
default 10^4 and 10^5 subjects). R is skipped with a message where Rscript is missing. Nothing is
asserted: the machine is shared.
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
from benchmarks import competing, design, pipeline_scale, simulator_calibration

from analysis.conventions import DAYS_PER_MONTH, DAYS_PER_YEAR, TIMEPOINT_2Y_DAYS  # SAP 2.1

TIMES = (DAYS_PER_YEAR, TIMEPOINT_2Y_DAYS)
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
    parser.add_argument("--competing-sizes", type=int, nargs="*", default=[10 ** 4, 10 ** 5])
    parser.add_argument("--r-timeout", type=float, default=900.0,
                        help="seconds after which an R run is stopped (crr at 1e5 takes hours)")
    args = parser.parse_args(argv)
    if shutil.which("Rscript") is None:
        print("Rscript not found: R timings skipped (install r-base-core and r-cran-survival to compare)")
    ours(simulate(1000))  # warm-up: imports and first-call costs are not part of the comparison
    header = f"{'n':>9} {'ours (s)':>9} {'R (s)':>9} {'ours/R':>7} {'peak MB':>8} {'max rel diff vs R':>18}"
    print(header)
    print("-" * len(header))
    last = None
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
            last = (n, seconds / r_seconds)
        if last is not None:
            verdict = "met" if last[1] <= 0.3 else "NOT met"
            print(f"KM + log-rank + Cox at n = {last[0]}: ours/R = {last[1]:.2f} (target <= 0.30: {verdict})")
        if args.competing_sizes and shutil.which("Rscript") is not None:
            print("\ncompeting risks against cmprsk (R timed inside R; peak memory: ours traced, R gc max used)")
            competing.run(args.competing_sizes, Path(tmp), args.r_timeout)
    pipeline_scale.main([])  # cold report, each step at x1..x1000, bootstrap share (issue 15)
    simulator_calibration.main([])  # simulator vs literature (issue 10)
    design.main([])  # design run: replicates/s on 1 and 2 workers, memory, large-N bias check (issue 17)
    return 0


# --- issue 14: a 10^6-row raw AE export through validate + derive -----------------------------------

RAW_AE_ROWS = 10 ** 6
RAW_AE_BUDGET = (160.0, 3.3)   # seconds, GB peak resident memory (measured before issue 14's checks)


def bench_raw_ae_export(rows: int = RAW_AE_ROWS) -> dict:
    """The latest shipped cut with its ae.csv grown to ``rows`` rows (each subject's AEs repeated
    with new AESEQ, so every cross-form rule still holds) and its manifest refreshed, then
    ``python -m analysis report --until derive`` in a fresh process on a scratch tree: wall time
    and peak resident memory (getrusage of the child) against the budget."""
    import hashlib
    import json
    import os
    import resource
    import sys
    from analysis import paths
    repo = Path(__file__).resolve().parent.parent
    cut = paths.list_cuts(repo)[-1]
    with tempfile.TemporaryDirectory(prefix="bench-raw-ae-") as tmp:
        raw = Path(shutil.copytree(paths.raw_dir(cut, repo), paths.raw_dir(cut, Path(tmp))))
        ae = pd.read_csv(raw / "ae.csv", dtype=str, keep_default_na=False)
        big = ae.iloc[np.arange(rows) % len(ae)].reset_index(drop=True)
        big["AESEQ"] = (big.groupby("SUBJID").cumcount() + 1).astype(str)
        big.to_csv(raw / "ae.csv", index=False, lineterminator="\n")
        manifest = json.loads((raw / "manifest.json").read_text())
        manifest["files"]["ae.csv"] = {"rows": rows, "sha256": hashlib.sha256((raw / "ae.csv").read_bytes()).hexdigest()}
        (raw / "manifest.json").write_text(json.dumps(manifest, indent=2))
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "analysis", "--root", tmp, "report", "--cut", cut,
                               "--until", "derive"], cwd=repo, capture_output=True, text=True,
                              env={**os.environ, "ANALYSIS_ROOT": tmp})
        seconds = time.perf_counter() - t0
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2 ** 20
    ok = proc.returncode == 0 and seconds <= RAW_AE_BUDGET[0] and peak_gb <= RAW_AE_BUDGET[1]
    print(f"raw AE export, {rows:,} rows, validate + derive: {seconds:.0f} s, peak RSS {peak_gb:.2f} GB "
          f"(budget {RAW_AE_BUDGET[0]:.0f} s / {RAW_AE_BUDGET[1]} GB; exit {proc.returncode})"
          f"{'' if ok else ' -- OVER BUDGET OR FAILED: ' + proc.stderr[-500:]}", flush=True)
    return {"rows": rows, "seconds": seconds, "peak_gb": peak_gb, "exit": proc.returncode}


if __name__ == "__main__":
    bench_raw_ae_export()
    raise SystemExit(main())
