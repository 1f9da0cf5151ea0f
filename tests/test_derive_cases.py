"""Hand-made raw forms for the derivation tests (admiral style: small inputs, answers by hand).

``case_forms()`` returns every raw form of a tiny cut (cut-2025-06-30) typed exactly as
``analysis.raw_io.read_form`` would return them. The subjects, each built for a rule:

01-001  completer: CAR-T1 2024-01-10/11, mobilization 2024-03-01, collection 03-05, conditioning
        04-01, auto-HSCT 04-07, CAR-T2 04-09; CR 02-10 and 05-10, RELAPSE 09-10, died 12-01
        (relapse then death). FC-MRD: negative 02-10 (undetectable, sens 1e-5), positive 05-10
        (2e-4: a recurrence). NGS: undetectable at sens 1e-5 on 02-10 (NOT evaluable at 1e-6),
        undetectable at sens 1e-6 on 05-10 (negative: sensitivity equal to the threshold).
01-002  stopped after collection (DISCONTINUED, PHYSICIAN DECISION); CR 02-10, CR 06-01; last
        known alive 2025-01-15. FC 5e-5 measured (negative: below 1e-4). AE before CAR-T1;
        partial AE dates.
01-003  non-responder: NR 02-10; died 2024-05-01. Not in the LFS population.
01-004  death without relapse: CR 02-10, last assessment 05-10, died 06-15. FC 3e-4 on 02-10
        (best status POSITIVE), NGS undetectable at sens 1e-5 (only non-evaluable: NOT
        EVALUABLE). Two grade-3 Sepsis with the same onset (AESEQ breaks the tie); an Anemia
        onset "2024-02" (CAR-T1 not in that month: 1st of month); a Hypotension ending "2024-06",
        the month of death (end imputed to the death date, not June 30).
01-005  death after the cut (2025-08-01): censored at the cut date 2025-06-30. An AE with onset
        "2024-01" (month of CAR-T1) that ended 2024-01-08, before CAR-T1: stays pre-treatment.
        An AE with onset after the cut (2025-07-05).
01-006  enrolled, never infused (not SAFFL).
R0001   control: allo-HSCT 2024-02-01, relapse 08-01, died 10-01.
R0002   control: alive, last follow-up 2025-03-01.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.paths import raw_dir
from analysis.raw_io import parse_form
from analysis.raw_spec import FORMS, STUDYID

CUT = "cut-2025-06-30"
CUT_DATE = "2025-06-30"


def _text_form(name: str, rows: list[dict]) -> pd.DataFrame:
    cols = FORMS[name].column_names
    return pd.DataFrame([{c: (None if r.get(c) is None else str(r[c])) for c in cols} for r in rows],
                        columns=cols).astype("string")


def _dm(subj, sex=1, age=30):
    return dict(STUDYID=STUDYID, SITEID="01", SUBJID=subj, INITIALS="AB", BRTHDTC="1990-01",
                HOSPRN="H123", SEX=sex, AGE=age, WEIGHTKG=60, ENRLDTC="2023-12-01")


def _bl(subj, **kw):
    row = dict(SUBJID=subj, DIAGDTC="2023-06", PHSTAT="NEG", CYTORISK="HIGH", WBCDIAG=12.5,
               CNSSTAT="CNS1", CD19PCT=95, CD22PCT=90, DISSTAT="CR1", CRDTC="2023-09-15",
               MRDPRE="POS", MRDPRELV=0.001, MRDPREMT="FC")
    row.update(kw)
    return row


def _cart1(subj, d1="2024-01-10", d2="2024-01-11"):
    return [dict(SUBJID=subj, PHASE="CAR-T1", PRODUCT="CD22", INFDTC=d1, DOSE=5e6),
            dict(SUBJID=subj, PHASE="CAR-T1", PRODUCT="CD19", INFDTC=d2, DOSE=5e6)]


def _rs(subj, *visits):
    return [dict(SUBJID=subj, VISIT=f"V{i}", RSDTC=d, BMBLAST=1.0, RSORRES=r)
            for i, (d, r) in enumerate(visits, start=1)]


def _mrd(subj, date, method, level=None, sens=1e-5):
    return dict(SUBJID=subj, MRDDTC=date, METHOD=method, MRDUND="Y" if level is None else "N",
                MRDLEVEL=level, MRDSENS=sens)


def _ds(subj, eot, lstalv, reas=None, dcdt=None, dth=None, caus=None):
    return dict(SUBJID=subj, EOTSTAT=eot, DCREAS=reas, DCDTC=dcdt, LSTALVDTC=lstalv,
                DTHFL="Y" if dth else "N", DTHDTC=dth, DTHCAUS=caus)


def _ae(subj, seq, term, grade, start, end=None, ser="N", rel="Y"):
    from analysis.raw_spec import CTCAE_TERMS
    return dict(SUBJID=subj, AESEQ=seq, AETERM=term.lower(), AEDECOD=term, AEBODSYS=CTCAE_TERMS[term][0],
                AETOXGR=grade, AESTDTC=start, AEENDTC=end, AESER=ser, AERELCAR=rel)


def case_text_forms() -> dict[str, pd.DataFrame]:
    """Every raw form of the tiny cut as exported text (one string per cell, None = empty)."""
    subjects = ["01-001", "01-002", "01-003", "01-004", "01-005", "01-006"]
    rows = {
        "dm": [_dm(s, sex=1 + i % 2, age=25 + 5 * i) for i, s in enumerate(subjects)],
        "bl": [_bl(s) for s in subjects],
        "cart": _cart1("01-001") + _cart1("01-002") + _cart1("01-003") + _cart1("01-004") + _cart1("01-005")
        + [dict(SUBJID="01-001", PHASE="CAR-T2", PRODUCT="CD22", INFDTC="2024-04-09", DOSE=5e6),
           dict(SUBJID="01-001", PHASE="CAR-T2", PRODUCT="CD19", INFDTC="2024-04-09", DOSE=5e6)],
        "mob": [dict(SUBJID="01-001", MOBSTDTC="2024-03-01", MOBSTAT="SUCCESS", COLLDTC="2024-03-05", CD34=4.0),
                dict(SUBJID="01-002", MOBSTDTC="2024-03-01", MOBSTAT="SUCCESS", COLLDTC="2024-03-05", CD34=3.0)],
        "hsct": [dict(SUBJID="01-001", CONDREG="BuCy", CONDSTDTC="2024-04-01", HSCTDTC="2024-04-07",
                      NEUTDTC="2024-04-20", PLTDTC="2024-04-25")],
        "rs": (_rs("01-001", ("2024-02-10", "CR"), ("2024-05-10", "CR"), ("2024-09-10", "RELAPSE"))
               + _rs("01-002", ("2024-02-10", "CR"), ("2024-06-01", "CR"))
               + _rs("01-003", ("2024-02-10", "NR"))
               + _rs("01-004", ("2024-02-10", "CR"), ("2024-05-10", "CR"))
               + _rs("01-005", ("2024-02-10", "CRi"), ("2025-03-01", "CR"))),
        "mrd": [_mrd("01-001", "2024-01-05", "FC", level=5e-3, sens=1e-4),
                _mrd("01-001", "2024-02-10", "FC", sens=1e-5),
                _mrd("01-001", "2024-05-10", "FC", level=2e-4, sens=1e-5),
                _mrd("01-001", "2024-02-10", "NGS", sens=1e-5),
                _mrd("01-001", "2024-05-10", "NGS", sens=1e-6),
                _mrd("01-002", "2024-02-10", "FC", level=5e-5, sens=1e-5),
                _mrd("01-002", "2024-06-01", "FC", sens=1e-4),
                _mrd("01-004", "2024-02-10", "FC", level=3e-4, sens=1e-5),
                _mrd("01-004", "2024-02-10", "NGS", sens=1e-5)],
        "ae": [_ae("01-001", 1, "Cytokine release syndrome", 2, "2024-01-12", "2024-01-16"),
               _ae("01-001", 2, "Cytokine release syndrome", 3, "2024-04-10", "2024-04-14"),
               _ae("01-001", 3, "Fever", 3, "2024-01-12", "2024-01-13"),
               _ae("01-001", 4, "Neutrophil count decreased", 4, "2024-04-02", "2024-04-20", rel="N"),
               _ae("01-001", 5, "Headache", 1, "2024-03-02", "2024-03-03"),
               _ae("01-002", 1, "Nausea", 1, "2024-01-05", "2024-01-06", rel="N"),
               _ae("01-002", 2, "Fever", 2, "2024-01", "2024-02", rel="Y"),
               _ae("01-002", 3, "Fever", 2, "2024-01-20", "2024-01-22"),
               _ae("01-002", 4, "Immune effector cell-associated neurotoxicity syndrome", 1, "2024-01-15"),
               _ae("01-004", 1, "Sepsis", 3, "2024-03-01", "2024-03-09", ser="Y"),
               _ae("01-004", 2, "Sepsis", 3, "2024-03-01", "2024-03-04", ser="Y"),
               _ae("01-004", 3, "Anemia", 2, "2024-02"),
               _ae("01-004", 4, "Hypotension", 4, "2024-06-01", "2024-06"),
               _ae("01-005", 1, "Vomiting", 1, "2024-01", "2024-01-08", rel="N"),
               _ae("01-005", 2, "Fatigue", 1, "2025-07-05")],
        "ds": [_ds("01-001", "COMPLETED", "2024-12-01", dth="2024-12-01", caus="RELAPSE"),
               _ds("01-002", "DISCONTINUED", "2025-01-15", reas="PHYSICIAN DECISION", dcdt="2024-03-20"),
               _ds("01-003", "DISCONTINUED", "2024-05-01", reas="RELAPSE", dcdt="2024-02-10",
                   dth="2024-05-01", caus="RELAPSE"),
               _ds("01-004", "DISCONTINUED", "2024-06-15", reas="DEATH", dcdt="2024-06-15",
                   dth="2024-06-15", caus="INFECTION"),
               _ds("01-005", "DISCONTINUED", "2025-08-01", reas="WITHDRAWAL", dcdt="2024-02-20",
                   dth="2025-08-01", caus="OTHER"),
               _ds("01-006", "DISCONTINUED", "2023-12-20", reas="WITHDRAWAL", dcdt="2023-12-20")],
        "ct": [dict(SUBJID="01-001", CTSEQ=1, CTTYPE="CHEMOTHERAPY", CTSTDTC="2024-09-20")],
        "ext": [dict(PATID="R0001", AGE=40, SEX="F", PHPOS="Y", CYTORISK="high", WBCDIAG=30.0, CNSSTAT="CNS1",
                     DISSTAT="CR1", MRDPRE="positive", DONOR="MSD", DIAGDTC="2023-05", CRDTC="2023-08-01",
                     HSCTDTC="2024-02-01", RELDTC="2024-08-01", DTHDTC="2024-10-01", DTHCAUS="GVHD",
                     LSTFUDTC="2024-10-01"),
                dict(PATID="R0002", AGE=35, SEX="M", PHPOS="N", CYTORISK="standard", WBCDIAG=8.0,
                     CNSSTAT="CNS2", DISSTAT="CR2", MRDPRE="negative", DONOR="HAPLO", DIAGDTC="2022-11-03",
                     CRDTC="2023-10-01", HSCTDTC="2024-01-15", LSTFUDTC="2025-03-01")],
    }
    return {name: _text_form(name, r) for name, r in rows.items()}


def case_forms() -> dict[str, pd.DataFrame]:
    """The tiny cut typed as ``read_form`` returns it."""
    return {name: parse_form(df, name) for name, df in case_text_forms().items()}


def write_case_cut(root: Path, cut: str = CUT, forms: dict[str, pd.DataFrame] | None = None) -> Path:
    """Write the tiny cut as raw CSV files under ``root``/data/raw/<cut>/; returns that folder."""
    folder = raw_dir(cut, root)
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in (forms or case_text_forms()).items():
        df.to_csv(folder / FORMS[name].file, index=False, encoding="utf-8")
    return folder
