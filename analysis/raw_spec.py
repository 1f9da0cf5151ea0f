"""The raw export contract: one CSV per case-report form, its columns, types and code lists.

This is the single definition that the simulator writes to, the validation suites check, and the
derivations read. Raw files are CSV, UTF-8, comma separated, empty field = missing.

Types:
- ``str``   free or coded text
- ``int``   integer
- ``float`` number
- ``date``  complete ISO 8601 date YYYY-MM-DD
- ``pdate`` ISO 8601 date that may be partial: YYYY-MM-DD or YYYY-MM (missing day); the day is
            imputed by the rule in ``analysis.conventions`` (SAP 2.3). A missing month is invalid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STUDYID = "SWCART-01"  # synthetic study identifier

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    label: str
    required: bool = False
    codes: tuple | None = None       # allowed values (after parsing to `type`)
    min: float | None = None
    max: float | None = None
    pattern: str | None = None       # regex for str columns
    identifier: bool = False         # directly identifying: must never reach derived data or report


@dataclass(frozen=True)
class Form:
    name: str          # short form code, also the file stem
    title: str
    key: tuple         # columns that identify a row uniquely
    columns: tuple
    subject_column: str = "SUBJID"

    @property
    def file(self) -> str:
        return f"{self.name}.csv"

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name}: no column {name}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


SUBJID = Column("SUBJID", "str", "Subject identifier within study", required=True,
                pattern=r"^\d{2}-\d{3}$")

# CTCAE 5.0 terms used by the simulator: term -> (system organ class, allowed grades).
# Grades follow CTCAE 5.0 (e.g. "Neutrophil count decreased" has no grade 5, "Febrile
# neutropenia" starts at grade 3). ICANS is graded by ASTCT consensus and recorded with the
# CTCAE-style term used by most CAR-T trials.
CTCAE_TERMS: dict[str, tuple[str, tuple[int, ...]]] = {
    "Cytokine release syndrome": ("Immune system disorders", (1, 2, 3, 4, 5)),
    "Immune effector cell-associated neurotoxicity syndrome": ("Nervous system disorders", (1, 2, 3, 4, 5)),
    "Neutrophil count decreased": ("Investigations", (1, 2, 3, 4)),
    "Platelet count decreased": ("Investigations", (1, 2, 3, 4)),
    "White blood cell decreased": ("Investigations", (1, 2, 3, 4)),
    "Anemia": ("Blood and lymphatic system disorders", (1, 2, 3, 4, 5)),
    "Febrile neutropenia": ("Blood and lymphatic system disorders", (3, 4, 5)),
    "Fever": ("General disorders and administration site conditions", (1, 2, 3, 4, 5)),
    "Fatigue": ("General disorders and administration site conditions", (1, 2, 3)),
    "Hypotension": ("Vascular disorders", (1, 2, 3, 4, 5)),
    "Hypoxia": ("Respiratory, thoracic and mediastinal disorders", (2, 3, 4, 5)),
    "Lung infection": ("Infections and infestations", (2, 3, 4, 5)),
    "Sepsis": ("Infections and infestations", (3, 4, 5)),
    "Cytomegalovirus infection reactivation": ("Infections and infestations", (1, 2, 3, 4, 5)),
    "Mucositis oral": ("Gastrointestinal disorders", (1, 2, 3, 4, 5)),
    "Diarrhea": ("Gastrointestinal disorders", (1, 2, 3, 4, 5)),
    "Nausea": ("Gastrointestinal disorders", (1, 2, 3)),
    "Vomiting": ("Gastrointestinal disorders", (1, 2, 3, 4, 5)),
    "Alanine aminotransferase increased": ("Investigations", (1, 2, 3, 4)),
    "Hypogammaglobulinemia": ("Immune system disorders", (1, 2, 3, 4, 5)),
    "Headache": ("Nervous system disorders", (1, 2, 3)),
    "Hepatic failure": ("Hepatobiliary disorders", (3, 4, 5)),
    "Death NOS": ("General disorders and administration site conditions", (5,)),
}

RESPONSE_CODES = ("CR", "CRi", "NR", "RELAPSE")
# WBC at diagnosis: plausible range per unit (1 x 10^9/L = 1000 cells/uL). A value outside the
# range of its stated unit (e.g. 15000 recorded as 10^9/L: a cells/uL value with the wrong unit)
# stops validation (exit 3); values in cells/uL are converted to 10^9/L by the derivation.
WBC_RANGE = {"10^9/L": (0.1, 1000.0), "cells/uL": (100.0, 1e6)}
WBC_PER_1E9_L = {"10^9/L": 1.0, "cells/uL": 1000.0}
RELAPSE_SITES = ("BM", "CNS", "BM+CNS", "OTHER-EM")   # rs.RELSITE: marrow, CNS, both, other extramedullary
# AE collection window (registry record: AEs "after CAR-T 1", time frame 2 years): from enrollment
# to 730 days after CAR-T1 (30 days after stopping for a patient never infused).
AE_WINDOW_DAYS = 730
REMISSION_CODES = ("CR", "CRi")
MRD_METHODS = ("FC", "NGS")

FORMS: dict[str, Form] = {}


def _form(f: Form) -> Form:
    FORMS[f.name] = f
    return f


DM = _form(Form("dm", "Demographics and enrollment", ("SUBJID",), (
    Column("STUDYID", "str", "Study identifier", required=True, codes=(STUDYID,)),
    # A study grows by sites: two-digit site numbers, at most 999 subjects per site (SUBJID SS-NNN).
    Column("SITEID", "str", "Study site identifier", required=True, pattern=r"^\d{2}$"),
    SUBJID,
    Column("INITIALS", "str", "Subject initials", identifier=True),
    Column("BRTHDTC", "pdate", "Date of birth", identifier=True),
    Column("HOSPRN", "str", "Hospital record number", identifier=True),
    Column("SEX", "int", "Sex (1=Male, 2=Female)", required=True, codes=(1, 2)),
    Column("AGE", "int", "Age at informed consent (years)", required=True, min=14, max=75),
    Column("WEIGHTKG", "float", "Body weight at enrollment (kg)", min=30, max=150),
    Column("ENRLDTC", "date", "Date of enrollment (informed consent)", required=True),
)))

BL = _form(Form("bl", "Baseline disease characteristics", ("SUBJID",), (
    SUBJID,
    Column("DIAGDTC", "pdate", "Date of B-ALL diagnosis", required=True),
    Column("PHSTAT", "str", "Ph chromosome / BCR-ABL1 status", required=True, codes=("POS", "NEG")),
    Column("CYTORISK", "str", "Cytogenetic risk group", codes=("STANDARD", "HIGH")),
    # WBC as recorded, in the unit WBCDIAGU states (one site records cells/uL; the derivation
    # converts to 10^9/L). Range per unit: validation.form_suites.bl_rules (WBC_RANGE).
    Column("WBCDIAG", "float", "WBC at diagnosis (unit: WBCDIAGU)", min=0.1, max=1e6),
    Column("WBCDIAGU", "str", "Unit of WBCDIAG", codes=("10^9/L", "cells/uL")),
    Column("CNSSTAT", "str", "CNS status at diagnosis", required=True, codes=("CNS1", "CNS2", "CNS3")),
    Column("CD19PCT", "float", "CD19 expression on blasts at diagnosis (%)", min=0, max=100),
    Column("CD22PCT", "float", "CD22 expression on blasts at diagnosis (%)", min=0, max=100),
    Column("DISSTAT", "str", "Disease status before CAR-T1", required=True, codes=("CR1", "CR2")),
    Column("CRDTC", "date", "Date the current remission was documented (before CAR-T1)", required=True),
    Column("MRDPRE", "str", "MRD status before CAR-T1", required=True, codes=("POS", "NEG")),
    Column("MRDPRELV", "float", "MRD level before CAR-T1 (fraction)", min=0, max=1),
    Column("MRDPREMT", "str", "MRD method before CAR-T1", required=True, codes=MRD_METHODS),
)))

CART = _form(Form("cart", "CAR-T infusions", ("SUBJID", "PHASE", "PRODUCT"), (
    SUBJID,
    Column("PHASE", "str", "Infusion phase", required=True, codes=("CAR-T1", "CAR-T2")),
    Column("PRODUCT", "str", "CAR-T product", required=True, codes=("CD22", "CD19")),
    Column("INFDTC", "date", "Infusion date", required=True),
    Column("DOSE", "float", "Dose (CAR+ cells/kg)", required=True, min=1e5, max=2e7),
)))

MOB = _form(Form("mob", "Stem-cell mobilization and collection", ("SUBJID",), (
    SUBJID,
    Column("MOBSTDTC", "date", "Mobilization start date", required=True),
    Column("MOBSTAT", "str", "Mobilization outcome", required=True, codes=("SUCCESS", "FAILED")),
    Column("COLLDTC", "date", "Stem-cell collection (apheresis) date"),
    Column("CD34", "float", "CD34+ cell yield (10^6/kg)", min=0, max=50),
)))

HSCT = _form(Form("hsct", "Conditioning and autologous HSCT", ("SUBJID",), (
    SUBJID,
    Column("CONDREG", "str", "Conditioning regimen", required=True, codes=("BuCy",)),
    Column("CONDSTDTC", "date", "Conditioning start date", required=True),
    Column("HSCTDTC", "date", "Auto-HSCT (stem-cell reinfusion) date", required=True),
    Column("NEUTDTC", "date", "Neutrophil engraftment date (ANC >= 0.5 x 10^9/L)"),
    Column("PLTDTC", "date", "Platelet engraftment date (>= 20 x 10^9/L unsupported)"),
)))

RS = _form(Form("rs", "Disease response assessments", ("SUBJID", "RSDTC"), (
    SUBJID,
    Column("VISIT", "str", "Visit name", required=True),
    Column("RSDTC", "date", "Assessment date (bone marrow)", required=True),
    Column("BMBLAST", "float", "Bone-marrow blasts (%)", min=0, max=100),
    Column("RSORRES", "str", "Response category", required=True, codes=RESPONSE_CODES),
    Column("RELSITE", "str", "Site of relapse (RELAPSE only)", codes=RELAPSE_SITES),
)))

MRD = _form(Form("mrd", "MRD assessments", ("SUBJID", "MRDDTC", "METHOD"), (
    SUBJID,
    Column("MRDDTC", "date", "Sample date", required=True),
    Column("METHOD", "str", "MRD method (FC flow cytometry, NGS IgH sequencing)", required=True,
           codes=MRD_METHODS),
    Column("MRDUND", "str", "MRD undetectable", required=True, codes=("Y", "N")),
    Column("MRDLEVEL", "float", "Measured MRD level (fraction of cells); empty if undetectable",
           min=0, max=1),
    Column("MRDSENS", "float", "Assay sensitivity reached for this sample (fraction)", required=True,
           min=1e-7, max=1e-2),
)))

AE = _form(Form("ae", "Adverse events (CTCAE 5.0)", ("SUBJID", "AESEQ"), (
    SUBJID,
    Column("AESEQ", "int", "AE sequence number within subject", required=True, min=1),
    Column("AETERM", "str", "Reported term (verbatim)", required=True),
    # AEDECOD / AEBODSYS are blank while data management has not coded the verbatim term yet
    # (both or neither; never for CRS/ICANS or a grade 5 event: validation.form_suites.ae_rules).
    Column("AEDECOD", "str", "CTCAE 5.0 term (blank: not yet coded)", codes=tuple(CTCAE_TERMS)),
    Column("AEBODSYS", "str", "System organ class (blank: not yet coded)",
           codes=tuple(sorted({soc for soc, _ in CTCAE_TERMS.values()}))),
    Column("AETOXGR", "int", "CTCAE grade", required=True, codes=(1, 2, 3, 4, 5)),
    Column("AESTDTC", "pdate", "Onset date", required=True),
    Column("AEENDTC", "pdate", "Resolution date (empty if ongoing)"),
    Column("AESER", "str", "Serious", required=True, codes=("Y", "N")),
    Column("AERELCAR", "str", "Related to CAR-T", required=True, codes=("Y", "N")),
    # CRS and ICANS carry the ASTCT 2019 consensus grade beside the CTCAE grade, and their
    # treatment; blank for every other term (validation.form_suites.ae_rules).
    Column("ASTCTGR", "int", "ASTCT 2019 consensus grade (CRS, ICANS only)", codes=(1, 2, 3, 4, 5)),
    Column("AETOCI", "str", "Tocilizumab given for the event (CRS, ICANS only)", codes=("Y", "N")),
    Column("AESTER", "str", "Corticosteroids given for the event (CRS, ICANS only)", codes=("Y", "N")),
    Column("AEACN", "str", "Action taken with study treatment", required=True,
           codes=("NONE", "TREATMENT DISCONTINUED")),
)))

# AE terms graded by ASTCT 2019 consensus (ae.ASTCTGR, AETOCI, AESTER present exactly for these).
ASTCT_TERMS = ("Cytokine release syndrome", "Immune effector cell-associated neurotoxicity syndrome")

DS = _form(Form("ds", "Disposition and survival follow-up", ("SUBJID",), (
    SUBJID,
    Column("EOTSTAT", "str", "End-of-treatment status", required=True,
           codes=("COMPLETED", "DISCONTINUED", "ONGOING")),
    Column("DCREAS", "str", "Reason for stopping before completing the sandwich",
           codes=("MANUFACTURING FAILURE", "MOBILIZATION FAILURE", "RELAPSE", "DEATH", "ADVERSE EVENT",
                  "WITHDRAWAL", "PHYSICIAN DECISION")),
    Column("DCDTC", "date", "Date treatment stopped"),
    Column("LSTALVDTC", "date", "Date last known alive", required=True),
    Column("DTHFL", "str", "Died", required=True, codes=("Y", "N")),
    Column("DTHDTC", "date", "Date of death"),
    Column("DTHCAUS", "str", "Cause of death",
           codes=("RELAPSE", "INFECTION", "CRS", "ICANS", "ORGAN FAILURE", "OTHER")),
)))

CT = _form(Form("ct", "Subsequent anti-leukemic therapy", ("SUBJID", "CTSEQ"), (
    SUBJID,
    Column("CTSEQ", "int", "Sequence number of the therapy within subject", required=True, min=1),
    Column("CTTYPE", "str", "Type of subsequent therapy", required=True,
           codes=("ALLO-HSCT", "CHEMOTHERAPY", "TKI", "OTHER")),
    Column("CTSTDTC", "date", "Start date", required=True),
)))

# External control: allo-HSCT registry extract, one row per patient, with the registry's own
# coding (harmonised with the trial's by the derivations).
EXT = _form(Form("ext", "External control: allo-HSCT registry extract", ("PATID",), (
    Column("PATID", "str", "Registry patient identifier", required=True, pattern=r"^R\d{6}$"),
    Column("AGE", "int", "Age at allo-HSCT (years)", required=True, min=14, max=75),
    Column("SEX", "str", "Sex", required=True, codes=("M", "F")),
    Column("PHPOS", "str", "Ph-positive / BCR-ABL1", required=True, codes=("Y", "N")),
    Column("CYTORISK", "str", "Cytogenetic risk", codes=("standard", "high")),
    Column("WBCDIAG", "float", "WBC at diagnosis (10^9/L)", min=0.1, max=1000),
    Column("CNSSTAT", "str", "CNS status at diagnosis", codes=("CNS1", "CNS2", "CNS3")),
    Column("DISSTAT", "str", "Disease status at allo-HSCT", required=True, codes=("CR1", "CR2")),
    Column("MRDPRE", "str", "MRD before allo-HSCT", required=True, codes=("positive", "negative")),
    Column("DONOR", "str", "Donor type", required=True, codes=("MSD", "MUD", "HAPLO")),
    Column("DIAGDTC", "pdate", "Date of diagnosis", required=True),
    Column("CRDTC", "date", "Date of remission before allo-HSCT", required=True),
    Column("HSCTDTC", "date", "Date of allo-HSCT", required=True),
    Column("RELDTC", "date", "Date of relapse"),
    Column("DTHDTC", "date", "Date of death"),
    Column("DTHCAUS", "str", "Cause of death", codes=("RELAPSE", "GVHD", "INFECTION", "ORGAN FAILURE", "OTHER")),
    Column("LSTFUDTC", "date", "Date of last follow-up (alive or death)", required=True),
), subject_column="PATID"))

TRIAL_FORMS = ("dm", "bl", "cart", "mob", "hsct", "rs", "mrd", "ae", "ds", "ct")
EXTERNAL_FORMS = ("ext",)

# Columns that identify a person: they may be in raw exports but never downstream.
IDENTIFIER_COLUMNS = tuple(sorted({c.name for f in FORMS.values() for c in f.columns if c.identifier}))
