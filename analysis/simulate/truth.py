"""True values of the external comparison's estimands under the simulator, by a large
counterfactual simulation (SAP 9.2; one place for every comparison's truth).

Estimand (SAP 6.3, 6.7): the trial population (everyone who received CAR-T1), LFS counted from
treatment start on the common clock (days since the remission before therapy, entry at treatment
start), sandwich strategy versus allo-HSCT (ATT). For each of ``n`` simulated trial patients
(the full trial simulator, with its conduct: stops, allo-HSCT after a stopped sandwich, the
conditioning window, non-response) the SAME baseline covariates, latent U and remission-to-
treatment interval are also run through the registry's outcome model (allo-HSCT at that interval,
outcomes.draw_outcome with cohort ALLO_EXT): both potential outcomes of the same patients, so no
confounding, measured or not, enters the truth.

Follow-up is that of the analysed data, without its defects: the sandwich arm from CAR-T1 to the
data cut, the allo arm from allo-HSCT to the registry extract (transplant dates, losses to follow-up
and last-contact lags drawn as the registry simulator draws them). The hazard ratio of a
non-proportional contrast depends on follow-up, so the Cox HR of the primary analysis has to be
computed under the same follow-up to be its truth. True values:

- ``log_hr``: Cox (Efron ties) log HR, SANDWICH vs ALLO_EXT, delayed entry, on the 2n rows;
- ``rmst_diff_days``: product-limit RMST to conventions.RMST_TAU_DAYS on the common clock with
  delayed entry (the primary's estimator, analysis.stats.rmst), SANDWICH minus ALLO_EXT.

Monte Carlo SE of each truth: the ``n`` patients are simulated in ``batches`` independent batches;
the truth is computed on all of them and its MC SE is sd(batch values) / sqrt(batches).

The caller swaps the simulator's constants for a scenario (analysis.cli_design); this module reads
them as they are when it runs.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import conventions as C
from analysis.simulate import params as P
from analysis.simulate.outcomes import COHORT_ALLO, draw_outcome
from analysis.simulate.params import UnmeasuredConfounding
from analysis.simulate.randomness import date_between, uniform_int
from analysis.simulate.trial import simulate_trial
from analysis.stats import rmst as rmst_stats
from analysis.stats import survival
from analysis.workers import can_fork, one_blas_thread, usable_cores

ESTIMANDS = ("log_hr", "rmst_diff_days")
SIMULATOR_DIR = Path(__file__).resolve().parent


def simulator_version(package_dir: Path = SIMULATOR_DIR) -> str:
    """SHA-256 of the simulator's source (every .py file of the package, by relative path and
    content, this module included): a cached truth is valid only for the simulator that computed
    it, so any change to the simulator's code or parameters gives a new version (SAP 9.2)."""
    h = hashlib.sha256()
    for f in sorted(package_dir.rglob("*.py")):
        h.update(f.relative_to(package_dir).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class Truth:
    values: dict          # estimand -> true value
    mcse: dict            # estimand -> Monte Carlo SE
    n: int                # trial patients simulated (each under both strategies)
    batches: int
    seed: int


def _lfs(relapse: float, death: float) -> float:
    return min(relapse, death)


def counterfactual_rows(seed: int, n: int, cut_date, unmeasured: UnmeasuredConfounding = P.UNMEASURED) -> pd.DataFrame:
    """Two rows per infused trial patient (COHORT SANDWICH / ALLO_EXT): ENTRY, AVAL, CNSR on the
    common clock (days since the remission before therapy; AVAL = ENTRY + days from treatment start)."""
    trial_seq, allo_seq = np.random.SeedSequence(seed).spawn(2)
    patients = [p for p in simulate_trial(trial_seq, n, unmeasured=unmeasured) if p.infused]
    rows = []
    for p, s in zip(patients, allo_seq.spawn(len(patients))):
        rng = np.random.default_rng(s)
        entry = -p.baseline["cr_day"]               # remission -> CAR-T1, days
        # sandwich: the full truth (also after a withdrawal), followed from CAR-T1 to the cut
        fu = (cut_date - p.cart1).days
        t = _lfs(p.relapse_day, p.death_day)
        rows.append((p.subjid, C.COHORT_TRIAL, entry, *_censor(max(1.0, t), fu)))
        # allo-HSCT at the same interval after the same remission (outcomes.draw_outcome, ALLO_EXT)
        o = draw_outcome(rng, p.cov, COHORT_ALLO, entry_days=entry, unmeasured=unmeasured)
        rows.append((p.subjid, C.COHORT_EXTERNAL, entry, *_censor(max(1.0, math.floor(o.lfs_event))
                                                                 if math.isfinite(o.lfs_event) else math.inf,
                                                                 _registry_follow_up(rng))))
    d = pd.DataFrame(rows, columns=["USUBJID", "COHORT", "ENTRY", "TIME", "CNSR"])
    d["AVAL"] = d["ENTRY"] + d["TIME"]
    return d.drop(columns="TIME")


def _censor(event_day: float, follow_up: float) -> tuple[float, int]:
    return (event_day, 0) if event_day <= follow_up else (float(follow_up), 1)


def _registry_follow_up(rng: np.random.Generator) -> float:
    """Days from allo-HSCT to the end of registry follow-up, drawn as analysis.simulate.external."""
    hsct = date_between(rng, P.EXTERNAL_HSCT_START, P.EXTERNAL_HSCT_END)
    full = (P.EXTERNAL_EXTRACT_DATE - hsct).days
    if rng.random() < P.EXTERNAL_LOST_TO_FU:
        return float(int(full * rng.uniform(0.2, 0.9)))
    return float(full - uniform_int(rng, (0, 90)))


def estimand_values(d: pd.DataFrame) -> dict:
    """log HR (Cox, delayed entry) and RMST difference to tau (product-limit with delayed entry)."""
    d = d[d["AVAL"] > d["ENTRY"]]
    fit = survival.cox(d, "COHORT", ties=C.COX_TIES, reference=C.REFERENCE_COHORT, entry="ENTRY").iloc[0]
    area = {}
    for cohort in (C.COHORT_TRIAL, C.COHORT_EXTERNAL):
        g = d[d["COHORT"] == cohort]
        t, s, _ = rmst_stats.product_limit_matrix(g["AVAL"].to_numpy(float), 1 - g["CNSR"].to_numpy(float),
                                                  np.ones((1, len(g))), g["ENTRY"].to_numpy(float))
        area[cohort] = rmst_stats.rmst_from_curves(t, s, C.RMST_TAU_DAYS)[0]
    return {"log_hr": math.log(float(fit["hr"])),
            "rmst_diff_days": float(area[C.COHORT_TRIAL] - area[C.COHORT_EXTERNAL])}


def _batch(args) -> pd.DataFrame:
    seed, n, cut_date, unmeasured = args
    return counterfactual_rows(seed, n, cut_date, unmeasured)


def true_values(cut_date, n: int = 20000, batches: int = 10, seed: int = 20261201,
                unmeasured: UnmeasuredConfounding = P.UNMEASURED, workers: int | None = None) -> Truth:
    """The truth of every estimand of ESTIMANDS and its Monte Carlo SE (module docstring).
    The batches are simulated in ``workers`` forked processes (default: the usable cores where
    this process may fork); each batch has its own seed, so the values do not depend on it."""
    if n < batches or batches < 2:
        raise ValueError(f"need batches >= 2 and n >= batches, got n={n}, batches={batches}")
    seeds = np.random.SeedSequence(seed).generate_state(batches, np.uint32)
    jobs = [(int(s), n // batches, cut_date, unmeasured) for s in seeds]
    workers = (usable_cores() if can_fork() else 1) if workers is None else max(1, workers)
    with one_blas_thread():   # the same digits for any number of processes
        if workers > 1 and can_fork():
            # fork: the children see the scenario's simulator constants as the caller swapped them
            with multiprocessing.get_context("fork").Pool(min(workers, batches)) as pool:
                frames = pool.map(_batch, jobs, chunksize=1)
        else:
            frames = [_batch(j) for j in jobs]
    parts = [f.assign(BATCH=k) for k, f in enumerate(frames)]
    per_batch = [estimand_values(p) for p in parts]
    pooled = estimand_values(pd.concat(parts, ignore_index=True))
    mcse = {e: float(np.std([b[e] for b in per_batch], ddof=1) / math.sqrt(batches)) for e in ESTIMANDS}
    return Truth(values=pooled, mcse=mcse, n=(n // batches) * batches, batches=batches, seed=seed)
