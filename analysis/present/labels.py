"""Display labels of codes the report would otherwise print raw (issue 11: "display labels, not
codes"): analysis ids of the ARD in method footnotes, propensity-model covariates and their levels,
and the name of a KM timepoint. Numbers first, display second: nothing here changes a number.
"""

from __future__ import annotations

from analysis import conventions as C

# ard_methods.csv analysis id -> what the footnote calls it (never the id itself)
ANALYSIS_LABELS = {
    "table1": "Baseline summaries", "km": "Survival rates", "km_n": "Subjects and events",
    "km_median": "Median", "followup": "Follow-up", "km_diff": "Difference in 2-year rates", "logrank": "Log-rank test",
    "cox": "Hazard ratio", "rmst": "Restricted mean survival time", "rmst_diff": "Difference in RMST",
    "mrd_rate": "MRD-negative rate", "mrd_best": "Best MRD status", "mrd_baseline": "MRD before CAR-T1",
    "mrd_conversion": "MRD conversion", "mrd_day28": "Day-28 MRD", "mrd_timepoint": "MRD by timepoint",
    "mrd_agreement": "FC / NGS agreement",
    "cif": "Cumulative incidence", "gray": "Gray's test", "finegray": "Subdistribution hazard ratio",
    "ps_balance": "Covariate balance", "ps_model": "Propensity model", "ps_weights": "Weights",
    "landmark": "Landmark", "landmark_late": "Landmark (late)",
    "tte_evalue": "E-value", "tte_tipping": "Tipping point", "tte_cox_trunc": "Hazard ratio, truncated weights (primary)",
}
_SUFFIX_LABELS = {"km": "Survival rates", "n": "Subjects and events", "diff": "Difference in 2-year rates",
                  "cox": "Hazard ratio", "rmst": "Restricted mean survival time", "rmst_diff": "Difference in RMST"}
_PREFIX_LABELS = {"iptw": "weighted", "tte": "primary", "delayed_entry": "delayed entry",
                  "landmark": "landmark", "per_protocol": "per protocol"}


def analysis_label(analysis: str) -> str:
    """The display name of an ARD analysis id ("iptw_cox" -> "Hazard ratio (weighted)")."""
    if analysis in ANALYSIS_LABELS:
        return ANALYSIS_LABELS[analysis]
    for prefix, name in _PREFIX_LABELS.items():
        suffix = analysis[len(prefix) + 1:]
        if analysis.startswith(prefix + "_") and suffix in _SUFFIX_LABELS:
            return f"{_SUFFIX_LABELS[suffix]} ({name})"
    return analysis.replace("_", " ").capitalize()


def method_notes(methods: dict, *analyses: str) -> list[str]:
    """Footnote lines "<display name>: <method>." for the analyses present in ``methods``."""
    return [f"{analysis_label(a)}: {methods[a]}." for a in analyses if a in methods]


COVARIATE_LABELS = {
    "AGE": "Age (years)", "SEX": "Sex", "PHSTAT": "Ph / BCR-ABL1", "CYTORISK": "Cytogenetic risk",
    "LOGWBC": "log10 WBC at diagnosis", "WBCMISS": "WBC at diagnosis missing", "CNSPOS": "CNS involvement (CNS2/CNS3)",
    "DISSTAT": "Disease status before therapy", "MRDPRE": "MRD before therapy", "MRDPREMT": "MRD method before therapy",
    "CRTXDAYS": "Days from remission to treatment", "LOGCRTX": "log10 days from remission to treatment",
    "LOGDXCR": "log10 days from diagnosis to remission",
}
LEVEL_LABELS = {
    "SEX": {"F": "female", "M": "male"}, "PHSTAT": {"POS": "positive", "NEG": "negative"},
    "MRDPRE": {"POS": "positive", "NEG": "negative"}, "CYTORISK": {"HIGH": "high", "STANDARD": "standard",
                                                                   "MISSING": "missing"},
    "MRDPREMT": {"FC": "flow cytometry", "NGS": "NGS", "NOT RECORDED": "not recorded"},
    "WBCMISS": {"1": "yes"}, "CNSPOS": {"1": "yes"},
}


def covariate_label(covariate: str, level=None) -> str:
    """``"MRD before therapy: positive"`` for (MRDPRE, POS); a level of an indicator reads "yes"."""
    name = COVARIATE_LABELS.get(covariate, covariate)
    if level is None or str(level) in ("", "nan", "<NA>"):
        return name
    text = str(level)
    text = text[:-2] if text.endswith(".0") else text
    return f"{name}: {LEVEL_LABELS.get(covariate, {}).get(text, text)}"


def timepoint_name(days: float) -> str:
    """The one name of a KM timepoint in every table: whole years in years ("1 year", "2 years"),
    as analysis.present.layouts names them; otherwise months."""
    years = days / C.DAYS_PER_YEAR
    if years >= 1 and abs(years - round(years)) < 1e-9:
        return f"{round(years)} year" + ("s" if round(years) > 1 else "")
    return f"{days / C.DAYS_PER_MONTH:.0f} months"
