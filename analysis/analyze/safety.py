"""Disposition, safety, exposure and adherence analyses of the trial cohort as ARD rows (SAP 1, 5, 7).

Denominators are stated at each function and printed in the table footnotes through
``METHODS``: the safety population (SAFFL) for overall AE incidence, the subjects who *entered* a
period (ADSL APxxFL, SAP 5.2) for AE-by-period incidence, the subjects who received an infusion
for CRS/ICANS after that infusion, and the subjects transplanted for post-transplant deaths.
Reads derived data only (ADSL, ADAE); the period rules themselves live in analysis/derive/periods.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import ard
from analysis import conventions as C
from analysis.analyze.members import isin  # fast on Arrow strings (issue 15)
from analysis.analyze.crs_icans_timing import describe

GROUP = C.COHORT_TRIAL
PERIODS = ("CAR-T1", "MOBILIZATION", "AUTO-HSCT", "CAR-T2", "POST-TREATMENT")  # derive.periods.PERIODS
# Disposition flow (SAP 1.1): (label, ADSL variable that says the step was reached)
FLOW_STEPS = (("Enrolled", "ENRLFL"), ("Received CAR-T1", "SAFFL"), ("Mobilized", "MOBFL"),
              ("Successful stem-cell collection", "COLLSFL"), ("Auto-HSCT", "AHSCTDT"),
              ("Received CAR-T2", "CART2DT"))
POPULATIONS = {"SAFFL": "Safety population (received CAR-T1)", "COMPLFL": "Completed the sandwich (received CAR-T2)",
               "LFSFL": "LFS population (remission after CAR-T1)"}   # SAP 1
DEATH_WINDOWS = (30, 100)   # SAP 5.5: deaths within 30 and 100 days of CAR-T1 and of auto-HSCT
SYNDROMES = {"CRS": "CRSFL", "ICANS": "ICANSFL"}

METHODS = {
    "disposition": "subjects reaching each step of the sandwich (enrolled, CAR-T1, mobilized, successful collection: "
                   f"MOBSTAT SUCCESS and CD34+ >= {C.CD34_MIN_YIELD:g} x 10^6/kg, auto-HSCT, CAR-T2); each subject who "
                   "stopped is counted once, after the last step reached, with the reason recorded at end of treatment",
    "ae_by": "subjects with >= 1 treatment-emergent AE starting in the period, n (%) of the subjects who entered "
             "that period (SAP 5.2); CRS/ICANS in the period of the infusion that caused them",
    "ae_imputation": "AE records whose onset or end date lacked the day and was imputed (SAP 2.3)",
    "course": "safety population: subjects with an allo-HSCT in remission after stopping the sandwich (intercurrent "
              "event, ADSL ALLOICDT), n (%); relapses by site (ADSL RELSITE), n (%) of the subjects who relapsed",
    "ae_coding": "AE records whose verbatim term is not yet coded (AEDECOD missing), all and treatment-emergent; "
                 "kept in every AE table as 'Not coded' (SAP 5.1)",
    "deaths": "deaths up to the data cut, n (%) of the safety population; within 30/100 days: death date minus "
              "CAR-T1 (or auto-HSCT) date <= 30/100 days, % of subjects who received it; relapse-related: a "
              "relapse on or before the death date",
    "crs_icans_grade": "subjects by worst ASTCT 2019 consensus grade of CRS / ICANS after each infusion, n (%) of "
                       "the subjects who received that infusion; episodes treated with tocilizumab / corticosteroids",
    "ae_overview": "treatment-emergent AEs (onset within 730 days of CAR-T1), n (%) of the safety population; "
                    "leading to discontinuation: AEACN = TREATMENT DISCONTINUED",
    "sae": "serious treatment-emergent AEs by system organ class and preferred term, n (%) of the safety population",
    "exposure": f"CAR-T dose per product and infusion (cells/kg) against the {C.CART_TARGET_DOSE:.0e} target; "
                f"outside {C.CART_DOSE_RANGE[0]:.0e}-{C.CART_DOSE_RANGE[1]:.0e}; CD34+ yield (10^6/kg); days from "
                "auto-HSCT to neutrophil and platelet engraftment (transplant day 0); median, quartiles (type 7), range",
    "adherence": "days between protocol steps (later - earlier), median, quartiles, range, and subjects outside the "
                 "protocol window",
    "followup_observed": "follow-up from CAR-T1 to death or last known alive (capped at the cut), days; median, quartiles, range",
}


def _trial(adsl: pd.DataFrame) -> pd.DataFrame:
    return adsl[adsl["COHORT"] == C.COHORT_TRIAL]


def _reached(adsl: pd.DataFrame, column: str) -> pd.Series:
    col = adsl[column]
    if pd.api.types.is_datetime64_any_dtype(col):
        return col.notna()
    return col.eq("Y").fillna(False).astype(bool)


def _stop_reason(sub: pd.DataFrame) -> pd.Series:
    status = sub["EOTSTT"].fillna("")
    reason = sub["DCSREAS"].astype("string")
    return reason.mask(reason.isna() & status.eq("ONGOING"), "ONGOING").fillna("NOT RECORDED")


def disposition_rows(adsl: pd.DataFrame) -> pd.DataFrame:
    """FLOW (n per step), EXIT (after a step, by reason; exits after step k add up to the drop to
    step k+1) and the deaths of each cohort. A subject who reaches a step without the one before
    is a data error (ValueError naming the subject)."""
    trial = _trial(adsl)
    reached = pd.DataFrame({label: _reached(trial, col) for label, col in FLOW_STEPS})
    parts = [ard.rows("disposition", "FLOW", GROUP, "step", label, {"n": int(reached[label].sum())})
             for label, _ in FLOW_STEPS]
    for (before, _), (after, _) in zip(FLOW_STEPS[:-1], FLOW_STEPS[1:]):
        skipped = reached[after] & ~reached[before]
        if skipped.any():
            raise ValueError(f"disposition: subject {trial.loc[skipped, 'USUBJID'].iloc[0]} reached "
                             f"{after!r} without {before!r}")
        left = trial[reached[before] & ~reached[after]]
        for reason, n in _stop_reason(left).value_counts().sort_index().items():
            parts.append(ard.rows("disposition", "EXIT", GROUP, before, reason, {"n": int(n)}))
    for flag, label in POPULATIONS.items():
        parts.append(ard.rows("disposition", "POPULATION", GROUP, flag, label, {"n": int((trial[flag] == "Y").sum())}))
    for cohort, sub in adsl.groupby("COHORT", observed=True):
        parts.append(ard.rows("disposition", "DEATHS", str(cohort), "DTHFL", "Y",
                              {"n": int((sub["DTHFL"] == "Y").sum()), "N": len(sub)}))
    return ard.concat(parts)


def _n_pct(n: int, denom: int) -> dict[str, float]:
    return {"n_subj": n, "N": denom, "pct": 100 * n / denom if denom else np.nan}


def ae_period_rows(adae: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """Per period: subjects with a TEAE starting in it, events, and N = subjects who entered
    the period (ADSL APxxFL = Y; SAP 5.2)."""
    trial = _trial(adsl)
    te = adae[(adae["TRTEMFL"] == "Y") & isin(adae["USUBJID"], trial.loc[trial["SAFFL"] == "Y", "USUBJID"])]
    parts = []
    for k, period in enumerate(PERIODS, start=1):
        entered = trial.loc[trial[f"AP{k:02d}FL"] == "Y", "USUBJID"]
        ev = te[(te["APHASE"] == period) & isin(te["USUBJID"], entered)]
        stats = _n_pct(ev["USUBJID"].nunique(), int(entered.nunique()))
        stats["n_events"] = len(ev)
        stats["n_events_outside"] = int(((te["APHASE"] == period) & ~isin(te["USUBJID"], entered)).sum())
        parts.append(ard.rows("ae_by", "TEAE", GROUP, "APHASE", period, stats))
    return ard.concat(parts)


def imputation_rows(adae: pd.DataFrame) -> pd.DataFrame:
    """Counts of imputed AE dates (SAP 2.3): onsets imputed, of which moved from the 1st of the
    month to a protocol event, and end dates imputed."""
    onset = adae["ASTDTF"].eq("D").fillna(False)
    moved = onset & adae["ASTDT"].dt.day.ne(1)
    return ard.rows("ae_imputation", "AE", GROUP, "ASTDT", "", {
        "n_records": len(adae), "n_onset_imputed": int(onset.sum()), "n_onset_bounded": int(moved.sum()),
        "n_end_imputed": int(adae["AENDTF"].eq("D").fillna(False).sum())})


def coding_rows(adae: pd.DataFrame) -> pd.DataFrame:
    """AE records whose verbatim term data management has not coded yet (AEDECOD missing; SAP
    5.1): all records and the treatment-emergent ones, and the subjects concerned. They stay in
    every AE table under "Not coded" (SOC and term), counted, never dropped."""
    uncoded = adae["AEDECOD"].isna() | adae["AEDECOD"].astype("string").str.strip().eq("").fillna(False)
    emergent = uncoded & adae["TRTEMFL"].eq("Y")
    return ard.rows("ae_coding", "AE", GROUP, "AEDECOD", "NOT CODED", {
        "n_records": len(adae), "n_uncoded": int(uncoded.sum()), "n_uncoded_teae": int(emergent.sum()),
        "n_subj_uncoded_teae": int(adae.loc[emergent, "USUBJID"].nunique())})


def course_rows(adsl: pd.DataFrame) -> pd.DataFrame:
    """After the sandwich (SAP 6.3, 8): subjects of the safety population with the intercurrent
    event allo-HSCT in remission after stopping (ADSL ALLOICDT), and relapses by site (ADSL
    RELSITE; a loss of remission without a site, NR, counted as "NOT RECORDED")."""
    safety = _trial(adsl)
    safety = safety[safety["SAFFL"] == "Y"]
    parts = [ard.rows("course", "ALLOICE", GROUP, "ALLOICDT", "ANY",
                      _n_pct(int(safety["ALLOICDT"].notna().sum()), len(safety)))]
    relapsed = safety[safety["RELDT"].notna()]
    sites = relapsed["RELSITE"].astype("string").fillna("NOT RECORDED")
    for site in sorted(sites.unique()):
        parts.append(ard.rows("course", "RELSITE", GROUP, "RELSITE", site,
                              _n_pct(int((sites == site).sum()), len(relapsed))))
    return ard.concat(parts)


def death_rows(adsl: pd.DataFrame, adae: pd.DataFrame | None = None) -> pd.DataFrame:
    """Deaths of the trial cohort: overall, by cause, relapse-related or not, within 30 / 100
    days of CAR-T1 (N = safety population) and of auto-HSCT (N = transplanted), and (output side
    of the death / fatal-AE reconciliation) deaths with and without a grade 5 AE."""
    trial = _trial(adsl)
    safety = trial[trial["SAFFL"] == "Y"]
    dead = safety[safety["DTHFL"] == "Y"]
    n = len(safety)
    parts = [ard.rows("deaths", "DEATHS", GROUP, "ALL", "Died", _n_pct(len(dead), n))]
    if adae is not None:
        fatal = set(adae.loc[adae["ATOXGR"].astype(float) == 5, "USUBJID"])
        with_fatal = int(isin(dead["USUBJID"], fatal).sum())
        parts.append(ard.rows("deaths", "DEATHS", GROUP, "FATALAE", "With a grade 5 AE", _n_pct(with_fatal, n)))
        parts.append(ard.rows("deaths", "DEATHS", GROUP, "FATALAE", "Without a grade 5 AE",
                              _n_pct(len(dead) - with_fatal, n)))
    for cause, k in dead["DTHCAUS"].fillna("NOT RECORDED").value_counts().sort_index().items():
        parts.append(ard.rows("deaths", "DEATHS", GROUP, "DTHCAUS", cause, _n_pct(int(k), n)))
    relapse = dead["RELDT"].notna() & (dead["RELDT"] <= dead["DTHDT"])
    parts.append(ard.rows("deaths", "DEATHS", GROUP, "RELAPSE", "After relapse", _n_pct(int(relapse.sum()), n)))
    parts.append(ard.rows("deaths", "DEATHS", GROUP, "RELAPSE", "Without relapse (non-relapse mortality)",
                          _n_pct(int((~relapse).sum()), n)))
    for anchor, label in (("TRTSDT", "CAR-T1"), ("AHSCTDT", "auto-HSCT")):
        exposed = safety[safety[anchor].notna()]
        days = (exposed["DTHDT"] - exposed[anchor]).dt.days
        for window in DEATH_WINDOWS:
            k = int((exposed["DTHFL"].eq("Y") & (days >= 0) & (days <= window)).sum())
            parts.append(ard.rows("deaths", "DEATHS", GROUP, f"WITHIN_{label}", f"{window}", _n_pct(k, len(exposed))))
    return ard.concat(parts)


def _worst_per_subject(sub: pd.DataFrame, column: str) -> pd.Series:
    """Each subject's highest numeric ``column`` (NaN when none is recorded), vectorised: a
    Python function per subject cost 12 s at 19,000 patients (issue 15)."""
    return pd.to_numeric(sub[column], errors="coerce").groupby(sub["USUBJID"], observed=True).max()


def crs_icans_grade_rows(adae: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """Per syndrome and infusion: subjects by worst ASTCT grade (n_recorded = episodes with an
    ASTCT grade; 0 means the cut does not record it), and episodes treated with tocilizumab /
    corticosteroids. N = subjects who received the infusion."""
    trial = _trial(adsl)
    infused = {"CAR-T1": trial.loc[trial["SAFFL"] == "Y", "USUBJID"], "CAR-T2": trial.loc[trial["CART2DT"].notna(), "USUBJID"]}
    parts = []
    for syndrome, flag in SYNDROMES.items():
        ep = adae[(adae[flag] == "Y") & (adae["TRTEMFL"] == "Y")]
        for infusion, subjects in infused.items():
            sub = ep[(ep["AINFUS"] == infusion) & isin(ep["USUBJID"], subjects)]
            n_inf = int(subjects.nunique())
            worst = _worst_per_subject(sub, "ASTCTGR")
            stats = {"n_episodes": len(sub), "n_recorded": int(sub["ASTCTGR"].notna().sum()),
                     **_n_pct(sub["USUBJID"].nunique(), n_inf),
                     "n_tocilizumab": int(sub["AETOCI"].eq("Y").fillna(False).sum()),
                     "n_corticosteroids": int(sub["AESTER"].eq("Y").fillna(False).sum()),
                     "n_treatment_recorded": int(sub["AETOCI"].notna().sum())}
            if stats["n_treatment_recorded"] == 0:   # not collected in this cut: unknown, not zero
                stats.update(n_tocilizumab=np.nan, n_corticosteroids=np.nan)
            parts.append(ard.rows("crs_icans_grade", syndrome, GROUP, "AINFUS", infusion, stats))
            for grade in (1, 2, 3, 4, 5):
                k = int((worst == grade).sum()) if stats["n_recorded"] else np.nan
                parts.append(ard.rows("crs_icans_grade", syndrome, GROUP, f"ASTCTGR {infusion}", grade,
                                      {"n_subj": k, "N": n_inf, "pct": 100 * k / n_inf if n_inf else np.nan}))
    return ard.concat(parts)


def discontinuation_rows(adae: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """The overview row "leading to discontinuation" (AEACN = TREATMENT DISCONTINUED), n (%) of
    the safety population; n_recorded = TEAE records with AEACN recorded (0: not in this cut)."""
    trial = _trial(adsl)
    safety = trial.loc[trial["SAFFL"] == "Y", "USUBJID"]
    te = adae[(adae["TRTEMFL"] == "Y") & isin(adae["USUBJID"], safety)]
    action = te["AEACN"] if "AEACN" in te.columns else pd.Series(pd.NA, index=te.index)
    led = te[action.eq("TREATMENT DISCONTINUED").fillna(False).astype(bool)]
    stats = {"n_subj": led["USUBJID"].nunique(), "pct": 100 * led["USUBJID"].nunique() / len(safety) if len(safety) else np.nan,
             "n_events": len(led), "n_recorded": int(action.notna().sum())}   # N: the ae_overview N row
    if stats["n_recorded"] == 0:
        stats.update(n_subj=np.nan, pct=np.nan, n_events=np.nan)
    return ard.rows("ae_overview", "TEAE", GROUP, "category", "Any TEAE leading to discontinuation", stats)


def sae_rows(adae: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """Serious TEAEs by SOC and preferred term (any grade), n (%) of the safety population, in the
    shape of the ``ae`` rows (a term's SOC in group2 / group2_level; no grade scope: group3 empty)."""
    from analysis.stats import cards

    serious = adae[adae["AESER"] == "Y"]
    rows = cards.ae_summary_cards(serious, _trial(adsl), "COHORT", grade="ATOXGR")
    return ard.with_context(rows[rows["group3"] == ""], "sae", "TEAE")   # any grade


def exposure_rows(adsl: pd.DataFrame) -> pd.DataFrame:
    """CAR-T dose per infusion and product (cells/kg; n outside the protocol range), CD34+ yield
    and days from auto-HSCT to engraftment (SAP 7.1)."""
    trial = _trial(adsl)
    low, high = C.CART_DOSE_RANGE
    parts = []
    for k in (1, 2):
        for product in ("CD22", "CD19"):
            dose = trial[f"DOS{k}{product}"].astype(float).dropna()
            stats = describe(dose)
            stats.update(n_outside=int(((dose < low) | (dose > high)).sum()), n_below=int((dose < low).sum()),
                         n_above=int((dose > high).sum()))
            parts.append(ard.rows("exposure", "DOSE", GROUP, f"CAR-T{k}", product, stats))
    all_doses = pd.concat([trial[f"DOS{k}{p}"].astype(float) for k in (1, 2) for p in ("CD22", "CD19")]).dropna()
    parts.append(ard.rows("exposure", "DOSE", GROUP, "ALL", "ALL", {
        **describe(all_doses), "n_outside": int(((all_doses < low) | (all_doses > high)).sum())}))
    collected = trial[trial["MOBFL"] == "Y"]
    parts.append(ard.rows("exposure", "CD34YLD", GROUP, "MOBILIZED", "", {
        **describe(collected["CD34YLD"]), "n_below_min": int((collected["CD34YLD"].astype(float) < C.CD34_MIN_YIELD).sum())}))
    for col, label in (("NEUTDT", "Neutrophil"), ("PLTDT", "Platelet")):
        days = (trial[col] - trial["AHSCTDT"]).dt.days
        parts.append(ard.rows("exposure", "ENGRAFT", GROUP, label, "", {
            **describe(days), "n_transplanted": int(trial["AHSCTDT"].notna().sum()),
            "n_not_engrafted": int((trial["AHSCTDT"].notna() & trial[col].isna()).sum())}))
    return ard.concat(parts)


def adherence_rows(adsl: pd.DataFrame) -> pd.DataFrame:
    """Days between protocol steps (conventions.PROTOCOL_WINDOWS) and subjects outside each
    window (SAP 7.2)."""
    trial = _trial(adsl)
    parts = []
    for label, (first, second, lo, hi) in C.PROTOCOL_WINDOWS.items():
        days = (trial[second] - trial[first]).dt.days.dropna().astype(float)
        parts.append(ard.rows("adherence", "WINDOW", GROUP, label, f"{lo}-{hi}", {
            **describe(days), "n_early": int((days < lo).sum()), "n_late": int((days > hi).sum()),
            "n_outside": int(((days < lo) | (days > hi)).sum())}))
    return ard.concat(parts)


def followup_rows(adsl: pd.DataFrame) -> pd.DataFrame:
    """Observed follow-up from CAR-T1 (days, CAR-T1 = day 0) to death or last known alive, capped
    at the cut; subjects alive at the cut, died, and alive but last seen > 90 days before the cut."""
    trial = _trial(adsl)
    safety = trial[trial["SAFFL"] == "Y"]
    end = safety["DTHDT"].fillna(safety["LSTALVDT"])
    end = end.where(end <= safety["DCUTDT"], safety["DCUTDT"])
    days = (end - safety["TRTSDT"]).dt.days
    alive = safety["DTHFL"] != "Y"
    stale = alive & ((safety["DCUTDT"] - safety["LSTALVDT"]).dt.days > 90)
    return ard.rows("followup_observed", "FOLLOWUP", GROUP, "DAYS", "", {
        **describe(days), "N": len(safety), "n_died": int((~alive).sum()), "n_alive": int(alive.sum()),
        "n_alive_last_seen_over_90d": int(stale.sum()),
        "n_reached_2y": int((days >= int(C.TIMEPOINT_2Y_DAYS)).sum())})


def safety_rows(adae: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """Every ARD row of this module."""
    return ard.concat([disposition_rows(adsl), ae_period_rows(adae, adsl), imputation_rows(adae), coding_rows(adae), course_rows(adsl),
                       death_rows(adsl, adae), crs_icans_grade_rows(adae, adsl), discontinuation_rows(adae, adsl),
                       sae_rows(adae, adsl), exposure_rows(adsl), adherence_rows(adsl), followup_rows(adsl)])
