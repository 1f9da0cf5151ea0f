"""Seeds, chunks, Dask and resume of a design run (SAP 9.1).

Seeds: replicate r of scenario s (file order) is simulated from
``SeedSequence(root_seed).spawn(n_scenarios)[s].spawn(n_replicates)[r]`` (its first 64-bit word
is the simulator's seed and the RMST bootstrap's seed), so a replicate's result depends on
(root seed, s, r) only: never on the number of workers, the chunking or the order of completion.

Work units are chunks of ``chunk_size`` replicates of one scenario. The client writes each
finished chunk to ``<out>/chunks/<scenario>/chunk-NNNNN.csv`` (atomically: whole or not at all),
so an interrupted run resumes from the chunks already written (a chunk holding other replicates,
e.g. after --replicates changed, is computed again); ``<out>/design.json`` records the settings,
and a run with other settings into the same folder is refused. Workers return their rows to the
client, so a remote cluster (--scheduler tcp://host:port) needs no shared file system.

The simulator is not imported here: ``simulate(scenario, seed) -> {file name: CSV bytes}`` is
passed in by the command line (analysis.cli_design), and shipped to the workers with each task.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import paths
from analysis.atomic import atomic_write_bytes, sweep_stale
from analysis.design import DEFAULT_CHUNK, DEFAULT_DESIGN_BOOTSTRAP, DEFAULT_ROOT_SEED
from analysis.design.replicate import RECORD_COLUMNS, run_replicate
from analysis.design.scenarios import Scenario
from analysis.errors import UsageError

CHUNK_COLUMNS = ["scenario", "replicate", *RECORD_COLUMNS]
SETTINGS_FILE = "design.json"

Simulate = Callable[[Scenario, int], dict]


def replicate_seeds(root_seed: int, n_scenarios: int, n_replicates: int) -> list[list[int]]:
    """seeds[s][r]: the 64-bit seed of replicate r of scenario s (module docstring)."""
    return [[int(rep.generate_state(1, np.uint64)[0]) for rep in scen.spawn(n_replicates)]
            for scen in np.random.SeedSequence(root_seed).spawn(n_scenarios)]


def run_chunk(simulate: Simulate, scenario: Scenario, first: int, seeds: list[int], n_boot: int) -> pd.DataFrame:
    """Replicates first, first + 1, ... of one scenario (runs on a worker)."""
    cut_date = paths.cut_date(scenario.cut)
    parts = []
    for k, seed in enumerate(seeds):
        rec = run_replicate(simulate(scenario, seed), cut_date, n_boot=n_boot, seed=seed)
        parts.append(rec.assign(scenario=scenario.name, replicate=first + k))
    return pd.concat(parts, ignore_index=True)[CHUNK_COLUMNS]


def chunk_path(out: Path, scenario: str, index: int) -> Path:
    return out / "chunks" / scenario / f"chunk-{index:05d}.csv"


def records_bytes(frame: pd.DataFrame) -> bytes:
    """CSV with 17 significant digits (floats round-trip exactly): the same rows give the same bytes."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format="%.17g", lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def read_chunk(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"scenario": str, "comparison": str, "estimand": str})


def _settings(scenarios: list[Scenario], root_seed: int, chunk_size: int, n_boot: int) -> dict:
    return {"scenarios": [s.as_dict() for s in scenarios], "root_seed": root_seed, "chunk_size": chunk_size,
            "n_boot": n_boot}


def check_settings(out: Path, settings: dict) -> None:
    """Resume only a run with the same settings (the replicate count may grow)."""
    path = out / SETTINGS_FILE
    if path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != settings:
            changed = sorted(k for k in settings if old.get(k) != settings[k])
            raise UsageError(f"{out} holds a design run with other settings ({', '.join(changed)} differ); "
                             f"give another --out, or --fresh to discard it")
    atomic_write_bytes(path, (json.dumps(settings, indent=2, sort_keys=True) + "\n").encode())


def plan(out: Path, scenarios: list[Scenario], n_replicates: int, chunk_size: int,
         seeds: list[list[int]]) -> tuple[list[tuple], int]:
    """(chunks still to compute as (scenario, first replicate, seeds, path), replicates already done)."""
    todo, done = [], 0
    for s, scenario in enumerate(scenarios):
        for c in range(math.ceil(n_replicates / chunk_size)):
            first, last = c * chunk_size, min((c + 1) * chunk_size, n_replicates)
            path = chunk_path(out, scenario.name, c)
            if path.exists() and sorted(set(read_chunk(path)["replicate"])) == list(range(first, last)):
                done += last - first
                continue
            todo.append((scenario, first, seeds[s][first:last], path))
    return todo, done


def collect(out: Path, scenarios: list[Scenario], n_replicates: int, chunk_size: int) -> pd.DataFrame:
    """Every replicate's rows, in scenario and replicate order (the same bytes whoever computed them)."""
    parts = [read_chunk(chunk_path(out, s.name, c)) for s in scenarios
             for c in range(math.ceil(n_replicates / chunk_size))]
    return pd.concat(parts, ignore_index=True)[CHUNK_COLUMNS]


def run_design(scenarios: list[Scenario], n_replicates: int, simulate: Simulate, out: Path, *,
               root_seed: int = DEFAULT_ROOT_SEED, chunk_size: int = DEFAULT_CHUNK,
               n_boot: int = DEFAULT_DESIGN_BOOTSTRAP, scheduler: str | None = None, workers: int | None = None,
               progress: bool = True, say: Callable[[str], None] = print) -> pd.DataFrame:
    """Compute every missing chunk (on Dask, or in this process when ``workers == 0``) and
    return all replicates' rows. ``scheduler``: address of a running Dask scheduler; else a
    LocalCluster of ``workers`` processes (default: this machine's cores), one thread each."""
    if n_replicates < 1 or chunk_size < 1 or n_boot < 0:
        raise UsageError("--replicates and --chunk-size must be >= 1 and --bootstrap >= 0")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sweep_stale(out)
    check_settings(out, _settings(scenarios, root_seed, chunk_size, n_boot))
    seeds = replicate_seeds(root_seed, len(scenarios), n_replicates)
    todo, done = plan(out, scenarios, n_replicates, chunk_size, seeds)
    total = len(scenarios) * n_replicates
    if done:
        say(f"[design] resuming: {done} of {total} replicates already in {out / 'chunks'}")
    if todo:
        bar = _progress_bar(total, done, progress)
        try:
            if workers == 0 and scheduler is None:
                for scenario, first, chunk_seeds, path in todo:
                    _write_chunk(path, run_chunk(simulate, scenario, first, chunk_seeds, n_boot), bar)
            else:
                _run_on_dask(todo, simulate, n_boot, scheduler, workers, bar, say)
        finally:
            bar.close()
    return collect(out, scenarios, n_replicates, chunk_size)


def _write_chunk(path: Path, rows: pd.DataFrame, bar) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(path.parent)
    atomic_write_bytes(path, records_bytes(rows))
    bar.update(rows["replicate"].nunique())


def _progress_bar(total: int, done: int, enabled: bool):
    from tqdm import tqdm
    return tqdm(total=total, initial=done, unit="replicate", desc="design", file=sys.stderr,
                disable=not enabled, dynamic_ncols=True)


def _run_on_dask(todo: list[tuple], simulate: Simulate, n_boot: int, scheduler: str | None,
                 workers: int | None, bar, say) -> None:
    from distributed import Client, LocalCluster, as_completed
    cluster, dashboard = None, True
    if scheduler is None:
        n = workers or os.cpu_count() or 1
        # the dashboard needs bokeh (not in the lock): shown only where it is installed
        dashboard = ":0" if importlib.util.find_spec("bokeh") else None
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=dashboard)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"cannot reach the Dask scheduler {scheduler!r} ({exc})") from None
    try:
        if dashboard and client.dashboard_link:   # a remote scheduler's dashboard, or ours if bokeh exists
            say(f"[design] Dask dashboard: {client.dashboard_link}")
        futures = {client.submit(run_chunk, simulate, scenario, first, chunk_seeds, n_boot, pure=False): path
                   for scenario, first, chunk_seeds, path in todo}
        for future in as_completed(futures):
            _write_chunk(futures[future], future.result(), bar)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
