"""Marrow response assessments (rs) and MRD samples (mrd) of one SYNTHETIC trial patient.

A latent leukaemic fraction per assessment day is measured by two assays (flow cytometry, IgH NGS)
whose sensitivity varies by sample (params.MRD_ASSAY, rows T4.1-T4.10): a sample is "undetectable"
when the latent level is below the sensitivity reached, so an undetectable NGS result at 1e-5 is
not evaluable against the 1e-6 threshold. MRD recurrence (rising level) precedes most relapses.
"""

from __future__ import annotations

import math

import numpy as np

from analysis.simulate import params as P
from analysis.simulate.randomness import choice, log_uniform, uniform_int
from analysis.simulate.records import Assessment, MrdSample, TrialPatient

UNDETECTABLE_BELOW = 5e-7   # latent level treated as cleared
ASSAY_LOG10_SD = 0.15       # measurement error of an MRD assay (log10 scale)


def scheduled_visits(rng: np.random.Generator, p: "TrialPatient", day28: int) -> list[tuple[str, int]]:
    """Planned marrow visits (name, day) for the patient's path through the protocol."""
    visits = [("CAR-T1 D28", day28)]
    s = p.schedule
    if p.reached["hsct"]:
        visits.append(("PRE-HSCT", s.conditioning - uniform_int(rng, (3, 8))))
        visits += [(name, s.hsct + nominal + uniform_int(rng, (-w, w))) for name, nominal, w in P.POST_HSCT_VISITS]
    elif p.dc_reason in ("MOBILIZATION FAILURE", "ADVERSE EVENT", "PHYSICIAN DECISION"):
        visits += [(name, nominal + uniform_int(rng, (-w, w))) for name, nominal, w in P.OFF_TREATMENT_VISITS
                   if nominal - w > p.dc_day + 7]
    return visits


def _remission_assessment(rng: np.random.Generator, day: int, visit: str) -> Assessment:
    # Incomplete count recovery (CRi) is common right after lymphodepletion or transplant.
    early = visit in ("CAR-T1 D28", "POST-HSCT M1")
    response = "CRi" if rng.random() < (0.25 if early else 0.05) else "CR"
    return Assessment(day, visit, round(4.5 * float(rng.random()) ** 2, 1), response)


def generate_assessments(rng: np.random.Generator, p: "TrialPatient", day28: int
                         ) -> tuple[list[Assessment], list[MrdSample]]:
    """All marrow assessments and their MRD samples, up to relapse, death or withdrawal."""
    end = p.observation_end
    missed = P.SITE_MISSED_VISIT.get(p.siteid, P.MISSED_VISIT)   # site effect on data quality
    visits = [(v, d) for v, d in scheduled_visits(rng, p, day28) if rng.random() >= missed or v == "CAR-T1 D28"]
    assessments: list[Assessment] = []
    if p.nonresponder:
        if day28 < end:
            assessments.append(Assessment(day28, "CAR-T1 D28", round(float(rng.uniform(5, 40)), 1), "NR"))
    else:
        for visit, day in visits:
            if day < p.relapse_day and day < end:
                assessments.append(_remission_assessment(rng, day, visit))
        if math.isfinite(p.relapse_day) and p.relapse_day <= end:
            assessments.append(relapse_assessment(rng, p))
    levels = latent_levels(rng, p, assessments)
    trackable = bool(rng.random() >= P.MRD_ASSAY["no_trackable_clone"])   # IgH clone for NGS (T4.8)
    samples = [s for a, level in zip(assessments, levels) for s in measure(rng, a.day, level, trackable)]
    return assessments, samples


def relapse_assessment(rng: np.random.Generator, p: "TrialPatient") -> Assessment:
    """The marrow assessment that documents the relapse; an isolated CNS or other extramedullary
    relapse leaves the marrow below 5 % blasts."""
    marrow = p.relapse_site in ("BM", "BM+CNS")
    blasts = float(rng.uniform(5, 85)) if marrow else 4.5 * float(rng.random())
    return Assessment(int(p.relapse_day), "UNSCHEDULED", round(blasts, 1), "RELAPSE", p.relapse_site)


def pre_infusion_assessments(rng: np.random.Generator, p: "TrialPatient") -> tuple[list[Assessment], list[MrdSample]]:
    """A patient never infused has a marrow assessment only if relapsing before CAR-T1."""
    if p.dc_reason != "RELAPSE":
        return [], []
    a = relapse_assessment(rng, p)
    trackable = bool(rng.random() >= P.MRD_ASSAY["no_trackable_clone"])
    return [a], measure(rng, a.day, max(a.bmblast, 0.1) / 100, trackable)


def latent_levels(rng: np.random.Generator, p: "TrialPatient", assessments: list[Assessment]) -> list[float]:
    """Leukaemic fraction in marrow on each assessment day."""
    a = P.MRD_ASSAY
    # The day-28 class is part of the outcome truth (trial.draw_day28_mrd): it drives relapse (T1.34).
    if p.mrd_post == "FC":
        level = log_uniform(rng, 1e-4, 5e-3)
    elif p.mrd_post == "NGS":
        level = log_uniform(rng, 1e-6, 9e-5)
    else:
        level = 0.0
    relapses = math.isfinite(p.relapse_day) and not p.nonresponder
    blip_index = -1
    if not relapses and len(assessments) > 1 and rng.random() < a["transient_blip"]:
        blip_index = int(rng.integers(1, len(assessments)))
    if rng.random() < a["recurrence_before_relapse"]:
        lead = uniform_int(rng, a["recurrence_lead_days"])
    else:
        lead = uniform_int(rng, (3, 10))      # abrupt relapse: no detectable recurrence before
    levels = []
    seen_post_hsct = False
    for k, asm in enumerate(assessments):
        if asm.response in ("NR", "RELAPSE"):
            levels.append(asm.bmblast / 100)
            continue
        if k > 0:
            level *= 10 ** (-float(rng.uniform(0.3, 2.0)))
            if asm.visit.startswith("POST-HSCT") and not seen_post_hsct:
                level /= 10                   # BuCy + auto-HSCT + CAR-T2 deepen the response
            if level < UNDETECTABLE_BELOW:
                level = 0.0
        seen_post_hsct = seen_post_hsct or asm.visit.startswith("POST-HSCT")
        current = level
        if k == blip_index:
            current = max(current, log_uniform(rng, 1.5e-6, 2e-5))
        if relapses:
            onset = p.relapse_day - lead
            if onset <= asm.day < p.relapse_day:
                frac = (asm.day - onset) / (p.relapse_day - onset)
                current = max(current, 1e-6 * (0.1 / 1e-6) ** frac)
        levels.append(current)
    return levels


def measure(rng: np.random.Generator, day: int, level: float, ngs_trackable: bool) -> list[MrdSample]:
    """FC and/or NGS results of one marrow sample with the latent ``level``: a result is
    undetectable when the level is below the sensitivity that sample reached."""
    a = P.MRD_ASSAY
    out = []
    fc_done = rng.random() < a["fc_done"]
    fc_sens = choice(rng, a["fc_sensitivity"])
    ngs_done = ngs_trackable and bool(rng.random() < a["ngs_done"])
    ngs_sens = choice(rng, a["ngs_sensitivity"])
    for method, done, sens in (("FC", fc_done, fc_sens), ("NGS", ngs_done, ngs_sens)):
        # Each assay measures the latent level with its own error (about +-40 %, 1 sd on the
        # log scale; modelling choice), so FC and NGS rarely report the same number.
        # Overt disease (>= 1 %) is measured much more precisely than residual disease.
        sd = ASSAY_LOG10_SD if level < 1e-2 else ASSAY_LOG10_SD / 5
        measured = min(1.0, level * 10 ** float(rng.normal(0.0, sd)))
        if not done:
            continue
        detected = measured >= sens
        out.append(MrdSample(day, method, not detected, _two_significant(measured) if detected else None, sens))
    return out


def _two_significant(x: float) -> float:
    return float(f"{min(x, 1.0):.2g}")
