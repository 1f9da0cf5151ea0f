"""Command line of ``python -m analysis design`` (issue 17, SAP 9): the command-line layer that
joins the simulator to the design runner.

The design runner (analysis.design) is analysis code and never imports the simulator; this
module does (as ``cmd_simulate`` of analysis.cli), and passes ``simulate_raw`` into
``analysis.design.runner.run_design`` (dependency injection). ``simulate_raw`` is a module-level
function, so Dask ships it to the workers by reference (each worker imports this module).

The simulator reads its outcome model and covariate distributions from module constants
(analysis.simulate.params, and the defaults of analysis.simulate.outcomes). A scenario swaps
them for the duration of one simulation, under a process-wide lock (thread-safe on a worker with
several threads) and always puts them back; the shipped study is untouched outside the block.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import threading
from pathlib import Path

from analysis import paths
from analysis.errors import EXIT_OK, UsageError
from analysis.messages import say

SCENARIOS_DIR = Path(__file__).resolve().parent / "design" / "scenarios"
DEFAULT_SCENARIOS = SCENARIOS_DIR / "operating-characteristics.toml"
_LOCK = threading.Lock()


def _scenario_models(scenario):
    """(outcome model, trial covariates, registry covariates, site NRM HRs, unmeasured) of a
    scenario (analysis.design.scenarios: effect, measured, unmeasured_*)."""
    from analysis.simulate import params as P
    model, site_hr = P.OUTCOME_MODEL, P.SITE_NRM_HR
    if scenario.effect in ("null", "proportional"):
        k = math.exp(scenario.log_hr)
        allo_breaks, allo_rates = model.nrm["ALLO_EXT"]
        model = dataclasses.replace(model, log_hr_sandwich=scenario.log_hr, log_hr_mrd_post=0.0, nonresponse=0.0,
                                    nrm={**model.nrm, "SANDWICH": (allo_breaks, tuple(r * k for r in allo_rates))})
        site_hr = {}
    trial, ext = P.TRIAL_COVARIATES, P.EXTERNAL_COVARIATES
    m = scenario.measured
    moved = {f.name: getattr(trial, f.name) + m * (getattr(ext, f.name) - getattr(trial, f.name))
             for f in dataclasses.fields(ext) if f.name in ("age_mean", "cr2", "mrd_positive")}
    if not all(0 <= moved[k] <= 1 for k in ("cr2", "mrd_positive")):
        raise UsageError(f"scenario {scenario.name}: measured = {m} moves a registry proportion out of [0, 1]")
    enabled = scenario.unmeasured_shift_sd != 0 or scenario.unmeasured_log_hr_per_sd != 0
    unmeasured = P.UnmeasuredConfounding(enabled, scenario.unmeasured_shift_sd, scenario.unmeasured_log_hr_per_sd)
    return model, trial, dataclasses.replace(ext, **moved), site_hr, unmeasured


@contextlib.contextmanager
def _swapped_constants(model, trial, ext, site_hr):
    from analysis.simulate import outcomes
    from analysis.simulate import params as P
    funcs = (outcomes.draw_outcome, outcomes.death_after_relapse)
    saved = ((P.OUTCOME_MODEL, P.TRIAL_COVARIATES, P.EXTERNAL_COVARIATES, P.SITE_NRM_HR),
             [f.__defaults__ for f in funcs])
    try:
        P.OUTCOME_MODEL, P.TRIAL_COVARIATES, P.EXTERNAL_COVARIATES, P.SITE_NRM_HR = model, trial, ext, site_hr
        for f in funcs:   # the outcome model is a default argument, bound when the module loaded
            names = [p.name for p in inspect.signature(f).parameters.values() if p.default is not p.empty]
            f.__defaults__ = tuple(model if n == "model" else d for n, d in zip(names, f.__defaults__))
        yield
    finally:
        (P.OUTCOME_MODEL, P.TRIAL_COVARIATES, P.EXTERNAL_COVARIATES, P.SITE_NRM_HR), defaults = saved
        for f, d in zip(funcs, defaults):
            f.__defaults__ = d


def simulate_raw(scenario, seed: int) -> dict[str, bytes]:
    """The raw CSV exports (file name -> bytes) of ``scenario.cut`` of one simulated study."""
    from analysis.simulate.study import cut_files, simulate_study
    model, trial, ext, site_hr, unmeasured = _scenario_models(scenario)
    with _LOCK, _swapped_constants(model, trial, ext, site_hr):
        study = simulate_study(seed, n_trial=scenario.n_trial, n_external=scenario.n_external, unmeasured=unmeasured)
        return cut_files(study, scenario.cut)


TRUTH_FILE = "truth.json"
TRUTH_SEED = 20261201


def scenario_truth(scenario, n: int, seed: int = TRUTH_SEED):
    """True values of the comparisons' estimands in ``scenario`` (analysis.simulate.truth: the
    trial population under both strategies, the scenario's outcome model, latent U and cut)."""
    from datetime import date

    from analysis.simulate import truth
    model, trial, ext, site_hr, unmeasured = _scenario_models(scenario)
    with _LOCK, _swapped_constants(model, trial, ext, site_hr):
        return truth.true_values(date.fromisoformat(paths.cut_date(scenario.cut)), n=n, seed=seed,
                                 unmeasured=unmeasured)


def scenario_truths(scenarios, n: int, out: Path, seed: int = TRUTH_SEED) -> tuple[dict, dict]:
    """({scenario: {estimand: truth}}, {scenario: {estimand: MCSE}}), cached in ``out/truth.json``
    by scenario settings, n, seed and the simulator's version (the hash of its source: a changed
    simulator never reuses a stale truth; a truth takes about 30 s of CPU per 20000 patients, its
    batches spread over the machine's cores)."""
    import json

    from analysis.atomic import atomic_write_bytes
    from analysis.simulate.truth import simulator_version
    path = out / TRUTH_FILE
    cache = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    values, mcse, version = {}, {}, simulator_version()
    for s in scenarios:
        key = json.dumps({"scenario": {k: v for k, v in s.as_dict().items() if k not in ("name", "n_trial",
                                                                                        "n_external", "measured")},
                          "n": n, "seed": seed, "simulator": version}, sort_keys=True)
        if key not in cache:
            say(f"[design] true values of {s.name}: counterfactual simulation of {n} trial patients")
            t = scenario_truth(s, n, seed)
            cache[key] = {"values": t.values, "mcse": t.mcse}
            atomic_write_bytes(path, (json.dumps(cache, indent=1, sort_keys=True) + "\n").encode())
        values[s.name], mcse[s.name] = cache[key]["values"], cache[key]["mcse"]
    return values, mcse


def add_parser(sub, after) -> None:
    """The ``design`` subcommand (called by analysis.cli.build_parser)."""
    from analysis import design as defaults
    sp = sub.add_parser("design", parents=[after], help="operating characteristics of the external comparison "
                        "by simulation (bias, empirical SE, coverage, type I error, power; Dask)",
                        description="Simulate N studies per scenario of a TOML file, run each in memory through "
                        "the real derivations and every external comparison (naive, weighted, common time zero = "
                        "primary, landmark, per protocol, RMST), and report bias, empirical SE, coverage and type I "
                        "error / power with Monte Carlo SEs (docs/sap-notes.md section 9) -> reports/design/. "
                        "Runs on Dask; an interrupted run resumes from the replicates already written.")
    sp.add_argument("--scenarios", type=Path, default=DEFAULT_SCENARIOS, help="scenario file (TOML; default: "
                    "analysis/design/scenarios/operating-characteristics.toml)")
    sp.add_argument("--replicates", type=int, default=200, help="simulated studies per scenario (default: %(default)s)")
    sp.add_argument("--seed", type=int, default=defaults.DEFAULT_ROOT_SEED, help="root seed (default: %(default)s)")
    sp.add_argument("--scheduler", default=None, help="address of a running Dask scheduler, e.g. tcp://host:8786 "
                    "(default: a local cluster on this machine's cores)")
    sp.add_argument("--workers", type=int, default=None, help="local cluster worker processes (default: the "
                    "number of cores; 0: no Dask, run in this process)")
    sp.add_argument("--chunk-size", type=int, default=defaults.DEFAULT_CHUNK, help="replicates per task (default: %(default)s)")
    sp.add_argument("--bootstrap", type=int, default=defaults.DEFAULT_DESIGN_BOOTSTRAP,
                    help="bootstrap replicates of the RMST difference inside each simulated study (default: "
                         "%(default)s = no RMST interval; the report's own setting is unchanged)")
    # 100 000 patients: the truth's MCSE about 0.007 on the log-HR scale, small beside the bias's MCSE
    # at a few hundred replicates (at 20 000 it was 0.02, as large as the replicates' own: SAP 9.8)
    sp.add_argument("--truth-n", type=int, default=100000, help="trial patients of the counterfactual simulation "
                    "that gives each scenario's true values (analysis.simulate.truth; 0: none, truth unknown; "
                    "default: %(default)s)")
    sp.add_argument("--out", type=Path, default=None, help="output folder (default: reports/design/ of --root)")
    sp.add_argument("--fresh", action="store_true", help="discard the results already in --out instead of resuming")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_design)


def cmd_design(args) -> int:
    import shutil

    from analysis.design import output, runner
    from analysis.design.scenarios import load_scenarios
    if args.replicates < 1:
        raise UsageError(f"--replicates must be >= 1, got {args.replicates}")
    scenarios = load_scenarios(args.scenarios)
    out = args.out if args.out is not None else paths.reports_root(args.root) / "design"
    if args.fresh and out.exists():
        if not (out / runner.SETTINGS_FILE).exists():
            raise UsageError(f"--fresh: {out} is not a design output folder (no {runner.SETTINGS_FILE}); not removed")
        shutil.rmtree(out)
    records = runner.run_design(scenarios, args.replicates, simulate_raw, out, root_seed=args.seed,
                                chunk_size=args.chunk_size, n_boot=args.bootstrap, scheduler=args.scheduler,
                                workers=args.workers, progress=not args.no_progress, say=say)
    truths, truth_mcse = scenario_truths(scenarios, args.truth_n, out) if args.truth_n > 0 else ({}, {})
    written = output.write_outputs(out, records, scenarios, settings={
        "replicates": args.replicates, "root seed": args.seed, "RMST bootstrap": args.bootstrap,
        "scenario file": args.scenarios.name, "truth: trial patients": args.truth_n}, truths=truths,
        truth_mcse=truth_mcse)
    for line in output.summary_lines(written["ard"]):
        say(line)
    say(f"[design] {', '.join(str(p) for p in written['files'])}")
    return EXIT_OK
