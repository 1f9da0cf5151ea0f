"""Statistical conventions of the SAP, defined once. docs/sap-notes.md states each in words.

Every computation that depends on one of these imports it from here and cites it by name.
"""

from __future__ import annotations

# --- time scale -----------------------------------------------------------------------------
DAYS_PER_YEAR = 365.25            # SAP 2.1: a year is 365.25 days
DAYS_PER_MONTH = DAYS_PER_YEAR / 12  # SAP 2.1: a month is 30.4375 days
TIMEPOINT_1Y_DAYS = 1 * DAYS_PER_YEAR
TIMEPOINT_2Y_DAYS = 2 * DAYS_PER_YEAR  # SAP 2.1: the "2-year" estimate is read at day 730.5
# SAP 2.2: AVAL (days) = ADT - STARTDT + 1, as CDISC Pilot 01 ADTTE and admiral's derive_param_tte.
AVAL_ADD_ONE_DAY = True

# --- confidence intervals ---------------------------------------------------------------------
CONF_LEVEL = 0.95
KM_CONF_TYPE = "log-log"          # SAP 3.1: KM limits on the complementary log-log scale
BINOMIAL_CI = "clopper-pearson"   # SAP 3.4: exact limits for rates
COX_TIES = "efron"                # SAP 3.3
LOGRANK_RHO = 0                   # SAP 3.3: plain log-rank (survdiff rho = 0)

# --- MRD ---------------------------------------------------------------------------------------
# SAP 4.1: negativity thresholds of the registry record.
MRD_THRESHOLD = {"FC": 1e-4, "NGS": 1e-6}

# --- partial dates -----------------------------------------------------------------------------
# SAP 2.3: a missing day is imputed to the 1st of the month for start/onset dates and to the
# last day of the month for end dates; a missing month is not imputed (rejected by validation).
START_DATE_IMPUTATION = "first"
END_DATE_IMPUTATION = "last"

# --- external-control comparison ----------------------------------------------------------------
COHORT_TRIAL = "SANDWICH"
COHORT_EXTERNAL = "ALLO_EXT"
REFERENCE_COHORT = COHORT_EXTERNAL  # differences are SANDWICH minus ALLO_EXT

# --- external-control sensitivity analyses (SAP 6.4-6.6) ------------------------------------------------
IPTW_ESTIMAND = "ATT"               # SAP 6.5: weights target the trial population
IPTW_STABILIZE = True
# SAP 6.5: the weights are NOT truncated (None). Truncating them (at the 99th percentile of all
# weights, the rule before 2026-12-01) moved the primary towards the unweighted comparison under
# measured confounding in the operating-characteristics simulation (SAP 9.8): the largest weights
# belong to the controls most like the trial patients. Truncation stays a sensitivity analysis:
IPTW_TRUNCATE_PERCENTILES = None
IPTW_SENSITIVITY_TRUNCATE_PERCENTILES = (0, 99)  # SAP 6.7: primary HR with weights above the 99th percentile set to it
BALANCE_THRESHOLD = 0.1             # SAP 6.5: |SMD| < 0.1 is balanced
BOOTSTRAP_REPLICATES = 1000         # SAP 6.5: percentile bootstrap of the weighted KM difference
BOOTSTRAP_SEED = 20221101
CR_CAUSES = {1: "Relapse (CIR)", 2: "Non-relapse mortality (NRM)"}  # SAP 6.4: EVNTTYPE coding

# --- protocol of the sandwich: targets and windows (SAP 7, exposure and adherence; issue 11) -------
CD34_MIN_YIELD = 2.0                # SAP 1.1: successful collection = MOBSTAT SUCCESS and >= 2 x 10^6 CD34+/kg
CART_TARGET_DOSE = 5e6              # SAP 7.1: CAR-T cells/kg per product (registry: 5 x 10^6/kg each)
CART_DOSE_RANGE = (4e6, 6e6)        # SAP 7.1: an infusion outside [4, 6] x 10^6/kg is off target
# SAP 7.2: protocol windows, days between two steps (inclusive bounds)
PROTOCOL_WINDOWS = {
    "CAR-T1 to collection": ("TRTSDT", "COLLDT", 42, 56),       # 6-8 weeks
    "Collection to auto-HSCT": ("COLLDT", "AHSCTDT", 21, 35),   # about 4 weeks (4 +/- 1 week)
    "Auto-HSCT to CAR-T2": ("AHSCTDT", "CART2DT", 2, 2),        # 2 days
}

# --- maturity and reporting (SAP 3.5-3.7, issue 12) -----------------------------------------------
# SAP 3.5: a Kaplan-Meier rate resting on fewer subjects at risk than this is shown as "not
# reliably estimable (n at risk < MIN_AT_RISK)", never as a bare number (the ARD keeps the value).
MIN_AT_RISK = 10
RMST_TAU_DAYS = TIMEPOINT_2Y_DAYS   # SAP 3.6: restricted mean survival time up to 24 months
# SAP 3.7: every p-value is nominal and descriptive: the protocol defines no testing strategy
# (no alpha allocation, no multiplicity control), so no result is called "significant".
P_VALUES_ARE_NOMINAL = True
# SAP 3.7: the status of each data cut, declared once (the study story, data/raw/README.md: the
# final analysis is at last patient's CAR-T1 + 24 months; enrollment ends 2025-01, so every cut
# before 2027 is interim). The report reads the label from here; a cut not listed is reported as
# "undeclared" (never guessed from its date).
CUT_STATUS = {"cut-2024-06-30": "interim", "cut-2025-06-30": "interim", "cut-2026-09-30": "interim"}
CUT_STATUS_CODES = {"interim": 1, "final": 2, "undeclared": 0}  # ARD stat "status_code"

# --- target-trial emulation of the external comparison (SAP 6.7) --------------------------------------
# SAP 6.7: landmark on the common clock (days since the remission before therapy): subjects who
# started treatment by this day and are alive and event-free at it; time re-counted from it.
LANDMARK_CR_DAYS = 183.0
# SAP 6.7: E-value for a hazard ratio of a common outcome (> 15% by the end of follow-up):
# VanderWeele & Ding 2017 approximation RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)).
EVALUE_COMMON_OUTCOME = True
# SAP 6.7: tipping-point grid: hazard ratio of an unmeasured binary confounder with the outcome.
TIPPING_CONFOUNDER_HR = (1.5, 2.0, 3.0, 4.0)

# --- MRD (SAP 4.5-4.7) ---------------------------------------------------------------------------------
MRD_DAY28_WINDOW = (21, 35)   # SAP 4.5: the protocol's day-28 assessment: study day 21..35 after CAR-T1
# SAP 4.5: timepoints of the MRD-negative rate by visit, in study days after CAR-T1 (label, low, high)
MRD_TIMEPOINTS = (("Day 28", 21, 35), ("Month 3", 60, 120), ("Month 6", 150, 215), ("Month 12", 320, 410),
                  ("Month 24", 680, 780))
# SAP 4.4: MRD recurrence ends negativity only when confirmed: two consecutive positive samples of
# the method, or one positive followed by relapse (RELDT) before the next sample of the method.
MRD_RECURRENCE_CONFIRMATION = 2


def cut_status(cut: str | None) -> str:
    """'interim' / 'final' from CUT_STATUS (SAP 3.7); 'undeclared' for a cut not listed."""
    return CUT_STATUS.get(str(cut), "undeclared")


def weight_truncation_words(rule: tuple[float, float] | None) -> str:
    """The weight truncation rule in words, for every footnote, method text and row label that
    states it (SAP 6.5, 6.7): ``None`` (not truncated) or percentiles (lo, hi) of all weights."""
    if rule is None:
        return "weights not truncated"
    lo, hi = rule
    if lo == 0:
        return f"weights above the {_ordinal(hi)} percentile of all weights set to it"
    return f"weights truncated at the {_ordinal(lo)} and {_ordinal(hi)} percentiles of all weights"


def _ordinal(x: float) -> str:
    """1st, 2nd, 3rd, 11th, 97.5th."""
    text = f"{x:g}"
    if float(x) != int(x) or 10 <= int(x) % 100 <= 20:
        return text + "th"
    return text + {1: "st", 2: "nd", 3: "rd"}.get(int(x) % 10, "th")
