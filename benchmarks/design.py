"""Speed and operating characteristics of the design run (issue 17, SAP 9):
``python -m benchmarks.design [--speed-replicates N] [--replicates N]``.

1. One replicate in this process (simulate; raw -> derive -> every comparison): seconds each.
2. Replicates per second on a Dask LocalCluster of 1 and of 2 worker processes (one thread each;
   cluster start-up and a warm-up chunk per worker excluded), the scaling 2 vs 1 workers, and the
   peak resident memory of each worker (getrusage ru_maxrss inside the worker).
3. The large-N check of the shipped scenario file's null scenarios against their TRUE values (the
   counterfactual simulation of analysis.simulate.truth, via the command line's cache, SAP 9.2):
   bias, coverage and type I error of every comparison with Monte Carlo SEs (the bias's MCSE
   includes the truth's); verdict: the naive comparison biased under the planted measured
   confounding (|bias| > 3 MCSE) and the primary (common time zero) not (|bias| < 2 MCSE); and the
   naive-minus-primary difference in paired replicates.
The load average (1 min) is printed with every timing: the machine is shared. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from analysis import paths
from analysis import ard
from analysis.cli_design import DEFAULT_SCENARIOS, scenario_truths, simulate_raw
from analysis.design import runner
from analysis.design.output import summary_lines
from analysis.design.performance import performance_ard
from analysis.design.replicate import ENDPOINT, PRIMARY_COMPARISON, run_replicate
from analysis.design.scenarios import load_scenarios

BIAS_SCENARIOS = ("null_measured", "null_measured_unmeasured", "null_unconfounded")


def one_replicate_seconds(scenario, n: int = 5) -> tuple[float, float, float]:
    """Mean seconds of (simulation, derive + analyses) per replicate in this process (wall), and
    the CPU seconds of both (process time: what the replicate costs on an idle core)."""
    sim, ana, cpu = [], [], []
    for seed in range(n + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        files = simulate_raw(scenario, seed)
        t1 = time.perf_counter()
        run_replicate(files, paths.cut_date(scenario.cut), n_boot=0, seed=seed)
        if seed:   # the first one pays the imports
            sim.append(t1 - t0)
            ana.append(time.perf_counter() - t1)
            cpu.append(time.process_time() - c0)
    return float(np.mean(sim)), float(np.mean(ana)), float(np.mean(cpu))


def _worker_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def throughput(scenario, workers: int, n: int, chunk: int = 2) -> tuple[float, list[float]]:
    """(replicates per second, peak MB of each worker) on a LocalCluster of ``workers`` processes."""
    from distributed import Client, LocalCluster, wait
    seeds = runner.replicate_seeds(runner.DEFAULT_ROOT_SEED + 1, 1, n + workers * chunk)[0]
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        warm = [client.submit(runner.run_chunk, simulate_raw, scenario, 0, seeds[k * chunk:(k + 1) * chunk], 0,
                              pure=False) for k in range(workers)]
        wait(warm)
        rest = seeds[workers * chunk:]
        t0 = time.perf_counter()
        futures = [client.submit(runner.run_chunk, simulate_raw, scenario, k, rest[k:k + chunk], 0, pure=False)
                   for k in range(0, n, chunk)]
        wait(futures)
        rate = n / (time.perf_counter() - t0)
        peaks = sorted(client.run(_worker_peak_mb).values())
    return rate, peaks


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) / {five:.1f} (5 min) on {os.cpu_count()} cores"


def bias_check(replicates: int, workers: int, truth_n: int, truth_cache: Path) -> None:
    scenarios = [s for s in load_scenarios(DEFAULT_SCENARIOS) if s.name in BIAS_SCENARIOS]
    truth_cache.mkdir(parents=True, exist_ok=True)
    truths, truth_mcse = scenario_truths(scenarios, truth_n, truth_cache)
    with tempfile.TemporaryDirectory(prefix="bench-design-") as tmp:
        t0 = time.perf_counter()
        records = runner.run_design(scenarios, replicates, simulate_raw, Path(tmp), workers=workers, progress=False)
        seconds = time.perf_counter() - t0
    design_ard = performance_ard(records, truths, ENDPOINT, truth_mcse)
    print(f"\n{len(scenarios)} null scenarios x {replicates} replicates on {workers} workers: {seconds:.0f} s "
          f"({seconds * workers / (replicates * len(scenarios)):.2f} worker-s per replicate); {_load()}")
    print(f"true log HR (counterfactual simulation of {truth_n} trial patients, MCSE): " + "; ".join(
        f"{s.name} {truths[s.name]['log_hr']:+.3f} ({truth_mcse[s.name]['log_hr']:.3f})" for s in scenarios))
    for line in summary_lines(design_ard):
        print(line)
    for s in scenarios:
        naive, primary = ({k: ard.lookup(design_ard, group1_level=s.name, variable=c, stat_name=k) for k in ("bias", "bias_mcse")}
                          for c in ("naive", PRIMARY_COMPARISON))
        r = records[records["scenario"] == s.name].pivot(index="replicate", columns="comparison", values="estimate")
        diff = (r["naive"] - r[PRIMARY_COMPARISON]).dropna()
        d_mcse = diff.std(ddof=1) / math.sqrt(len(diff))
        print(f"{s.name}: naive bias {naive['bias']:+.3f} (MCSE {naive['bias_mcse']:.3f}) "
              f"{'BIASED' if abs(naive['bias']) > 3 * naive['bias_mcse'] else 'not shown biased'}; "
              f"primary bias {primary['bias']:+.3f} (MCSE {primary['bias_mcse']:.3f}) "
              f"{'within 2 MCSE of the truth' if abs(primary['bias']) < 2 * primary['bias_mcse'] else 'BIASED'}; "
              f"naive - primary {diff.mean():+.3f} (paired MCSE {d_mcse:.3f})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--speed-replicates", type=int, default=24, help="replicates timed per cluster size")
    p.add_argument("--replicates", type=int, default=500, help="replicates per null scenario of the bias check "
                   "(500: bias MCSE about 0.016 on the log-HR scale, the truth's included)")
    p.add_argument("--truth-n", type=int, default=200000, help="trial patients of each scenario's true value "
                   "(200 000: its MCSE about 0.005, well below the replicates')")
    p.add_argument("--truth-cache", type=Path, default=paths.reports_root(paths.REPO_ROOT) / "design-bench",
                   help="folder of the truth cache (truth.json, keyed by scenario, n, seed, simulator version)")
    args = p.parse_args(argv)
    scenario = next(s for s in load_scenarios(DEFAULT_SCENARIOS) if s.name == "null_measured")
    sim, ana, cpu = one_replicate_seconds(scenario)
    print(f"design: one replicate in-process ({scenario.n_trial} + {scenario.n_external} patients): simulate "
          f"{sim:.2f} s + derive and 6 comparisons {ana:.2f} s = {sim + ana:.2f} s per replicate wall, {cpu:.2f} s CPU; "
          f"{_load()}")
    rates = {}
    for workers in (1, 2):
        rates[workers], peaks = throughput(scenario, workers, args.speed_replicates)
        print(f"design: {workers} worker(s): {rates[workers]:.2f} replicates/s ({workers / rates[workers]:.2f} "
              f"worker-s per replicate); peak memory per worker {', '.join(f'{m:.0f}' for m in peaks)} MB; "
              f"{_load()}", flush=True)
    print(f"design: scaling 2 vs 1 workers: x{rates[2] / rates[1]:.2f} (linear: x2.00)")
    if args.replicates:
        bias_check(args.replicates, workers=2, truth_n=args.truth_n, truth_cache=args.truth_cache)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
