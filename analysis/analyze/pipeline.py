"""``analyze`` step: data/derived/<cut>/*.parquet -> reports/<cut>/ard.csv, ard.parquet,
ard_methods.csv. Reads derived data only, never raw."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from analysis import conventions as C
from analysis import paths
from analysis.messages import say
from analysis.workers import one_blas_thread
from analysis import ard
from analysis.analyze import crs_icans_timing, external, mrd, safety, sap, sections, target_trial


DATASETS = ("adsl", "adtte", "admrd", "adae")


def load_derived(cut: str, root: Path | None = None) -> dict[str, pd.DataFrame]:
    folder = paths.derived_dir(cut, root)
    missing = [d for d in DATASETS if not (folder / f"{d}.parquet").exists()]
    if missing:
        raise FileNotFoundError(f"{folder}: derived datasets missing: {', '.join(missing)} "
                                f"(run `python -m analysis derive --cut {cut}` first)")
    return {d: pd.read_parquet(folder / f"{d}.parquet") for d in DATASETS}


NOMINAL = "p-value nominal and descriptive (no testing strategy is defined; SAP 3.7)"


def methods_table() -> pd.DataFrame:
    """One line per ARD analysis: the method, as printed in table footnotes."""
    ci = f"{int(C.CONF_LEVEL * 100)}% CI"
    km = f"Kaplan-Meier; Greenwood variance; {ci} on the {C.KM_CONF_TYPE} scale (R survfit conf.type='{C.KM_CONF_TYPE}')"
    rows = {
        "km": f"{km}; reliable = 0 when fewer than {C.MIN_AT_RISK} subjects are at risk (shown as not reliably "
              "estimable)", "km_n": "number of subjects and events",
        "km_median": f"median of the Kaplan-Meier curve; Brookmeyer-Crowley {ci}, {C.KM_CONF_TYPE} transform",
        "km_diff": f"difference of Kaplan-Meier estimates at {C.TIMEPOINT_2Y_DAYS} days (2 years); Greenwood SEs; Wald {ci} and z-test",
        "logrank": f"log-rank test (G-rho, rho = 0), chi-square; {NOMINAL}",
        "cut_status": "status of the data cut as declared in conventions.CUT_STATUS (1 interim, 2 final, 0 undeclared)",
        "followup": "median follow-up by reverse Kaplan-Meier (censoring as the event; Schemper & Smith 1996), "
                    f"Brookmeyer-Crowley {ci}, quartiles, longest time observed (days)",
        "rmst": f"restricted mean survival time to {C.RMST_TAU_DAYS} days (24 months), area under the Kaplan-Meier "
                f"curve (R survfit rmean), Wald {ci}; extended = 1: follow-up ends before tau, curve carried flat",
        "rmst_diff": f"difference of RMST to {C.RMST_TAU_DAYS} days, SANDWICH minus ALLO_EXT, Wald {ci}; {NOMINAL}",
        "cox": f"Cox proportional hazards, {C.COX_TIES} ties, Wald {ci}; reference {C.REFERENCE_COHORT}; {NOMINAL}",
        "mrd_rate": f"MRD-negative rate (FC < {C.MRD_THRESHOLD['FC']:g}, NGS < {C.MRD_THRESHOLD['NGS']:g}); exact Clopper-Pearson {ci}; not evaluable counted as not negative",
        "mrd_best": "best post-CAR-T1 MRD status per subject and method (samples before relapse)",
        "mrd_baseline": "how MRD was measured before CAR-T1 (method) and its result, safety population",
        "mrd_conversion": f"conversion: negative after CAR-T1 (before relapse) among subjects MRD-positive before CAR-T1, by method; exact Clopper-Pearson {ci}",
        "mrd_day28": f"MRD-negative at the protocol's day-28 assessment (study day {C.MRD_DAY28_WINDOW[0]}-{C.MRD_DAY28_WINDOW[1]}; the evaluable sample closest to day 28); exact {ci}",
        "mrd_timepoint": f"MRD-negative rate by visit window among subjects with an evaluable sample before relapse in the window (closest to the window centre); exact {ci}",
        "mrd_agreement": f"FC-NGS agreement on paired samples (same date, both evaluable, before relapse); Cohen's kappa, Fleiss-Cohen-Everitt SE, Wald {ci} (pairs treated as independent; several pairs per subject)",
        "table1": "n (%) for categorical; mean, SD, median, quartiles, range for continuous; absolute standardized mean difference (tableone)",
        "ae": "subjects with >= 1 treatment-emergent AE, n (%) of the safety population, and number of events; CTCAE 5.0",
        "ae_overview": "overview of treatment-emergent AEs, n (%) of the safety population",
        "ae_by": "treatment-emergent AEs with CRS / ICANS (n (%) of the safety population) and by period at onset: "
                 + safety.METHODS["ae_by"],
        "crs_icans_timing": crs_icans_timing.METHOD,
        **{k: v for k, v in safety.METHODS.items() if k != "ae_by"},
        "cif": f"cumulative incidence (Aalen-Johansen), Gray's variance (cmprsk::cuminc); {ci} on the {C.KM_CONF_TYPE} scale; EVNTTYPE 1 relapse, 2 death without relapse",
        "gray": "Gray's test (rho = 0) of equal cumulative incidence",
        "finegray": f"Fine-Gray subdistribution hazard ratio (cmprsk::crr), sandwich variance, Wald {ci}",
        "ps_balance": "absolute standardized mean differences before and after ATT weighting (pooled unweighted SD)",
        "ps_model": "covariates in the propensity model (1) or left out because a level occurs in one cohort only (0)",
        "ps_weights": "stabilised ATT weights from a main-effects logistic propensity model, "
                      + C.weight_truncation_words(C.IPTW_TRUNCATE_PERCENTILES) + "; Kish effective sample size",
        "iptw_km": f"weighted Kaplan-Meier (ATT weights), infinitesimal-jackknife variance, {ci} {C.KM_CONF_TYPE}",
        "iptw_diff": f"difference of weighted KM at 2 years; percentile bootstrap {ci} ({C.BOOTSTRAP_REPLICATES} replicates, seed {C.BOOTSTRAP_SEED}, propensity model re-fitted per replicate) only when every fitted replicate reaches 2 years in both cohorts (n_boot_valid)",
        "iptw_cox": f"weighted Cox (ATT weights), Efron ties, robust (Lin-Wei) variance, Wald {ci}",
        "delayed_entry_km": f"Kaplan-Meier from remission before therapy with delayed entry (trial at CAR-T1, controls at allo-HSCT); {ci} {C.KM_CONF_TYPE}",
        "delayed_entry_diff": "difference of delayed-entry KM at 2 years; Wald CI", "delayed_entry_cox": "Cox with delayed entry (counting process), Efron ties",
        "delayed_entry_n": "subjects and events",
        "landmark": f"landmark day on the common clock: {C.LANDMARK_CR_DAYS:g} days after the remission before therapy",
        "landmark_late": "subjects starting treatment after the landmark (left out of the landmark view)",
        "tte_km": f"target-trial emulation: ATT-weighted Kaplan-Meier from the remission before therapy with delayed entry at treatment start (IJ variance), {ci} {C.KM_CONF_TYPE}; n_risk unweighted",
        "tte_n": "subjects with time at risk after entry, and events",
        "tte_rmst": f"weighted RMST to {C.RMST_TAU_DAYS:g} days on the common clock; percentile bootstrap {ci} ({C.BOOTSTRAP_REPLICATES} replicates, seed {C.BOOTSTRAP_SEED}, propensity model re-fitted per replicate)",
        "tte_rmst_diff": f"difference of weighted RMST to {C.RMST_TAU_DAYS:g} days; percentile bootstrap {ci} from every fitted replicate (n_boot_used, n_boot_failed)",
        "tte_diff": f"difference of weighted KM at {C.TIMEPOINT_2Y_DAYS:g} days; percentile bootstrap {ci} only when every fitted replicate reaches 2 years in both cohorts (n_boot_valid)",
        "tte_cox": f"weighted Cox with delayed entry, Efron ties, robust (Lin-Wei) variance, Wald {ci}; {NOMINAL}",
        "tte_cox_trunc": "sensitivity of tte_cox to extreme weights: the same model with the "
                         + C.weight_truncation_words(C.IPTW_SENSITIVITY_TRUNCATE_PERCENTILES),
        "tte_evalue": "E-value of the hazard ratio (VanderWeele & Ding 2017; common-outcome conversion of the HR)",
        "tte_tipping": "tipping point: share of one cohort carrying a binary unmeasured confounder of the given hazard ratio that would move the HR (p_estimate) or its CI (p_ci) to 1 (Lin, Psaty & Kronmal 1998)",
        "iptw_rmst": f"weighted RMST to {C.RMST_TAU_DAYS:g} days, each cohort from its own origin; percentile bootstrap {ci}, propensity model re-fitted per replicate",
        "iptw_rmst_diff": f"difference of weighted RMST to {C.RMST_TAU_DAYS:g} days; percentile bootstrap {ci} from every fitted replicate",
        "landmark_km": f"Kaplan-Meier from the landmark among subjects alive and relapse-free at it; {ci} {C.KM_CONF_TYPE}",
        "landmark_diff": "difference of landmark KM 2 years after the landmark; Wald CI", "landmark_cox": "Cox from the landmark, Efron ties",
        "landmark_n": "subjects and events",
        "per_protocol_km": f"Kaplan-Meier: trial completers from CAR-T2, controls from allo-HSCT; {ci} {C.KM_CONF_TYPE}",
        "per_protocol_diff": "difference of per-protocol KM at 2 years; Wald CI", "per_protocol_cox": "Cox, per-protocol sets, Efron ties",
        "per_protocol_n": "subjects and events",
    }
    return pd.DataFrame({"analysis": list(rows), "method": list(rows.values())})


def build_ard(data: dict[str, pd.DataFrame], cut: str | None = None) -> pd.DataFrame:
    adsl, adtte, admrd, adae = (data[d] for d in DATASETS)
    admrd_best = admrd[admrd.get("BESTFL", pd.Series("", index=admrd.index)) == "Y"] if "BESTFL" in admrd else admrd

    def descriptive() -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
        # (the sections before the primary survival rows, those after them) in ARD order
        return [
            sap.cut_status_rows(cut),
            safety.safety_rows(adae, adsl),
            sap.table1_rows(adsl),
        ], [
            sap.mrd_rates(admrd_best, adsl),
            sap.mrd_duration(adtte),
            mrd.mrd_rows(admrd, adsl),  # SAP 4.5-4.6
            sap.ae_rows(adae, adsl),
            crs_icans_timing.timing_rows(adae, adsl),
        ]

    # independent sections: the descriptive ones in a second process while this one computes the
    # survival and external comparisons (analysis.analyze.sections); rows in the same order
    with one_blas_thread():   # same digits on any machine; processes, not BLAS threads, share the cores
        other = sections.Forked(descriptive, "descriptive ARD sections")
        primary = sap.primary_survival(adtte)
        # the propensity model and ATT weights of the full data, fitted once for both users (SAP 6.5)
        weights = external.subject_weights(adsl)
        comparisons = [external.external_control_rows(data, weights=weights),
                       target_trial.comparison_rows(adsl, adtte, weights=weights)]  # SAP 6.5, 6.7
        before_primary, after_primary = other.result()
    parts = [*before_primary, primary, *after_primary, *comparisons]
    return ard.check(ard.concat(parts))


def analyze_cut(cut: str, root: Path | None = None) -> Path:
    t0 = time.perf_counter()
    data = load_derived(cut, root)
    table = build_ard(data, cut)
    written = ard.write(table, paths.report_dir(cut, root), methods_table())
    say(f"  ARD: {len(table)} rows, {table['context'].nunique()} analyses ({time.perf_counter() - t0:.1f} s)")
    return written
