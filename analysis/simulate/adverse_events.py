"""Adverse events (CTCAE 5.0) of one SYNTHETIC trial patient, with messy verbatim terms.

Events by period: before CAR-T1 (not treatment-emergent), after CAR-T1 (CRS, ICANS, cytopenias,
B-cell aplasia), after BuCy/auto-HSCT (cytopenias, febrile neutropenia, mucositis, GI toxicity,
infections), after CAR-T2 (milder CRS), late infections, the event behind a discontinuation for
an adverse event, and the grade-5 event of a non-relapse death. Rates: params (T1.2-T1.28).
Day numbers are days after CAR-T1; ``end=None`` means not resolved (ongoing).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from analysis.raw_spec import CTCAE_TERMS
from analysis.simulate import params as P
from analysis.simulate.randomness import choice, lognormal_days, uniform_int
from analysis.simulate.records import AdverseEvent, TrialPatient

CRS = "Cytokine release syndrome"
ICANS = "Immune effector cell-associated neurotoxicity syndrome"
AE_COLLECTION_AFTER_RELAPSE = 30   # days: AE collection stops a month after relapse (salvage therapy)


class _Collector:
    """Accumulates events and checks each against the CTCAE grades allowed for its term."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.events: list[AdverseEvent] = []

    def add(self, term: str, grade: int, start: int, duration: int | None, phase: str, related: bool,
            serious: bool | None = None) -> AdverseEvent:
        """``grade`` is the CTCAE 5.0 grade, for CRS and ICANS the ASTCT 2019 grade, whose CTCAE
        grade is one higher in params.CTCAE_ABOVE_ASTCT of grade 1-3 events (CTCAE also grades
        the worst organ toxicity); their treatment is drawn from params.CRS_ICANS_TREATMENT."""
        astct = toci = ster = None
        if term in (CRS, ICANS):
            astct = grade
            if 1 <= grade <= 3 and self.rng.random() < P.CTCAE_ABOVE_ASTCT:
                grade += 1
            p_toci, p_ster = P.CRS_ICANS_TREATMENT["CRS" if term == CRS else "ICANS"][min(astct, 4)]
            toci, ster = bool(self.rng.random() < p_toci), bool(self.rng.random() < p_ster)
        allowed = CTCAE_TERMS[term][1]
        if grade not in allowed:
            raise ValueError(f"simulator bug: {term} grade {grade} not in CTCAE grades {allowed}")
        if serious is None:   # grade >= 3 usually means hospitalisation; a few grade 2 too
            serious = grade >= 4 or (grade == 3 and self.rng.random() < 0.7) or (grade == 2 and self.rng.random() < 0.05)
        ae = AdverseEvent(term, grade, int(start), None if duration is None else int(start + max(0, duration)),
                          bool(serious), related, phase, astct=astct, tocilizumab=toci, steroids=ster)
        self.events.append(ae)
        return ae

    def maybe(self, prob: float) -> bool:
        return bool(self.rng.random() < prob)


def _after_cart1(c: _Collector, p: "TrialPatient") -> None:
    rng = c.rng
    crs_onset = None
    if c.maybe(P.CRS1_ANY):
        grade = choice(rng, P.CRS1_GRADES)
        severity = "high" if grade >= 3 else "low"
        crs_onset = lognormal_days(rng, P.CRS_ONSET_MEDIAN[severity], 0.45, 1, 10)
        duration = lognormal_days(rng, P.CRS_DURATION_MEDIAN[severity], 0.4, 1, 14)
        c.add(CRS, grade, crs_onset, duration, "CAR-T1", True, serious=grade >= 3 or (grade == 2 and c.maybe(0.3)))
        if grade >= 2 and c.maybe(0.4):
            c.add("Hypotension", 2 if grade == 2 else 3, crs_onset + uniform_int(rng, (0, 1)),
                  uniform_int(rng, (1, 3)), "CAR-T1", True)
        if grade >= 3 and c.maybe(0.6):
            c.add("Hypoxia", 3, crs_onset + 1, uniform_int(rng, (2, 5)), "CAR-T1", True)
    elif c.maybe(0.10):
        c.add("Fever", 1, uniform_int(rng, (1, 10)), uniform_int(rng, (1, 3)), "CAR-T1", False)
    if c.maybe(P.ICANS1_ANY):
        grade = choice(rng, P.ICANS1_GRADES)
        onset = lognormal_days(rng, P.ICANS_ONSET_MEDIAN, 0.25, 4, 14)
        if crs_onset is not None:
            onset = max(onset, crs_onset + 1)   # ICANS follows CRS (T1.24: day 7 vs day 5)
        c.add(ICANS, grade, onset, uniform_int(rng, (2, 7)), "CAR-T1", True)
    cytopenias = (("White blood cell decreased", 0.85, {2: 0.3, 3: 0.35, 4: 0.35}, (0, 3), (7, 28)),
                  ("Neutrophil count decreased", 0.75, {2: 0.2, 3: 0.35, 4: 0.45}, (1, 5), (5, 30)),
                  ("Platelet count decreased", 0.50, {1: 0.3, 2: 0.2, 3: 0.3, 4: 0.2}, (3, 10), (7, 30)),
                  ("Anemia", 0.55, {1: 0.2, 2: 0.3, 3: 0.45, 4: 0.05}, (3, 10), (10, 40)))
    for term, prob, grades, onset, duration in cytopenias:
        if c.maybe(prob):
            c.add(term, choice(rng, grades), uniform_int(rng, onset), uniform_int(rng, duration), "CAR-T1",
                  True, serious=False)
    for term, prob, grades, onset, duration in (
            ("Alanine aminotransferase increased", 0.15, {1: 0.6, 2: 0.3, 3: 0.1}, (5, 14), (5, 15)),
            ("Fatigue", 0.20, {1: 0.7, 2: 0.3}, (2, 10), (3, 20)),
            ("Headache", 0.10, {1: 0.8, 2: 0.2}, (2, 8), (1, 4)),
            ("Nausea", 0.15, {1: 0.8, 2: 0.2}, (1, 6), (1, 5))):
        if c.maybe(prob):
            c.add(term, choice(rng, grades), uniform_int(rng, onset), uniform_int(rng, duration), "CAR-T1",
                  term != "Nausea", serious=False)
    if c.maybe(0.30):   # B-cell aplasia: often still present at the data cut
        ongoing = c.maybe(0.6)
        c.add("Hypogammaglobulinemia", choice(rng, {1: 0.3, 2: 0.6, 3: 0.1}), uniform_int(rng, (30, 90)),
              None if ongoing else uniform_int(rng, (60, 240)), "CAR-T1", True, serious=False)


def _after_hsct(c: _Collector, p: "TrialPatient") -> None:
    rng, s = c.rng, p.schedule
    if c.maybe(0.60):
        c.add("Nausea", choice(rng, {1: 0.5, 2: 0.5}), s.conditioning + uniform_int(rng, (0, 2)),
              uniform_int(rng, (3, 10)), "HSCT", False, serious=False)
    if c.maybe(0.35):
        c.add("Vomiting", choice(rng, {1: 0.6, 2: 0.4}), s.conditioning + uniform_int(rng, (1, 3)),
              uniform_int(rng, (2, 6)), "HSCT", False, serious=False)
    if c.maybe(0.97):   # profound neutropenia until engraftment
        start = s.hsct + uniform_int(rng, (-1, 1))
        c.add("Neutrophil count decreased", 4, start, s.neutrophil - 1 - start, "HSCT", False, serious=False)
    if c.maybe(0.92):
        start = s.hsct + uniform_int(rng, (0, 3))
        c.add("Platelet count decreased", choice(rng, {3: 0.25, 4: 0.75}), start, s.platelet - start, "HSCT",
              False, serious=False)
    if c.maybe(0.60):
        c.add("Anemia", 3, s.hsct + uniform_int(rng, (2, 6)), uniform_int(rng, (10, 25)), "HSCT", False, serious=False)
    if c.maybe(0.55):
        start = s.hsct + uniform_int(rng, (3, min(8, s.neutrophil - s.hsct - 1)))
        c.add("Febrile neutropenia", choice(rng, {3: 0.9, 4: 0.1}), start, uniform_int(rng, (2, 6)), "HSCT",
              False, serious=True)
    if c.maybe(0.60):
        c.add("Mucositis oral", choice(rng, {1: 0.25, 2: 0.45, 3: 0.30}), s.hsct + uniform_int(rng, (2, 6)),
              uniform_int(rng, (5, 12)), "HSCT", False)
    if c.maybe(0.35):
        c.add("Diarrhea", choice(rng, {1: 0.5, 2: 0.35, 3: 0.15}), s.hsct + uniform_int(rng, (1, 8)),
              uniform_int(rng, (2, 8)), "HSCT", False)
    if c.maybe(0.20):
        c.add("Alanine aminotransferase increased", choice(rng, {1: 0.6, 2: 0.3, 3: 0.1}),
              s.hsct + uniform_int(rng, (3, 15)), uniform_int(rng, (5, 20)), "HSCT", False, serious=False)
    for term, prob, grades, onset in (("Lung infection", 0.10, {2: 0.5, 3: 0.5}, (5, 30)),
                                      ("Sepsis", 0.05, {3: 0.7, 4: 0.3}, (4, 14)),
                                      ("Cytomegalovirus infection reactivation", 0.05, {1: 0.4, 2: 0.6}, (20, 60)),
                                      ("Hepatic failure", 0.02, {3: 1.0}, (5, 20))):
        if c.maybe(prob):
            c.add(term, choice(rng, grades), s.hsct + uniform_int(rng, onset), uniform_int(rng, (7, 25)), "HSCT",
                  False, serious=True)


def _after_cart2(c: _Collector, p: "TrialPatient") -> None:
    rng, day = c.rng, p.schedule.cart2
    if c.maybe(P.CRS2_ANY):
        c.add(CRS, choice(rng, P.CRS2_GRADES), day + uniform_int(rng, (1, 5)), uniform_int(rng, (2, 5)), "CAR-T2",
              True, serious=False)
    if c.maybe(P.ICANS2_ANY):
        c.add(ICANS, choice(rng, P.ICANS2_GRADES), day + uniform_int(rng, (4, 9)), uniform_int(rng, (1, 4)),
              "CAR-T2", True, serious=False)


def _before_cart1(c: _Collector, p: "TrialPatient") -> None:
    """Lymphodepletion / screening period: recorded but not treatment-emergent."""
    rng = c.rng
    if p.enrollment_day < -1 and c.maybe(0.30):
        term = choice(rng, {"Nausea": 0.4, "Fatigue": 0.3, "Headache": 0.2, "Vomiting": 0.1})
        start = uniform_int(rng, (p.enrollment_day + 1, -1))
        c.add(term, choice(rng, {1: 0.8, 2: 0.2}), start, uniform_int(rng, (1, 5)), "PRE", False, serious=False)


def _late(c: _Collector, p: "TrialPatient") -> None:
    rng = c.rng
    base = p.schedule.hsct if p.reached["hsct"] else 0
    if c.maybe(0.15):
        c.add("Lung infection", choice(rng, {2: 0.6, 3: 0.4}), base + uniform_int(rng, (60, 365)),
              uniform_int(rng, (7, 21)), "LATE", False)
    if c.maybe(0.06):
        c.add("Cytomegalovirus infection reactivation", choice(rng, {1: 0.4, 2: 0.6}),
              base + uniform_int(rng, (60, 200)), uniform_int(rng, (10, 30)), "LATE", False, serious=False)


def _discontinuation(c: _Collector, p: "TrialPatient") -> None:
    """The event that led the investigator to stop the sandwich."""
    if p.dc_reason != "ADVERSE EVENT":
        return
    rng = c.rng
    term, grade, related = choice(rng, {("Immune effector cell-associated neurotoxicity syndrome", 3, True): 0.3,
                                        ("Platelet count decreased", 4, True): 0.4,
                                        ("Lung infection", 3, False): 0.3})
    start = max(1, int(p.dc_day) - uniform_int(rng, (2, 10)))
    ae = c.add(term, grade, start, uniform_int(rng, (10, 40)), "DISCONTINUATION", related, serious=True)
    c.events[-1] = replace(ae, action="TREATMENT DISCONTINUED")


def _fatal(c: _Collector, p: "TrialPatient") -> None:
    """Grade-5 event of every non-relapse death: ends on the death date (CRS or ICANS replace the
    CAR-T1 event of that term; otherwise sepsis/lung infection, hepatic failure or Death NOS)."""
    if not p.death_observed or p.death_cause in (None, "RELAPSE"):
        return
    rng, death = c.rng, int(p.death_day)
    if p.death_cause in ("CRS", "ICANS"):
        term = CRS if p.death_cause == "CRS" else ICANS
        c.events = [e for e in c.events if not (e.term == term and e.phase == "CAR-T1")]
        start = max(0, death - uniform_int(rng, (1, 5)))
        c.add(term, 5, start, death - start, "CAR-T1", True, serious=True)
        return
    term = {"INFECTION": choice(rng, {"Sepsis": 0.6, "Lung infection": 0.4}),
            "ORGAN FAILURE": "Hepatic failure", "OTHER": "Death NOS"}[p.death_cause]
    first = 0 if p.infused else min(death, p.enrollment_day + 1)   # never infused: after enrollment
    start = death if term == "Death NOS" else max(first, death - uniform_int(rng, (2, 10)))
    c.add(term, 5, start, death - start, "FATAL", False, serious=True)


def generate_adverse_events(rng: np.random.Generator, p: "TrialPatient") -> list[AdverseEvent]:
    """All recorded AEs of the patient, in onset order (AESEQ order)."""
    c = _Collector(rng)
    _before_cart1(c, p)
    if p.infused:
        _after_cart1(c, p)
        if p.reached["hsct"]:
            _after_hsct(c, p)
            _after_cart2(c, p)
        _late(c, p)
        _discontinuation(c, p)
    _fatal(c, p)
    events = _within_observation(c.events, p)
    events.sort(key=lambda e: (e.start, e.term, e.grade))
    return [_with_reporting_noise(rng, e) for e in events]


def _within_observation(events: list[AdverseEvent], p: "TrialPatient") -> list[AdverseEvent]:
    """Drop events after death/withdrawal or after AE collection ended; unresolved at death ->
    ongoing. Grade-5 events end exactly on the death date."""
    # AE window (raw_spec.AE_WINDOW_DAYS, the registry's 2-year time frame): from enrollment to
    # 2 years after CAR-T1, or 30 days after stopping for a patient never infused; collection
    # also ends a month after relapse.
    window_end = P.AE_WINDOW_DAYS if p.infused else p.dc_day + AE_COLLECTION_AFTER_RELAPSE
    last_onset = min(p.observation_end, p.relapse_day + AE_COLLECTION_AFTER_RELAPSE, window_end)
    kept = []
    for e in events:
        if e.start > last_onset or e.start < p.enrollment_day + 1 and e.phase == "PRE":
            continue
        if e.grade < 5 and e.end is not None and e.end > p.observation_end:
            e = replace(e, end=None)
        if e.grade < 5 and math.isfinite(p.death_day) and e.start >= p.death_day:
            continue
        kept.append(e)
    return kept


# --- verbatim terms ----------------------------------------------------------------------------------
VERBATIM = {
    CRS: ("CRS", "CRS gr{g}", "cytokine release syndrome", "Cytokine Release Syndrome grade {g}",
          "fever {t} / CRS", "CRS G{g}", "cytokin release syndrom"),
    ICANS: ("ICANS", "ICANS grade {g}", "neurotoxicity", "confusion (ICANS)", "CAR-T neurotox", "encephalopathy ICANS"),
    "Neutrophil count decreased": ("neutropenia", "ANC low", "Neutropenia gr{g}", "neutrophils decreased",
                                   "low neutrophil count"),
    "Platelet count decreased": ("thrombocytopenia", "PLT low", "low platelets", "Thrombocytopaenia",
                                 "platelet count decreased"),
    "White blood cell decreased": ("leukopenia", "WBC low", "leucopenia", "low white count"),
    "Anemia": ("anaemia", "Anemia", "low Hb", "HGB decreased", "anemia gr{g}"),
    "Febrile neutropenia": ("febrile neutropenia", "FN", "neutropenic fever {t}", "fever {t} with ANC<0.5"),
    "Fever": ("fever {t}", "pyrexia", "Fever", "temp {t}"),
    "Fatigue": ("fatigue", "tiredness", "Fatigue", "asthenia"),
    "Hypotension": ("hypotension", "low BP", "BP 85/50", "hypotension requiring fluids"),
    "Hypoxia": ("hypoxia", "desaturation", "SpO2 88%", "hypoxemia"),
    "Lung infection": ("pneumonia", "lung infection", "pulmonary infection", "Pneumonia RLL"),
    "Sepsis": ("sepsis", "Septic shock", "bacteremia w sepsis", "SEPSIS"),
    "Cytomegalovirus infection reactivation": ("CMV reactivation", "CMV viremia", "cmv reactivation"),
    "Mucositis oral": ("oral mucositis", "mucositis", "stomatitis", "Oral mucositis gr{g}"),
    "Diarrhea": ("diarrhoea", "diarrhea", "loose stools", "Diarrhea"),
    "Nausea": ("nausea", "Nausea", "nausea (chemo)"),
    "Vomiting": ("vomiting", "emesis", "Vomiting"),
    "Alanine aminotransferase increased": ("ALT increased", "elevated ALT", "transaminitis", "ALT up"),
    "Hypogammaglobulinemia": ("hypogammaglobulinemia", "low IgG", "hypogammaglobulinaemia", "IgG decreased"),
    "Headache": ("headache", "Headache", "cephalgia"),
    "Hepatic failure": ("VOD", "hepatic veno-occlusive disease", "liver failure", "SOS/VOD"),
    "Death NOS": ("death", "sudden death", "died at home", "death, cause unknown"),
}


def verbatim_term(rng: np.random.Generator, term: str, grade: int) -> str:
    """A messy reported term: synonyms, abbreviations, case changes and the odd typo."""
    options = VERBATIM[term]
    text = options[int(rng.integers(0, len(options)))]
    text = text.format(g=grade, t=f"{rng.uniform(38.1, 40.2):.1f}")
    u = rng.random()
    if u < 0.20:
        text = text.lower()
    elif u < 0.28:
        text = text.upper()
    if rng.random() < 0.08:
        text = _typo(rng, text)
    return text


def _typo(rng: np.random.Generator, text: str) -> str:
    """Swap two adjacent letters inside a word (keyboard slip)."""
    positions = [i for i in range(len(text) - 1) if text[i].isalpha() and text[i + 1].isalpha()]
    if not positions:
        return text
    i = positions[int(rng.integers(0, len(positions)))]
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def _with_reporting_noise(rng: np.random.Generator, e: AdverseEvent) -> AdverseEvent:
    """Verbatim text and partial dates. Partial onsets only well after CAR-T1 (day >= 60), so
    the SAP's first-of-month imputation cannot move an event across CAR-T1 or enrollment."""
    partial_start = e.grade < 5 and e.start >= 60 and rng.random() < P.PARTIAL_DATE_RATE["AESTDTC"]
    partial_end = e.grade < 5 and e.end is not None and rng.random() < P.PARTIAL_DATE_RATE["AEENDTC"]
    # Late reporting (an event from another hospital, found at a monitoring visit): it reaches the
    # EDC months after its onset, so a later cut holds it with a date before the earlier cut.
    late = e.grade < 5 and e.start >= 60 and rng.random() < P.LATE_REPORTED_AE
    lag = uniform_int(rng, P.LATE_REPORT_LAG_DAYS)
    return replace(e, verbatim=verbatim_term(rng, e.term, e.grade), partial_start=bool(partial_start),
                   partial_end=bool(partial_end), reported=lag if late else 0)
