"""ADTTE: one row per subject and time-to-event parameter, each parameter DECLARED from event
and censoring sources (``analysis.derive.tte``) over a population with its own origin.

Parameters (rules in words: docs/sap-notes.md sections 1, 2.2, 4.4 and 6):
OS, LFS, RELNRM (competing risks), MRDDURFC / MRDDURNG (MRD-negativity duration), OSCR / LFSCR
(from the remission before therapy, with delayed entry), OSPP / LFSPP (completers, from CAR-T2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from analysis import conventions
from analysis.derive.columns import lookup
from analysis.derive.dates import DATE_DTYPE, days_between
from analysis.derive.adsl import SPEC as ADSL_SPEC
from analysis.derive.spec import DatasetSpec, char, date, num, predecessors, typed
from analysis.derive.tte import POPULATION, CensorSource, EventSource, TTEParam, derive_param_tte
from analysis.errors import BadDataError

# --- sources ------------------------------------------------------------------------------------
DEATH = EventSource("adsl", "DTHDT", "DEATH", "ADSL", evnttype=2)
RELAPSE = EventSource("adsl", "RELDT", "RELAPSE", "ADSL", evnttype=1,
                      filter=lambda d: d["RELDT"] >= d["STARTDT"])
LAST_ALIVE = CensorSource("adsl", "LSTALVDT", "LAST KNOWN ALIVE", "ADSL")
ORIGIN = CensorSource(POPULATION, "STARTDT", "START OF OBSERVATION", "ADTTE")


def _mrd_samples(paramcd: str) -> Callable[[pd.DataFrame], pd.Series]:
    """Evaluable samples of the method taken before relapse (SAP 4.2, ADMRD ANL01FL)."""
    return lambda d: (d["PARAMCD"].eq(paramcd) & d["BESTFL"].eq("N") & d["EVALFL"].eq("Y")
                      & d["ANL01FL"].eq("Y"))


def mrd_recurrence(paramcd: str, method: str) -> EventSource:
    """First CONFIRMED positive sample of the method after the first negative one (SAP 4.4:
    two consecutive positives, or a positive followed by relapse; ADMRD CNFPOSFL)."""
    sample = _mrd_samples(paramcd)
    return EventSource("admrd", "ADT", f"CONFIRMED {method}-MRD RECURRENCE", "ADMRD", evnttype=1,
                       filter=lambda d: sample(d) & d["CNFPOSFL"].eq("Y") & (d["ADT"] > d["STARTDT"]))


def last_mrd(paramcd: str, method: str) -> CensorSource:
    """Last evaluable sample of the method (a non-evaluable sample does not show negativity)."""
    return CensorSource("admrd", "ADT", f"LAST EVALUABLE {method}-MRD ASSESSMENT", "ADMRD",
                        filter=_mrd_samples(paramcd))


# --- populations (USUBJID, STARTDT, DCUTDT [, ENTRY]) --------------------------------------------
def observation_start(adsl: pd.DataFrame) -> pd.Series:
    """Start of observation: CAR-T1 (TRTSDT) for the trial, allo-HSCT (ALLOHSDT) for controls."""
    trial = adsl["COHORT"].eq(conventions.COHORT_TRIAL)
    return adsl["TRTSDT"].where(trial, adsl["ALLOHSDT"]).astype(DATE_DTYPE)


def _population(adsl: pd.DataFrame, keep: pd.Series, start: pd.Series) -> pd.DataFrame:
    keep = keep.fillna(False).astype(bool) & start.notna()
    return pd.DataFrame({"USUBJID": adsl["USUBJID"], "STARTDT": start.astype(DATE_DTYPE),
                         "DCUTDT": adsl["DCUTDT"]}).loc[keep].reset_index(drop=True)


def os_population(adsl: pd.DataFrame, admrd: pd.DataFrame) -> pd.DataFrame:
    """Treated trial subjects from CAR-T1 and controls from allo-HSCT (SAP 1)."""
    return _population(adsl, adsl["SAFFL"].eq("Y") | adsl["COHORT"].eq(conventions.COHORT_EXTERNAL),
                       observation_start(adsl))


def lfs_population(adsl: pd.DataFrame, admrd: pd.DataFrame) -> pd.DataFrame:
    """LFSFL = Y subjects from REMDT (SAP 1)."""
    return _population(adsl, adsl["LFSFL"].eq("Y"), adsl["REMDT"])


def mrd_population(method: str) -> Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]:
    """Subjects with a post-CAR-T1 negative sample of ``method``, from the first one (SAP 4.4)."""
    def build(adsl: pd.DataFrame, admrd: pd.DataFrame) -> pd.DataFrame:
        neg = admrd.loc[admrd["METHOD"].eq(method) & admrd["BESTFL"].eq("N") & admrd["POSTFL"].eq("Y")
                        & admrd["NEGFL"].eq("Y") & admrd["ANL01FL"].eq("Y")]
        first_neg = neg.groupby("USUBJID")["ADT"].min()
        return _population(adsl, adsl["SAFFL"].eq("Y"), lookup(adsl["USUBJID"], first_neg))
    return build


def remission_origin_population(adsl: pd.DataFrame, admrd: pd.DataFrame) -> pd.DataFrame:
    """OS population re-timed from CRDT (remission before therapy) with delayed entry:
    ENTRY = observation start - CRDT days, so that a subject is at risk on (ENTRY, AVAL]
    on the CRDT time scale (SAP 6.2)."""
    pop = os_population(adsl, admrd).rename(columns={"STARTDT": "OBSSTDT"})
    crdt = lookup(pop["USUBJID"], adsl.set_index("USUBJID")["CRDT"]).astype(DATE_DTYPE)
    pop = pop.assign(STARTDT=crdt, ENTRY=days_between(pop["OBSSTDT"], crdt))
    late = pop["ENTRY"] < 0
    if late.any():
        r = pop.loc[late].iloc[0]
        raise BadDataError(f"subject {r['USUBJID']}: remission before therapy (CRDTC) {r['STARTDT']:%Y-%m-%d} "
                           f"is after the start of therapy {r['OBSSTDT']:%Y-%m-%d} (bl.csv / ext.csv column "
                           "CRDTC; rule: the remission precedes CAR-T1 / allo-HSCT)")
    return pop.loc[crdt.notna()].drop(columns="OBSSTDT").reset_index(drop=True)


def completer_population(adsl: pd.DataFrame, admrd: pd.DataFrame) -> pd.DataFrame:
    """COMPLFL = Y subjects from CAR-T2 (per-protocol, SAP 1)."""
    return _population(adsl, adsl["COMPLFL"].eq("Y"), adsl["CART2DT"])


def completer_lfs_population(adsl: pd.DataFrame, admrd: pd.DataFrame) -> pd.DataFrame:
    """Completers in remission and relapse-free at CAR-T2, from CAR-T2 (SAP 1)."""
    relapse_free = adsl["RELDT"].isna() | (adsl["RELDT"] >= adsl["CART2DT"])
    return _population(adsl, adsl["COMPLFL"].eq("Y") & adsl["LFSFL"].eq("Y") & relapse_free, adsl["CART2DT"])


# --- parameter declarations ----------------------------------------------------------------------
OS_SOURCES = dict(events=(DEATH,), censors=(LAST_ALIVE, ORIGIN))
# One censoring rule for every LFS parameter (LFS, RELNRM, LFSCR, LFSPP; SAP 2.2 "one censoring
# rule"): censored at the last date known alive, the date up to which BOTH its events are
# ascertained in both sources. Trial relapses are recorded whenever they occur (the relapse has its
# own, unscheduled, assessment on RELDT) and deaths always, also after the last scheduled marrow
# (the schedule ends at month 24, follow-up runs to the cut); the registry's last follow-up is its
# last contact. Censoring the trial at the last disease assessment while counting the events after
# it made its censoring informative and asymmetric with the registry's: +0.12 on the log-HR scale
# under a null for the common-clock view (docs/sap-notes.md 9.6), and the same defect in the naive,
# weighted, per-protocol and competing-risk views (9.7).
LFS_SOURCES = dict(events=(RELAPSE, DEATH), censors=(LAST_ALIVE, ORIGIN))


@dataclass(frozen=True)
class ParamDefinition:
    param: TTEParam
    population: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]


PARAMS: tuple[ParamDefinition, ...] = (
    ParamDefinition(TTEParam("OS", "Overall Survival (Days)", **OS_SOURCES), os_population),
    ParamDefinition(TTEParam("LFS", "Leukemia-Free Survival (Days)", **LFS_SOURCES), lfs_population),
    ParamDefinition(TTEParam("RELNRM", "Relapse vs Non-Relapse Mortality (Days)", **LFS_SOURCES),
                    lfs_population),
    ParamDefinition(TTEParam("MRDDURFC", "Duration of FC-MRD Negativity (Days)",
                             events=(mrd_recurrence("MRDFC", "FC"), RELAPSE, DEATH),
                             censors=(last_mrd("MRDFC", "FC"), ORIGIN)), mrd_population("FC")),
    ParamDefinition(TTEParam("MRDDURNG", "Duration of NGS-MRD Negativity (Days)",
                             events=(mrd_recurrence("MRDNGS", "NGS"), RELAPSE, DEATH),
                             censors=(last_mrd("MRDNGS", "NGS"), ORIGIN)), mrd_population("NGS")),
    ParamDefinition(TTEParam("OSCR", "OS From Remission Before Therapy (Days)", **OS_SOURCES),
                    remission_origin_population),
    ParamDefinition(TTEParam("LFSCR", "LFS From Remission Before Therapy (Days)", **LFS_SOURCES),
                    remission_origin_population),
    ParamDefinition(TTEParam("OSPP", "OS From CAR-T2, Completers (Days)", **OS_SOURCES), completer_population),
    ParamDefinition(TTEParam("LFSPP", "LFS From CAR-T2, Completers (Days)", **LFS_SOURCES),
                    completer_lfs_population),
)

# Only RELNRM distinguishes the competing events; elsewhere every event has EVNTTYPE 1.
COMPETING_RISK_PARAMS = ("RELNRM",)

ADSL_COVARIATES = ["STUDYID", "SITEID", "COHORT", "AGE", "AGEGR1", "SEX", "PHSTAT", "CYTORISK",
                   "CNSSTAT", "DISSTAT", "MRDPRE", "DONOR", "TRTSDT", "DCUTDT", "SAFFL", "LFSFL",
                   "COMPLFL", "ALLOICDT"]

SPEC = DatasetSpec("ADTTE", "Time-to-Event Analysis Dataset", ("USUBJID", "PARAMCD"), (
    *predecessors(ADSL_SPEC, "STUDYID", "USUBJID", "SITEID", "COHORT"),
    char("PARAMCD", "Parameter Code", "Assigned", "declaration",
         "OS, LFS, RELNRM, MRDDURFC, MRDDURNG, OSCR, LFSCR, OSPP, LFSPP."),
    char("PARAM", "Parameter", "Assigned", "PARAMCD", "Text of the parameter declaration."),
    num("PARAMN", "Parameter (N)", "Assigned", "PARAMCD", "Order of declaration: 1 OS ... 9 LFSPP."),
    date("STARTDT", "Time to Event Origin Date for Subject", "Derived",
         "ADSL.TRTSDT/ALLOHSDT/REMDT/CRDT/CART2DT; ADMRD.ADT",
         "OS: TRTSDT (trial) / ALLOHSDT (controls); LFS, RELNRM: REMDT; MRDDUR*: first "
         "post-CAR-T1 negative sample; OSCR, LFSCR: CRDT; OSPP, LFSPP: CART2DT."),
    date("ADT", "Analysis Date", "Derived", "SRCDOM.SRCVAR",
         "Earliest event date, else latest censoring date, capped at DCUTDT (SAP 2.2)."),
    num("AVAL", "Analysis Value", "Derived", "ADT; STARTDT", "ADT - STARTDT + 1 (days)."),
    char("AVALU", "Analysis Value Unit", "Assigned", "AVAL", "DAYS."),
    num("CNSR", "Censor", "Derived", "EVNTDESC", "0 event, 1 censored (SAP 2.2)."),
    num("EVNTTYPE", "Event Type", "Derived", "EVNTDESC",
        "RELNRM: 1 relapse, 2 death without relapse, 0 censored; other parameters: 1 event, 0 censored."),
    num("ENTRY", "Delayed-Entry Time (Days From STARTDT)", "Derived", "ADSL.TRTSDT/ALLOHSDT; ADSL.CRDT",
        "OSCR, LFSCR: observation start - CRDT; missing for other parameters."),
    char("EVNTDESC", "Event or Censoring Description", "Derived", "event/censoring source",
         "Description of the chosen event or censoring source (analysis/derive/adtte.py)."),
    char("CNSDTDSC", "Censor Date Description", "Derived", "censoring source",
         "Description of the chosen censoring source; missing for events."),
    char("SRCDOM", "Source Data", "Derived", "event/censoring source",
         "Dataset holding ADT: ADSL, ADMRD, or ADTTE (the origin itself)."),
    char("SRCVAR", "Source Variable", "Derived", "event/censoring source", "Variable holding ADT."),
    num("SRCSEQ", "Source Sequence Number", "Derived", "event/censoring source",
        "Sequence number of the source record when it has one."),
    *predecessors(ADSL_SPEC, "AGE", "AGEGR1", "SEX", "PHSTAT", "CYTORISK", "CNSSTAT", "DISSTAT", "MRDPRE", "DONOR",
                  "TRTSDT", "DCUTDT", "SAFFL", "LFSFL", "COMPLFL"),
    char("RELSITE", "Site of Relapse", "Derived", "ADSL.RELSITE; EVNTDESC",
         "ADSL.RELSITE on a relapse event (EVNTDESC RELAPSE), missing on every other row (SAP 8)."),
    date("ALLOICDT", "Date of Allo-HSCT After Stopping", "Predecessor", "ADSL.ALLOICDT",
         "Intercurrent event of SAP 6.3 (treatment policy: follow-up continues past it)."),
))


def derive_parameter(definition: ParamDefinition, adsl: pd.DataFrame, admrd: pd.DataFrame) -> pd.DataFrame:
    """One declared parameter over its population, with ADSL covariates."""
    population = definition.population(adsl, admrd)
    rows = derive_param_tte(population, {"adsl": adsl, "admrd": admrd}, definition.param)
    if definition.param.paramcd not in COMPETING_RISK_PARAMS:
        rows["EVNTTYPE"] = (1 - rows["CNSR"]).astype("Int64")
    rows = rows.merge(adsl[["USUBJID", "RELSITE"] + ADSL_COVARIATES], on="USUBJID", how="left")
    rows["RELSITE"] = rows["RELSITE"].where(rows["EVNTDESC"].eq("RELAPSE"))
    return rows


def derive_adtte(adsl: pd.DataFrame, admrd: pd.DataFrame,
                 params: tuple[ParamDefinition, ...] = PARAMS) -> pd.DataFrame:
    """ADTTE of one cut: every declared parameter stacked."""
    rows = pd.concat([derive_parameter(d, adsl, admrd).assign(PARAMN=float(i))
                      for i, d in enumerate(params, start=1)], ignore_index=True)
    rows["AVALU"] = "DAYS"
    return typed(rows, SPEC)
