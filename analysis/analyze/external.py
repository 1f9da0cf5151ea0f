"""External-control comparison beyond the naive one (SAP 6.3-6.6): competing risks, propensity-score
weighting, delayed entry, landmark and per-protocol views. Every result goes into the ARD with
its own ``analysis`` name, beside (never replacing) the primary analyses of ``sap``.

Estimands and biases are stated in docs/sap-notes.md sections 6.3-6.6; the constants in
``analysis.conventions`` (IPTW_*, BOOTSTRAP_*, CR_CAUSES).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import conventions as C
from analysis import ard
from analysis.errors import NotEstimableError
from analysis.analyze.sap import (
    COHORT, COMPARISON, KM_TIMEPOINTS, NOT_ESTIMABLE, groups_without_events, hazard_ratio, km_at,
    km_difference_stats, param_rows,
)
from analysis.stats import cards, competing, weighting

TREATED = "TRT_SANDWICH"  # 1 = trial cohort (the index group of the ATT)
SURVIVAL_STATS = ("n_risk", "surv", "std_err", "lcl", "ucl")   # KM rows of the comparison views

# Covariates of the propensity model: ADSL variables harmonised across both sources (SAP 6.5), and
# the derivable timing covariates of the target-trial emulation (SAP 6.7): log10 days from
# diagnosis to the remission before therapy (LOGDXCR), days from that remission to the start of
# treatment (log10 of max(1, days): LOGCRTX; skewed like LOGDXCR), and how the baseline MRD was measured (MRDPREMT; the registry does not
# record it, so its level "NOT RECORDED" occurs in the controls only and the rule of
# estimable_covariates leaves it out of the model, which the ARD ps_model rows show).
PS_COVARIATES = ("AGE", "SEX", "PHSTAT", "CYTORISK", "LOGWBC", "WBCMISS", "CNSPOS", "DISSTAT", "MRDPRE",
                 "LOGDXCR", "LOGCRTX", "MRDPREMT")
PS_CATEGORICAL = ("SEX", "PHSTAT", "CYTORISK", "DISSTAT", "MRDPRE", "MRDPREMT")
NOT_RECORDED = "NOT RECORDED"


def weighting_population(adsl: pd.DataFrame) -> pd.DataFrame:
    """The subjects the propensity model, the weights and the balance describe: the trial cohort as
    the target population of the ATT, everyone who received CAR-T1 (SAFFL = Y; SAP 6.3, 6.7
    eligibility), and every control. A trial patient enrolled but never infused has no time at
    risk in any comparison, so fitting or balancing on it would describe another population than
    the one analysed."""
    return adsl[(adsl[COHORT] != C.COHORT_TRIAL) | (adsl["SAFFL"] == "Y")]


def ps_frame(adsl: pd.DataFrame) -> pd.DataFrame:
    """One row per subject of ``weighting_population(adsl)`` with the propensity-model covariates.
    Missing-data rules (SAP 6.5):
    cytogenetic risk missing -> its own level "MISSING"; WBC on the log10 scale, missing -> the
    median of all subjects plus an indicator WBCMISS; CNS status CNS2/CNS3 -> CNSPOS = 1, CNS1 or
    missing -> 0 (missing CNS status occurs only in the registry, so a level of its own would
    separate the cohorts)."""
    adsl = weighting_population(adsl)
    d = adsl[["USUBJID", COHORT, "AGE", "SEX", "PHSTAT", "CYTORISK", "WBCDIAG", "CNSSTAT",
              "DISSTAT", "MRDPRE"]].copy()
    timing = timing_covariates(adsl)
    d["LOGDXCR"], d["LOGCRTX"] = timing["LOGDXCR"].to_numpy(), timing["LOGCRTX"].to_numpy()
    method = adsl["MRDPREMT"] if "MRDPREMT" in adsl.columns else pd.Series(pd.NA, index=adsl.index)
    d["MRDPREMT"] = method.astype(object).where(method.notna(), NOT_RECORDED).to_numpy()
    d[TREATED] = (d[COHORT] == C.COHORT_TRIAL).astype(int)
    d["AGE"] = d["AGE"].astype(float)
    d["CYTORISK"] = d["CYTORISK"].astype(object).where(d["CYTORISK"].notna(), "MISSING")
    wbc = np.log10(d["WBCDIAG"].astype(float))
    d["WBCMISS"] = wbc.isna().astype(int)
    d["LOGWBC"] = wbc.fillna(wbc.median())
    d["CNSPOS"] = d["CNSSTAT"].isin(["CNS2", "CNS3"]).astype(int)
    for col in ("SEX", "PHSTAT", "DISSTAT", "MRDPRE"):
        d[col] = d[col].astype(object)
    return d.reset_index(drop=True)


DISCRETE_COVARIATES = (*PS_CATEGORICAL, "WBCMISS", "CNSPOS")


def timing_covariates(adsl: pd.DataFrame) -> pd.DataFrame:
    """Days from diagnosis to the remission before therapy (log10 of max(1, days); a missing
    diagnosis date -> the median, as WBC) and days from that remission to the start of treatment
    (CAR-T1 / allo-HSCT), on the log10 scale of max(1, days) as well (SAP 6.5, 6.7)."""
    start = adsl["TRTSDT"].where(adsl[COHORT] == C.COHORT_TRIAL, adsl["ALLOHSDT"])
    dx = (adsl["CRDT"] - adsl["DIAGDT"]).dt.days.astype(float).clip(lower=1)
    logdx = np.log10(dx)
    crtx = np.log10((start - adsl["CRDT"]).dt.days.astype(float).clip(lower=1))  # skewed: log scale, as LOGDXCR
    return pd.DataFrame({"LOGDXCR": logdx.fillna(logdx.median()), "LOGCRTX": crtx.fillna(crtx.median())},
                        index=adsl.index)


def estimable_covariates(frame: pd.DataFrame) -> list[str]:
    """The covariates whose every level occurs in both cohorts. A level present in one cohort
    only separates the cohorts perfectly (the logistic MLE does not exist), so such a covariate
    is left out of the model, and the ARD (analysis ps_model) says so (SAP 6.5)."""
    keep = []
    for col in PS_COVARIATES:
        if col in DISCRETE_COVARIATES:
            counts = pd.crosstab(frame[col], frame[TREATED])
            if counts.shape[1] < 2 or (counts == 0).any(axis=None):
                continue
        keep.append(col)
    return keep


def att_weights(frame: pd.DataFrame, covariates, truncate=C.IPTW_TRUNCATE_PERCENTILES) -> pd.DataFrame:
    """Propensity score (main-effects logistic) and stabilised ATT weights, truncated at the
    percentiles ``truncate`` (default conventions.IPTW_TRUNCATE_PERCENTILES: none, SAP 6.5)."""
    covariates = list(covariates)
    fit = weighting.propensity_score(frame, TREATED, covariates,
                                     categorical=[c for c in PS_CATEGORICAL if c in covariates])
    return weighting.iptw(frame, TREATED, np.asarray(fit.scores), estimand=C.IPTW_ESTIMAND,
                          stabilize=C.IPTW_STABILIZE, truncate=truncate)


def sensitivity_weights(frame: pd.DataFrame) -> np.ndarray:
    """The report's ATT weights (``frame`` columns PS, TREATED) truncated at the percentiles of
    conventions.IPTW_SENSITIVITY_TRUNCATE_PERCENTILES: the primary's truncation sensitivity (SAP 6.7)."""
    return weighting.iptw(frame, TREATED, frame["PS"].to_numpy(float), estimand=C.IPTW_ESTIMAND,
                          stabilize=C.IPTW_STABILIZE,
                          truncate=C.IPTW_SENSITIVITY_TRUNCATE_PERCENTILES)["weight"].to_numpy()


# --- 1. competing risks ------------------------------------------------------------------------

def competing_risk_rows(adtte: pd.DataFrame) -> pd.DataFrame:
    data = param_rows(adtte, "RELNRM")
    cif = competing.cumulative_incidence(data, COHORT, KM_TIMEPOINTS, event_type="EVNTTYPE",
                                         conf_level=C.CONF_LEVEL, conf_type=C.KM_CONF_TYPE)
    parts = []
    for cause in C.CR_CAUSES:
        param = "CIR" if cause == 1 else "NRM"
        parts.append(ard.with_context(cards.cif_cards(cif, COHORT, cause), "cif", param))
        gray = competing.gray_test(data, COHORT, cause=cause, event_type="EVNTTYPE")
        parts.append(ard.rows("gray", param, COMPARISON, COHORT, "",
                              {"chisq": gray["stat"].iloc[0], "df": gray["df"].iloc[0], "p": gray["p"].iloc[0]}))
        parts.append(ard.rows("finegray", param, COMPARISON, COHORT, "", _subdistribution_hr(data, cause)))
    return ard.concat(parts)


def _subdistribution_hr(data: pd.DataFrame, cause: int) -> dict[str, float]:
    """Fine-Gray sHR; not estimable (NaN) when a cohort has no event of the cause."""
    if groups_without_events(data, COHORT, data["EVNTTYPE"] == cause):
        return {"shr": NOT_ESTIMABLE, "lcl": NOT_ESTIMABLE, "ucl": NOT_ESTIMABLE, "p": NOT_ESTIMABLE}
    fg = competing.fine_gray(data, COHORT, cause=cause, event_type="EVNTTYPE",
                             reference=C.REFERENCE_COHORT, conf_level=C.CONF_LEVEL)
    return {k: fg[k].iloc[0] for k in ("shr", "lcl", "ucl", "p")}


# --- 2. propensity-score weighting ----------------------------------------------------------------

def _weight_summary(frame: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for cohort, treated in ((C.COHORT_TRIAL, 1), (C.COHORT_EXTERNAL, 0)):
        wt = frame.loc[frame[TREATED] == treated, "IPTW"].to_numpy()
        parts.append(ard.rows("ps_weights", "ATT", cohort, "weight", "", {
            "n": len(wt), "ess": weighting.effective_sample_size(wt), "sum": wt.sum(), "mean": wt.mean(),
            "min": wt.min(), "q1": np.quantile(wt, 0.25), "median": np.median(wt),
            "q3": np.quantile(wt, 0.75), "max": wt.max(), "n_truncated": int(frame.loc[frame[TREATED] == treated, "IPTW_TRUNCATED"].sum()),
        }))
    return ard.concat(parts)


def subject_weights(adsl: pd.DataFrame) -> pd.DataFrame:
    """Per-subject propensity covariates, score (PS) and ATT weight (IPTW), for figures."""
    frame = ps_frame(adsl)
    try:
        w = att_weights(frame, estimable_covariates(frame))
    except weighting.NoPropensityFit as exc:
        treated = int(frame[TREATED].sum())
        raise NotEstimableError(
            f"the propensity model of the external comparison (SAP 6.5) cannot be fitted on "
            f"{treated} infused trial patient{'' if treated == 1 else 's'} (SAFFL = Y) and "
            f"{len(frame) - treated} controls: {exc}. The weighted and the primary external comparisons "
            "(SAP 6.5-6.7) are not estimable on these data; no ARD was written (earlier outputs are "
            "intact)") from None
    return frame.assign(IPTW=w["weight"].to_numpy(), PS=w["ps"].to_numpy(),
                        IPTW_TRUNCATED=w["truncated"].to_numpy())


def weighted_rows(adsl: pd.DataFrame, adtte: pd.DataFrame, n_boot: int = C.BOOTSTRAP_REPLICATES,
                  seed: int = C.BOOTSTRAP_SEED, weights: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Balance before/after weighting, weight distribution, weighted KM, weighted Cox with robust
    (Lin-Wei) variance (SAP 6.5). The bootstrap contrasts (``iptw_diff``, ``iptw_rmst_diff``) are
    made by ``target_trial.own_origin_rows`` with the propensity model re-fitted per replicate;
    ``n_boot`` and ``seed`` are kept for callers and unused here. ``weights``: the frame of
    ``subject_weights(adsl)`` when the caller already fitted it (analyze fits it once), else fitted here.
    Returns (ARD rows, the per-subject weight frame for figures)."""
    frame = subject_weights(adsl) if weights is None else weights
    in_model = estimable_covariates(frame)
    bal = weighting.balance(frame, TREATED, PS_COVARIATES, weights="IPTW", categorical=PS_CATEGORICAL,
                            sd_denominator="pooled")
    # a level found in one cohort only has no spread within either cohort: its SMD is not
    # estimable (NaN, shown as NE), not infinite (e.g. MRDPREMT "NOT RECORDED", registry only)
    bal[["smd_unweighted", "smd_weighted"]] = bal[["smd_unweighted", "smd_weighted"]].replace([np.inf, -np.inf], np.nan)
    parts = [ard.with_context(cards.balance_cards(bal, COHORT, *COMPARISON), "ps_balance", "ATT")]
    parts.append(_weight_summary(frame))
    parts.append(ard.concat(ard.rows("ps_model", "ATT", COMPARISON, "covariate", cov, {"in_model": cov in in_model})
                            for cov in PS_COVARIATES))
    for paramcd in ("OS", "LFS"):
        # each ADTTE row carries its subject's propensity covariates, so that a bootstrap replicate
        # can refit the propensity model on the resampled subjects
        data = param_rows(adtte, paramcd)[["USUBJID", COHORT, "AVAL", "CNSR"]].merge(
            frame.drop(columns=[COHORT]), on="USUBJID", how="left")
        if data["IPTW"].isna().any():
            raise ValueError(f"ADTTE {paramcd}: subjects without a weight: {list(data.loc[data['IPTW'].isna(), 'USUBJID'][:5])}")
        km = km_at(data, COHORT, weights="IPTW")
        parts.append(ard.with_context(cards.km_cards(km, COHORT, SURVIVAL_STATS), "iptw_km", paramcd))
        # the 2-year difference and the RMST difference with their bootstrap intervals (propensity
        # model re-fitted per replicate) are computed by analysis.analyze.target_trial (SAP 6.5, 6.7)
        # weighted Cox with Lin-Wei robust variance, as weighting.weighted_cox / coxph(robust=TRUE)
        parts.append(ard.rows("iptw_cox", paramcd, COMPARISON, COHORT, "",
                              hazard_ratio(data, COHORT, C.REFERENCE_COHORT, weights="IPTW", robust=True)))
    return ard.concat(parts), frame


# --- 3. time zero: delayed entry, landmark, per protocol ------------------------------------------

def _two_group_rows(data: pd.DataFrame, analysis: str, paramcd: str, entry: str | None = None,
                    time_col: str = "AVAL", cnsr: str = "CNSR") -> pd.DataFrame:
    km = km_at(data, COHORT, entry=entry, time=time_col, cnsr=cnsr)
    parts = [ard.with_context(cards.km_cards(km, COHORT, SURVIVAL_STATS), f"{analysis}_km", paramcd)]
    n = data.groupby(COHORT, observed=True)[cnsr].agg(["size", lambda s: int((s == 0).sum())])
    parts += [ard.rows(f"{analysis}_n", paramcd, g, "AVAL", "", {"n": r.iloc[0], "n_event": r.iloc[1]})
              for g, r in n.iterrows()]
    parts.append(ard.rows(f"{analysis}_diff", paramcd, COMPARISON, "AVAL", C.TIMEPOINT_2Y_DAYS,
                          km_difference_stats(data, COHORT, km, C.REFERENCE_COHORT, entry=entry,
                                              time_col=time_col, cnsr=cnsr)))
    parts.append(ard.rows(f"{analysis}_cox", paramcd, COMPARISON, COHORT, "",
                          hazard_ratio(data, COHORT, C.REFERENCE_COHORT, entry=entry, time=time_col, cnsr=cnsr)))
    return ard.concat(parts)


def delayed_entry_rows(adtte: pd.DataFrame) -> pd.DataFrame:
    """Both cohorts from the remission documented before therapy (OSCR/LFSCR); each subject
    enters the risk set at ENTRY (trial: CAR-T1, controls: allo-HSCT), so the time a control
    had to survive to reach transplant is not credited to it (SAP 6.6)."""
    return ard.concat(_two_group_rows(at_risk_after_entry(param_rows(adtte, p)), "delayed_entry", p[:-2],
                                      entry="ENTRY") for p in ("OSCR", "LFSCR"))


def at_risk_after_entry(data: pd.DataFrame) -> pd.DataFrame:
    """Rows with time at risk after entry (AVAL > ENTRY). A subject censored at the start of
    observation (e.g. enrolled just before the cut, no disease assessment yet) contributes no
    time at risk and is left out (SAP 6.6)."""
    return data[data["AVAL"] > data["ENTRY"]]


LANDMARK_PARAMS = {"OSCR": "OS", "LFSCR": "LFS"}


def landmark_day(adsl: pd.DataFrame | None = None) -> float:
    """The landmark on the common clock: conventions.LANDMARK_CR_DAYS days after the remission
    before therapy, the same day for both cohorts (SAP 6.7)."""
    return float(C.LANDMARK_CR_DAYS)


def landmark_frame(adtte: pd.DataFrame, adsl: pd.DataFrame, paramcd: str, landmark: float) -> pd.DataFrame:
    """Subjects of a common-clock parameter (OSCR / LFSCR: days since the remission before
    therapy, entry at treatment start) who had started treatment by the landmark (ENTRY <= L),
    are still followed after it (AVAL > L) and had not relapsed by it; time re-counted from the
    landmark (SAP 6.7). Subjects starting treatment after L are left out (counted in the ARD)."""
    data = param_rows(adtte, paramcd).merge(adsl[["USUBJID", "RELDT"]], on="USUBJID", how="left")
    # the relapse day on the AVAL scale (ADT - STARTDT + 1, SAP 2.2), as the AVAL > landmark test,
    # so that a relapse and a death on the same day are treated alike
    relapse_day = (data["RELDT"] - data["STARTDT"]).dt.days + 1
    keep = (data["ENTRY"] <= landmark) & (data["AVAL"] > landmark) & ~(relapse_day <= landmark).fillna(False)
    out = data[keep].copy()
    out["AVAL"] = out["AVAL"] - landmark
    return out


def landmark_rows(adtte: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    day = landmark_day(adsl)
    parts = [ard.rows("landmark", "LANDMARK", "", "day", "", {"day": day})]
    for paramcd, endpoint in LANDMARK_PARAMS.items():
        data = param_rows(adtte, paramcd)
        late = data[data["ENTRY"] > day].groupby(COHORT, observed=True).size()
        parts += [ard.rows("landmark_late", endpoint, g, "ENTRY", "", {"n": int(late.get(g, 0))}) for g in
                  (C.COHORT_TRIAL, C.COHORT_EXTERNAL)]
        frame = landmark_frame(adtte, adsl, paramcd, day).assign(PARAMCD=endpoint)
        parts.append(_two_group_rows(frame, "landmark", endpoint))
    return ard.concat(parts)


def per_protocol_rows(adtte: pd.DataFrame) -> pd.DataFrame:
    """Trial completers from CAR-T2 (OSPP/LFSPP) beside controls from allo-HSCT (OS/LFS)."""
    parts = []
    for pp, itt in (("OSPP", "OS"), ("LFSPP", "LFS")):
        controls = param_rows(adtte, itt)
        data = pd.concat([param_rows(adtte, pp), controls[controls[COHORT] == C.COHORT_EXTERNAL]], ignore_index=True)
        # one analysis set built from two parameters: label it as such, so that the survival
        # layer's one-parameter check (PARAMCD) sees a single set
        data["PARAMCD"] = f"{pp}+{itt}"
        parts.append(_two_group_rows(data, "per_protocol", itt))
    return ard.concat(parts)


def external_control_rows(data: dict[str, pd.DataFrame], weights: pd.DataFrame | None = None) -> pd.DataFrame:
    """``weights``: ``subject_weights(adsl)`` when already fitted (analyze passes the one fit)."""
    adsl, adtte = data["adsl"], data["adtte"]
    weighted, _ = weighted_rows(adsl, adtte, weights=weights)
    return ard.concat([competing_risk_rows(adtte), weighted, delayed_entry_rows(adtte),
                       landmark_rows(adtte, adsl), per_protocol_rows(adtte)])
