"""Baseline covariates and the outcome model of both cohorts (the planted truth).

Two cause-specific hazards after treatment start (CAR-T1 or allo-HSCT), params.OUTCOME_MODEL:

- relapse, on the time scale "days since the documented remission" s, with delayed entry at
  treatment start: h_R(s) = h0_R(s) exp(beta'x + beta_U U + gamma 1[sandwich]
  + delta 1[sandwich and MRD-positive after CAR-T1]); h0_R piecewise constant by year since the
  remission, shared by both cohorts. delta = log 4.87 (literature T1.34: NGS-MRD > 0 at day 28
  after CD19 CAR-T, relapse HR 4.87, 2.18-10.8).
- non-relapse mortality (NRM), on the time scale "days since treatment start" t: piecewise
  constant and cohort-specific (allo-HSCT: concentrated in the first 100 days, then a plateau,
  T3.2/T3.4/T3.11; sandwich: low, T2.15 not found, below allo TRM 8 % of T3.11), times
  exp(beta_age (age - 40)/10 + beta_U U).

U is the latent (unmeasured) risk factor, standard normal in the registry and shifted in the
trial when unmeasured confounding is switched on (params.UNMEASURED). The LFS event is the
earlier of the two; death after relapse is drawn from params.OUTCOME_MODEL (T1.35). The planted
values are collected in params.PLANTED_TRUTH.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis.simulate.params import (
    OUTCOME_MODEL, UNMEASURED, CovariateModel, OutcomeModel, UnmeasuredConfounding,
)
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
    latent: float = 0.0     # U: unmeasured risk factor (never exported)


@dataclass(frozen=True)
class Outcome:
    """Times in days after treatment start (CAR-T1 or allo-HSCT); math.inf = no event."""
    lfs_event: float
    lfs_event_type: str | None      # "RELAPSE" or "DEATH" (death in remission) or None
    death: float
    death_cause: str | None         # "RELAPSE" for deaths after relapse, else "NRM" (cause drawn later)


def draw_covariates(rng: np.random.Generator, model: CovariateModel, latent_shift: float = 0.0) -> Covariates:
    age = int(round(truncated_normal(rng, model.age_mean, model.age_sd, *model.age_range)))
    ph = bool(rng.random() < model.ph_positive)
    # Ph+ (BCR-ABL1) is a high-risk lesion by definition; Ph-negative patients carry other
    # high-risk lesions with the stated probability.
    high = ph or bool(rng.random() < model.high_risk_if_ph_negative)
    male = bool(rng.random() < model.male)
    cr2 = bool(rng.random() < model.cr2)
    mrd = bool(rng.random() < model.mrd_positive)
    latent = float(rng.standard_normal()) + latent_shift
    return Covariates(age=age, male=male, ph_positive=ph, high_risk=high, cr2=cr2, mrd_positive=mrd, latent=latent)


def trial_latent_shift(unmeasured: UnmeasuredConfounding = UNMEASURED) -> float:
    """Mean of U among trial entrants (0 in the registry): the selection into the trial."""
    return unmeasured.trial_shift_sd if unmeasured.enabled else 0.0


def relapse_linear_predictor(cov: Covariates, cohort: str, mrd_post_positive: bool = False,
                             model: OutcomeModel = OUTCOME_MODEL,
                             unmeasured: UnmeasuredConfounding = UNMEASURED) -> float:
    """beta'x + beta_U U + gamma 1[sandwich] + delta 1[MRD+ after CAR-T1] of the relapse hazard."""
    b = model.relapse_log_hr
    lp = (b["age_per_10y"] * (cov.age - model.age_reference) / 10
          + b["mrd_positive"] * cov.mrd_positive + b["cr2"] * cov.cr2
          + b["ph_positive"] * cov.ph_positive + b["high_risk"] * cov.high_risk)
    if unmeasured.enabled:
        lp += unmeasured.log_hr_per_sd * cov.latent
    if cohort == COHORT_SANDWICH:
        lp += model.log_hr_sandwich + (model.log_hr_mrd_post if mrd_post_positive else 0.0)
    return lp


def nrm_linear_predictor(cov: Covariates, model: OutcomeModel = OUTCOME_MODEL,
                         unmeasured: UnmeasuredConfounding = UNMEASURED) -> float:
    lp = model.nrm_log_hr_age_per_10y * (cov.age - model.age_reference) / 10
    if unmeasured.enabled:
        lp += unmeasured.log_hr_per_sd * cov.latent
    return lp


def draw_outcome(rng: np.random.Generator, cov: Covariates, cohort: str, entry_days: int,
                 mrd_post_positive: bool = False, model: OutcomeModel = OUTCOME_MODEL,
                 unmeasured: UnmeasuredConfounding = UNMEASURED, nrm_hr: float = 1.0) -> Outcome:
    """Relapse (delayed entry at ``entry_days`` after the remission), NRM (times ``nrm_hr``, the
    site effect) and death after relapse. Always the same number of draws."""
    scale = math.exp(relapse_linear_predictor(cov, cohort, mrd_post_positive, model, unmeasured))
    per_day = model.relapse_per_year / DAYS_PER_YEAR
    rates = tuple(per_day * rel * scale for rel in model.relapse_relative)
    breaks = tuple(DAYS_PER_YEAR * k for k in range(1, len(model.relapse_relative)))
    since_remission = piecewise_exponential_time(rng, float(entry_days), rates, breaks)
    relapse = since_remission - entry_days
    nrm_breaks, nrm_rates = model.nrm[cohort]
    nrm_scale = nrm_hr * math.exp(nrm_linear_predictor(cov, model, unmeasured))
    nrm = piecewise_exponential_time(rng, 0.0, tuple(r * nrm_scale for r in nrm_rates), nrm_breaks)
    post_relapse = _survival_after_relapse(rng, model)
    if math.isinf(relapse) and math.isinf(nrm):
        return Outcome(math.inf, None, math.inf, None)
    if nrm < relapse:
        return Outcome(nrm, "DEATH", nrm, "NRM")
    return Outcome(relapse, "RELAPSE", relapse + post_relapse, "RELAPSE")


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
