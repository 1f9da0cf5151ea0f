"""Calibration of the SYNTHETIC simulator against the literature: `python -m benchmarks.simulator_calibration`.

Simulates a 3000 + 3000 study (seed 20221101 unless --seed), and for every cited figure prints the
literature row (/work/shared/refs/literature-parameters.md), the simulated value on the truth
(every patient followed to the time point: no censoring, no data cut) and the accepted range,
with PASS/FAIL. Ranges are the published values or the span of the cited rows; where the range
is a free choice the row says so (also data/raw/README.md). Exit code 1 if any row fails.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import numpy as np

from analysis.simulate.study import simulate_study
from analysis.simulate.params import DEFAULT_SEED_CALIBRATION

YEAR = 365.25


@dataclass(frozen=True)
class Figure:
    name: str
    rows: str          # literature rows (or "free choice")
    value: float
    low: float
    high: float

    @property
    def ok(self) -> bool:
        return self.low <= self.value <= self.high


def _ext_days(x, d) -> float:
    return math.inf if d is None else float((d - x.hsct).days)


def _share(flags) -> float:
    flags = list(flags)
    return float(np.mean(flags)) if flags else math.nan


def _cox_hr(time_, event, x) -> float:
    from statsmodels.duration.hazard_regression import PHReg
    fit = PHReg(np.asarray(time_, float), np.asarray(x, float).reshape(-1, 1), status=np.asarray(event, int),
                ties="efron").fit()
    return float(math.exp(fit.params[0]))


def external_figures(ext) -> list[Figure]:
    rel = np.array([_ext_days(x, x.relapse) for x in ext])
    dth = np.array([_ext_days(x, x.death) for x in ext])
    nrm = np.array([d if x.death_cause not in (None, "RELAPSE") else math.inf for x, d in zip(ext, dth)])
    cr1 = np.array([not x.cov.cr2 for x in ext])
    t5, t2 = 5 * YEAR, 2 * YEAR
    nrm2, nrm100 = (nrm <= t2).mean(), (nrm <= 100).mean()
    hr_mrd = _cox_hr(np.minimum(np.minimum(rel, nrm), 10 * YEAR), rel <= np.minimum(nrm, 10 * YEAR),
                     [x.cov.mrd_positive for x in ext])
    return [
        Figure("allo: 5-year CIR, CR1", "T3.6 (15.9 %), T3.2 (20.7 %)", (rel[cr1] <= t5).mean(), 0.155, 0.21),
        Figure("allo: 5-year NRM", "T3.11 (8 %), T3.4 (10-11 % at 3 y), T3.2 (13.9 %)", (nrm <= t5).mean(), 0.08, 0.15),
        Figure("allo: 2-year NRM", "T3.4 (10-11 % at 3 y), T3.11 (8 %)", nrm2, 0.07, 0.14),
        Figure("allo: share of 2-year NRM by day 100", "free choice (NRM concentrated early)", nrm100 / nrm2, 0.5, 0.8),
        Figure("allo: NRM added in years 2-5 (plateau)", "free choice; T3.4 3 y vs T3.2 5 y",
               (nrm <= t5).mean() - nrm2, 0.0, 0.04),
        Figure("allo: 5-year OS, CR1", "T3.6 (70.2 %), T3.2 (70.4 %)", (dth[cr1] > t5).mean(), 0.65, 0.76),
        Figure("allo: 5-year OS, CR2", "T3.6 (44.1 % in later CR)", (dth[~cr1] > t5).mean(), 0.35, 0.60),
        Figure("allo: 5-year LFS", "T3.2 (65.6 %)", (np.minimum(rel, dth) > t5).mean(), 0.58, 0.70),
        Figure("allo: relapse HR, MRD+ before HSCT", "T3.5 (3.56, 1.39-9.15)", hr_mrd, 1.39, 9.15),
    ]


def trial_figures(trial) -> list[Figure]:
    trial = [p for p in trial if p.infused]   # the literature figures are of treated patients
    resp = [p for p in trial if not p.nonresponder]
    rel = np.array([p.relapse_day for p in trial])
    dth = np.array([p.death_day for p in trial])
    nrm = np.array([p.death_day if p.death_cause not in (None, "RELAPSE") else math.inf for p in trial])
    lfs = np.minimum(rel, dth)
    ngs28 = []
    for p in resp:
        d28 = next((a.day for a in p.assessments if a.visit == "CAR-T1 D28"), None)
        s = [m for m in p.mrd if m.method == "NGS" and m.day == d28]
        ngs28.append(None if not s else not s[0].undetectable)
    keep = [k for k, v in enumerate(ngs28) if v is not None]
    rel_r = np.array([resp[k].relapse_day for k in keep])
    nrm_r = np.array([resp[k].death_day if resp[k].death_cause not in (None, "RELAPSE") else math.inf for k in keep])
    end = np.minimum(np.minimum(rel_r, nrm_r), 5 * YEAR)
    hr_mrd = _cox_hr(end, rel_r <= np.minimum(nrm_r, 5 * YEAR), [ngs28[k] for k in keep])
    fc28 = [m for p in resp for m in p.mrd if m.method == "FC" and any(
        a.day == m.day and a.visit == "CAR-T1 D28" for a in p.assessments)]
    crs = np.array([p.crs_grade("CAR-T1") for p in trial])
    icans = np.array([max([e.astct for e in p.adverse_events if e.phase == "CAR-T1" and e.term.startswith("Immune")],
                          default=0) for p in trial])
    onsets = [e.start for p in trial for e in p.adverse_events if e.phase == "CAR-T1" and e.term.startswith("Cytokine")]
    cns_involved = [p.relapse_site in ("CNS", "BM+CNS") for p in trial
                    if p.relapse_site is not None and p.baseline["cns"] != "CNS1"]
    return [
        Figure("sandwich: 1-year LFS", "T1.21 (58 %, CAR-T alone) .. T1.22 (76.9 %, CAR-T -> allo)",
               (lfs > YEAR).mean(), 0.58, 0.77),
        Figure("sandwich: 2-year LFS", "T1.23 (24-mo RFS 50.3 %) .. suggestion 55-65 % (T2.5, T2.8, T1.14)",
               (lfs > 2 * YEAR).mean(), 0.50, 0.65),
        Figure("sandwich: 2-year OS", "T1.23 (63.8 %) .. T1.22 (79.1 %)", (dth > 2 * YEAR).mean(), 0.638, 0.80),
        Figure("sandwich: 2-year NRM", "below allo TRM 8 % (T3.11); T2.8/T2.12 no TRM", (nrm <= 2 * YEAR).mean(), 0.0, 0.08),
        Figure("sandwich: relapse HR, NGS-MRD+ at day 28", "T1.34 (4.87, 2.18-10.8)", hr_mrd, 2.18, 10.8),
        Figure("sandwich: day-28 FC-MRD negative", "T1.6 (85.1 %), T1.21 (87 %); +-5 points sampling",
               _share(m.undetectable or m.level < 1e-4 for m in fc28), 0.80, 0.92),
        Figure("CAR-T1: CRS any grade", "T1.11 (78.3 %) .. T1.2/T1.7 (87 %)", (crs >= 1).mean(), 0.78, 0.87),
        Figure("CAR-T1: CRS grade >= 3", "T1.2 (6 %) .. T1.7 (17 %)", (crs >= 3).mean(), 0.06, 0.17),
        Figure("CAR-T1: ICANS any grade", "T1.8 (2 %) .. T1.3 (16 %)", (icans >= 1).mean(), 0.02, 0.16),
        Figure("CAR-T1: ICANS grade >= 3", "T1.3 (3 %, 1-5 %)", (icans >= 3).mean(), 0.01, 0.05),
        Figure("CAR-T1: median CRS onset (day)", "T1.24 (5), T1.26 (3-5)", float(np.median(onsets)), 3, 5),
        Figure("relapses involving the CNS, CNS2/3 at diagnosis", "T1.33 (11.3 / (31.1 + 11.3) = 27 %); free range",
               _share(cns_involved), 0.15, 0.40),
        Figure("CD34+ yield median (10^6/kg)", "T2.4 (2.41-3.05), T2.6 (4.14)",
               float(np.median([p.cd34 for p in trial])), 2.4, 4.2),
    ]


def calibration(seed: int = DEFAULT_SEED_CALIBRATION, n_trial: int = 3000, n_external: int = 3000) -> list[Figure]:
    study = simulate_study(seed, n_trial=n_trial, n_external=n_external)
    return trial_figures(study.trial) + external_figures(study.external)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED_CALIBRATION)
    parser.add_argument("--n-trial", type=int, default=3000)
    parser.add_argument("--n-external", type=int, default=3000)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    figures = calibration(args.seed, args.n_trial, args.n_external)
    print(f"simulator calibration: {args.n_trial} trial + {args.n_external} registry patients, seed {args.seed} "
          f"({time.perf_counter() - t0:.1f} s)")
    width = max(len(f.name) for f in figures)
    for f in figures:
        print(f"{'PASS' if f.ok else 'FAIL'}  {f.name:<{width}}  {f.value:7.3f}  range [{f.low:g}, {f.high:g}]  {f.rows}")
    failed = sum(not f.ok for f in figures)
    print(f"{len(figures) - failed} of {len(figures)} figures within their literature range")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
