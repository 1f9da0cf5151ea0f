"""Baseline covariates and the common outcome model of both cohorts (the planted truth).

One leukaemia-free-survival hazard on the time scale "days since the documented remission" with
delayed entry at treatment start:

    h(s | x, cohort) = h0(s) * exp(beta' x + gamma * 1[cohort == SANDWICH])

h0 piecewise constant by year since remission (params.OUTCOME_MODEL). An LFS event is a death in
remission with the cohort's NRM share, otherwise a relapse; death after relapse is exponential
(median params.OUTCOME_MODEL.post_relapse_median_months). Because both cohorts share beta and h0,
the conditional sandwich-vs-allo hazard ratio is exactly exp(gamma) (params.PLANTED_TRUTH).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis.simulate.params import OUTCOME_MODEL, CovariateModel, OutcomeModel
from analysis.simulate.randomness import DAYS_PER_YEAR, piecewise_exponential_time, truncated_normal

COHORT_SANDWICH = "SANDWICH"
COHORT_ALLO = "ALLO_EXT"


@dataclass(frozen=True)
class Covariates:
    age: int
    male: bool
    ph_positive: bool
    high_risk: bool
    cr2: bool
    mrd_positive: bool


@dataclass(frozen=True)
class Outcome:
    """Times in days after treatment start (CAR-T1 or allo-HSCT); math.inf = no event."""
    lfs_event: float
    lfs_event_type: str | None      # "RELAPSE" or "DEATH" (death in remission) or None
    death: float
    death_cause: str | None         # "RELAPSE" for deaths after relapse, else "NRM" (cause drawn later)


def draw_covariates(rng: np.random.Generator, model: CovariateModel) -> Covariates:
    age = int(round(truncated_normal(rng, model.age_mean, model.age_sd, *model.age_range)))
    ph = bool(rng.random() < model.ph_positive)
    # Ph+ (BCR-ABL1) is a high-risk lesion by definition; Ph-negative patients carry other
    # high-risk lesions with the stated probability.
    high = ph or bool(rng.random() < model.high_risk_if_ph_negative)
    return Covariates(age=age, male=bool(rng.random() < model.male), ph_positive=ph, high_risk=high,
                      cr2=bool(rng.random() < model.cr2), mrd_positive=bool(rng.random() < model.mrd_positive))


def linear_predictor(cov: Covariates, cohort: str, model: OutcomeModel = OUTCOME_MODEL) -> float:
    """beta' x + gamma * 1[sandwich] of the planted LFS hazard."""
    b = model.log_hr
    lp = (b["age_per_10y"] * (cov.age - model.age_reference) / 10
          + b["mrd_positive"] * cov.mrd_positive + b["cr2"] * cov.cr2
          + b["ph_positive"] * cov.ph_positive + b["high_risk"] * cov.high_risk)
    if cohort == COHORT_SANDWICH:
        lp += model.log_hr_sandwich
    return lp


def draw_outcome(rng: np.random.Generator, cov: Covariates, cohort: str, entry_days: int,
                 model: OutcomeModel = OUTCOME_MODEL) -> Outcome:
    """Draw LFS event, its type and death, given event-free survival to ``entry_days`` after
    the remission (delayed entry)."""
    scale = math.exp(linear_predictor(cov, cohort, model))
    per_day = model.baseline_per_year / DAYS_PER_YEAR
    rates = tuple(per_day * rel * scale for rel in model.relative_baseline)
    breaks = tuple(DAYS_PER_YEAR * k for k in range(1, len(model.relative_baseline)))
    since_remission = piecewise_exponential_time(rng, float(entry_days), rates, breaks)
    # Draw the event type and post-relapse survival even without an event, so that the number
    # of draws (and hence every later draw) does not depend on the outcome.
    is_nrm = bool(rng.random() < model.nrm_share[cohort])
    post_relapse = _survival_after_relapse(rng, model)
    if math.isinf(since_remission):
        return Outcome(math.inf, None, math.inf, None)
    lfs = since_remission - entry_days
    if is_nrm:
        return Outcome(lfs, "DEATH", lfs, "NRM")
    return Outcome(lfs, "RELAPSE", lfs + post_relapse, "RELAPSE")


def _survival_after_relapse(rng: np.random.Generator, model: OutcomeModel) -> float:
    """Days from relapse to death: a salvaged (long-term surviving) fraction, otherwise
    exponential with the stated median (T1.35). Always two draws, to keep streams aligned."""
    salvaged = bool(rng.random() < model.post_relapse_salvaged)
    days = float(rng.exponential(model.post_relapse_median_months * DAYS_PER_YEAR / 12 / math.log(2)))
    return math.inf if salvaged else days


def death_after_relapse(rng: np.random.Generator, relapse_day: float,
                        model: OutcomeModel = OUTCOME_MODEL) -> float:
    """Death day for a relapse at ``relapse_day`` (same law as within draw_outcome)."""
    return relapse_day + _survival_after_relapse(rng, model)
