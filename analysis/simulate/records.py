"""The simulated truth of one trial patient, as plain records: the patient (TrialPatient), the
protocol schedule, response assessments, MRD samples and adverse events.

Its own module so that the modules drawing these (trial, mrd, adverse_events) import the
types from here and not from each other (no import cycle). Pure data: no random draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from analysis.simulate.outcomes import Covariates


@dataclass(frozen=True)
class Assessment:
    day: int
    visit: str
    bmblast: float
    response: str          # CR, CRi, NR, RELAPSE
    site: str | None = None  # relapse site (rs.RELSITE) for RELAPSE


@dataclass(frozen=True)
class MrdSample:
    day: int
    method: str            # FC or NGS
    undetectable: bool
    level: float | None    # None when undetectable
    sensitivity: float


@dataclass(frozen=True)
class AdverseEvent:
    term: str
    grade: int
    start: int
    end: int | None
    serious: bool
    related: bool          # related to CAR-T
    phase: str             # PRE, CAR-T1, HSCT, CAR-T2, LATE, DISCONTINUATION, FATAL
    verbatim: str = ""
    partial_start: bool = False
    partial_end: bool = False
    astct: int | None = None           # ASTCT 2019 consensus grade (CRS and ICANS only)
    tocilizumab: bool | None = None    # CRS and ICANS only
    steroids: bool | None = None       # CRS and ICANS only
    action: str = "NONE"               # AEACN: NONE or TREATMENT DISCONTINUED
    reported: int = 0                  # days after onset until the event reached the EDC (late reporting)


@dataclass
class Schedule:
    """Protocol day numbers of a patient who would complete the sandwich."""
    cd19_day: int
    mobilization: int
    collection: int
    conditioning: int
    hsct: int
    cart2: int
    neutrophil: int
    platelet: int


@dataclass
class TrialPatient:
    subjid: str
    siteid: str
    enrollment: date
    cart1: date                       # day 0
    cov: Covariates
    baseline: dict                    # bl/dm values not in cov (dates as day numbers)
    schedule: Schedule
    cd34: float
    doses: dict                       # (phase, product) -> cells/kg
    nonresponder: bool
    mrd_post: str                     # latent day-28 MRD class after CAR-T1: FC, NGS or NEG (truth)
    relapse_site: str | None          # BM, CNS, BM+CNS, OTHER-EM (rs.RELSITE) if the patient relapses
    relapse_day: float                # INF if none (truth: may fall after withdrawal)
    death_day: float                  # INF if never (truth: may fall after withdrawal)
    death_cause: str | None           # DTHCAUS code
    withdrawal_day: float             # INF unless consent withdrawn: follow-up stops here
    reached: dict                     # step -> bool: "hsct", "cart2" (both given = sandwich completed)
    mobilization_failed: bool
    apheresis_done: bool
    eot: str                          # "COMPLETED" or "DISCONTINUED" in the full truth
    dc_reason: str | None
    dc_day: float
    infused: bool = True              # False: enrolled but never received CAR-T1 (conduct.py)
    therapies: tuple = ()             # subsequent anti-leukaemic therapy (conduct.Therapy), ct.csv
    assessments: list[Assessment] = field(default_factory=list)
    mrd: list[MrdSample] = field(default_factory=list)
    adverse_events: list[AdverseEvent] = field(default_factory=list)

    @property
    def enrollment_day(self) -> int:
        return (self.enrollment - self.cart1).days

    @property
    def death_observed(self) -> bool:
        return math.isfinite(self.death_day) and self.death_day <= self.withdrawal_day

    @property
    def observation_end(self) -> float:
        """Last day anything can be recorded: death or withdrawal of consent."""
        return min(self.death_day, self.withdrawal_day)

    def crs_grade(self, phase: str) -> int:
        """Worst ASTCT CRS grade after ``phase`` (CAR-T1 / CAR-T2); 0 if none (for sanity checks)."""
        grades = [ae.astct for ae in self.adverse_events
                  if ae.term == "Cytokine release syndrome" and ae.phase == phase]
        return max(grades, default=0)
