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
KM_DIFF_CI = "wald"               # SAP 3.2: difference of KM at t, Greenwood SEs, Wald interval
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
IPTW_TRUNCATE_PERCENTILES = (0, 99)  # SAP 6.5: weights above the 99th percentile are set to it
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
