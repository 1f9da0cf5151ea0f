"""SYNTHETIC external control: allo-HSCT registry extract (adult B-ALL in CR1/CR2, 2016-2023).

Same outcome model as the trial (outcomes.py, params.PLANTED_TRUTH) with cohort ALLO_EXT, entry at
allo-HSCT on the time scale "days since remission". Covariates follow params.EXTERNAL_COVARIATES:
younger, more often MRD-negative and in CR1 than the trial (planted confounding). The registry
codes its fields its own way (SEX M/F, PHPOS Y/N, lowercase risk and MRD).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np

from analysis.simulate import params as P
from analysis.simulate.outcomes import COHORT_ALLO, Covariates, draw_covariates, draw_outcome
from analysis.simulate.params import UnmeasuredConfounding
from analysis.simulate.randomness import add_days, choice, date_between, uniform_int


@dataclass(frozen=True)
class ExternalPatient:
    patid: str
    cov: Covariates
    wbc: float | None
    cns: str | None
    risk_missing: bool
    donor: str
    diagnosis: date
    diagnosis_partial: bool
    remission: date
    hsct: date
    relapse: date | None        # truth (None = never)
    death: date | None
    death_cause: str | None
    censor: date                # end of registry follow-up if alive


def simulate_external_patient(rng: np.random.Generator, patid: str,
                              unmeasured: UnmeasuredConfounding = P.UNMEASURED) -> ExternalPatient:
    cov = draw_covariates(rng, P.EXTERNAL_COVARIATES)   # U ~ N(0, 1): the registry is the reference
    hsct = date_between(rng, P.EXTERNAL_HSCT_START, P.EXTERNAL_HSCT_END)
    remission = add_days(hsct, -uniform_int(rng, (60, 150)))        # CR -> allo-HSCT 2-5 months
    diagnosis = add_days(remission, -(uniform_int(rng, (365, 1100)) if cov.cr2 else uniform_int(rng, (25, 45))))
    outcome = draw_outcome(rng, cov, COHORT_ALLO, entry_days=(hsct - remission).days, unmeasured=unmeasured)
    nrm_cause = choice(rng, P.EXTERNAL_NRM_CAUSES)

    def to_date(days: float) -> date | None:
        return None if math.isinf(days) else add_days(hsct, max(1, int(math.floor(days))))

    relapse = to_date(outcome.lfs_event) if outcome.lfs_event_type == "RELAPSE" else None
    death = to_date(outcome.death)
    if relapse is not None and death is not None and relapse > death:
        relapse = death
    cause = None if death is None else ("RELAPSE" if outcome.death_cause == "RELAPSE" else nrm_cause)
    extract_lag = uniform_int(rng, (0, 90))
    lost = rng.random() < P.EXTERNAL_LOST_TO_FU
    full_fu = (P.EXTERNAL_EXTRACT_DATE - hsct).days
    censor = add_days(hsct, int(full_fu * rng.uniform(0.2, 0.9))) if lost else \
        add_days(P.EXTERNAL_EXTRACT_DATE, -extract_lag)
    wbc = float(min(600.0, max(0.5, P.WBC_MEDIAN * math.exp(P.WBC_SIGMA * rng.standard_normal()))))
    return ExternalPatient(
        patid=patid, cov=cov,
        wbc=None if rng.random() < P.MISSING_RATE["WBCDIAG"] else wbc,
        cns=None if rng.random() < P.MISSING_RATE["CNSSTAT_EXT"] else choice(rng, P.CNS_PROBS),
        risk_missing=bool(rng.random() < P.MISSING_RATE["CYTORISK"]),
        donor=choice(rng, P.DONOR_PROBS), diagnosis=diagnosis,
        diagnosis_partial=bool(rng.random() < P.PARTIAL_DATE_RATE["DIAGDTC"]),
        remission=remission, hsct=hsct, relapse=relapse, death=death, death_cause=cause, censor=censor,
    )


def simulate_external(seed_sequence: np.random.SeedSequence, n: int = P.N_EXTERNAL,
                      unmeasured: UnmeasuredConfounding = P.UNMEASURED) -> list[ExternalPatient]:
    if n >= 10 ** P.REGISTRY_ID_DIGITS:
        raise ValueError(f"at most {10 ** P.REGISTRY_ID_DIGITS - 1} registry patients (PATID R + "
                         f"{P.REGISTRY_ID_DIGITS} digits)")
    streams = seed_sequence.spawn(n)
    return [simulate_external_patient(np.random.default_rng(s), f"R{k + 1:0{P.REGISTRY_ID_DIGITS}d}", unmeasured)
            for k, s in enumerate(streams)]


def external_row(x: ExternalPatient) -> dict:
    """The registry row as extracted: events after the end of follow-up are unknown."""
    died = x.death is not None and x.death <= x.censor
    last = x.death if died else x.censor
    relapse = x.relapse if x.relapse is not None and x.relapse <= last else None
    return {
        "PATID": x.patid, "AGE": x.cov.age, "SEX": "M" if x.cov.male else "F",
        "PHPOS": "Y" if x.cov.ph_positive else "N",
        "CYTORISK": None if x.risk_missing else ("high" if x.cov.high_risk else "standard"),
        "WBCDIAG": x.wbc, "CNSSTAT": x.cns, "DISSTAT": "CR2" if x.cov.cr2 else "CR1",
        "MRDPRE": "positive" if x.cov.mrd_positive else "negative", "DONOR": x.donor,
        "DIAGDTC": x.diagnosis.strftime("%Y-%m") if x.diagnosis_partial else x.diagnosis.isoformat(),
        "CRDTC": x.remission, "HSCTDTC": x.hsct, "RELDTC": relapse,
        "DTHDTC": x.death if died else None, "DTHCAUS": x.death_cause if died else None,
        "LSTFUDTC": last,
    }
