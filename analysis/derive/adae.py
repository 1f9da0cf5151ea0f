"""ADAE: one row per adverse event of the trial subjects (CTCAE 5.0), with imputed dates,
treatment-emergence, the sandwich phase at onset and worst-grade occurrence flags.

Rules in words: docs/sap-notes.md sections 2.3 (partial dates) and 5 (adverse events).
"""

from __future__ import annotations

import pandas as pd

from analysis import conventions
from analysis.derive import periods
from analysis.derive.columns import require_known_subjects, require_unique, trial_usubjid, yn
from analysis.derive.dates import days_between, impute_end_dates, impute_start_dates, study_day
from analysis.derive.adsl import SPEC as ADSL_SPEC
from analysis.derive.spec import DatasetSpec, char, date, num, predecessors, typed
from analysis.errors import BadDataError

CRS_TERM = "Cytokine release syndrome"
ICANS_TERM = "Immune effector cell-associated neurotoxicity syndrome"

PRE_TREATMENT = periods.PRE_TREATMENT
# Collected CRS/ICANS detail (issue 11 data contract); absent from older cuts -> missing in ADAE.
OPTIONAL_AE_COLUMNS = ("ASTCTGR", "AETOCI", "AESTER", "AEACN")

SPEC = DatasetSpec("ADAE", "Adverse Events Analysis Dataset", ("USUBJID", "AESEQ"), (
    *predecessors(ADSL_SPEC, "STUDYID", "USUBJID", "COHORT"),
    num("AESEQ", "Sequence Number", "Collected", "ae.AESEQ"),
    char("AETERM", "Reported Term for the Adverse Event", "Collected", "ae.AETERM"),
    char("AEDECOD", "Dictionary-Derived Term", "Collected", "ae.AEDECOD", "CTCAE 5.0 term."),
    char("AEBODSYS", "Body System or Organ Class", "Collected", "ae.AEBODSYS"),
    num("ATOXGR", "Analysis Toxicity Grade (N)", "Collected", "ae.AETOXGR", "CTCAE 5.0 grade 1-5."),
    char("ATOXGRC", "Analysis Toxicity Grade", "Derived", "ATOXGR", "ATOXGR as text."),
    date("ASTDT", "Analysis Start Date", "Derived", "ae.AESTDTC",
         "Missing day imputed to the 1st of the month, or to the latest period-opening event of "
         "the subject (CAR-T1, mobilization, conditioning, CAR-T2) in that month that is not "
         "after AENDT (admiral min_dates; SAP 2.3)."),
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
         "Y if TRTSDT <= ASTDT <= TRTSDT + 730 (onset within the 2-year AE window), else N."),
    char("APHASE", "Period at Onset", "Derived", "ASTDT; ADSL.APxxSDT/APxxEDT; CRSFL; ICANSFL",
         "PRE-TREATMENT, CAR-T1, MOBILIZATION, AUTO-HSCT, CAR-T2, POST-TREATMENT, AFTER AE "
         "WINDOW; CRS/ICANS: the causing infusion (SAP 5.2, analysis/derive/periods.py)."),
    char("AINFUS", "Attributed CAR-T Infusion", "Derived", "ASTDT; ADSL.TRTSDT/CART2DT",
         "CRS/ICANS only: CAR-T2 if CART2DT <= ASTDT, else CAR-T1 (SAP 5.2)."),
    num("AINFDY", "Onset Day From Infusion", "Derived", "ASTDT; ADSL.TRTSDT/CART1EDT/CART2DT",
        "CRS/ICANS only: ASTDT - most recent CAR-T infusion on or before it (infusion = day 0)."),
    num("ASTCTGR", "ASTCT 2019 Consensus Grade", "Collected", "ae.ASTCTGR",
        "CRS/ICANS grade by ASTCT 2019 consensus; missing when not recorded in the cut."),
    char("AETOCI", "Tocilizumab Given", "Collected", "ae.AETOCI", "CRS/ICANS only."),
    char("AESTER", "Corticosteroids Given", "Collected", "ae.AESTER", "CRS/ICANS only."),
    char("AEACN", "Action Taken With Study Treatment", "Collected", "ae.AEACN",
         "NONE or TREATMENT DISCONTINUED; missing when not recorded in the cut."),
    char("CRSFL", "Cytokine Release Syndrome Flag", "Derived", "AEDECOD", "Y if AEDECOD is CRS."),
    char("ICANSFL", "ICANS Flag", "Derived", "AEDECOD", "Y if AEDECOD is ICANS."),
    char("AOCCFL", "Worst-Grade Occurrence (Subject) Flag", "Derived", "ATOXGR; ASTDT; AESEQ",
         "Among TRTEMFL=Y records of a subject, Y on one record: highest ATOXGR, then earliest "
         "ASTDT, then lowest AESEQ (admiral derive_var_extreme_flag)."),
    char("AOCCSFL", "Worst-Grade Occurrence (SOC) Flag", "Derived", "ATOXGR; ASTDT; AESEQ",
         "As AOCCFL within subject and AEBODSYS."),
    char("AOCCPFL", "Worst-Grade Occurrence (Term) Flag", "Derived", "ATOXGR; ASTDT; AESEQ",
         "As AOCCFL within subject and AEDECOD."),
    *predecessors(ADSL_SPEC, "TRTSDT", "SAFFL"),
))

_PERIOD_BOUNDS = [c for k in range(1, len(periods.PERIODS) + 1) for c in periods.period_columns(k)[:2]]
_ADSL_COLUMNS = ["USUBJID", "STUDYID", "COHORT", "TRTSDT", "CART1EDT", "MOBSTDT", "COLLDT", "CONDSTDT",
                 "AHSCTDT", "CART2DT", "DTHDT", "DCUTDT", "SAFFL", *_PERIOD_BOUNDS]


def impute_ae_dates(ae: pd.DataFrame) -> pd.DataFrame:
    """ASTDT/ASTDTF and AENDT/AENDTF (SAP 2.3). ``ae`` carries the raw dates and the ADSL
    dates of the protocol events (periods.PROTOCOL_EVENTS), DTHDT and DCUTDT. End first: an onset
    bound applies only where it is not after the (imputed) end date, so an AE never ends before
    it starts because of imputation. The onset bound is the latest protocol event in the month of
    the partial onset (an onset "2024-03" with CAR-T2 on 03-05 is imputed to 03-05, not 03-01)."""
    where = {"subjects": ae["SUBJID"]}
    end_bound = ae[["DTHDT", "DCUTDT"]].min(axis=1)
    aendt, aendtf = impute_end_dates(ae["AEENDTC"], where="ae.csv column AEENDTC",
                                     max_dates=end_bound, **where)
    start_bound = periods.onset_lower_bound(ae["AESTDTC"], aendt, ae)
    astdt, astdtf = impute_start_dates(ae["AESTDTC"], where="ae.csv column AESTDTC",
                                       min_dates=start_bound, **where)
    return ae.assign(ASTDT=astdt, ASTDTF=astdtf, AENDT=aendt, AENDTF=aendtf)


def crs_icans_detail(df: pd.DataFrame) -> pd.DataFrame:
    """AINFUS / AINFDY (CRS and ICANS: the causing infusion and days since it, SAP 5.2) and the
    collected ASTCTGR, AETOCI, AESTER, AEACN, missing where this cut's ae.csv lacks them."""
    syndrome = df["CRSFL"].eq("Y") | df["ICANSFL"].eq("Y")
    infusion, day0 = periods.causing_infusion(df["ASTDT"], df)
    out = df.assign(AINFUS=infusion.where(syndrome),
                    AINFDY=days_between(df["ASTDT"], day0).where(syndrome))
    for col in OPTIONAL_AE_COLUMNS:
        if col not in out.columns:
            out[col] = pd.NA
    out["ASTCTGR"] = pd.to_numeric(out["ASTCTGR"], errors="coerce").astype("Float64").where(syndrome)
    return out


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
    df["CRSFL"] = yn(df["AEDECOD"].eq(CRS_TERM))
    df["ICANSFL"] = yn(df["AEDECOD"].eq(ICANS_TERM))
    # SAP 5.1-5.2: the AE window and the periods are defined once, in analysis/derive/periods.py
    df["APHASE"] = periods.assign_period(df["ASTDT"], df["CRSFL"].eq("Y") | df["ICANSFL"].eq("Y"), df)
    df["TRTEMFL"] = yn(~df["APHASE"].isin([periods.PRE_TREATMENT, periods.AFTER_WINDOW]))
    df = crs_icans_detail(df)
    emergent = df["TRTEMFL"].eq("Y")
    df["AOCCFL"] = extreme_flag(df, ["USUBJID"], emergent)
    df["AOCCSFL"] = extreme_flag(df, ["USUBJID", "AEBODSYS"], emergent)
    df["AOCCPFL"] = extreme_flag(df, ["USUBJID", "AEDECOD"], emergent)
    return typed(df, SPEC)
