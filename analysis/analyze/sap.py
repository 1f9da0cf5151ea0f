"""The primary SAP analyses (registry record endpoints) as ARD rows.

Every statistical choice comes from ``analysis.conventions`` (SAP section cited at each call);
every computation from the generic ``analysis.stats`` layer.
"""

from __future__ import annotations

import pandas as pd

from analysis import ard
from analysis import conventions as C
from analysis.analyze.members import isin  # fast on Arrow strings (issue 15)
from analysis.stats import cards, survival
from analysis.stats import rmst as rmst_stats
from analysis.stats.rates import binomial_rate

COHORT = "COHORT"
COHORTS = (C.COHORT_TRIAL, C.COHORT_EXTERNAL)
COMPARISON = ard.Comparison(C.COHORT_TRIAL, C.COHORT_EXTERNAL)   # ARD rows: group1_level / group2_level
KM_TIMEPOINTS = (C.TIMEPOINT_1Y_DAYS, C.TIMEPOINT_2Y_DAYS)
PRIMARY_PARAMS = ("OS", "LFS")
MRD_PARAMS = {"FC": ("MRDFC", "MRDDURFC"), "NGS": ("MRDNGS", "MRDDURNG")}

TABLE1_VARIABLES = {  # variable -> (label, categorical)
    "AGE": ("Age (years)", False),
    "SEX": ("Sex", True),
    "PHSTAT": ("Ph / BCR-ABL1", True),
    "CYTORISK": ("Cytogenetic risk", True),
    "WBCDIAG": ("WBC at diagnosis (10^9/L)", False),
    "CNSSTAT": ("CNS status at diagnosis", True),
    "DISSTAT": ("Disease status before therapy", True),
    "MRDPRE": ("MRD before therapy", True),
}
TABLE1_NONNORMAL = ("WBCDIAG",)


def param_rows(adtte: pd.DataFrame, paramcd: str) -> pd.DataFrame:
    sel = adtte[adtte["PARAMCD"] == paramcd]
    if sel.empty:
        raise ValueError(f"ADTTE has no rows for PARAMCD {paramcd!r}")
    return sel


NOT_ESTIMABLE = float("nan")


def groups_without_events(data: pd.DataFrame, by: str, is_event: pd.Series) -> list[str]:
    """Groups with no event: a hazard ratio against them is 0 or infinite (not estimable)."""
    counts = is_event.groupby(data[by], observed=True).sum()
    return [str(g) for g, k in counts.items() if k == 0]


def hazard_ratio(data: pd.DataFrame, by: str, reference: str, **cox_options) -> dict[str, float]:
    """Cox HR of ``by`` against ``reference`` (SAP 3.3: conventions.COX_TIES); not estimable (NaN,
    shown as NE) when a group has no event."""
    if groups_without_events(data, by, data[cox_options.get("cnsr", "CNSR")] == 0):
        return {"hr": NOT_ESTIMABLE, "lcl": NOT_ESTIMABLE, "ucl": NOT_ESTIMABLE, "p": NOT_ESTIMABLE}
    fit = survival.cox(data, by, ties=C.COX_TIES, reference=reference, conf_level=C.CONF_LEVEL, **cox_options)
    return {k: fit[k].iloc[0] for k in ("hr", "lcl", "ucl", "p")}


KM_STATS = ("surv", "std_err", "lcl", "ucl")


def km_at(data: pd.DataFrame, by: str, times=KM_TIMEPOINTS, **options) -> pd.DataFrame:
    """KM at ``times`` (SAP 3.1), with the estimate NOT ESTIMABLE (NaN) at a time when nobody is
    at risk any more and the curve has not reached 0: R's summary(extend=TRUE) would carry the
    last value forward beyond the group's follow-up."""
    km = survival.km_estimates(data, by, times, conf_type=C.KM_CONF_TYPE, conf_level=C.CONF_LEVEL, **options)
    km.loc[survival.beyond_follow_up(km), list(KM_STATS)] = NOT_ESTIMABLE
    # SAP 3.5: a rate resting on fewer than conventions.MIN_AT_RISK subjects at risk is reported as
    # not reliably estimable; the ARD keeps the value and this flag (1 reliable, 0 not)
    km["reliable"] = (km["n_risk"] >= C.MIN_AT_RISK).astype(float)
    return km


def estimable_at(km: pd.DataFrame, time: float) -> bool:
    """Every group's KM is estimable at ``time`` (a difference needs both)."""
    return bool(km.loc[km["time"] == time, "surv"].notna().all())


def km_difference_stats(data: pd.DataFrame, by: str, km: pd.DataFrame, reference: str, **options) -> dict:
    """2-year difference (SAP 3.2), NE when either group's 2-year KM is not estimable."""
    if not estimable_at(km, C.TIMEPOINT_2Y_DAYS):
        return dict.fromkeys(("diff", "se", "lcl", "ucl", "p"), NOT_ESTIMABLE)
    diff = survival.km_difference(data, by, C.TIMEPOINT_2Y_DAYS, reference, conf_level=C.CONF_LEVEL, **options)
    return {k: diff[k].iloc[0] for k in ("diff", "se", "lcl", "ucl", "p")}


def km_analyses(adtte: pd.DataFrame, paramcd: str, by: str = COHORT, reference: str | None = C.REFERENCE_COHORT,
                timepoints=KM_TIMEPOINTS, prefix: str = "") -> pd.DataFrame:
    """KM at the timepoints, median, and — with two groups — the difference at 2 years,
    log-rank and Cox HR. SAP 3.1 (KM, Greenwood, conventions.KM_CONF_TYPE), 3.2 (difference,
    Wald), 3.3 (log-rank rho = 0, Cox Efron ties)."""
    data = param_rows(adtte, paramcd)
    km = km_at(data, by, timepoints)
    parts = [ard.with_context(cards.km_cards(km, by, (*cards.KM_ESTIMATE_STATS, "reliable")), f"{prefix}km", paramcd)]
    med = survival.km_quantiles(data, by, probs=(0.5,), conf_type=C.KM_CONF_TYPE, conf_level=C.CONF_LEVEL)
    parts.append(ard.with_context(cards.km_quantile_cards(med, by), f"{prefix}km_median", paramcd))
    counts = data.groupby(by, observed=True).agg(n=("CNSR", "size"), n_event=("CNSR", lambda s: int((s == 0).sum())))
    parts.append(ard.concat(ard.rows(f"{prefix}km_n", paramcd, g, "AVAL", "", {"n": r.n, "n_event": r.n_event})
                            for g, r in counts.iterrows()))
    groups = sorted(data[by].dropna().unique())
    if reference is not None and len(groups) == 2 and reference in groups:
        parts.append(ard.rows(f"{prefix}km_diff", paramcd, COMPARISON, "AVAL", C.TIMEPOINT_2Y_DAYS,
                              km_difference_stats(data, by, km, reference)))
        lr = survival.logrank(data, by, rho=C.LOGRANK_RHO)
        parts.append(ard.rows(f"{prefix}logrank", paramcd, COMPARISON, by, "",
                              {"chisq": lr["chisq"].iloc[0], "df": lr["df"].iloc[0], "p": lr["p"].iloc[0]}))
        parts.append(ard.rows(f"{prefix}cox", paramcd, COMPARISON, by, "", hazard_ratio(data, by, reference)))
    return ard.concat(parts)


def primary_survival(adtte: pd.DataFrame) -> pd.DataFrame:
    return ard.concat([*(km_analyses(adtte, p) for p in PRIMARY_PARAMS), maturity_rows(adtte)])


# --- maturity (SAP 3.5-3.7) ------------------------------------------------------------------------

def cut_status_rows(cut: str | None) -> pd.DataFrame:
    """The cut's declared status (SAP 3.7, conventions.CUT_STATUS): status_code 1 interim, 2 final,
    0 undeclared; the level carries the word."""
    status = C.cut_status(cut)
    return ard.rows("cut_status", "CUT", str(cut or ""), "status", status,
                    {"status_code": C.CUT_STATUS_CODES[status], "p_nominal": float(C.P_VALUES_ARE_NOMINAL)},
                    group1="CUT")


def followup_rows(adtte: pd.DataFrame, params=PRIMARY_PARAMS, by: str = COHORT, prefix: str = "") -> pd.DataFrame:
    """Median potential follow-up by reverse Kaplan-Meier per cohort and endpoint, with quartiles
    and the longest time observed (SAP 3.5; days)."""
    parts = []
    for paramcd in params:
        data = param_rows(adtte, paramcd)
        fu = rmst_stats.reverse_km_follow_up(data, by, conf_level=C.CONF_LEVEL)
        longest = data.groupby(by, observed=True)["AVAL"].max()
        for _, r in fu.iterrows():
            parts.append(ard.rows(f"{prefix}followup", paramcd, r[by], "AVAL", "reverse KM", {
                "median": r["median"], "lcl": r["lcl"], "ucl": r["ucl"], "q1": r["q1"], "q3": r["q3"],
                "max": float(longest[r[by]])}))
    return ard.concat(parts)


def rmst_rows(adtte: pd.DataFrame, params=PRIMARY_PARAMS, by: str = COHORT, prefix: str = "",
              entry: str | None = None, tau: float = C.RMST_TAU_DAYS) -> pd.DataFrame:
    """RMST to tau (SAP 3.6) per cohort, and the difference SANDWICH minus ALLO_EXT with its Wald
    CI and nominal P (SAP 3.7). ``extended`` = 1 when a cohort's follow-up ends before tau (the
    curve is carried flat to tau, as R's rmean)."""
    parts = []
    for paramcd in params:
        data = param_rows(adtte, paramcd)
        if entry is not None:
            data = data[data["AVAL"] > data[entry]]
        one = rmst_stats.rmst(data, by, tau, C.CONF_LEVEL, entry=entry)
        parts += [ard.rows(f"{prefix}rmst", paramcd, r[by], "AVAL", tau, {
            "rmst": r["rmst"], "se": r["se"], "lcl": r["lcl"], "ucl": r["ucl"], "extended": float(r["extended"]),
            "last_time": r["last_time"]}) for _, r in one.iterrows()]
        if set(one[by]) == set(COHORTS):
            d = rmst_stats.rmst_difference(data, by, tau, C.REFERENCE_COHORT, C.CONF_LEVEL, entry=entry).iloc[0]
            parts.append(ard.rows(f"{prefix}rmst_diff", paramcd, COMPARISON, "AVAL", tau,
                                  {k: d[k] for k in ("diff", "se", "lcl", "ucl", "p")}))
    return ard.concat(parts)


def maturity_rows(adtte: pd.DataFrame) -> pd.DataFrame:
    return ard.concat([followup_rows(adtte), rmst_rows(adtte)])


def mrd_rates(admrd_best: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """MRD-negative rate per method among trial subjects who received CAR-T1 (SAFFL), with exact
    Clopper-Pearson limits (SAP 4.3; conventions.BINOMIAL_CI). A subject whose best status is
    NOT EVALUABLE, or who has no post-CAR-T1 assessment, counts in the denominator as not
    negative (SAP 4.3)."""
    pop = adsl[(adsl[COHORT] == C.COHORT_TRIAL) & (adsl["SAFFL"] == "Y")]["USUBJID"]
    parts = []
    for method, (paramcd, _) in MRD_PARAMS.items():
        best = admrd_best[(admrd_best["PARAMCD"] == paramcd) & isin(admrd_best["USUBJID"], pop)]
        x = int((best["BESTSTAT"] == "NEGATIVE").sum())
        n = int(pop.nunique())
        r = binomial_rate(x, n, conf_level=C.CONF_LEVEL, method=C.BINOMIAL_CI).iloc[0]
        parts.append(ard.rows("mrd_rate", f"MRD-{method}", C.COHORT_TRIAL, "BESTSTAT", "NEGATIVE",
                              {"n": n, "x": x, "rate": r["rate"], "lcl": r["lcl"], "ucl": r["ucl"]}))
        for status, k in best["BESTSTAT"].value_counts().sort_index().items():
            parts.append(ard.rows("mrd_best", f"MRD-{method}", C.COHORT_TRIAL, "BESTSTAT", status,
                                  {"n": int(k), "pct": 100 * k / n if n else float("nan")}))
    return ard.concat(parts)


def mrd_duration(adtte: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for _, (_, paramcd) in MRD_PARAMS.items():
        data = adtte[(adtte["PARAMCD"] == paramcd) & (adtte[COHORT] == C.COHORT_TRIAL)]
        if len(data):
            parts.append(km_analyses(data, paramcd, reference=None))
    return ard.concat(parts)


def table1_rows(adsl: pd.DataFrame, analysis: str = "table1") -> pd.DataFrame:
    variables = [v for v in TABLE1_VARIABLES if v in adsl.columns]
    rows = cards.table1_cards(adsl, COHORT, variables,
                              categorical=[v for v in variables if TABLE1_VARIABLES[v][1]],
                              nonnormal=[v for v in TABLE1_NONNORMAL if v in variables],
                              labels={v: TABLE1_VARIABLES[v][0] for v in variables})
    return ard.with_context(rows, analysis, "ADSL")


def ae_rows(adae: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """TEAE incidence in the safety population of the trial cohort (SAP 5): by SOC and CTCAE
    term (the term's SOC in group2), any grade, by worst grade, and grade >= 3 (the grade scope in
    group3 / group3_level); overview; by CRS / ICANS flag."""
    trial = adsl[adsl[COHORT] == C.COHORT_TRIAL]
    parts = [ard.with_context(cards.ae_summary_cards(adae, trial, COHORT, grade="ATOXGR"), "ae", "TEAE")]
    overview = cards.ae_overview_cards(adae, trial, COHORT, grade="ATOXGR", related="AERELCAR")
    parts.append(ard.with_context(overview, "ae_overview", "TEAE"))
    for var in ("CRSFL", "ICANSFL"):  # by period (APHASE): analysis.analyze.safety, denominators per period
        if var in adae.columns:
            parts.append(ard.with_context(cards.ae_by_cards(adae, trial, COHORT, var), "ae_by", "TEAE"))
    return ard.concat(parts)
