"""Time and memory of the whole pipeline: `python -m benchmarks.pipeline_scale [--sizes 1 10 100 1000]`.

Prints, as measured (nothing is asserted; the machine is shared, so repeat a run before reading
much into a few seconds):

1. a cold ``python -m analysis report`` of the shipped raw data (both cuts and the locks copied
   into a scratch tree, nothing derived or rendered yet, the environment present): wall time,
   peak memory and each step's time;
2. for studies of x1, x10, x100 and x1000 the shipped size (40 trial + 150 registry patients per
   x1; simulated with the seeded simulator, latest cut only), each step of the pipeline run in its
   own process, in order: wall time (including the process start and its imports) and peak
   resident memory (ru_maxrss of that process and the processes it waited for, e.g. the render
   kernels), then the growth exponent between consecutive sizes, log(t2 / t1) / log(n2 / n1)
   (1 = linear in the number of patients);
3. the share of analyze spent in the weighting bootstrap (the propensity model re-fitted in every
   replicate, then the replicates' weighted product-limit curves, RMST and 2-year contrasts of the
   target-trial primary and the own-origin views) and in the Fine-Gray fits, per size.

Steps are called directly (the entry functions of analysis.build.DEPENDENCIES, not the incremental build),
so a step still runs when validation stops the scaled data on a rule (the message is printed).
Each step process gets an address-space limit of --memory-gb (default 8, the target): a step
that needs more fails with MemoryError instead of swapping the machine; a step slower than
--timeout seconds is stopped. Either is printed in place of the figure.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analysis.build import DEPENDENCIES, PIPELINE

REPO = Path(__file__).resolve().parents[1]
STEPS = PIPELINE   # every step of the one step table (analysis.build), in order
SEED = 20221101
COLD_REPORT_TARGET_S = 30
LINEAR_STEPS = ("validate", "derive", "analyze")   # issue 15: these grow at most linearly with the patients
LINEAR_SLACK = 1.1
LOAD_BEFORE: dict[str, float] = {}  # run -> 1-minute load average when it started (the machine is shared)
TIMED = {  # analyze's parts whose share is printed: label -> (module, attribute)
    "bootstrap re-fits": ("analysis.analyze.target_trial", "bootstrap_weights"),
    "bootstrap curves": ("analysis.analyze.target_trial", "contrast_rows"),
    "Fine-Gray": ("analysis.analyze.external", "_subdistribution_hr"),
}


# --- one step, in its own process ------------------------------------------------------------------

def run_step_here(step: str, cut: str, root: Path, shares_file: Path | None) -> int:
    """The child: run one step function on ``root`` and, for analyze, time its parts."""
    from analysis.errors import BadDataError
    spent: dict[str, float] = {name: 0.0 for name in TIMED}
    if step == "analyze":
        for name, (module, attr) in TIMED.items():
            mod = importlib.import_module(module)
            mod_fn = getattr(mod, attr)

            def timed(*args, _fn=mod_fn, _name=name, **kwargs):
                t0 = time.perf_counter()
                try:
                    return _fn(*args, **kwargs)
                finally:
                    spent[_name] += time.perf_counter() - t0
            setattr(mod, attr, timed)
    module, _, func = DEPENDENCIES[step].entry.partition(":")   # the one step table (analysis.build)
    t0 = time.perf_counter()
    try:
        getattr(importlib.import_module(module), func)(cut, root=root)
    except BadDataError as exc:
        print(f"BAD DATA: {str(exc).splitlines()[0][:300]}", file=sys.stderr)
        return 3
    if shares_file is not None and step == "analyze":
        shares_file.write_text(json.dumps({"total": time.perf_counter() - t0, **spent}))
    return 0


def _limit_memory(gb: float):
    def apply() -> None:
        limit = int(gb * 2 ** 30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        os.setsid()  # its own process group: a timeout stops the kernels it started too
    return apply


CPU_SECONDS: dict[str, float] = {}  # log file name -> CPU seconds (user + system) of its last run


def run_child(args: list[str], *, memory_gb: float, timeout: float, log: Path) -> tuple[float, float, int | str]:
    """(wall seconds, peak RSS in MB, exit code or 'timeout') of ``python <args>``. Its CPU time
    (user + system, with the processes it waited for) goes to CPU_SECONDS[log.name]: on a shared
    machine wall time grows with the others' load, CPU time much less."""
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "False", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    t0 = time.perf_counter()
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, stdout=out, stderr=out,
                                preexec_fn=_limit_memory(memory_gb))
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                return time.perf_counter() - t0, usage.ru_maxrss / 1024, "timeout"
            time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    CPU_SECONDS[log.name] = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, proc.returncode


# --- data ------------------------------------------------------------------------------------------

def write_scaled_cut(root: Path, factor: int, seed: int = SEED) -> tuple[str, int]:
    """Raw exports of the latest cut for ``factor`` times the shipped numbers of patients, under
    ``root``/data/raw/ (the seeded simulator's API). Returns (cut, number of patients)."""
    from analysis.raw_spec import MANIFEST
    from analysis.simulate.study import CUTS, cut_files, manifest_bytes, params, simulate_study
    n_trial, n_external = params.N_TRIAL * factor, params.N_EXTERNAL * factor
    capacity = params.SITE_CAPACITY
    if n_trial > params.MAX_SITES * capacity:
        # the simulator adds one site per SITE_CAPACITY patients and SITEID has two digits: a
        # bigger study (x1000: 40,000) gets fuller sites instead (subject numbers stay 3 digits)
        params.SITE_CAPACITY = math.ceil(n_trial / params.MAX_SITES)
        print(f"  x{factor}: {params.MAX_SITES} sites of up to {params.SITE_CAPACITY} patients "
              f"(simulator default {capacity})", flush=True)
    try:
        study = simulate_study(seed, n_trial=n_trial, n_external=n_external)
    finally:
        params.SITE_CAPACITY = capacity
    cut = CUTS[-1]
    files = cut_files(study, cut)
    folder = root / "data" / "raw" / cut
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / MANIFEST).write_bytes(manifest_bytes(study, cut, files))
    return cut, n_trial + n_external


# --- report ----------------------------------------------------------------------------------------

def cold_report(work: Path, opts) -> str:
    root = work / "cold"
    shutil.copytree(REPO / "data" / "raw", root / "data" / "raw", ignore=shutil.ignore_patterns("README*"))
    if (REPO / "data" / "locked").is_dir():  # the changes step reads the lock of the previous cut
        shutil.copytree(REPO / "data" / "locked", root / "data" / "locked")
    log = work / "cold-report.log"
    LOAD_BEFORE["cold"] = os.getloadavg()[0]
    seconds, mb, code = run_child(["-m", "analysis", "report", "--root", str(root)], memory_gb=opts.memory_gb,
                                  timeout=opts.timeout, log=log)
    steps = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if " done in " in ln]
    verdict = "" if code == 0 else f" FAILED ({code}; see {log})"
    met = "met" if code == 0 and seconds <= COLD_REPORT_TARGET_S else "NOT met"
    return (f"cold `python -m analysis report` of the shipped data (latest cut, .venv present): "
            f"{seconds:.1f} s (CPU {CPU_SECONDS.get(log.name, float('nan')):.1f} s), peak {mb:.0f} MB{verdict}\n  "
            + "\n  ".join(steps)
            + f"\ntarget cold report <= {COLD_REPORT_TARGET_S} s on 2 cores: {seconds:.1f} s -> {met} "
              f"(load average before the run {LOAD_BEFORE.get('cold', float('nan')):.1f}; "
              f"wall time on a shared machine grows with the others' load)")


def largest_page(root: Path) -> float:
    """Size in KB of the largest rendered HTML page under ``root``/reports (0 when none)."""
    sizes = [p.stat().st_size for p in (root / "reports").rglob("*.html")]
    return max(sizes, default=0) / 1024


def fmt_cell(seconds: float, mb: float, code) -> str:
    if code == "timeout":
        return f">{seconds:.0f} s timeout"
    text = f"{seconds:.1f} s {mb:,.0f} MB"
    return text if code == 0 else f"{text} exit {code}"


def exponent(a: tuple, b: tuple) -> str:
    (t1, n1, c1), (t2, n2, c2) = a, b
    if c1 != 0 or c2 != 0 or t1 <= 0 or t2 <= 0:
        return "-"
    return f"{math.log(t2 / t1) / math.log(n2 / n1):.2f}"


def target_lines(sizes: list[int], results: dict[str, list]) -> list[str]:
    """Issue 15's scale targets, each with its verdict from the measured cells
    (results[step][i] = (seconds, patients, exit code, peak MB) at sizes[i])."""
    out = []
    if 100 in sizes:
        t, _, code, mb = results["analyze"][sizes.index(100)]
        met = code == 0 and t <= 10 and mb <= 1024
        out.append(f"target analyze at x100 <= 10 s and <= 1 GB: {t:.1f} s, {mb:,.0f} MB -> "
                   f"{'met' if met else 'NOT met'}")
    if 1000 in sizes:
        cells = [results[step][sizes.index(1000)] for step in STEPS]
        done = all(code == 0 for _, _, code, _ in cells)
        peak = max(mb for *_, mb in cells)
        out.append(f"target whole pipeline at x1000 within 8 GB: {'completed' if done else 'did NOT complete'}, "
                   f"largest step peak {peak:,.0f} MB -> {'met' if done and peak <= 8192 else 'NOT met'}")
    for step in LINEAR_STEPS:
        runs = [(t, n, c) for t, n, c, _ in results[step]]
        exps = [exponent(a, b) for a, b in zip(runs, runs[1:])]
        worst = max((float(e) for e in exps if e != "-"), default=float("nan"))
        met = all(e != "-" for e in exps) and worst <= LINEAR_SLACK
        out.append(f"target {step} grows at most linearly: largest growth exponent {worst:.2f} -> "
                   f"{'met' if met else 'NOT met'} (read as linear up to {LINEAR_SLACK}: timing noise)")
    return out + [""] if out else out


def scale_table(work: Path, opts) -> list[str]:
    results: dict[str, list] = {s: [] for s in STEPS}
    shares, pages = [], []
    header = [f"x{f} ({n:,} patients)" for f, n in ((f, 190 * f) for f in opts.sizes)]
    for factor in opts.sizes:
        root = work / f"x{factor}"
        t0 = time.perf_counter()
        cut, n = write_scaled_cut(root, factor)
        print(f"  x{factor}: {n:,} patients simulated in {time.perf_counter() - t0:.1f} s; running the steps ...",
              flush=True)
        shares_file = work / f"shares-x{factor}.json"
        for step in STEPS:
            args = ["-m", "benchmarks.pipeline_scale", "--step", step, "--cut", cut, "--root", str(root),
                    "--shares-file", str(shares_file)]
            seconds, mb, code = run_child(args, memory_gb=opts.memory_gb, timeout=opts.timeout,
                                          log=work / f"x{factor}-{step}.log")
            results[step].append((seconds, n, code, mb))
            cpu = CPU_SECONDS.get(f"x{factor}-{step}.log", float("nan"))
            print(f"    {step:<11} {fmt_cell(seconds, mb, code)} (CPU {cpu:.1f} s; load average "
                  f"{os.getloadavg()[0]:.1f})", flush=True)
        shares.append(json.loads(shares_file.read_text()) if shares_file.exists() else None)
        pages.append(largest_page(root))
        if not opts.keep:
            shutil.rmtree(root, ignore_errors=True)
    width = max(len(h) for h in header) + 2
    lines = ["step        " + "".join(f"{h:>{width}}" for h in header)
             + "   growth exponent between sizes (1 = linear)"]
    for step in STEPS:
        cells = "".join(f"{fmt_cell(t, mb, c):>{width}}" for t, _, c, mb in results[step])
        runs = [(t, n, c) for t, n, c, _ in results[step]]
        exps = " ".join(exponent(a, b) for a, b in zip(runs, runs[1:]))
        lines.append(f"{step:<12}{cells}   {exps}")
    lines.append("")
    lines += target_lines(opts.sizes, results)
    lines.append("render: largest page per size (listings and the swimmer plot are capped, so pages do not grow "
                 "with the patients): " + ", ".join(f"x{f} {kb:,.0f} KB" for f, kb in zip(opts.sizes, pages)))
    for factor, share in zip(opts.sizes, shares):
        if share is None:
            lines.append(f"analyze x{factor}: did not finish, no shares")
            continue
        parts = ", ".join(f"{name} {share[name]:.2f} s ({100 * share[name] / share['total']:.0f}%)"
                          for name in TIMED)
        lines.append(f"analyze x{factor}: {share['total']:.2f} s in the step function; {parts}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, 1000],
                        help="multiples of the shipped study size (default: %(default)s)")
    parser.add_argument("--memory-gb", type=float, default=8.0, help="address-space limit per step (default 8)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per step before it is stopped")
    parser.add_argument("--no-cold-report", action="store_true", help="skip the cold report run")
    parser.add_argument("--keep", action="store_true", help="keep the scratch trees (printed)")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)  # child mode
    parser.add_argument("--cut", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--shares-file", type=Path, help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.step:
        return run_step_here(opts.step, opts.cut, opts.root.resolve(), opts.shares_file)
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    started = time.perf_counter()
    print("Pipeline time and memory (figures as measured on a shared machine: repeat before comparing)")
    try:
        if not opts.no_cold_report:
            print(cold_report(work, opts), flush=True)
        print(f"Each step in its own process, studies of x{', x'.join(map(str, opts.sizes))} the shipped size "
              f"(limit {opts.memory_gb:g} GB address space and {opts.timeout:.0f} s per step):", flush=True)
        print("\n".join(scale_table(work, opts)))
        print(f"pipeline benchmark total {(time.perf_counter() - started) / 60:.1f} min "
              f"(load average now {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        if opts.keep:
            print(f"scratch trees and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
