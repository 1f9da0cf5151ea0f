"""The full (uncut) course of each SYNTHETIC trial patient: the truth that data cuts are taken from.

Day numbers are days after CAR-T1 (the CD22 infusion, day 0); dates are made only at export.
A patient's course: covariates -> protocol schedule -> outcome (planted model, outcomes.py) ->
drop-outs along the sandwich -> disposition -> marrow/MRD assessments -> adverse events.
Parameters and their literature rows: analysis.simulate.params.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from analysis.simulate import params as P
from analysis.simulate import conduct
from analysis.simulate.adverse_events import generate_adverse_events
from analysis.simulate.mrd import generate_assessments, pre_infusion_assessments
from analysis.simulate.outcomes import (
    COHORT_SANDWICH, Covariates, death_after_relapse, draw_covariates, draw_outcome, trial_latent_shift,
)
from analysis.simulate.params import UnmeasuredConfounding
from analysis.simulate.records import Schedule, TrialPatient
from analysis.simulate.randomness import (
    add_days, choice, log_uniform, uniform_int,
)

INF = math.inf


def draw_schedule(rng: np.random.Generator, cd34: float) -> Schedule:
    cd19 = uniform_int(rng, P.CD19_AFTER_CD22)
    mob = uniform_int(rng, P.CART1_TO_MOBILIZATION)
    coll = mob + uniform_int(rng, P.MOBILIZATION_TO_COLLECTION)
    hsct = coll + uniform_int(rng, P.COLLECTION_TO_HSCT)
    cond = hsct - uniform_int(rng, P.CONDITIONING_DAYS_BEFORE_HSCT)
    # Engraftment is faster with a larger graft (T2.13): the CD34+ dose shortens the window.
    fast = min(1.0, max(0.0, (cd34 - 2.0) / 6.0))
    lo, hi = P.NEUTROPHIL_ENGRAFTMENT
    neut = hsct + int(round(hi - fast * (hi - lo))) + uniform_int(rng, (-1, 1))
    lo, hi = P.PLATELET_ENGRAFTMENT
    plt = max(neut + 1, hsct + int(round(hi - fast * (hi - lo))) + uniform_int(rng, (-2, 2)))
    return Schedule(cd19, mob, coll, cond, hsct, hsct + P.HSCT_TO_CART2, neut, plt)


def draw_baseline(rng: np.random.Generator, cov: Covariates, enrollment_day: int, siteid: str = "01") -> dict:
    """Disease history and identifiers. Day numbers relative to CAR-T1."""
    cr_day = enrollment_day - uniform_int(rng, (30, 150))
    if cov.cr2:   # diagnosis, first remission, relapse, re-induction: 1-3 years earlier
        diag_day = cr_day - uniform_int(rng, (365, 1100))
    else:         # induction to first remission takes about a month
        diag_day = cr_day - uniform_int(rng, (25, 45))
    mrd_method = "FC" if rng.random() < 0.7 else "NGS"
    mrd_level = log_uniform(rng, 1e-4, 3e-2) if cov.mrd_positive else None
    birth_offset_days = uniform_int(rng, (0, 364))
    return {
        "diag_day": diag_day, "cr_day": cr_day,
        "wbc": float(min(600.0, max(0.5, P.WBC_MEDIAN * math.exp(P.WBC_SIGMA * rng.standard_normal())))),
        "cns": choice(rng, P.CNS_PROBS),
        "cd19pct": float(round(100 - 15 * rng.beta(1.2, 4.0), 1)),
        "cd22pct": float(round(100 - 40 * rng.beta(1.5, 3.0), 1)),
        "weight": float(round(min(120.0, max(38.0, rng.normal(68 if cov.male else 58, 11))), 1)),
        "mrd_method": mrd_method, "mrd_level": mrd_level,
        "birth_offset_days": birth_offset_days,
        "initials": "ZZ" + "ABCDEFGHJKLMNPRSTW"[int(rng.integers(0, 18))],
        "hosprn": f"FAKE-{int(rng.integers(1000000, 9999999))}",
        # export messiness (params.MISSING_RATE / PARTIAL_DATE_RATE), decided once per patient
        # missing at random given DISSTAT (params.MISSING_IF_CR2), else params.MISSING_RATE
        "missing": {col: bool(rng.random() < (P.MISSING_IF_CR2.get(col, P.MISSING_RATE[col]) if cov.cr2
                                              else P.MISSING_RATE[col]))
                    for col in ("WBCDIAG", "CYTORISK", "CD22PCT", "WEIGHTKG")},
        "partial": {col: bool(rng.random() < P.PARTIAL_DATE_RATE[col]) for col in ("DIAGDTC", "BRTHDTC")},
        "contact_lag": uniform_int(rng, P.LAST_CONTACT_LAG),
    }


def _nrm_cause(rng: np.random.Generator, day: float) -> str:
    if day <= P.CRS_DEATH_WINDOW_DAYS:   # death within two weeks of CAR-T1: attributed to CRS
        return "CRS"
    return choice(rng, P.TRIAL_NRM_CAUSES)


@dataclass(frozen=True)
class Course:
    """Outcome of one patient in days after CAR-T1 (INF = never)."""
    nonresponder: bool
    day28: int
    mrd_post: str
    relapse_site: str | None
    relapse: float
    death: float
    death_cause: str | None


@dataclass(frozen=True)
class Disposition:
    mobilization_failed: bool
    apheresis_done: bool
    eot: str               # COMPLETED or DISCONTINUED (full truth)
    dc_reason: str | None
    dc_day: float


def draw_day28_mrd(rng: np.random.Generator, cov: Covariates) -> str:
    """Latent MRD class at day 28 after CAR-T1 (params.DAY28_MRD): FC, NGS or NEG."""
    m = P.DAY28_MRD
    scale = 1.0 if cov.mrd_positive else m["negative_pre_scale"]
    u = rng.random()
    if u < m["FC"] * scale:
        return "FC"
    return "NGS" if u < (m["FC"] + m["NGS"]) * scale else "NEG"


def draw_relapse_site(rng: np.random.Generator, cns: str) -> str:
    return choice(rng, P.RELAPSE_SITE["CNS1" if cns == "CNS1" else "CNS2/3"])


def draw_course(rng: np.random.Generator, cov: Covariates, cr_day: int, sched: Schedule, cns: str,
                unmeasured: UnmeasuredConfounding = P.UNMEASURED, nrm_hr: float = 1.0) -> Course:
    """Day-28 MRD, response, relapse and death: the planted cause-specific hazards (outcomes.py)
    with entry at CAR-T1 on the time scale from the pre-treatment remission; MRD positivity after
    CAR-T1 multiplies the relapse hazard (T1.34); plus rare non-response."""
    mrd_post = draw_day28_mrd(rng, cov)
    outcome = draw_outcome(rng, cov, COHORT_SANDWICH, entry_days=-cr_day, mrd_post_positive=mrd_post != "NEG",
                           unmeasured=unmeasured, nrm_hr=nrm_hr)
    site = draw_relapse_site(rng, cns)
    nonresponder = bool(rng.random() < P.OUTCOME_MODEL.nonresponse)
    day28 = uniform_int(rng, P.RESPONSE_DAY28)
    post_nr_death = death_after_relapse(rng, day28)
    if nonresponder:
        relapse, death, cause = float(day28), post_nr_death, "RELAPSE"
    else:
        lfs = outcome.lfs_event
        # An LFS event during conditioning/transplant is moved to the day after CAR-T2: the
        # protocol gives no way to stop between conditioning and HSCT (modelling choice).
        if sched.conditioning <= lfs < sched.cart2 + 1:
            shift = sched.cart2 + 1 - lfs
            outcome = replace(outcome, lfs_event=lfs + shift, death=outcome.death + shift)
        relapse = outcome.lfs_event if outcome.lfs_event_type == "RELAPSE" else INF
        death = outcome.death
        cause = None
        if math.isfinite(death):
            cause = "RELAPSE" if outcome.lfs_event_type == "RELAPSE" else _nrm_cause(rng, death)
        else:
            rng.random()   # keep the stream aligned with the branch above
    death = float(math.floor(death)) if math.isfinite(death) else INF
    relapse = float(math.floor(relapse)) if math.isfinite(relapse) else INF
    if math.isfinite(death) and relapse > death:
        relapse = INF
    return Course(nonresponder, day28, mrd_post, site if math.isfinite(relapse) else None, relapse, death, cause)


def draw_disposition(rng: np.random.Generator, sched: Schedule, cd34: float, course: Course) -> Disposition:
    """Whether and why the sandwich stops: each possible stop has a candidate day (relapse,
    death, failed mobilisation, withdrawal, adverse event, physician decision); the earliest
    one before CAR-T2 wins."""
    # The outcome is judged on the yield as reported (two decimals), so a failure never shows 2.00.
    mob_failed = round(cd34, 2) < P.CD34_FAILURE_BELOW
    apheresis = (not mob_failed) or bool(rng.random() >= P.FAILED_MOBILIZATION_WITHOUT_APHERESIS)
    candidates: list[tuple[float, str]] = []
    if math.isfinite(course.relapse):
        candidates.append((course.relapse, "RELAPSE"))
    if math.isfinite(course.death):
        candidates.append((course.death, "DEATH"))
    if mob_failed:
        candidates.append((float(sched.collection if apheresis else sched.mobilization + 5),
                           "MOBILIZATION FAILURE"))
    for reason in ("WITHDRAWAL", "ADVERSE EVENT", "PHYSICIAN DECISION"):
        happens = rng.random() < P.DROPOUT[reason]
        day = float(uniform_int(rng, (21, sched.conditioning - 3)))
        if happens:
            candidates.append((day, reason))
    stops = sorted((d, r) for d, r in candidates if d < sched.cart2)
    if stops:
        return Disposition(mob_failed, apheresis, "DISCONTINUED", stops[0][1], stops[0][0])
    return Disposition(mob_failed, apheresis, "COMPLETED", None, INF)


def simulate_patient(rng: np.random.Generator, subjid: str, siteid: str, enrollment: date,
                     unmeasured: UnmeasuredConfounding = P.UNMEASURED, always_infused: bool = False) -> TrialPatient:
    """One patient's complete course (the truth, before any data cut). ``always_infused``: a
    target of params.CORRECTIONS (its infusion record must exist in every cut)."""
    cov = draw_covariates(rng, P.TRIAL_COVARIATES, trial_latent_shift(unmeasured))
    enroll_to_cart1 = uniform_int(rng, P.ENROLL_TO_CART1)
    cart1 = add_days(enrollment, enroll_to_cart1)
    baseline = draw_baseline(rng, cov, -enroll_to_cart1, siteid)
    cd34 = float(P.CD34_MEDIAN * math.exp(P.CD34_SIGMA * rng.standard_normal()))
    sched = draw_schedule(rng, cd34)
    course = draw_course(rng, cov, baseline["cr_day"], sched, baseline["cns"], unmeasured,
                         nrm_hr=P.SITE_NRM_HR.get(siteid, 1.0))
    disp = draw_disposition(rng, sched, cd34, course)
    pre_stop = conduct.draw_pre_infusion(rng, -enroll_to_cart1)
    # After withdrawal of consent nothing more is observed (observation_end); relapse and death
    # stay in the truth for sanity checks, the export hides them.
    withdrawal = disp.dc_day if disp.dc_reason == "WITHDRAWAL" else INF
    completed = disp.eot == "COMPLETED"
    # Every product is dosed (5e6 CAR+ cells/kg target); CAR-T2 doses exist in the truth even if
    # never given, so the number of draws does not depend on the path.
    doses = {(phase, product): float(P.CART_DOSE_PER_KG * math.exp(P.CART_DOSE_CV * rng.standard_normal()))
             for phase in ("CAR-T1", "CAR-T2") for product in ("CD22", "CD19")}

    patient = TrialPatient(
        subjid=subjid, siteid=siteid, enrollment=enrollment, cart1=cart1, cov=cov, baseline=baseline,
        schedule=sched, cd34=cd34, doses=doses, nonresponder=course.nonresponder, mrd_post=course.mrd_post,
        relapse_site=course.relapse_site, relapse_day=course.relapse,
        death_day=course.death, death_cause=course.death_cause, withdrawal_day=withdrawal,
        reached={"hsct": completed, "cart2": completed}, mobilization_failed=disp.mobilization_failed,
        apheresis_done=disp.apheresis_done, eot=disp.eot, dc_reason=disp.dc_reason, dc_day=disp.dc_day,
    )
    if pre_stop is not None and not always_infused:
        _never_infused(rng, patient, pre_stop, unmeasured)
        patient.assessments, patient.mrd = pre_infusion_assessments(rng, patient)
    else:
        _subsequent_therapy(rng, patient, unmeasured)
        patient.assessments, patient.mrd = generate_assessments(rng, patient, course.day28)
    patient.adverse_events = generate_adverse_events(rng, patient)
    return patient


def _never_infused(rng: np.random.Generator, p: TrialPatient, stop: conduct.PreInfusionStop, unmeasured) -> None:
    """Enrolled, never infused: the sandwich course is replaced by the off-study course."""
    off = conduct.pre_infusion_course(rng, p.cov, p.baseline["cr_day"], stop, unmeasured)
    p.infused, p.nonresponder, p.mrd_post = False, False, "NEG"
    p.reached = {"hsct": False, "cart2": False}
    p.mobilization_failed, p.apheresis_done = False, False
    p.eot, p.dc_reason, p.dc_day, p.withdrawal_day = "DISCONTINUED", stop.reason, float(stop.day), INF
    p.relapse_day, p.death_day, p.death_cause = off.relapse, off.death, off.death_cause
    p.relapse_site = draw_relapse_site(rng, p.baseline["cns"]) if math.isfinite(off.relapse) else None
    p.therapies = off.therapies


def _subsequent_therapy(rng: np.random.Generator, p: TrialPatient, unmeasured) -> None:
    """Salvage after relapse; allo-HSCT in remission after the sandwich stopped (intercurrent)."""
    allo_day = conduct.switch_to_allo(rng, p.dc_reason, p.dc_day)
    therapies: list = []
    if allo_day is not None and min(p.relapse_day, p.death_day, p.withdrawal_day) > allo_day:
        therapies.append(conduct.Therapy("ALLO-HSCT", allo_day))
        cause = p.death_cause
        p.relapse_day, p.death_day, p.death_cause = conduct.after_allo(
            rng, p.cov, p.baseline["cr_day"], allo_day, p.relapse_day, INF, cause, unmeasured)
        if p.relapse_site is None and math.isfinite(p.relapse_day):
            p.relapse_site = draw_relapse_site(rng, p.baseline["cns"])
    if math.isfinite(p.relapse_day):
        therapies += conduct.salvage(rng, p.cov, p.relapse_day, p.death_day)
    p.therapies = tuple(t for t in therapies if t.day <= p.withdrawal_day)


def site_list(n: int) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Sites and their enrollment shares for a study of ``n`` patients: the three shipped sites
    (params.SITE_PROBS) up to params.SITE_CAPACITY patients each, then one more site per
    SITE_CAPACITY patients, all sharing equally (the study grows by sites)."""
    n_sites = max(len(P.SITES), math.ceil(n / P.SITE_CAPACITY))
    if n_sites == len(P.SITES):
        return P.SITES, P.SITE_PROBS
    if n_sites > P.MAX_SITES:
        raise ValueError(f"a study of {n} patients needs {n_sites} sites; at most {P.MAX_SITES} "
                         f"(two-digit SITEID) are possible")
    return tuple(f"{k:02d}" for k in range(1, n_sites + 1)), tuple([1.0 / n_sites] * n_sites)


def enrollment_plan(rng: np.random.Generator, n: int, start: date, end: date) -> list[tuple[str, str, date]]:
    """(SUBJID, SITEID, enrollment date) in enrollment order. The first patients open the sites
    (site activation), so 01-001, 02-001 and 03-001 are always early (CORRECTIONS). A site that
    would pass SITE_MAX_SUBJECTS is an error (never 01-1000)."""
    span = (end - start).days
    offsets = sorted(int(x) for x in rng.integers(0, span + 1, size=n))
    sites, probs = site_list(n)
    opened = list(sites[:n])
    drawn = [sites[int(k)] for k in rng.choice(len(sites), size=max(0, n - len(opened)), p=probs)]
    counters = dict.fromkeys(sites, 0)
    plan = []
    for off, site in zip(offsets, opened + drawn):
        counters[site] += 1
        if counters[site] > P.SITE_MAX_SUBJECTS:
            raise ValueError(f"site {site} would enroll more than {P.SITE_MAX_SUBJECTS} patients")
        plan.append((f"{site}-{counters[site]:03d}", site, add_days(start, off)))
    return plan


def simulate_trial(seed_sequence: np.random.SeedSequence, n: int = P.N_TRIAL,
                   start: date = P.ENROLLMENT_START, end: date = P.ENROLLMENT_END,
                   unmeasured: UnmeasuredConfounding = P.UNMEASURED) -> list[TrialPatient]:
    """The complete courses of ``n`` patients; one independent random stream per patient."""
    plan_seq, patients_seq = seed_sequence.spawn(2)
    plan = enrollment_plan(np.random.default_rng(plan_seq), n, start, end)
    streams = patients_seq.spawn(n)
    targets = {dict(c.key)["SUBJID"] for c in P.CORRECTIONS}
    patients = [simulate_patient(np.random.default_rng(s), subjid, site, enr, unmeasured, subjid in targets)
                for s, (subjid, site, enr) in zip(streams, plan)]
    _keep_correction_targets(patients)
    return patients


def _keep_correction_targets(patients: list[TrialPatient]) -> None:
    """A value that a later cut corrects must have been entered: never blank it as messiness."""
    by_id = {p.subjid: p for p in patients}
    for c in P.CORRECTIONS:
        p = by_id.get(dict(c.key)["SUBJID"])
        if p is not None and c.column in p.baseline["missing"]:
            p.baseline["missing"][c.column] = False
