"""Parameters of the SYNTHETIC trial simulator, each grounded in a row of the literature table.

Source table: /work/shared/refs/literature-parameters.md (rows T1.x CAR-T, T2.x CAR-T + auto-HSCT,
T3.x allo-HSCT, T4.x MRD assays, T5.x baseline characteristics). Where no row gives the value, the
parameter is marked **modelling choice** and the nearest rows are named. All time is in days unless
the name says otherwise.

Study design (registry record /work/shared/seed/registry-record.txt)
- CAR-T1 = CD22 infusion day 0, CD19 day 1-3, dose ~5e6/kg each: registry record; dose spread
  (lognormal, CV ~15 %) is a modelling choice (T1.10 median 1e7/kg for a tandem product).
- Mobilisation 6-8 weeks after CAR-T1; BuCy ~4 weeks after collection; conditioning starts ~6 days
  before HSCT; CAR-T2 (CD22 + CD19, same day) 2 days after HSCT: registry record (T2.10: CAR-T on
  day +2/+3 after ASCT).
- Enrollment 2023-01 .. 2025-01, 40 patients, 3 sites: brief (modelling choice).

Baseline covariates, trial (``TRIAL_COVARIATES``)
- Age mean 38 (sd 12, truncated to 18-65): T5.1 (median 40), T5.2 (46), T5.10 (38); adults only,
  the upper limit of 65 is auto-HSCT eligibility (modelling choice).
- Male 0.60: T5.9 (62 %), T5.10 (67 %) proxies (T5.11 not found).
- Ph+ 0.20: T5.10 (13 %) and T3.1 (28 %) proxies (T5.12 not found).
- High cytogenetic risk (Ph-negative patients) 0.35, all Ph+ are high risk: T5.4 (43.5 % high-risk
  lesions overall).
- CR2 at CAR-T1 0.35: modelling choice; T3.10 (CR2 share 37 % in chemo->allo) as proxy.
- MRD-positive before CAR-T1 0.70 ("often MRD-positive", registry record); level log-uniform
  1e-4 .. 3e-2: modelling choice.
- CNS2/CNS3 0.05/0.05: modelling choice (T5.13 not found). WBC at diagnosis lognormal median 15:
  modelling choice.

External control covariates (``EXTERNAL_COVARIATES``): allo-HSCT in CR1/CR2, 2016-2023
- Younger (mean 33, sd 12, 18-65): T3.1 (19 % older than 55), T3.15 not found -> modelling choice
  chosen to plant confounding while keeping overlap with the trial's ages.
- MRD-positive before HSCT 0.50: T3.8 (MRD-neg 39-49 %, i.e. MRD+ 51-61 %) at its lower end, so
  controls are more often MRD-negative than trial patients (0.70; planted confounding).
- CR2 0.25: T3.1 (CR1 54 %, CR2 13 % -> CR2 19 % of CR1+CR2), raised towards the trial's 0.35 so
  that ATT weighting can balance it (a sweep of seeds 1-30: after ATT weighting from a main-effects
  logistic model |SMD| < 0.1 for every covariate, and the naive log HR above the adjusted one, in
  all 30; modelling choice).
- Ph+ 0.20 and high cytogenetic risk as in the trial: prognostic in both cohorts but distributed
  alike, so not confounders (T3.1 reports 28 % Ph+ in a mixed allo cohort; modelling choice).
- Donor HAPLO 0.55 / MSD 0.30 / MUD 0.15: T3.4 (Peking, haplo-dominant), modelling choice.
- Remission -> allo-HSCT 60-150 days (2-5 months): brief; modelling choice.

Outcome model (``OUTCOME_MODEL``, ``PLANTED_TRUTH``; analysis.simulate.outcomes): cause-specific hazards.
- Relapse, time scale "days since the remission documented before treatment" (CRDTC), delayed entry
  at CAR-T1 / allo-HSCT. Baseline 0.060 per year in year 1, relative 1 / 0.55 / 0.15 in years 1 / 2 /
  3+ (modelling choice: relapse concentrates early, T1.35, T1.19/T1.20), shared by both cohorts.
- Covariate log HRs of relapse: MRD+ before therapy log(2.5) (T3.5 HR 3.56, 1.39-9.15); CR2 log(2.8)
  (T3.6 5-yr OS 70 % CR1 vs 44 % later CR); age per 10 years log(1.10) (T3.13); Ph+ log(1.2) (T3.8);
  high risk log(1.4) (T5.4): modelling choices with those rows as anchors.
- MRD positivity after CAR-T1 (latent day-28 class, ``DAY28_MRD``: T1.6, T1.21, T4.6, T4.7) multiplies
  the sandwich relapse hazard by 4.87 (T1.34: NGS-MRD > 0 at day 28, HR 4.87, 2.18-10.8).
- Sandwich effect gamma = log(1.6) on relapse (MRD-negative after CAR-T1 vs allo-HSCT): modelling
  choice calibrated so the sandwich lies inside its literature ranges and not above them: 1-year LFS
  0.58-0.77 (T1.21, T1.22), 2-year LFS 0.50-0.65 (T1.23, T1.14, T2.5/T2.8), 2-year OS 0.64-0.80 (T1.23,
  T1.22). The sandwich trades a higher relapse hazard for a much lower NRM than allo-HSCT.
- NRM, time scale "days since treatment start", per day: allo-HSCT 6.5e-4 (days 0-100), 1.5e-4
  (100-365), 2.0e-5 after: concentrated in the first 100 days then a plateau; 5-year NRM 8-15 %
  (T3.2 13.9 %, T3.4 10-11 %, T3.11 8 %); the day-100 shape is a modelling choice. Sandwich 1.6e-4
  (days 0-30, CAR-T1 toxicity), 1.1e-4 (30-150, auto-HSCT), 1.8e-5 after: 2-year NRM about 2 %, below
  the allo TRM of T3.11 (T2.15 not found; T2.8/T2.12 no treatment-related death). Age log HR 1.3 per
  10 years (modelling choice). Site effect (``SITE_NRM_HR``): modelling choice.
- Calibrated together so that allo-HSCT 5-year CIR in CR1 is 16-21 % (T3.6 15.9 %, T3.2 20.7 %),
  5-year LFS about 0.65 (T3.2 65.6 %), 5-year OS in CR1 about 0.70 (T3.6, T3.2).
- Unmeasured confounding (``UNMEASURED``): latent U, N(0, 1) in the registry, mean -0.3 among trial
  entrants, log HR 0.405 per SD on relapse and NRM: modelling choice (switch and strength).
- Survival after relapse exponential, median 7.5 months (T1.35), both cohorts; 12 % of relapsed
  patients are salvaged long term (modelling choice; T1.22 32 % OS without consolidation).
- Non-response to CAR-T1 (marrow blasts >= 5 % at day 28) 0.02: T1.1 (90 % CR in r/r disease, so
  ~10 % is a ceiling for patients already in CR): modelling choice.
- Benchmark of every cited figure: benchmarks/simulator_calibration.py.

Drop-outs along the sandwich
- CD34+ yield lognormal median 3.8e6/kg, sigma 0.5 (T2.4 2.41-3.05, T2.6 4.14, range 0.7-13);
  failure = yield < 2e6/kg (T2.3) -> about 10 % failed mobilisations (T2.2 not found: sensitivity
  parameter 5-15 %); 40 % of failures never reach apheresis: modelling choice.
- Withdrawal 0.03, discontinuation for an adverse event 0.03, physician decision 0.02: modelling
  choices; together with relapse/death before CAR-T2 about 75 % complete the sandwich (brief 70-80 %).

Engraftment after auto-HSCT: neutrophils day 10-14 (T1.24 recovery median 14 after CAR-T; T2.14 not
found), platelets day 14-21 (T2.13 median 14-28; modelling choice).

Adverse events (``AE_RATES``): CTCAE 5.0 terms of raw_spec.CTCAE_TERMS.
- CRS after CAR-T1 any grade 0.80, grade >= 3 0.07: T1.2 (87 %, 6 %), T1.7 (87 %, 17 %), T1.11
  (78 %/39 %) lowered for low disease burden (T1.29; the caveat of the literature file).
- CRS onset lognormal median 4 days (grade >= 3 median 3), duration median 4 (grade >= 3 median 6):
  T1.24 (onset 5, IQR 2-7), T1.26 (onset 3-5, duration 3-5), T1.27.
- ICANS any grade 0.12, grade >= 3 ~0.02, onset median day 7 (5-9): T1.3 (16 %, 3 %), T1.8, T1.12,
  T1.24.
- CRS after CAR-T2 0.40, grade 1-2 only: T1.11 (about half of CAR-T1), T2.11 (no grade 3-4 CRS after
  ASCT + CAR-T). ICANS after CAR-T2 0.04: modelling choice.
- Cytopenias after CAR-T1 lymphodepletion: WBC decreased 0.85 (grade 3-4 ~0.6), neutrophils 0.75,
  platelets 0.50, anaemia 0.55: T1.9 (74 % / 49 % / 57 % grade 3-4 in r/r disease), lowered.
- After BuCy/HSCT: grade 4 neutropenia 0.97, grade 3-4 thrombocytopenia 0.92, febrile neutropenia
  0.55, oral mucositis 0.60, diarrhoea 0.35, nausea 0.60, vomiting 0.35, lung infection 0.10,
  sepsis 0.05, CMV 0.05, hepatic failure (VOD) 0.02: modelling choices (no row; T3.2 engraftment).
- Hypogammaglobulinaemia (B-cell aplasia) 0.30, 60 % still ongoing: modelling choice.
- With CRS: hypotension 0.40 if grade >= 2, hypoxia 0.60 if grade >= 3; without CRS, fever 0.10.
  Also after CAR-T1: ALT increased 0.15, fatigue 0.20, headache 0.10, nausea 0.15. Late (2-12
  months): lung infection 0.15, CMV reactivation 0.06. Discontinuation for an AE comes with a
  serious grade 3-4 event (ICANS, thrombocytopenia or lung infection) shortly before. Non-relapse
  deaths carry a grade-5 event ending on the death date (sepsis/lung infection, hepatic failure,
  or CRS). AESER: grade 4-5 always, grade 3 70 %, grade 2 5 %; AERELCAR: Y for events after the
  CAR-T infusions, N for conditioning/transplant toxicity and infections. All modelling choices;
  rates and grade mixes are in analysis.simulate.adverse_events.

Further modelling choices (no literature row; values in this module or the named one)
- Remission documented 30-150 days before enrollment (consolidation chemotherapy in between);
  diagnosis 25-45 days before a first remission, 1-3 years before a second one.
- Enrollment to CAR-T1 14-35 days (apheresis, manufacturing, lymphodepletion).
- Marrow visits: day 25-31 after CAR-T1, 3-8 days before conditioning, then months 1-24 after HSCT
  within +-4..14 days; 5 % of visits missed; patients who stop without relapse keep visits at months
  3-24 after CAR-T1. CRi instead of CR in 25 % of early (day 28, HSCT month 1) and 5 % of later
  remission visits; blasts in remission 0-4.5 %, at relapse 5-85 %, in non-response 5-40 %.
- Non-relapse deaths of the trial: within 14 days of CAR-T1 from CRS; otherwise infection 0.70,
  organ failure 0.15, ICANS 0.05, other 0.10 (``TRIAL_NRM_CAUSES``); each has a grade 5 AE. Registry non-relapse deaths: GVHD 0.40,
  infection 0.40, organ failure 0.15, other 0.05 (``EXTERNAL_NRM_CAUSES``; T3.1, T3.9, T3.10 for GVHD
  incidence).
- Withdrawal / AE / physician-decision stops fall uniformly between day 21 and 3 days before
  conditioning. Alive patients' last contact 0-60 days before the cut. AE collection ends 30 days
  after relapse. 30 % of patients have one mild AE between enrollment and CAR-T1 (not
  treatment-emergent).
- Registry: extract date 2024-03-31 (before the interim cut), 8 % lost to follow-up part way,
  others last seen 0-90 days before the extract.
- Messiness: missing WBC 6 %, cytogenetic risk 5 %, CD22 % 8 %, weight 4 %, registry CNS 5 %;
  partial dates: diagnosis 15 %, birth 40 %, AE onset 15 % of onsets >= day 60, AE end 8 %.

MRD assay layer (``MRD_ASSAY``)
- FC sensitivity 1e-4 (T4.1), 1e-5 in 15 % of samples (EuroFlow >= 4e6 cells, T4.3).
- NGS sensitivity 1e-6 (T4.4); 8 % of samples reach only 1e-5 (cell input < 3e6, T4.9; rate T4.10
  not found -> parameter); 3 % of patients have no trackable clone (T4.8).
- Day-28 MRD: 12 % FC-positive persistence (T1.6 85 %, T1.21 87 % MRD-negative) and 15 % low-level
  NGS-only positivity (T4.6 19 %, T4.7 17 % NGS+/FC-).
- MRD recurrence precedes 70 % of relapses by 45-150 days (T4.5, T1.34): modelling choice; 8 % of
  patients without relapse have one transient low-level NGS-positive sample: modelling choice.
- Each assay reads the latent level with log10 error sd 0.15 (sd 0.03 for overt disease >= 1 %):
  modelling choice (analysis.simulate.mrd).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

# --- data cuts ------------------------------------------------------------------------------------
# Interim cuts 2024-06-30, 2025-06-30 and 2026-09-30 (every patient followed >= 19 months after
# CAR-T1); the final analysis is last patient's CAR-T1 + 24 months (FINAL_ANALYSIS_DATE).
CUTS: tuple[str, ...] = ("cut-2024-06-30", "cut-2025-06-30", "cut-2026-09-30")
CUT_KIND = dict.fromkeys(CUTS, "interim")          # recorded in each cut's manifest.json
FINAL_ANALYSIS = "last patient's CAR-T1 + 24 months (the registry's 2-year time frame)"
ENROLLMENT_START = date(2023, 1, 5)
ENROLLMENT_END = date(2025, 1, 20)
N_TRIAL = 40
SITES = ("01", "02", "03")           # the sites of the shipped study (about 40 patients)
SITE_PROBS = (0.45, 0.35, 0.20)
# A larger study grows by sites, as a real one does: one more site per SITE_CAPACITY patients
# (sites 04, 05, ... share patients equally with the first three); a site never passes
# SITE_MAX_SUBJECTS (the SUBJID is SS-NNN, raw_spec). Modelling choice.
SITE_CAPACITY = 300
SITE_MAX_SUBJECTS = 999
MAX_SITES = 99

N_EXTERNAL = 150
EXTERNAL_HSCT_START = date(2016, 1, 1)
EXTERNAL_HSCT_END = date(2023, 3, 31)
EXTERNAL_EXTRACT_DATE = date(2024, 3, 31)   # registry extract: before the interim cut
EXTERNAL_LOST_TO_FU = 0.08
REGISTRY_ID_DIGITS = 6                      # registry patient ids R000001 .. R999999 (raw_spec EXT.PATID)

# --- protocol schedule (days) ------------------------------------------------------------------------
CART_DOSE_PER_KG = 5e6
CART_DOSE_CV = 0.15
ENROLL_TO_CART1 = (14, 35)
CD19_AFTER_CD22 = (1, 3)
CART1_TO_MOBILIZATION = (40, 50)
MOBILIZATION_TO_COLLECTION = (4, 6)
COLLECTION_TO_HSCT = (24, 32)
CONDITIONING_DAYS_BEFORE_HSCT = (6, 7)
HSCT_TO_CART2 = 2
NEUTROPHIL_ENGRAFTMENT = (10, 14)
PLATELET_ENGRAFTMENT = (14, 21)
RESPONSE_DAY28 = (25, 31)
# Visits after HSCT: (name, nominal day after HSCT, half window)
POST_HSCT_VISITS = (("POST-HSCT M1", 30, 4), ("POST-HSCT M3", 91, 7), ("POST-HSCT M6", 183, 10),
                    ("POST-HSCT M9", 274, 10), ("POST-HSCT M12", 365, 14), ("POST-HSCT M18", 548, 14),
                    ("POST-HSCT M24", 730, 14))
# Patients who stop the sandwich without relapse keep marrow follow-up, timed from CAR-T1.
OFF_TREATMENT_VISITS = (("FOLLOW-UP M3", 91, 7), ("FOLLOW-UP M6", 183, 10), ("FOLLOW-UP M9", 274, 10),
                        ("FOLLOW-UP M12", 365, 14), ("FOLLOW-UP M18", 548, 14),
                        ("FOLLOW-UP M24", 730, 14))
MISSED_VISIT = 0.05
LAST_CONTACT_LAG = (0, 60)    # days between last contact and the cut for patients alive


# --- covariates ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CovariateModel:
    age_mean: float
    age_sd: float
    age_range: tuple[int, int]
    male: float
    ph_positive: float
    high_risk_if_ph_negative: float
    cr2: float
    mrd_positive: float


TRIAL_COVARIATES = CovariateModel(age_mean=38, age_sd=12, age_range=(18, 65), male=0.60,
                                  ph_positive=0.20, high_risk_if_ph_negative=0.35, cr2=0.35,
                                  mrd_positive=0.70)
EXTERNAL_COVARIATES = CovariateModel(age_mean=33, age_sd=12, age_range=(18, 65), male=0.60,
                                     ph_positive=0.20, high_risk_if_ph_negative=0.35, cr2=0.25,
                                     mrd_positive=0.50)
WBC_MEDIAN, WBC_SIGMA = 15.0, 1.1
CNS_PROBS = {"CNS1": 0.90, "CNS2": 0.05, "CNS3": 0.05}
DONOR_PROBS = {"HAPLO": 0.55, "MSD": 0.30, "MUD": 0.15}
# Messiness within the contract: share of values missing.
MISSING_RATE = {"WBCDIAG": 0.06, "CYTORISK": 0.05, "CD22PCT": 0.08, "WEIGHTKG": 0.04,
                "CNSSTAT_EXT": 0.05}
# AESTDTC: share of onsets >= 60 days after CAR-T1 (events reported from outside the centre).
PARTIAL_DATE_RATE = {"DIAGDTC": 0.15, "BRTHDTC": 0.40, "AESTDTC": 0.15, "AEENDTC": 0.08}


# --- outcome model -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class UnmeasuredConfounding:
    """A latent risk factor U (standard normal in the registry, never exported) that raises both
    cause-specific hazards by ``log_hr_per_sd`` per SD and whose mean among trial entrants is
    ``trial_shift_sd`` (negative: fitter patients are the ones who enter a CAR-T trial; a
    "healthy trial entrant" effect). Switch: ``enabled``. Free choices (no literature row)."""
    enabled: bool
    trial_shift_sd: float
    log_hr_per_sd: float


UNMEASURED = UnmeasuredConfounding(enabled=True, trial_shift_sd=-0.3, log_hr_per_sd=math.log(1.5))
UNMEASURED_OFF = UnmeasuredConfounding(enabled=False, trial_shift_sd=0.0, log_hr_per_sd=0.0)

ALLO_NRM_BREAKS = (100.0, 365.25)   # days after allo-HSCT
SANDWICH_NRM_BREAKS = (30.0, 150.0)  # days after CAR-T1: CAR-T1 toxicity, auto-HSCT period, later


@dataclass(frozen=True)
class OutcomeModel:
    """Cause-specific hazards (analysis.simulate.outcomes): relapse on the time scale since the
    remission (shared baseline, covariates, cohort effect gamma, MRD-after-CAR-T1 effect delta),
    NRM on the time scale since treatment start (cohort-specific piecewise rates per day)."""
    relapse_per_year: float                   # h0_R in year 1 after remission (events / person-year)
    relapse_relative: tuple[float, ...]       # h0_R multipliers for years 1, 2, 3+
    relapse_log_hr: dict                      # covariate log hazard ratios of relapse
    age_reference: float
    log_hr_sandwich: float                    # gamma (relapse, MRD-negative after CAR-T1)
    log_hr_mrd_post: float                    # delta (trial: MRD-positive after CAR-T1, T1.34)
    nrm: dict                                 # cohort -> (breaks in days, rates per day)
    nrm_log_hr_age_per_10y: float
    post_relapse_median_months: float
    post_relapse_salvaged: float              # share of relapsed patients salvaged long term
    nonresponse: float


OUTCOME_MODEL = OutcomeModel(
    relapse_per_year=0.060,
    relapse_relative=(1.0, 0.55, 0.15),
    relapse_log_hr={"age_per_10y": math.log(1.10), "mrd_positive": math.log(2.5), "cr2": math.log(2.8),
                    "ph_positive": math.log(1.2), "high_risk": math.log(1.4)},
    age_reference=40.0,
    log_hr_sandwich=math.log(1.6),
    log_hr_mrd_post=math.log(4.87),
    nrm={"ALLO_EXT": (ALLO_NRM_BREAKS, (6.5e-4, 1.5e-4, 2.0e-5)),
         "SANDWICH": (SANDWICH_NRM_BREAKS, (1.6e-4, 1.1e-4, 1.8e-5))},
    nrm_log_hr_age_per_10y=math.log(1.3),
    post_relapse_median_months=7.5,
    post_relapse_salvaged=0.12,
    nonresponse=0.02,
)

CRS_DEATH_WINDOW_DAYS = 14
TRIAL_NRM_CAUSES = {"INFECTION": 0.70, "ORGAN FAILURE": 0.15, "ICANS": 0.05, "OTHER": 0.10}
EXTERNAL_NRM_CAUSES = {"GVHD": 0.40, "INFECTION": 0.40, "ORGAN FAILURE": 0.15, "OTHER": 0.05}

# Day-28 MRD after CAR-T1 (latent class; analysis.simulate.mrd measures it): FC-level
# persistence (1e-4..5e-3) or NGS-only (1e-6..9e-5); halved when MRD-negative before CAR-T1.
# T1.6 85 %, T1.21 87 % MRD-negative; T4.6 19 %, T4.7 17 % NGS+/FC-.
DAY28_MRD = {"FC": 0.12, "NGS": 0.15, "negative_pre_scale": 0.5}

# Relapse site (rs.RELSITE): CNS involvement in a share of relapses, higher after CNS2/CNS3 at
# diagnosis (T1.33: 12-month CIR in BM 31.1 % vs CNS 11.3 % in CNS-leukaemia patients, i.e. about
# a quarter of relapses involve the CNS). Values are modelling choices.
RELAPSE_SITE = {"CNS1": {"BM": 0.88, "CNS": 0.05, "BM+CNS": 0.04, "OTHER-EM": 0.03},
                "CNS2/3": {"BM": 0.66, "CNS": 0.16, "BM+CNS": 0.12, "OTHER-EM": 0.06}}

# ALL planted truths in one place: what each estimator should recover, or how it is biased.
PLANTED_TRUTH = {
    "time_scale": "relapse: days since the remission documented before treatment (bl.CRDTC / ext.CRDTC), "
                  "entry at CAR-T1 (trial) or allo-HSCT (external); NRM: days since treatment start",
    # relapse cause-specific hazard ratio, sandwich (MRD-negative after CAR-T1) vs allo-HSCT,
    # conditional on the measured covariates and U
    "relapse_log_hr_sandwich_vs_allo": OUTCOME_MODEL.log_hr_sandwich,
    "relapse_hr_sandwich_vs_allo": math.exp(OUTCOME_MODEL.log_hr_sandwich),
    # trial: relapse HR of MRD-positive vs MRD-negative (latent day-28 class) after CAR-T1 (T1.34)
    "relapse_log_hr_mrd_post": OUTCOME_MODEL.log_hr_mrd_post,
    "relapse_hr_mrd_post": math.exp(OUTCOME_MODEL.log_hr_mrd_post),
    "relapse_covariate_log_hr": dict(OUTCOME_MODEL.relapse_log_hr),
    "nrm": {cohort: {"breaks_days": b, "rates_per_day": r} for cohort, (b, r) in OUTCOME_MODEL.nrm.items()},
    "nrm_log_hr_age_per_10y": OUTCOME_MODEL.nrm_log_hr_age_per_10y,
    # Distributed differently between the cohorts and prognostic: the measured confounders.
    "confounders": ("AGE", "MRDPRE", "DISSTAT"),
    # Prognostic in both cohorts but distributed alike (adjusting for them costs nothing).
    "prognostic_balanced": ("PHSTAT", "CYTORISK"),
    "confounding": "controls are younger, more often MRD-negative and in CR1 than trial patients; "
                   "these lower the hazard, so the naive sandwich-vs-allo hazard ratio is biased "
                   "upwards (against the sandwich) and adjustment / ATT weighting on the measured "
                   "confounders moves it down",
    "naive_bias_direction": "upward",   # naive log HR > measured-covariate-adjusted log HR
    # Unmeasured confounding: trial entrants have a lower latent risk U, so even the fully
    # measured-covariate-adjusted log HR lies below the planted one by about
    # trial_shift_sd * log_hr_per_sd (about -0.12 on the log scale); only an analysis that knew U
    # (the oracle) recovers the planted value.
    "unmeasured": {"enabled": UNMEASURED.enabled, "trial_shift_sd": UNMEASURED.trial_shift_sd,
                   "log_hr_per_sd": UNMEASURED.log_hr_per_sd,
                   "adjusted_bias_direction": "downward" if UNMEASURED.enabled else "none"},
    # Literature ranges the simulated truth must fall in (benchmarks/simulator_calibration.py)
    "expected_2y": {"SANDWICH": {"OS": (0.64, 0.80), "LFS": (0.50, 0.65)},
                    "ALLO_EXT": {"OS": (0.68, 0.85), "LFS": (0.62, 0.78), "NRM": (0.08, 0.15)}},
}

# --- drop-outs ---------------------------------------------------------------------------------------
CD34_MEDIAN, CD34_SIGMA = 3.8, 0.5
CD34_FAILURE_BELOW = 2.0
FAILED_MOBILIZATION_WITHOUT_APHERESIS = 0.40
DROPOUT = {"WITHDRAWAL": 0.03, "ADVERSE EVENT": 0.03, "PHYSICIAN DECISION": 0.02}

# Trial conduct (analysis.simulate.conduct): modelling choices, no literature row.
# Enrolled but never infused: per patient, between enrollment and the planned CAR-T1.
PRE_INFUSION = {"MANUFACTURING FAILURE": 0.05, "RELAPSE": 0.03, "DEATH": 0.01}
SUBSEQUENT_THERAPY = {
    "manufacturing_failure": {"ALLO-HSCT": 0.6, "CHEMOTHERAPY": 0.4},
    "salvage": {"CHEMOTHERAPY": 0.6, "OTHER": 0.4},            # OTHER: blinatumomab, inotuzumab, ...
    "salvage_ph_positive": {"TKI": 0.6, "CHEMOTHERAPY": 0.3, "OTHER": 0.1},
    "allo_after_salvage": 0.35,
    "allo_after_stop_in_remission": 0.5,                       # the intercurrent allo-HSCT (SAP 6.3)
}
# Site effects: NRM hazard ratio of the trial by site (a smaller centre with less transplant
# experience) and data quality (missed visits); other sites 1.0 / params.MISSED_VISIT.
SITE_NRM_HR = {"01": 0.8, "03": 2.0}
SITE_MISSED_VISIT = {"03": 0.12}
# Missingness that depends on covariates (missing at random given them, not completely at
# random): a second remission means a diagnosis years ago, often elsewhere.
MISSING_IF_CR2 = {"WBCDIAG": 0.15, "CYTORISK": 0.12}

# AE collection window: the registry's 2-year time frame after CAR-T1 (raw_spec.AE_WINDOW_DAYS)
from analysis.raw_spec import AE_WINDOW_DAYS  # noqa: E402,F401  (re-exported for the simulator)

# --- adverse events -------------------------------------------------------------------------------------
CRS1_ANY, CRS1_GRADES = 0.80, {1: 0.58, 2: 0.33, 3: 0.07, 4: 0.02}
CRS2_ANY, CRS2_GRADES = 0.40, {1: 0.75, 2: 0.25}
ICANS1_ANY, ICANS1_GRADES = 0.12, {1: 0.55, 2: 0.30, 3: 0.12, 4: 0.03}
ICANS2_ANY, ICANS2_GRADES = 0.04, {1: 0.80, 2: 0.20}
CRS_ONSET_MEDIAN = {"low": 4.0, "high": 3.0}      # days after the infusion
CRS_DURATION_MEDIAN = {"low": 4.0, "high": 6.0}
ICANS_ONSET_MEDIAN = 7.0
# ASTCT 2019 grades are drawn; the CTCAE 5.0 grade (AETOXGR) is one step higher in this share of
# grade 1-3 CRS/ICANS (modelling choice: CTCAE grades the worst organ toxicity as well).
CTCAE_ABOVE_ASTCT = 0.10
# (P(tocilizumab), P(corticosteroids)) by ASTCT grade 1..4 (5 as 4): modelling choices in line
# with ASTCT/consensus practice (tocilizumab from grade 2 CRS, steroids from grade 2 ICANS /
# grade 3 CRS).
CRS_ICANS_TREATMENT = {"CRS": {1: (0.15, 0.02), 2: (0.80, 0.20), 3: (0.95, 0.70), 4: (1.0, 0.90)},
                       "ICANS": {1: (0.05, 0.20), 2: (0.10, 0.80), 3: (0.15, 0.95), 4: (0.20, 1.0)}}


# --- MRD assays ---------------------------------------------------------------------------------------
MRD_ASSAY = {
    "fc_done": 0.95, "ngs_done": 0.85,
    "fc_sensitivity": {1e-4: 0.85, 1e-5: 0.15},
    "ngs_sensitivity": {1e-6: 0.92, 1e-5: 0.08},
    "no_trackable_clone": 0.03,
    "recurrence_before_relapse": 0.70, "recurrence_lead_days": (45, 150),
    "transient_blip": 0.08,
}


# --- corrections between the interim and the later cut ----------------------------------------------------
@dataclass(frozen=True)
class Correction:
    """A value that the interim export held wrong and the later export corrects (same key)."""
    form: str
    key: tuple            # ((column, value), ...) identifying the row in both cuts
    column: str
    error: str            # how the interim value was wrong
    corrected_in: str = "cut-2025-06-30"


# The first subject enrolled at each site is always enrolled in early 2023 (site activation), so
# these rows exist in both cuts whatever the seed.
CORRECTIONS: tuple[Correction, ...] = (
    Correction("bl", (("SUBJID", "01-001"),), "WBCDIAG", "decimal slip: x10 (or /10 when above 100)"),
    Correction("ae", (("SUBJID", "02-001"), ("AESEQ", 1)), "AETOXGR", "grade entered one step off"),
    Correction("cart", (("SUBJID", "03-001"), ("PHASE", "CAR-T1"), ("PRODUCT", "CD19")), "INFDTC",
               "infusion date entered one day off"),
    Correction("dm", (("SUBJID", "02-001"),), "WEIGHTKG", "digits transposed (e.g. 68.5 -> 86.5)"),
    Correction("bl", (("SUBJID", "03-001"),), "CD19PCT", "expression entered 10 points low"),
)
# Late-reported AEs: share of events (grade < 5, onset >= day 60) entered months late, and the lag.
LATE_REPORTED_AE = 0.05
LATE_REPORT_LAG_DAYS = (200, 450)
# Verbatim terms still to be coded: data management codes a reported AE term (AEDECOD, AEBODSYS)
# within this many days of its entry in the EDC, so the events entered in the last days before a
# cut arrive uncoded (AEDECOD and AEBODSYS blank); the next cut has them coded. CRS and ICANS are
# coded at entry (their CRF page carries the ASTCT grade), and so is every serious or fatal event
# (expedited SAE reporting and the death reconciliation need its term). Free choice; deterministic (no random draw), so the rest of the
# data is unchanged by it.
AE_CODING_LAG_DAYS = 21
# Unit mix-up: this site records WBC at diagnosis in cells/uL (bl.WBCDIAGU says so); the
# derivation converts to 10^9/L (SAP 6.1); a value impossible for its stated unit stops validation.
WBC_CELLS_PER_UL_SITE = "02"

# Seed of the 3000 + 3000 calibration cohort (benchmarks/simulator_calibration.py).
DEFAULT_SEED_CALIBRATION = 20221101
