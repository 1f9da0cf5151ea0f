"""The simulated study and its data cuts: the entry points of the SYNTHETIC-data simulator.

``write_cuts(raw_root, seed, force)`` simulates every patient's full course once (the truth), then
writes each data cut of params.CUTS into ``raw_root/<cut>/`` (whole or not at all) with its
manifest. The same seed gives byte-identical files. Parameters, their literature rows and the
planted external-control truth: analysis.simulate.params (PLANTED_TRUTH, CORRECTIONS).

Only the command line (``python -m analysis simulate``) and tests import this package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from analysis.atomic import atomic_dir
from analysis.raw_spec import EXTERNAL_FORMS, MANIFEST, STUDYID, TRIAL_FORMS
from analysis.simulate import params
from analysis.simulate.export import apply_data_entry_errors, csv_bytes, trial_tables
from analysis.simulate.external import ExternalPatient, external_row, simulate_external
from analysis.simulate.params import CORRECTIONS, CUTS, PLANTED_TRUTH
from analysis.simulate.trial import TrialPatient, simulate_trial

DEFAULT_SEED = 20221101

__all__ = ["write_cuts", "simulate_study", "cut_files", "Study", "CUTS", "CORRECTIONS", "PLANTED_TRUTH",
           "DEFAULT_SEED", "params"]


@dataclass(frozen=True)
class Study:
    """The simulated truth of both cohorts, before any data cut."""
    seed: int
    trial: list[TrialPatient]
    external: list[ExternalPatient]


def simulate_study(seed: int = DEFAULT_SEED, n_trial: int = params.N_TRIAL,
                   n_external: int = params.N_EXTERNAL,
                   unmeasured: params.UnmeasuredConfounding = params.UNMEASURED) -> Study:
    """Full courses of ``n_trial`` trial and ``n_external`` registry patients from one seed;
    ``unmeasured`` switches the latent confounder (params.UNMEASURED / UNMEASURED_OFF)."""
    for name, n in (("n_trial", n_trial), ("n_external", n_external)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{name} must be a positive integer, got {n!r}")
    trial_seq, external_seq = np.random.SeedSequence(seed).spawn(2)
    return Study(seed, simulate_trial(trial_seq, n_trial, unmeasured=unmeasured),
                 simulate_external(external_seq, n_external, unmeasured=unmeasured))


def _cut_date(cut: str) -> date:
    from analysis.paths import cut_date
    return date.fromisoformat(cut_date(cut))


def cut_files(study: Study, cut: str) -> dict[str, bytes]:
    """CSV bytes of every form (file name -> content) of one data cut."""
    tables = trial_tables(study.trial, _cut_date(cut))
    apply_data_entry_errors(tables, cut)
    # The registry extract predates every cut, so it is the same file in each.
    tables["ext"] = [external_row(x) for x in study.external]
    return {f"{name}.csv": csv_bytes(name, tables[name]) for name in (*TRIAL_FORMS, *EXTERNAL_FORMS)}


def manifest_bytes(study: Study, cut: str, files: dict[str, bytes]) -> bytes:
    import hashlib
    manifest = {
        "study": STUDYID, "cut": cut, "cut_date": _cut_date(cut).isoformat(), "synthetic": True,
        "generator": "analysis.simulate", "seed": study.seed,
        "n_trial": len(study.trial), "n_external": len(study.external),
        "analysis": params.CUT_KIND.get(cut, "interim"), "final_analysis": params.FINAL_ANALYSIS,
        "files": {name: {"sha256": hashlib.sha256(data).hexdigest(),
                         "rows": data.count(b"\n") - 1}
                  for name, data in sorted(files.items())},
    }
    return (json.dumps(manifest, sort_keys=True, indent=2) + "\n").encode("utf-8")


def write_cuts(raw_root: Path, seed: int = DEFAULT_SEED, force: bool = False, n_trial: int = params.N_TRIAL,
               n_external: int = params.N_EXTERNAL) -> list[str]:
    """Write every data cut of a study of ``n_trial`` + ``n_external`` patients into
    ``raw_root/<cut>/``; return the cut names written.

    Raw data are read-only: an existing cut folder is an error unless ``force``. Each cut folder
    is built in a scratch directory and swapped in whole (analysis.atomic.atomic_dir).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    raw_root = Path(raw_root)
    existing = [c for c in CUTS if (raw_root / c).exists()]
    if existing and not force:
        raise FileExistsError(f"raw data cut(s) already exist in {raw_root}: {', '.join(existing)}; raw data "
                              "are read-only (pass force=True / --force to regenerate them)")
    study = simulate_study(seed, n_trial=n_trial, n_external=n_external)
    for cut in CUTS:
        files = cut_files(study, cut)
        with atomic_dir(raw_root / cut) as scratch:
            for name, data in files.items():
                (scratch / name).write_bytes(data)
            (scratch / MANIFEST).write_bytes(manifest_bytes(study, cut, files))
    return list(CUTS)
