"""ADMRD: one row per MRD assessment (FC and NGS) of the trial subjects, classified against the
protocol thresholds, plus one best-status record per treated subject and method.

Rules in words: docs/sap-notes.md section 4. Thresholds: ``conventions.MRD_THRESHOLD``
(FC < 1e-4, NGS < 1e-6, registry record).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import conventions
from analysis.derive.columns import lookup, raw_dates, require_unique, trial_usubjid, yn
from analysis.derive.dates import DATE_DTYPE, study_day
from analysis.derive.adsl import SPEC as ADSL_SPEC
from analysis.derive.spec import DatasetSpec, char, date, num, predecessors, typed
from analysis.errors import BadDataError

PARAMCD = {"FC": "MRDFC", "NGS": "MRDNGS"}
PARAM = {"FC": "MRD by Flow Cytometry (Fraction)", "NGS": "MRD by IgH NGS (Fraction)"}
BEST_DTYPE = "BEST"  # ADaM DTYPE of the derived best-status record of a parameter
NEGATIVE, POSITIVE, NOT_EVALUABLE = "NEGATIVE", "POSITIVE", "NOT EVALUABLE"
UNDETECTABLE = "UNDETECTABLE"

SPEC = DatasetSpec("ADMRD", "MRD Analysis Dataset", ("USUBJID", "PARAMCD", "BESTFL", "ADT"), (
    *predecessors(ADSL_SPEC, "STUDYID", "USUBJID", "COHORT"),
    char("PARAMCD", "Parameter Code", "Assigned", "mrd.METHOD", "MRDFC (FC) / MRDNGS (NGS)."),
    char("PARAM", "Parameter", "Assigned", "mrd.METHOD"),
    char("METHOD", "MRD Method", "Collected", "mrd.METHOD", "FC or NGS."),
    char("DTYPE", "Derivation Type", "Assigned", "",
         "BEST on the derived best-status record of each subject and parameter; missing on samples."),
    date("ADT", "Analysis Date", "Derived", "mrd.MRDDTC",
         "Sample date. Best-status rows: first negative sample (NEGATIVE), first positive "
         "(POSITIVE), last sample (NOT EVALUABLE; missing if none)."),
    num("ADY", "Analysis Relative Day", "Derived", "ADT; ADSL.TRTSDT",
        "ADT - TRTSDT + 1 on or after TRTSDT, ADT - TRTSDT before (no day 0)."),
    num("AVAL", "Analysis Value", "Derived", "mrd.MRDLEVEL",
        "Measured MRD level (fraction); 0 when undetectable. Missing on best-status rows."),
    char("AVALC", "Analysis Value (C)", "Derived", "mrd.MRDLEVEL; mrd.MRDUND",
         "Level as %.2E or UNDETECTABLE; best-status rows: BESTSTAT."),
    char("MRDUND", "MRD Undetectable", "Collected", "mrd.MRDUND"),
    num("SENS", "Assay Sensitivity of the Sample", "Collected", "mrd.MRDSENS"),
    num("THRESH", "MRD Negativity Threshold", "Assigned", "conventions.MRD_THRESHOLD",
        "1e-4 (FC), 1e-6 (NGS)."),
    char("EVALFL", "Evaluable for Negativity Flag", "Derived", "MRDUND; SENS; THRESH",
         "N if undetectable with SENS > THRESH (assay not sensitive enough), else Y."),
    char("NEGFL", "MRD Negative Flag", "Derived", "AVAL; MRDUND; SENS; THRESH",
         "Y if measured AVAL < THRESH, or undetectable with SENS <= THRESH; else N."),
    char("POSTFL", "Post-CAR-T1 Assessment Flag", "Derived", "ADT; ADSL.TRTSDT",
         "Y if ADT > TRTSDT (a sample on the infusion day is baseline), else N."),
    char("ANL01FL", "Analysis Flag 01: Sample Before Relapse", "Derived", "ADT; ADSL.RELDT",
         "Y if the sample precedes the first loss of remission (ADT < RELDT, or no RELDT), else N; "
         "samples on or after relapse are left out of every MRD analysis (SAP 4.2). Y on best-status rows."),
    char("CNFPOSFL", "Confirmed Positive Sample Flag", "Derived", "NEGFL; EVALFL; ANL01FL; ADSL.RELDT",
         "Y for an evaluable positive sample before relapse whose next evaluable sample of the method before "
         "relapse is also positive, or, with no such next sample, followed by relapse (SAP 4.4); else N."),
    char("BESTFL", "Best Status Record Flag", "Derived", "DTYPE",
         "Y on the best-status rows (DTYPE = BEST), N on sample rows."),
    char("BESTSTAT", "Best Post-CAR-T1 MRD Status", "Derived", "NEGFL; EVALFL; POSTFL",
         "Best-status rows: NEGATIVE if any post-CAR-T1 sample of the method is negative, else "
         "POSITIVE if any is evaluable, else NOT EVALUABLE (incl. no sample). Missing on samples."),
    *predecessors(ADSL_SPEC, "TRTSDT", "SAFFL"),
))


def classify_mrd(level: pd.Series, undetectable: pd.Series, sensitivity: pd.Series,
                 threshold: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(EVALFL, NEGFL) of samples against their threshold (SAP 4.2).

    Negative: a measured level below the threshold, or undetectable by an assay at least as
    sensitive as the threshold (SENS <= THRESH). Undetectable by a less sensitive assay
    (SENS > THRESH) is NOT EVALUABLE at that threshold: neither negative nor positive.
    """
    und = undetectable.eq("Y")
    evaluable = ~(und & (sensitivity > threshold))
    negative = (~und & (level < threshold)) | (und & (sensitivity <= threshold))
    return yn(evaluable), yn(negative)


def _check_levels(mrd: pd.DataFrame) -> None:
    und = mrd["MRDUND"].eq("Y")
    bad = (und & mrd["MRDLEVEL"].notna()) | (~und & mrd["MRDLEVEL"].isna())
    if bad.any():
        r = mrd.loc[bad].iloc[0]
        raise BadDataError(f"mrd.csv column MRDLEVEL: subject {r['SUBJID']} sample {r['MRDDTC']} "
                           f"{r['METHOD']}: MRDUND={r['MRDUND']} with MRDLEVEL={r['MRDLEVEL']} "
                           "(rule: a level exactly when MRD is detectable)")


def derive_mrd_records(mrd: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """One row per sample with the threshold classification (SAP 4.1-4.2)."""
    require_unique(mrd, "mrd", ["SUBJID", "MRDDTC", "METHOD"])
    _check_levels(mrd)
    subj = adsl[["USUBJID", "STUDYID", "COHORT", "TRTSDT", "SAFFL", "RELDT"]]
    rec = pd.DataFrame({
        "USUBJID": trial_usubjid(mrd["SUBJID"]), "METHOD": mrd["METHOD"].astype("string"),
        "ADT": raw_dates(mrd, "mrd", "MRDDTC"), "MRDUND": mrd["MRDUND"].astype("string"),
        "AVAL": mrd["MRDLEVEL"].astype("Float64").fillna(0.0),
        "SENS": mrd["MRDSENS"].astype("Float64"),
    }).merge(subj, on="USUBJID", how="left")
    rec["THRESH"] = rec["METHOD"].map(conventions.MRD_THRESHOLD).astype("Float64")
    rec["EVALFL"], rec["NEGFL"] = classify_mrd(rec["AVAL"], rec["MRDUND"], rec["SENS"], rec["THRESH"])
    rec["AVALC"] = pd.Series([UNDETECTABLE if u == "Y" else f"{v:.2E}"
                              for u, v in zip(rec["MRDUND"], rec["AVAL"])], index=rec.index, dtype="string")
    rec["ADY"] = study_day(rec["ADT"], rec["TRTSDT"])
    rec["POSTFL"] = yn(rec["TRTSDT"].notna() & (rec["ADT"] > rec["TRTSDT"]))
    rec["PARAMCD"] = rec["METHOD"].map(PARAMCD)
    rec["PARAM"] = rec["METHOD"].map(PARAM)
    rec["BESTFL"] = "N"
    rec["ANL01FL"] = yn(rec["RELDT"].isna() | (rec["ADT"] < rec["RELDT"]))
    rec["CNFPOSFL"] = confirmed_positive(rec)
    return rec.drop(columns="RELDT")


def confirmed_positive(rec: pd.DataFrame) -> pd.Series:
    """CNFPOSFL (SAP 4.4): an evaluable positive sample before relapse is a confirmed recurrence
    when the next evaluable sample of the same method before relapse is positive too, or when
    there is no such sample and the subject relapsed afterwards. A single positive followed by a
    negative (a transient low-level positive) is not confirmed."""
    usable = rec.loc[rec["ANL01FL"].eq("Y") & rec["EVALFL"].eq("Y")].sort_values(
        ["USUBJID", "METHOD", "ADT"], kind="mergesort")
    positive = usable["NEGFL"].eq("N").to_numpy(dtype=bool)
    subject, method = usable["USUBJID"].astype(str).to_numpy(), usable["METHOD"].astype(str).to_numpy()
    has_next = np.r_[(subject[1:] == subject[:-1]) & (method[1:] == method[:-1]), False]  # same subject and method
    next_positive = np.r_[positive[1:], False] & has_next
    relapsed_later = usable["RELDT"].notna().to_numpy(dtype=bool) & ~has_next
    confirmed = pd.Series(positive & (next_positive | relapsed_later), index=usable.index)
    return yn(confirmed.reindex(rec.index, fill_value=False))


def best_status(records: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """Per treated subject (SAFFL = Y) and method, the best post-CAR-T1 status (SAP 4.3):
    NEGATIVE if any post-CAR-T1 sample is negative, else POSITIVE if any is evaluable (and so
    positive), else NOT EVALUABLE (only non-evaluable samples, or none)."""
    # samples on or after relapse are not used (SAP 4.2: ANL01FL)
    post = records.loc[records["POSTFL"].eq("Y") & records["ANL01FL"].eq("Y")].sort_values(
        ["USUBJID", "METHOD", "ADT"], kind="mergesort")
    treated = adsl.loc[adsl["SAFFL"].eq("Y"), ["USUBJID", "STUDYID", "COHORT", "TRTSDT", "SAFFL"]]
    rows = []
    for method in conventions.MRD_THRESHOLD:
        m = post.loc[post["METHOD"].eq(method)]
        first_neg = m.loc[m["NEGFL"].eq("Y")].groupby("USUBJID")["ADT"].min()
        first_pos = m.loc[m["EVALFL"].eq("Y") & m["NEGFL"].eq("N")].groupby("USUBJID")["ADT"].min()
        last_any = m.groupby("USUBJID")["ADT"].max()
        b = treated.copy()
        neg, pos = b["USUBJID"].isin(first_neg.index), b["USUBJID"].isin(first_pos.index)
        b["BESTSTAT"] = pd.Series(NOT_EVALUABLE, index=b.index, dtype="string").mask(pos, POSITIVE).mask(neg, NEGATIVE)
        b["AVALC"] = b["BESTSTAT"]
        b["ADT"] = (lookup(b["USUBJID"], last_any).where(~pos, lookup(b["USUBJID"], first_pos))
                    .where(~neg, lookup(b["USUBJID"], first_neg))).astype(DATE_DTYPE)
        b["METHOD"], b["PARAMCD"], b["PARAM"], b["DTYPE"] = method, PARAMCD[method], PARAM[method], BEST_DTYPE
        b["THRESH"] = conventions.MRD_THRESHOLD[method]
        rows.append(b)
    best = pd.concat(rows, ignore_index=True)
    best["ADY"] = study_day(best["ADT"], best["TRTSDT"])
    best["BESTFL"] = "Y"
    best["ANL01FL"] = "Y"
    best["CNFPOSFL"] = "N"
    best["POSTFL"] = yn(best["ADT"].notna())
    return best


def derive_admrd(mrd: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """ADMRD: sample rows then best-status rows, every SPEC variable present."""
    records = derive_mrd_records(mrd, adsl)
    return typed(pd.concat([records, best_status(records, adsl)], ignore_index=True), SPEC)
