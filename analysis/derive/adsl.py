"""ADSL: one row per subject, trial (COHORT "SANDWICH") and external allo-HSCT controls
(COHORT "ALLO_EXT") together, with demographics and baseline characteristics harmonised to one
coding, the key dates of the treatment sequence and of follow-up, and population flags.

Rules in words: docs/sap-notes.md sections 1 (populations), 2.3 (partial dates) and 6 (external
control harmonisation). No direct identifier (INITIALS, BRTHDTC, HOSPRN) is carried.
"""

from __future__ import annotations

import pandas as pd

from analysis import conventions
from analysis.derive.common import (
    EXTERNAL_STUDYID, external_usubjid, lookup, raw_dates, raw_start_dates, require_known_subjects,
    require_unique, trial_usubjid, yn,
)
from analysis.derive.dates import DATE_DTYPE
from analysis.derive.periods import PERIODS, entered_flags, period_bounds, period_columns
from analysis.derive.spec import DatasetSpec, char, date, num, typed
from analysis.errors import BadDataError
from analysis.raw_spec import REMISSION_CODES, RESPONSE_CODES, WBC_PER_1E9_L

LOSS_OF_REMISSION = tuple(c for c in RESPONSE_CODES if c not in REMISSION_CODES)  # NR, RELAPSE
TREATMENT = {conventions.COHORT_TRIAL: "CAR-T/AUTO-HSCT SANDWICH",
             conventions.COHORT_EXTERNAL: "ALLO-HSCT (EXTERNAL CONTROL)"}
DOSE_PRODUCTS = ("CD22", "CD19")  # CAR-T products, each dosed per kg (registry: 5 x 10^6/kg each)
AGE_GROUP_CUTOFF = 40  # AGEGR1: "<40" / ">=40" years (adolescent/young adult vs older adult)

# SAP 6: harmonisation of the registry's coding to the trial's.
SEX_TRIAL = {1: "M", 2: "F"}
PH_EXTERNAL = {"Y": "POS", "N": "NEG"}
CYTORISK_EXTERNAL = {"standard": "STANDARD", "high": "HIGH"}
MRDPRE_EXTERNAL = {"positive": "POS", "negative": "NEG"}

SPEC = DatasetSpec("ADSL", "Subject-Level Analysis Dataset", ("USUBJID",), (
    char("STUDYID", "Study Identifier", "Assigned", "dm.STUDYID; ALLOREG for controls",
         "Trial: dm.STUDYID. External controls: 'ALLOREG'."),
    char("USUBJID", "Unique Subject Identifier", "Derived", "dm.SUBJID; ext.PATID",
         "STUDYID-SUBJID (trial); 'ALLOREG-'||PATID (controls)."),
    char("SUBJID", "Subject Identifier for the Study", "Collected", "dm.SUBJID; ext.PATID"),
    char("SITEID", "Study Site Identifier", "Collected", "dm.SITEID", "Missing for controls."),
    char("COHORT", "Cohort", "Assigned", "",
         "SANDWICH for trial subjects, ALLO_EXT for the external allo-HSCT controls."),
    char("TRT01P", "Planned Treatment for Period 01", "Assigned", "COHORT",
         "Trial: CAR-T/AUTO-HSCT SANDWICH; controls: ALLO-HSCT (EXTERNAL CONTROL)."),
    char("TRT01A", "Actual Treatment for Period 01", "Derived", "TRT01P; TRTSDT; ALLOHSDT",
         "TRT01P when the subject received it (trial: TRTSDT present), else missing."),
    num("AGE", "Age", "Collected", "dm.AGE; ext.AGE",
        "Trial: age at informed consent. Controls: age at allo-HSCT."),
    char("AGEU", "Age Units", "Assigned", "", "YEARS."),
    char("AGEGR1", "Pooled Age Group 1", "Derived", "AGE", "'<40' if AGE < 40 else '>=40'."),
    num("AGEGR1N", "Pooled Age Group 1 (N)", "Derived", "AGEGR1", "1 for '<40', 2 for '>=40'."),
    char("SEX", "Sex", "Derived", "dm.SEX; ext.SEX", "Trial 1->M, 2->F; controls as recorded (M/F)."),
    char("PHSTAT", "Ph/BCR-ABL1 Status", "Derived", "bl.PHSTAT; ext.PHPOS",
         "POS/NEG; registry Y->POS, N->NEG."),
    char("CYTORISK", "Cytogenetic Risk Group", "Derived", "bl.CYTORISK; ext.CYTORISK",
         "STANDARD/HIGH; registry lower case -> upper case."),
    num("WBCDIAG", "WBC at Diagnosis (10^9/L)", "Derived", "bl.WBCDIAG; bl.WBCDIAGU; ext.WBCDIAG",
        "In 10^9/L: trial values recorded in cells/uL (bl.WBCDIAGU) divided by 1000."),
    char("CNSSTAT", "CNS Status at Diagnosis", "Collected", "bl.CNSSTAT; ext.CNSSTAT"),
    char("DISSTAT", "Disease Status Before Therapy", "Collected", "bl.DISSTAT; ext.DISSTAT",
         "CR1/CR2: before CAR-T1 (trial), at allo-HSCT (controls)."),
    char("MRDPRE", "MRD Status Before Therapy", "Derived", "bl.MRDPRE; ext.MRDPRE",
         "POS/NEG; registry positive->POS, negative->NEG."),
    num("MRDPRELV", "MRD Level Before CAR-T1 (Fraction)", "Collected", "bl.MRDPRELV"),
    char("MRDPREMT", "MRD Method Before CAR-T1", "Collected", "bl.MRDPREMT"),
    char("DONOR", "Allo-HSCT Donor Type", "Collected", "ext.DONOR", "Controls only."),
    date("DIAGDT", "Date of Diagnosis", "Derived", "bl.DIAGDTC; ext.DIAGDTC",
         "Partial dates: missing day imputed to the 1st of the month (SAP 2.3)."),
    char("DIAGDTF", "Date of Diagnosis Imputation Flag", "Derived", "DIAGDT", "'D' if the day was imputed."),
    date("CRDT", "Date of Remission Before Therapy", "Derived", "bl.CRDTC; ext.CRDTC"),
    date("TRTSDT", "Date of First CAR-T1 Infusion", "Derived", "cart.INFDTC",
         "Earliest CAR-T1 infusion date (the CD22 product is given first)."),
    date("CART1EDT", "Date of Last CAR-T1 Infusion", "Derived", "cart.INFDTC",
         "Latest CAR-T1 infusion date."),
    *[num(f"DOS{k}{prod}", f"CAR-T{k} {prod} Dose (cells/kg)", "Collected", "cart.DOSE",
          f"Dose of the {prod} product at CAR-T{k} (first infusion of that product).")
      for k in (1, 2) for prod in DOSE_PRODUCTS],
    date("MOBSTDT", "Mobilization Start Date", "Derived", "mob.MOBSTDTC"),
    char("MOBSTAT", "Mobilization Outcome", "Collected", "mob.MOBSTAT"),
    date("COLLDT", "Stem-Cell Collection Date", "Derived", "mob.COLLDTC"),
    num("CD34YLD", "CD34+ Yield (10^6/kg)", "Collected", "mob.CD34"),
    date("CONDSTDT", "Conditioning Start Date", "Derived", "hsct.CONDSTDTC"),
    date("AHSCTDT", "Auto-HSCT Date", "Derived", "hsct.HSCTDTC"),
    date("NEUTDT", "Neutrophil Engraftment Date", "Derived", "hsct.NEUTDTC",
         "First day of ANC >= 0.5 x 10^9/L after auto-HSCT."),
    date("PLTDT", "Platelet Engraftment Date", "Derived", "hsct.PLTDTC",
         "First day of platelets >= 20 x 10^9/L unsupported after auto-HSCT."),
    date("CART2DT", "Date of CAR-T2 Infusion", "Derived", "cart.INFDTC",
         "Earliest CAR-T2 infusion date."),
    date("ALLOHSDT", "Date of Allo-HSCT", "Derived", "ext.HSCTDTC", "Controls only."),
    date("REMDT", "Date of First Remission After Therapy", "Derived", "rs.RSDTC; ext.HSCTDTC",
         "Trial: first assessment after TRTSDT with RSORRES CR or CRi. Controls: ALLOHSDT "
         "(transplanted in remission)."),
    date("RELDT", "Date of First Relapse", "Derived", "rs.RSDTC; ext.RELDTC",
         "Trial: first assessment with RSORRES RELAPSE or NR (loss of remission) after REMDT, "
         "or after TRTSDT when no remission was reached. Controls: ext.RELDTC."),
    char("RELSITE", "Site of First Relapse", "Collected", "rs.RELSITE",
         "Trial: rs.RELSITE of the assessment at RELDT when it is a RELAPSE (BM, CNS, BM+CNS, "
         "OTHER-EM; an NR loss of remission has none). Controls: missing (not in the registry)."),
    date("DTHDT", "Date of Death", "Derived", "ds.DTHDTC; ext.DTHDTC"),
    char("DTHFL", "Subject Death Flag", "Derived", "ds.DTHFL; ext.DTHDTC", "Y if died, else N."),
    char("DTHCAUS", "Cause of Death", "Collected", "ds.DTHCAUS; ext.DTHCAUS",
         "Registry values upper-cased."),
    date("LSTALVDT", "Date Last Known Alive", "Derived",
         "ds.LSTALVDTC; rs.RSDTC; mrd.MRDDTC; cart.INFDTC; hsct.HSCTDTC; ae.AESTDTC; ae.AEENDTC; "
         "ext.LSTFUDTC",
         "Trial: latest of the last-known-alive date and every complete assessment, sample, "
         "procedure and AE date. Controls: ext.LSTFUDTC."),
    date("LSTASDT", "Date of Last Disease Assessment", "Derived", "rs.RSDTC; ext.LSTFUDTC",
         "Trial: latest response assessment. Controls: last follow-up (the registry has no "
         "assessment dates)."),
    char("EOTSTT", "End of Treatment Status", "Collected", "ds.EOTSTAT"),
    char("DCSREAS", "Reason for Stopping Treatment", "Collected", "ds.DCREAS"),
    date("EOTDT", "Date Treatment Stopped", "Derived", "ds.DCDTC"),
    date("ALLOICDT", "Date of Allo-HSCT After Stopping", "Derived", "ct.CTSTDTC; ct.CTTYPE; RELDT",
         "Intercurrent event (SAP 6.3): first ct.csv ALLO-HSCT on or after TRTSDT and before "
         "RELDT (in remission, after the sandwich stopped). Trial only."),
    date("DCUTDT", "Data Cut-off Date", "Assigned", "cut name", "The date in the cut name."),
    char("ENRLFL", "Enrolled Population Flag", "Derived", "dm",
         "Y for every trial subject in dm; N for controls."),
    char("SAFFL", "Safety Population Flag", "Derived", "TRTSDT",
         "Y if TRTSDT is not missing (received CAR-T1), else N."),
    char("MOBFL", "Mobilized Flag", "Derived", "MOBSTDT", "Y if MOBSTDT is not missing, else N."),
    char("COLLSFL", "Successful Collection Flag", "Derived", "MOBSTAT; CD34YLD",
         "Y if MOBSTAT = SUCCESS and CD34YLD >= 2 (x 10^6/kg; SAP 1.1), else N."),
    *[spec for k, name in enumerate(PERIODS, start=1) for spec in (
        date(period_columns(k)[0], f"Period {k:02d} Start Date", "Derived", "ADSL dates",
             f"Start of the {name} AE period (SAP 5.2, analysis/derive/periods.py)."),
        date(period_columns(k)[1], f"Period {k:02d} End Date", "Derived", "ADSL dates",
             f"End of the {name} AE period (SAP 5.2)."),
        char(period_columns(k)[2], f"Entered Period {k:02d} Flag", "Derived", "APxxSDT; DTHDT; LSTALVDT",
             f"Y if the {name} period opened by the end of observation (SAP 5.2)."))],
    char("COMPLFL", "Completed Sandwich Flag", "Derived", "CART2DT",
         "Y if CART2DT is not missing (completed CAR-T1, auto-HSCT and CAR-T2), else N."),
    char("LFSFL", "LFS Population Flag", "Derived", "REMDT",
         "Y if REMDT is not missing (remission after therapy), else N."),
))


def wbc_in_1e9_per_l(bl: pd.DataFrame) -> pd.Series:
    """bl.WBCDIAG converted to 10^9/L from the unit bl.WBCDIAGU states (cells/uL / 1000;
    raw_spec.WBC_PER_1E9_L). A missing unit is read as 10^9/L (older exports). SAP 6.1."""
    unit = bl["WBCDIAGU"] if "WBCDIAGU" in bl else pd.Series("10^9/L", index=bl.index)
    factor = unit.map(WBC_PER_1E9_L).fillna(1.0).astype(float)
    return (bl["WBCDIAG"].astype("Float64") / factor).astype("Float64")


def _first_by_subject(df: pd.DataFrame, key: str, date_col: str, name: str, how: str) -> pd.DataFrame:
    agg = df.groupby(key, sort=True)[date_col].agg(how)
    return agg.rename(name).reset_index()


def infusion_dates(cart: pd.DataFrame) -> pd.DataFrame:
    """Per SUBJID: TRTSDT / CART1EDT (first / last CAR-T1 infusion) and CART2DT (first CAR-T2)."""
    cart = cart.assign(INFDT=raw_dates(cart, "cart", "INFDTC"))
    t1 = cart.loc[cart["PHASE"] == "CAR-T1"]
    t2 = cart.loc[cart["PHASE"] == "CAR-T2"]
    out = _first_by_subject(t1, "SUBJID", "INFDT", "TRTSDT", "min")
    out = out.merge(_first_by_subject(t1, "SUBJID", "INFDT", "CART1EDT", "max"), on="SUBJID")
    out = out.merge(_first_by_subject(t2, "SUBJID", "INFDT", "CART2DT", "min"), on="SUBJID", how="outer")
    return out.merge(infusion_doses(cart), on="SUBJID", how="left")


def infusion_doses(cart: pd.DataFrame) -> pd.DataFrame:
    """Per SUBJID: DOS1CD22, DOS1CD19, DOS2CD22, DOS2CD19 (cells/kg of the first infusion of each
    product at CAR-T1 / CAR-T2)."""
    first = cart.sort_values(["SUBJID", "INFDT"], kind="mergesort").drop_duplicates(["SUBJID", "PHASE", "PRODUCT"])
    first = first.assign(NAME="DOS" + first["PHASE"].str[-1] + first["PRODUCT"])
    wide = first.pivot(index="SUBJID", columns="NAME", values="DOSE").astype("Float64")
    names = [f"DOS{k}{p}" for k in (1, 2) for p in DOSE_PRODUCTS]
    return wide.reindex(columns=names).reset_index()


def procedure_dates(mob: pd.DataFrame, hsct: pd.DataFrame) -> pd.DataFrame:
    """Per SUBJID: MOBSTDT, MOBSTAT, COLLDT (mobilization form) and CONDSTDT, AHSCTDT, NEUTDT,
    PLTDT (hsct)."""
    m = pd.DataFrame({"SUBJID": mob["SUBJID"], "MOBSTDT": raw_dates(mob, "mob", "MOBSTDTC"),
                      "MOBSTAT": mob["MOBSTAT"], "COLLDT": raw_dates(mob, "mob", "COLLDTC"),
                      "CD34YLD": mob["CD34"].astype("Float64")})
    h = pd.DataFrame({"SUBJID": hsct["SUBJID"], "CONDSTDT": raw_dates(hsct, "hsct", "CONDSTDTC"),
                      "AHSCTDT": raw_dates(hsct, "hsct", "HSCTDTC"), "NEUTDT": raw_dates(hsct, "hsct", "NEUTDTC"),
                      "PLTDT": raw_dates(hsct, "hsct", "PLTDTC")})
    return m.merge(h, on="SUBJID", how="outer")


def response_dates(rs: pd.DataFrame, trtsdt: pd.DataFrame) -> pd.DataFrame:
    """Per SUBJID: REMDT (first CR/CRi strictly after TRTSDT), RELDT (first loss of remission:
    RELAPSE or NR after REMDT, or after TRTSDT for a subject without remission; every trial
    subject is in remission before CAR-T1, so NR is loss of that remission) and LSTASDT (last
    assessment). SAP 1 and 2."""
    rs = rs.assign(RSDT=raw_dates(rs, "rs", "RSDTC")).merge(trtsdt, on="SUBJID", how="left")
    post = rs.loc[rs["TRTSDT"].notna() & (rs["RSDT"] > rs["TRTSDT"])]
    rem = _first_by_subject(post.loc[post["RSORRES"].isin(REMISSION_CODES)], "SUBJID", "RSDT", "REMDT", "min")
    post = post.merge(rem, on="SUBJID", how="left")
    after_origin = post["RSDT"] > post["REMDT"].fillna(post["TRTSDT"])
    rel = _first_by_subject(post.loc[after_origin & post["RSORRES"].isin(LOSS_OF_REMISSION)],
                            "SUBJID", "RSDT", "RELDT", "min")
    last = _first_by_subject(rs, "SUBJID", "RSDT", "LSTASDT", "max")
    return last.merge(rem, on="SUBJID", how="left").merge(rel, on="SUBJID", how="left")


def disposition(ds: pd.DataFrame) -> pd.DataFrame:
    """Per SUBJID: EOTSTT, DCSREAS, EOTDT, DTHFL, DTHDT, DTHCAUS and the collected last-alive date."""
    return pd.DataFrame({
        "SUBJID": ds["SUBJID"], "EOTSTT": ds["EOTSTAT"], "DCSREAS": ds["DCREAS"],
        "EOTDT": raw_dates(ds, "ds", "DCDTC"), "DTHFL": ds["DTHFL"],
        "DTHDT": raw_dates(ds, "ds", "DTHDTC"), "DTHCAUS": ds["DTHCAUS"],
        "LSTALVC": raw_dates(ds, "ds", "LSTALVDTC"),
    })


# Complete dates on which a subject was seen alive (admiral derive_var_extreme_dt sources).
ALIVE_SOURCES = (("rs", "RSDTC"), ("mrd", "MRDDTC"), ("cart", "INFDTC"), ("hsct", "HSCTDTC"),
                 ("ae", "AESTDTC"), ("ae", "AEENDTC"))


def alive_dates(forms: dict[str, pd.DataFrame]) -> list[pd.DataFrame]:
    """(SUBJID, DATE) frames of every complete date in ``ALIVE_SOURCES``; partial dates (AE
    onset/resolution without a day) are not used: they do not show the day the subject was seen."""
    frames = []
    for form, col in ALIVE_SOURCES:
        df = forms[form]
        complete = df.loc[df[col].astype("string").str.len().eq(10).fillna(False).astype(bool)]
        frames.append(pd.DataFrame({"SUBJID": complete["SUBJID"], "DATE": raw_dates(complete, form, col)}))
    return frames


def last_alive(subjects: pd.DataFrame, dated: list[pd.DataFrame]) -> pd.Series:
    """LSTALVDT: latest of the collected last-known-alive date (LSTALVC) and every complete
    date in ``dated`` (frames of SUBJID, DATE), as admiral's derive_var_extreme_dt (SAP 1)."""
    stacked = pd.concat([subjects[["SUBJID", "LSTALVC"]].rename(columns={"LSTALVC": "DATE"})] + dated,
                        ignore_index=True)
    latest = stacked.groupby("SUBJID")["DATE"].max()
    return lookup(subjects["SUBJID"], latest).astype(DATE_DTYPE)


def population_flags(adsl: pd.DataFrame) -> pd.DataFrame:
    """ENRLFL, SAFFL, MOBFL, COLLSFL, COMPLFL, LFSFL as defined in SPEC (SAP 1)."""
    return adsl.assign(
        ENRLFL=yn(adsl["COHORT"] == conventions.COHORT_TRIAL),
        SAFFL=yn(adsl["TRTSDT"].notna()),
        MOBFL=yn(adsl["MOBSTDT"].notna()),
        # SAP 1.1: collection succeeded only when recorded SUCCESS with enough CD34+ cells
        COLLSFL=yn(adsl["MOBSTAT"].eq("SUCCESS") & (adsl["CD34YLD"] >= conventions.CD34_MIN_YIELD)),
        COMPLFL=yn(adsl["CART2DT"].notna()),
        LFSFL=yn(adsl["REMDT"].notna()),
    )


def age_group(age: pd.Series) -> tuple[pd.Series, pd.Series]:
    young = age < AGE_GROUP_CUTOFF
    label = pd.Series(young.map({True: f"<{AGE_GROUP_CUTOFF}", False: f">={AGE_GROUP_CUTOFF}"}),
                      dtype="string").where(age.notna())
    return label, young.map({True: 1.0, False: 2.0}).astype("Float64").where(age.notna())


def _check_disposition(adsl: pd.DataFrame) -> None:
    """Cross-form consistency the derivations rely on; a BadDataError names subject and rule."""
    bad = adsl["COHORT"].eq(conventions.COHORT_TRIAL) & adsl["EOTSTT"].eq("COMPLETED") & adsl["CART2DT"].isna()
    if bad.any():
        raise BadDataError(f"ds.csv column EOTSTAT: subject(s) {adsl.loc[bad, 'SUBJID'].tolist()[:5]} "
                           "COMPLETED without a CAR-T2 infusion in cart.csv "
                           "(rule: completing the sandwich means CAR-T2 was given)")
    dead = adsl["DTHFL"].eq("Y") != adsl["DTHDT"].notna()
    if dead.any():
        raise BadDataError(f"ds.csv columns DTHFL/DTHDTC: subject(s) {adsl.loc[dead, 'SUBJID'].tolist()[:5]} "
                           "(rule: DTHFL = Y exactly when a death date is recorded)")


def relapse_site(rs: pd.DataFrame, reldt: pd.DataFrame) -> pd.DataFrame:
    """Per SUBJID: RELSITE, rs.RELSITE of the RELAPSE assessment dated RELDT (SAP 8)."""
    rs = rs.assign(RSDT=raw_dates(rs, "rs", "RSDTC")).merge(reldt, on="SUBJID")
    at = rs.loc[rs["RSDT"].eq(rs["RELDT"]).fillna(False) & rs["RSORRES"].eq("RELAPSE")]
    return at[["SUBJID", "RELSITE"]].drop_duplicates("SUBJID")


def intercurrent_allo(ct: pd.DataFrame, dates: pd.DataFrame) -> pd.DataFrame:
    """Per SUBJID: ALLOICDT, the first subsequent ALLO-HSCT (ct.csv) on or after TRTSDT and
    before RELDT: an allo-HSCT in remission after stopping the sandwich, the intercurrent event
    of SAP 6.3 (an allo-HSCT after relapse is salvage, not this event)."""
    ct = ct.assign(CTSTDT=raw_dates(ct, "ct", "CTSTDTC")).merge(dates, on="SUBJID")
    ice = ct["CTTYPE"].eq("ALLO-HSCT") & (ct["CTSTDT"] >= ct["TRTSDT"]).fillna(False) \
        & (ct["RELDT"].isna() | (ct["CTSTDT"] < ct["RELDT"]).fillna(False))
    return _first_by_subject(ct.loc[ice], "SUBJID", "CTSTDT", "ALLOICDT", "min")


def derive_trial_adsl(forms: dict[str, pd.DataFrame], cut_date: pd.Timestamp) -> pd.DataFrame:
    """ADSL rows of the trial subjects from dm, bl, cart, mob, hsct, rs, mrd and ds."""
    dm, bl = forms["dm"], forms["bl"]
    require_unique(dm, "dm", ["SUBJID"])
    for name in ("bl", "cart", "mob", "hsct", "rs", "mrd", "ds"):
        require_known_subjects(forms[name], name, dm["SUBJID"])
    for name in ("bl", "mob", "hsct", "ds"):
        require_unique(forms[name], name, ["SUBJID"])
    diagdt, diagdtf = raw_start_dates(bl, "bl", "DIAGDTC")
    base = pd.DataFrame({
        "STUDYID": dm["STUDYID"], "USUBJID": trial_usubjid(dm["SUBJID"]), "SUBJID": dm["SUBJID"],
        "SITEID": dm["SITEID"], "COHORT": conventions.COHORT_TRIAL,
        "AGE": dm["AGE"].astype("Float64"), "SEX": dm["SEX"].map(SEX_TRIAL),
    })
    baseline = pd.DataFrame({
        "SUBJID": bl["SUBJID"], "PHSTAT": bl["PHSTAT"], "CYTORISK": bl["CYTORISK"],
        "WBCDIAG": wbc_in_1e9_per_l(bl), "CNSSTAT": bl["CNSSTAT"], "DISSTAT": bl["DISSTAT"],
        "MRDPRE": bl["MRDPRE"], "MRDPRELV": bl["MRDPRELV"].astype("Float64"), "MRDPREMT": bl["MRDPREMT"],
        "DIAGDT": diagdt, "DIAGDTF": diagdtf, "CRDT": raw_dates(bl, "bl", "CRDTC"),
    })
    infusions = infusion_dates(forms["cart"])
    adsl = (base.merge(baseline, on="SUBJID", how="left")
            .merge(infusions, on="SUBJID", how="left")
            .merge(procedure_dates(forms["mob"], forms["hsct"]), on="SUBJID", how="left")
            .merge(response_dates(forms["rs"], infusions[["SUBJID", "TRTSDT"]]), on="SUBJID", how="left")
            .merge(disposition(forms["ds"]), on="SUBJID", how="left"))
    adsl = adsl.merge(relapse_site(forms["rs"], adsl[["SUBJID", "RELDT"]]), on="SUBJID", how="left")
    if "ct" in forms:
        require_known_subjects(forms["ct"], "ct", dm["SUBJID"])
        adsl = adsl.merge(intercurrent_allo(forms["ct"], adsl[["SUBJID", "TRTSDT", "RELDT"]]), on="SUBJID",
                          how="left")
    adsl["LSTALVDT"] = last_alive(adsl, alive_dates(forms))
    adsl["DTHFL"] = adsl["DTHFL"].fillna("N")
    _check_disposition(adsl)
    return adsl.drop(columns=["LSTALVC"]).assign(DCUTDT=cut_date)


def derive_external_adsl(ext: pd.DataFrame, cut_date: pd.Timestamp) -> pd.DataFrame:
    """ADSL rows of the external allo-HSCT controls, recoded to the trial's coding (SAP 6)."""
    require_unique(ext, "ext", ["PATID"])
    diagdt, diagdtf = raw_start_dates(ext, "ext", "DIAGDTC")
    hsctdt = raw_dates(ext, "ext", "HSCTDTC")
    dthdt = raw_dates(ext, "ext", "DTHDTC")
    lstfu = raw_dates(ext, "ext", "LSTFUDTC")
    return pd.DataFrame({
        "STUDYID": EXTERNAL_STUDYID, "USUBJID": external_usubjid(ext["PATID"]), "SUBJID": ext["PATID"],
        "COHORT": conventions.COHORT_EXTERNAL, "AGE": ext["AGE"].astype("Float64"), "SEX": ext["SEX"],
        "PHSTAT": ext["PHPOS"].map(PH_EXTERNAL), "CYTORISK": ext["CYTORISK"].map(CYTORISK_EXTERNAL),
        "WBCDIAG": ext["WBCDIAG"].astype("Float64"), "CNSSTAT": ext["CNSSTAT"], "DISSTAT": ext["DISSTAT"],
        "MRDPRE": ext["MRDPRE"].map(MRDPRE_EXTERNAL), "DONOR": ext["DONOR"],
        "DIAGDT": diagdt, "DIAGDTF": diagdtf, "CRDT": raw_dates(ext, "ext", "CRDTC"),
        "ALLOHSDT": hsctdt, "REMDT": hsctdt, "RELDT": raw_dates(ext, "ext", "RELDTC"),
        "DTHDT": dthdt, "DTHFL": pd.Series(dthdt.notna().map({True: "Y", False: "N"}), dtype="string"),
        "DTHCAUS": ext["DTHCAUS"].str.upper(),
        "LSTALVDT": lstfu, "LSTASDT": lstfu, "DCUTDT": cut_date,
    })


def derive_adsl(forms: dict[str, pd.DataFrame], cut_date: str | pd.Timestamp) -> pd.DataFrame:
    """ADSL of one cut: trial rows then control rows, every SPEC variable present."""
    cut = pd.Timestamp(cut_date).as_unit("us")
    both = pd.concat([derive_trial_adsl(forms, cut), derive_external_adsl(forms["ext"], cut)],
                     ignore_index=True)
    both["AGEU"] = "YEARS"
    both["TRT01P"] = both["COHORT"].map(TREATMENT)
    received = both["TRTSDT"].notna() | both["ALLOHSDT"].notna()
    both["TRT01A"] = both["TRT01P"].where(received)
    both["AGEGR1"], both["AGEGR1N"] = age_group(both["AGE"])
    both = population_flags(both)
    bounds = period_bounds(both)   # SAP 5.2
    both = pd.concat([both, bounds, entered_flags(both, bounds)], axis=1)
    return typed(both, SPEC)


