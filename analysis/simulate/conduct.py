"""Trial conduct of the SYNTHETIC study: patients enrolled but never infused, and subsequent
anti-leukaemic therapy (ct.csv), including the intercurrent switch to allo-HSCT.

- Never infused (params.PRE_INFUSION): manufacturing failure, relapse or death between
  enrollment and the planned CAR-T1. A manufacturing failure goes on to other therapy (allo-HSCT
  or chemotherapy) whose outcome follows the allo-HSCT model of outcomes.py from its start.
- Subsequent therapy (params.SUBSEQUENT_THERAPY): after relapse, salvage (chemotherapy, a TKI for
  Ph+ disease, or other) and sometimes allo-HSCT; after stopping the sandwich in remission
  (failed mobilization, adverse event, physician decision) a share go on to allo-HSCT: the
  intercurrent event of the estimand (SAP 6.3). From that allo-HSCT on, relapse and NRM follow
  the allo-HSCT hazards (the earlier draw is replaced when it falls after the transplant).
All probabilities and delays are modelling choices (data/raw/README.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis.simulate import params as P
from analysis.simulate.outcomes import COHORT_ALLO, Covariates, death_after_relapse, draw_outcome
from analysis.simulate.randomness import choice, uniform_int

INF = math.inf


@dataclass(frozen=True)
class PreInfusionStop:
    reason: str            # MANUFACTURING FAILURE, RELAPSE or DEATH (ds.DCREAS)
    day: int               # days relative to the planned CAR-T1 (negative)


def draw_pre_infusion(rng: np.random.Generator, enrollment_day: int) -> PreInfusionStop | None:
    """Whether the patient stops before CAR-T1, and when (between enrollment and day -1)."""
    u = rng.random()
    day = uniform_int(rng, (enrollment_day + 3, -1))
    cumulative = 0.0
    for reason, p in P.PRE_INFUSION.items():
        cumulative += p
        if u < cumulative:
            return PreInfusionStop(reason, day)
    return None


@dataclass(frozen=True)
class Therapy:
    kind: str              # ALLO-HSCT, CHEMOTHERAPY, TKI, OTHER (ct.CTTYPE)
    day: int


@dataclass(frozen=True)
class OffStudyCourse:
    relapse: float
    death: float
    death_cause: str | None
    therapies: tuple[Therapy, ...]


def after_allo(rng: np.random.Generator, cov: Covariates, cr_day: int, allo_day: int, relapse: float,
               death: float, cause: str | None, unmeasured) -> tuple[float, float, str | None]:
    """Relapse and death once an allo-HSCT is given on ``allo_day`` in remission: events already
    before it stay; later ones are redrawn from the allo-HSCT hazards."""
    o = draw_outcome(rng, cov, COHORT_ALLO, entry_days=allo_day - cr_day, unmeasured=unmeasured)
    nrm_cause = choice(rng, P.EXTERNAL_NRM_CAUSES)
    if min(relapse, death) < allo_day:
        return relapse, death, cause
    new_relapse = allo_day + o.lfs_event if o.lfs_event_type == "RELAPSE" else INF
    new_death = allo_day + o.death if math.isfinite(o.death) else INF
    new_cause = None if math.isinf(new_death) else ("RELAPSE" if o.death_cause == "RELAPSE" else
                                                    {"GVHD": "OTHER"}.get(nrm_cause, nrm_cause))
    return (float(math.floor(new_relapse)) if math.isfinite(new_relapse) else INF,
            float(math.floor(new_death)) if math.isfinite(new_death) else INF, new_cause)


def pre_infusion_course(rng: np.random.Generator, cov: Covariates, cr_day: int, stop: PreInfusionStop,
                        unmeasured) -> OffStudyCourse:
    """Outcome of a patient who never received CAR-T1."""
    if stop.reason == "DEATH":
        return OffStudyCourse(INF, float(stop.day), "INFECTION", ())
    if stop.reason == "RELAPSE":
        death = death_after_relapse(rng, float(stop.day))
        therapies = salvage(rng, cov, float(stop.day), death)
        return OffStudyCourse(float(stop.day), float(math.floor(death)) if math.isfinite(death) else INF,
                              "RELAPSE", therapies)
    kind = choice(rng, P.SUBSEQUENT_THERAPY["manufacturing_failure"])
    start = stop.day + uniform_int(rng, (20, 45))
    if kind == "ALLO-HSCT":
        relapse, death, cause = after_allo(rng, cov, cr_day, start, INF, INF, None, unmeasured)
    else:   # chemotherapy: relapse hazard as after allo-HSCT but without the graft effect (doubled)
        o = draw_outcome(rng, cov, COHORT_ALLO, entry_days=start - cr_day, unmeasured=unmeasured)
        relapse = start + o.lfs_event / 2 if o.lfs_event_type == "RELAPSE" else INF
        death = relapse + (o.death - o.lfs_event) if math.isfinite(relapse) else INF
        relapse, death = (float(math.floor(x)) if math.isfinite(x) else INF for x in (relapse, death))
        cause = "RELAPSE" if math.isfinite(death) else None
    therapies = [Therapy(kind, start)]
    if math.isfinite(relapse):
        therapies += salvage(rng, cov, relapse, death)
    return OffStudyCourse(relapse, death, cause if math.isfinite(death) else None, tuple(therapies))


def salvage(rng: np.random.Generator, cov: Covariates, relapse: float, death: float) -> tuple[Therapy, ...]:
    """Therapy after a relapse: salvage, then allo-HSCT for some (only while alive)."""
    s = P.SUBSEQUENT_THERAPY
    options = s["salvage_ph_positive"] if cov.ph_positive else s["salvage"]
    kind = choice(rng, options)
    first = int(relapse) + uniform_int(rng, (7, 21))
    allo = rng.random() < s["allo_after_salvage"]
    allo_day = first + uniform_int(rng, (60, 120))
    out = [Therapy(kind, first)] if first < death else []
    if out and allo and allo_day < death:
        out.append(Therapy("ALLO-HSCT", allo_day))
    return tuple(out)


def switch_to_allo(rng: np.random.Generator, dc_reason: str | None, dc_day: float) -> int | None:
    """Day of an allo-HSCT in remission after the sandwich stopped (intercurrent event), or None."""
    happens = rng.random() < P.SUBSEQUENT_THERAPY["allo_after_stop_in_remission"]
    delay = uniform_int(rng, (30, 90))
    if dc_reason in ("MOBILIZATION FAILURE", "ADVERSE EVENT", "PHYSICIAN DECISION") and happens:
        return int(dc_day) + delay
    return None
