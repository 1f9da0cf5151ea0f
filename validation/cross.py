"""Cross-form suites ``cross.<form>``: each form's rows joined to the subject's key dates.

A subject-level table of key dates (enrollment, CAR-T1 CD22, last CAR-T1 infusion, collection,
auto-HSCT, death) and flags (has a bl/ds/HSCT record, collection
succeeded, ...) is built from the per-form check frames and left-joined to every row of a form
on SUBJID, so each failure is still reported against that form's CSV row. The rules:

- referential integrity: every SUBJID of a trial form is in dm; every dm subject has bl and ds;
- protocol sequence: enrollment <= CAR-T1 CD22 <= CAR-T1 CD19 < mobilization <= collection
  < conditioning start <= auto-HSCT < CAR-T2; CAR-T2 only after an HSCT; HSCT only after a
  successful collection; mobilization only after CAR-T1;
- nothing after death: infusions, mobilization, collection, conditioning, HSCT, engraftment,
  response and MRD assessments, AE onset and resolution, treatment stop, last known alive;
- nothing before enrollment: infusions, assessments, MRD samples, AE onset, disposition dates;
- a grade 5 AE means the subject died; and (death <-> fatal AE reconciliation) every death not
  caused by relapse inside the AE window (raw_spec.AE_WINDOW_DAYS after CAR-T1; 30 days after
  stopping for a subject never infused) has a grade 5 AE in ae.csv;
- subsequent therapy (ct.csv) neither before enrollment nor after death;
- disposition agrees with treatment: COMPLETED only with a CAR-T2 infusion, MOBILIZATION FAILURE
  only with a failed mobilization.

Order rules between dates follow validation.dates.PARTIAL_DATE_RULE.
"""

from __future__ import annotations

from dataclasses import dataclass

import great_expectations as gx
import pandas as pd
from great_expectations.expectations.row_conditions import Column as Col

from analysis.raw_spec import AE_WINDOW_DAYS, TRIAL_FORMS
from validation.frames import hi, lo
from validation.rules import DateRef, Rule, Suite, equals, flag_true, on_or_after, shown

E = gx.expectations
SUBJ = "SUBJID"


@dataclass(frozen=True)
class KeyDate:
    name: str                  # column stem in the joined frame: EV_<name>
    form: str
    column: str
    label: str
    where: tuple = ()          # ((column, value), ...) selecting the row in its form
    latest: bool = False       # several rows per subject: take the latest (else the earliest)

    @property
    def ref(self) -> DateRef:
        return DateRef(f"EV_{self.name}", self.label)


KEY_DATES = (
    KeyDate("ENRL", "dm", "ENRLDTC", "enrollment dm.ENRLDTC"),
    KeyDate("CART1_CD22", "cart", "INFDTC", "CAR-T1 CD22 infusion cart.INFDTC",
            (("PHASE", "CAR-T1"), ("PRODUCT", "CD22"))),
    KeyDate("CART1_LAST", "cart", "INFDTC", "last CAR-T1 infusion cart.INFDTC", (("PHASE", "CAR-T1"),),
            latest=True),
    KeyDate("COLL", "mob", "COLLDTC", "stem-cell collection mob.COLLDTC"),
    KeyDate("HSCT", "hsct", "HSCTDTC", "auto-HSCT hsct.HSCTDTC"),
    KeyDate("DTH", "ds", "DTHDTC", "death ds.DTHDTC"),
)
ENRL, CART1_CD22, CART1_LAST, COLL, HSCT, DTH = (k.ref for k in KEY_DATES)


# Columns the subject table reads (key dates, flags); without them the cross-form suites do not run.
SUBJECT_TABLE_COLUMNS = {
    "dm": ("SUBJID", "ENRLDTC"), "bl": ("SUBJID", "CRDTC"), "cart": ("SUBJID", "PHASE", "PRODUCT", "INFDTC"),
    "mob": ("SUBJID", "MOBSTAT", "COLLDTC"), "hsct": ("SUBJID", "HSCTDTC"), "ds": ("SUBJID", "DTHDTC", "DTHFL"),
    "rs": ("SUBJID",), "mrd": ("SUBJID",), "ae": ("SUBJID", "AETOXGR"), "ct": ("SUBJID",),
}
NOT_AFTER_STOP_DAYS = 30   # AE collection of a subject never infused ends 30 days after stopping


def fatal_ae_reconciled(frames: dict[str, pd.DataFrame], table: pd.DataFrame) -> pd.Series:
    """Per subject: False when a death that must have its grade 5 AE has none (SAP 5; the AE
    window of raw_spec.AE_WINDOW_DAYS). Deaths from relapse, and deaths after the window, need none."""
    ae = frames["ae"]
    fatal = set(ae.loc[ae["AETOXGR"].astype("string").str.strip() == "5", SUBJ].dropna())
    ds = frames["ds"].dropna(subset=[SUBJ]).drop_duplicates(SUBJ).set_index(SUBJ)
    died = ds["DTHFL"].reindex(table.index).eq("Y").fillna(False).astype(bool)
    cause = ds["DTHCAUS"].reindex(table.index)
    death, cart1 = table[lo(DTH.base)], table[lo(CART1_CD22.base)]
    stop = pd.to_datetime(ds["DCDTC"].reindex(table.index), errors="coerce")
    window_end = cart1 + pd.Timedelta(days=AE_WINDOW_DAYS)
    window_end = window_end.where(cart1.notna(), stop + pd.Timedelta(days=NOT_AFTER_STOP_DAYS))
    due = died & cause.ne("RELAPSE").fillna(True).astype(bool) & (death <= window_end).fillna(False).astype(bool)
    return ~due | pd.Series(table.index.isin(fatal), index=table.index)


def _key_date(frames: dict[str, pd.DataFrame], kd: KeyDate) -> pd.DataFrame:
    f = frames[kd.form]
    sel = pd.Series(True, index=f.index)
    for col, value in kd.where:
        sel &= f[col] == value
    rows = f.loc[sel & f[SUBJ].notna(), [SUBJ, kd.column, lo(kd.column), hi(kd.column)]]
    rows = rows.sort_values(lo(kd.column), ascending=not kd.latest, na_position="last")
    rows = rows.drop_duplicates(SUBJ, keep="first").set_index(SUBJ)
    stem = kd.ref.base
    return rows.rename(columns={kd.column: stem, lo(kd.column): lo(stem), hi(kd.column): hi(stem)})


def subject_table(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per SUBJID seen in any trial form: key dates and cross-form flags."""
    subjects = pd.Index(sorted({s for n in TRIAL_FORMS for s in frames[n][SUBJ].dropna()}), name=SUBJ)
    table = pd.DataFrame(index=subjects)
    for kd in KEY_DATES:
        table = table.join(_key_date(frames, kd))
    mob = frames["mob"]
    collected = mob.loc[(mob["MOBSTAT"] == "SUCCESS") & mob["COLLDTC"].notna(), SUBJ]
    cart = frames["cart"]
    flags = {
        "HAS_BL": frames["bl"][SUBJ], "HAS_DS": frames["ds"][SUBJ], "HAS_HSCT": frames["hsct"][SUBJ],
        "HAS_CART1": cart.loc[cart["PHASE"] == "CAR-T1", SUBJ], "COLLECTED": collected,
        "HAS_CART2": cart.loc[cart["PHASE"] == "CAR-T2", SUBJ],
        "MOB_FAILED": mob.loc[mob["MOBSTAT"] == "FAILED", SUBJ],
    }
    for name, members in flags.items():
        table[name] = table.index.isin(set(members.dropna()))
    ds = frames["ds"].dropna(subset=[SUBJ]).drop_duplicates(SUBJ).set_index(SUBJ)
    table["DS_DTHFL"] = ds["DTHFL"].reindex(table.index)
    table["FATAL_AE_RECONCILED"] = fatal_ae_reconciled(frames, table)
    return table.reset_index()


FLAGS = ("HAS_BL", "HAS_DS", "HAS_HSCT", "HAS_CART1", "COLLECTED", "HAS_CART2", "MOB_FAILED", "FATAL_AE_RECONCILED")


def joined(frame: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """A form's check frame with its subject's key dates and flags (row order and ROW kept)."""
    out = frame.merge(table, on=SUBJ, how="left", validate="many_to_one")
    for flag in FLAGS:
        out[flag] = out[flag].astype("boolean").fillna(False).astype(bool)
    return out


def in_dm(file: str, dm_subjects: list[str]) -> Rule:
    return Rule(file, SUBJ, "SUBJID is a subject of dm.csv",
                E.ExpectColumnValuesToBeInSet(column=SUBJ, value_set=dm_subjects),
                lambda r: f"{shown(r, SUBJ)} is not in dm.csv", needs=(SUBJ,))


def not_after_death(file: str, col: str, where=None) -> Rule:
    return on_or_after(file, col, DTH, DateRef(col, col), where=where, needs=(col,))


def not_before_enrollment(file: str, col: str, where=None) -> Rule:
    return on_or_after(file, col, DateRef(col, col), ENRL, where=where, needs=(col,))


def dm_rules(f):
    return [
        flag_true(f, SUBJ, "HAS_BL", "every enrolled subject has a bl.csv record",
                  lambda r: f"{shown(r, SUBJ)} has no baseline record in bl.csv"),
        flag_true(f, SUBJ, "HAS_DS", "every enrolled subject has a ds.csv record",
                  lambda r: f"{shown(r, SUBJ)} has no disposition record in ds.csv"),
    ]


def bl_rules(f):
    return [
        on_or_after(f, "CRDTC", CART1_CD22, DateRef("CRDTC", "CRDTC"), needs=("CRDTC",),
                    why=" (the remission is documented before CAR-T1)"),
        on_or_after(f, "DIAGDTC", ENRL, DateRef("DIAGDTC", "DIAGDTC"), needs=("DIAGDTC",)),
    ]


def cart_rules(f):
    cart1_cd19 = (Col("PHASE") == "CAR-T1") & (Col("PRODUCT") == "CD19")
    cart2 = Col("PHASE") == "CAR-T2"
    return [
        not_before_enrollment(f, "INFDTC"),
        on_or_after(f, "INFDTC", DateRef("INFDTC", "INFDTC"), CART1_CD22, where=cart1_cd19,
                    why=" (CAR-T1: CD22 before CD19)", needs=("INFDTC",)),
        on_or_after(f, "INFDTC", DateRef("INFDTC", "INFDTC"), HSCT, strict=True, where=cart2,
                    why=" (CAR-T2 follows the auto-HSCT)", needs=("INFDTC",)),
        flag_true(f, "PHASE", "HAS_HSCT", "CAR-T2 only for subjects with an auto-HSCT (hsct.csv)",
                  lambda r: "CAR-T2 infusion but the subject has no auto-HSCT record in hsct.csv",
                  where=cart2),
        not_after_death(f, "INFDTC"),
    ]


def mob_rules(f):
    return [
        flag_true(f, "MOBSTDTC", "HAS_CART1", "mobilization only after CAR-T1 (cart.csv)",
                  lambda r: "mobilization but the subject has no CAR-T1 infusion in cart.csv"),
        on_or_after(f, "MOBSTDTC", DateRef("MOBSTDTC", "MOBSTDTC"), CART1_LAST, strict=True, needs=("MOBSTDTC",)),
        not_after_death(f, "MOBSTDTC"),
        not_after_death(f, "COLLDTC"),
    ]


def hsct_rules(f):
    return [
        flag_true(f, "HSCTDTC", "COLLECTED", "auto-HSCT only after a successful collection (mob.csv)",
                  lambda r: "auto-HSCT but mob.csv has no successful stem-cell collection for the subject"),
        on_or_after(f, "CONDSTDTC", DateRef("CONDSTDTC", "CONDSTDTC"), COLL, strict=True, needs=("CONDSTDTC",)),
        *(not_after_death(f, c) for c in ("CONDSTDTC", "HSCTDTC", "NEUTDTC", "PLTDTC")),
    ]


def assessment_rules(col):
    def rules(f):
        return [not_before_enrollment(f, col), not_after_death(f, col)]
    return rules


def ae_rules(f):
    return [
        not_before_enrollment(f, "AESTDTC"),
        not_after_death(f, "AESTDTC"),
        not_after_death(f, "AEENDTC"),
        Rule(f, "AETOXGR", "a grade 5 (fatal) AE means ds.DTHFL=Y",
             E.ExpectColumnValuesToBeInSet(column="DS_DTHFL", value_set=["Y"],
                                           row_condition=equals("AETOXGR", 5, numeric=True)),
             lambda r: f"grade 5 (fatal) but ds.DTHFL is {shown(r, 'DS_DTHFL')}", needs=("AETOXGR",)),
    ]


def ds_rules(f):
    return [
        *(not_before_enrollment(f, c) for c in ("LSTALVDTC", "DCDTC", "DTHDTC")),
        flag_true(f, "EOTSTAT", "HAS_CART2", "EOTSTAT=COMPLETED only for subjects with a CAR-T2 infusion (cart.csv)",
                  lambda r: "COMPLETED but cart.csv has no CAR-T2 infusion for the subject",
                  where=Col("EOTSTAT") == "COMPLETED"),
        flag_true(f, "DCREAS", "MOB_FAILED", "DCREAS=MOBILIZATION FAILURE only when mob.MOBSTAT=FAILED",
                  lambda r: "MOBILIZATION FAILURE but mob.csv has no failed mobilization for the subject",
                  where=Col("DCREAS") == "MOBILIZATION FAILURE"),
        flag_true(f, "DTHCAUS", "FATAL_AE_RECONCILED",
                  f"a death not caused by relapse within the AE window ({AE_WINDOW_DAYS} days after CAR-T1) "
                  "has a grade 5 AE in ae.csv (death <-> fatal AE reconciliation)",
                  lambda r: f"died ({shown(r, 'DTHDTC')}, cause {shown(r, 'DTHCAUS')}) within the AE window "
                            "but ae.csv has no grade 5 AE for the subject", where=Col("DTHFL") == "Y"),
    ]


CROSS_RULES = {"dm": dm_rules, "bl": bl_rules, "cart": cart_rules, "mob": mob_rules, "hsct": hsct_rules,
               "rs": assessment_rules("RSDTC"), "mrd": assessment_rules("MRDDTC"), "ae": ae_rules, "ds": ds_rules,
               "ct": assessment_rules("CTSTDTC")}


def cross_suites(frames: dict[str, pd.DataFrame | None], missing_columns: dict[str, tuple[str, ...]]) -> list[Suite]:
    """The cross-form suites. ``frames``: the per-form check frames (None where the file could
    not be read); if any trial form is unreadable the cross-form suites are not evaluated."""
    unreadable = [f"{n}.csv could not be read" for n in TRIAL_FORMS if frames.get(n) is None]
    unreadable += [f"{n}.csv lacks {c}" for n in TRIAL_FORMS for c in missing_columns.get(n, ())
                   if c in SUBJECT_TABLE_COLUMNS.get(n, ())]
    table = None if unreadable else subject_table(frames)
    dm_subjects = [] if unreadable else sorted(frames["dm"][SUBJ].dropna().unique().tolist())
    suites = []
    for name, make in CROSS_RULES.items():
        file = f"{name}.csv"
        suite = Suite(f"cross.{name}", f"{file}: consistency with the other forms",
                      None if table is None else joined(frames[name], table), SUBJ,
                      missing_columns=tuple(missing_columns.get(name, ())))
        if unreadable:
            suite.skipped = "not evaluated: " + "; ".join(unreadable)
        if name != "dm":
            suite.add(in_dm(file, dm_subjects))
        for rule in make(file):
            suite.add(rule)
        suites.append(suite)
    return suites
