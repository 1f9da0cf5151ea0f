"""ADAE: one row per adverse event of the trial subjects (CTCAE 5.0), with imputed dates,
treatment-emergence, the sandwich phase at onset and worst-grade occurrence flags.

Rules in words: docs/sap-notes.md sections 2.3 (partial dates) and 5 (adverse events).
"""

from __future__ import annotations

import pandas as pd

from analysis import conventions
from analysis.derive.common import require_known_subjects, require_unique, trial_usubjid, yn
from analysis.derive.dates import days_between, impute_end_dates, impute_start_dates, study_day
from analysis.derive.spec import DatasetSpec, char, date, num, typed
from analysis.errors import BadDataError

CRS_TERM = "Cytokine release syndrome"
ICANS_TERM = "Immune effector cell-associated neurotoxicity syndrome"

# Phase at onset, in time order: (APHASE, ADSL date that opens it). A phase lasts until the
# next phase's opening date (exclusive); before TRTSDT the AE is PRE-TREATMENT (SAP 5.2).
PHASES = (("CAR-T1", "TRTSDT"), ("MOBILIZATION", "MOBSTDT"), ("AUTO-HSCT", "CONDSTDT"), ("CAR-T2", "CART2DT"))
PRE_TREATMENT = "PRE-TREATMENT"

SPEC = DatasetSpec("ADAE", "Adverse Events Analysis Dataset", ("USUBJID", "AESEQ"), (
    char("STUDYID", "Study Identifier", "Predecessor", "ADSL.STUDYID"),
    char("USUBJID", "Unique Subject Identifier", "Predecessor", "ADSL.USUBJID"),
    char("COHORT", "Cohort", "Predecessor", "ADSL.COHORT"),
    num("AESEQ", "Sequence Number", "Collected", "ae.AESEQ"),
    char("AETERM", "Reported Term for the Adverse Event", "Collected", "ae.AETERM"),
    char("AEDECOD", "Dictionary-Derived Term", "Collected", "ae.AEDECOD", "CTCAE 5.0 term."),
    char("AEBODSYS", "Body System or Organ Class", "Collected", "ae.AEBODSYS"),
    num("ATOXGR", "Analysis Toxicity Grade (N)", "Collected", "ae.AETOXGR", "CTCAE 5.0 grade 1-5."),
    char("ATOXGRC", "Analysis Toxicity Grade", "Derived", "ATOXGR", "ATOXGR as text."),
    date("ASTDT", "Analysis Start Date", "Derived", "ae.AESTDTC",
         "Missing day imputed to the 1st of the month, or to TRTSDT when TRTSDT falls in that "
         "month, is later, and is not after AENDT (admiral min_dates; SAP 2.3)."),
    char("ASTDTF", "Analysis Start Date Imputation Flag", "Derived", "ae.AESTDTC", "'D' if the day was imputed."),
    date("AENDT", "Analysis End Date", "Derived", "ae.AEENDTC",
         "Missing day imputed to the last of the month, or to the earlier of DTHDT / DCUTDT "
         "when that falls in the month and is earlier (admiral max_dates; SAP 2.3)."),
    char("AENDTF", "Analysis End Date Imputation Flag", "Derived", "ae.AEENDTC", "'D' if the day was imputed."),
    num("ASTDY", "Analysis Start Relative Day", "Derived", "ASTDT; ADSL.TRTSDT",
        "ASTDT - TRTSDT + 1 on/after TRTSDT, ASTDT - TRTSDT before."),
    num("AENDY", "Analysis End Relative Day", "Derived", "AENDT; ADSL.TRTSDT"),
    num("ADURN", "Analysis Duration (N)", "Derived", "ASTDT; AENDT", "AENDT - ASTDT + 1 (days)."),
    char("ADURU", "Analysis Duration Units", "Assigned", "", "DAYS."),
    char("AESER", "Serious Event", "Collected", "ae.AESER"),
    char("AERELCAR", "Related to CAR-T", "Collected", "ae.AERELCAR"),
    char("TRTEMFL", "Treatment Emergent Analysis Flag", "Derived", "ASTDT; ADSL.TRTSDT",
         "Y if ASTDT >= TRTSDT (onset on or after CAR-T1), else N."),
    char("APHASE", "Phase at Onset", "Derived", "ASTDT; ADSL.TRTSDT/MOBSTDT/CONDSTDT/CART2DT",
         "PRE-TREATMENT before TRTSDT; CAR-T1 [TRTSDT, MOBSTDT); MOBILIZATION [MOBSTDT, "
         "CONDSTDT); AUTO-HSCT [CONDSTDT, CART2DT); CAR-T2 from CART2DT."),
    char("CRSFL", "Cytokine Release Syndrome Flag", "Derived", "AEDECOD", "Y if AEDECOD is CRS."),
    char("ICANSFL", "ICANS Flag", "Derived", "AEDECOD", "Y if AEDECOD is ICANS."),
    char("AOCCFL", "Worst-Grade Occurrence (Subject) Flag", "Derived", "ATOXGR; ASTDT; AESEQ",
         "Among TRTEMFL=Y records of a subject, Y on one record: highest ATOXGR, then earliest "
         "ASTDT, then lowest AESEQ (admiral derive_var_extreme_flag)."),
    char("AOCCSFL", "Worst-Grade Occurrence (SOC) Flag", "Derived", "ATOXGR; ASTDT; AESEQ",
         "As AOCCFL within subject and AEBODSYS."),
    char("AOCCPFL", "Worst-Grade Occurrence (Term) Flag", "Derived", "ATOXGR; ASTDT; AESEQ",
         "As AOCCFL within subject and AEDECOD."),
    date("TRTSDT", "Date of First CAR-T1 Infusion", "Predecessor", "ADSL.TRTSDT"),
    char("SAFFL", "Safety Population Flag", "Predecessor", "ADSL.SAFFL"),
))

_ADSL_COLUMNS = ["USUBJID", "STUDYID", "COHORT", "TRTSDT", "MOBSTDT", "CONDSTDT", "CART2DT",
                 "DTHDT", "DCUTDT", "SAFFL"]


def impute_ae_dates(ae: pd.DataFrame) -> pd.DataFrame:
    """ASTDT/ASTDTF and AENDT/AENDTF (SAP 2.3). ``ae`` carries the raw dates and the ADSL
    dates TRTSDT, DTHDT, DCUTDT. End first: the onset bound TRTSDT applies only where it is not
    after the (imputed) end date, so an AE never ends before it starts because of imputation."""
    where = {"subjects": ae["SUBJID"]}
    end_bound = ae[["DTHDT", "DCUTDT"]].min(axis=1)
    aendt, aendtf = impute_end_dates(ae["AEENDTC"], where="ae.csv column AEENDTC",
                                     max_dates=end_bound, **where)
    start_bound = ae["TRTSDT"].where(aendt.isna() | (ae["TRTSDT"] <= aendt))
    astdt, astdtf = impute_start_dates(ae["AESTDTC"], where="ae.csv column AESTDTC",
                                       min_dates=start_bound, **where)
    return ae.assign(ASTDT=astdt, ASTDTF=astdtf, AENDT=aendt, AENDTF=aendtf)


def phase_at(dates: pd.Series, adsl_dates: pd.DataFrame) -> pd.Series:
    """APHASE of each date: the latest phase whose opening date is on or before it (SAP 5.2)."""
    phase = pd.Series(PRE_TREATMENT, index=dates.index, dtype="string")
    for name, opener in PHASES:
        started = adsl_dates[opener].notna() & (dates >= adsl_dates[opener])
        phase = phase.mask(started, name)
    return phase


def extreme_flag(df: pd.DataFrame, by: list[str], eligible: pd.Series) -> pd.Series:
    """admiral derive_var_extreme_flag(order = desc(ATOXGR), ASTDT, AESEQ; mode = "first"):
    Y on the single worst-grade record of each ``by`` group among ``eligible`` records."""
    cand = df.loc[eligible.to_numpy(dtype=bool)]
    cand = cand.assign(_NEG=-cand["ATOXGR"]).sort_values(by + ["_NEG", "ASTDT", "AESEQ"], kind="mergesort")
    chosen = cand.drop_duplicates(by, keep="first").index
    return yn(pd.Series(df.index.isin(chosen), index=df.index))


def derive_adae(ae: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """ADAE of one cut (SAP 5). AEs with onset after the data cut-off are not used."""
    require_unique(ae, "ae", ["SUBJID", "AESEQ"])
    trial = adsl.loc[adsl["COHORT"].eq(conventions.COHORT_TRIAL)]
    require_known_subjects(ae, "ae", trial["SUBJID"])
    df = ae.assign(USUBJID=trial_usubjid(ae["SUBJID"])).merge(trial[_ADSL_COLUMNS], on="USUBJID", how="left")
    df = impute_ae_dates(df)
    bad = df["AENDT"].notna() & (df["AENDT"] < df["ASTDT"])
    if bad.any():
        r = df.loc[bad].iloc[0]
        raise BadDataError(f"ae.csv columns AESTDTC/AEENDTC: subject {r['SUBJID']} AESEQ {r['AESEQ']}: "
                           f"ends {r['AEENDTC']} before it starts {r['AESTDTC']} (rule: end >= onset)")
    df = df.loc[df["ASTDT"] <= df["DCUTDT"]].copy()
    df["ATOXGR"] = df["AETOXGR"].astype("Float64")
    df["ATOXGRC"] = df["AETOXGR"].astype("string")
    df["ASTDY"] = study_day(df["ASTDT"], df["TRTSDT"])
    df["AENDY"] = study_day(df["AENDT"], df["TRTSDT"])
    df["ADURN"] = days_between(df["AENDT"], df["ASTDT"]) + 1
    df["ADURU"] = pd.Series("DAYS", index=df.index, dtype="string").where(df["ADURN"].notna())
    df["TRTEMFL"] = yn(df["TRTSDT"].notna() & (df["ASTDT"] >= df["TRTSDT"]))
    df["APHASE"] = phase_at(df["ASTDT"], df)
    df["CRSFL"] = yn(df["AEDECOD"].eq(CRS_TERM))
    df["ICANSFL"] = yn(df["AEDECOD"].eq(ICANS_TERM))
    emergent = df["TRTEMFL"].eq("Y")
    df["AOCCFL"] = extreme_flag(df, ["USUBJID"], emergent)
    df["AOCCSFL"] = extreme_flag(df, ["USUBJID", "AEBODSYS"], emergent)
    df["AOCCPFL"] = extreme_flag(df, ["USUBJID", "AEDECOD"], emergent)
    return typed(df, SPEC)
