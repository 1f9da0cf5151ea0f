"""Per-form suites generated from the raw export contract (analysis.raw_spec).

For each form two suites run:

- ``raw.<form>.structure`` on the file as read: the columns are exactly the contract's (missing
  and unexpected columns named); dm and ext have at least one row.
- ``raw.<form>`` on the check frame (validation.frames): for every column of the contract its
  text is clean (no control character, no leading/trailing whitespace, so no whitespace-only
  value), its type parses (int, float, date, pdate; the whole value), required values are
  present, codes are in the code list,
  numbers are in range, text matches its pattern (whole value), dates are not after the cut
  date; the key is unique (normalised values); plus the form's own consistency rules (FORM_RULES below: CTCAE grade and SOC of the term,
  MRD level vs undetectable flag and assay sensitivity, pre-CAR-T1 MRD call vs level, mobilization
  outcome vs CD34 yield, disposition status vs reason and date, death flag vs death date and
  cause, CR/CRi vs marrow blasts, order of dates within the form).
"""

from __future__ import annotations

import great_expectations as gx
import pandas as pd
from great_expectations.expectations.row_conditions import Column as Col

from analysis.conventions import MRD_THRESHOLD
from analysis.raw_spec import ASTCT_TERMS, CTCAE_TERMS, REMISSION_CODES, WBC_RANGE, Form
from validation.frames import DATE_TYPES, NUMBER_PATTERN, check_frame, num
from validation.pair_set import REPORTED_AS as PAIR_IN_SET, ExpectColumnPairValuesToBeInSetVectorised
from validation.rules import (
    DateRef, Rule, Suite, codes_text, date_text, empty_when, equals, in_codes, in_range, matches,
    not_after_cut, number_text, on_or_after, present_when, required, shown, text_clean, unique_key,
)

E = gx.expectations

# Bone-marrow blasts below 5% define morphological CR/CRi (NCCN ALL guideline response criteria).
CR_BLAST_LIMIT = 5.0
# Minimum CD34+ yield for an autologous transplant, 2 x 10^6/kg (ASBMT guideline, Duong et al.,
# Biol Blood Marrow Transplant 2014;20:1262): mobilization succeeds iff the yield reaches it.
MIN_CD34_PER_KG = 2.0
ROW_COUNT_REQUIRED = ("dm", "ext")  # a cut without subjects/controls cannot be analysed


def identifiers(form: Form) -> frozenset[str]:
    return frozenset(c.name for c in form.columns if c.identifier)


def structure_suite(form: Form, text: pd.DataFrame) -> Suite:
    """Columns exactly as the contract says; at least one row where a cut needs it."""
    suite = Suite(f"raw.{form.name}.structure", f"{form.file}: columns and rows", text, None)

    def column_problems(result: dict) -> list[str]:
        mismatch = (result.get("details") or {}).get("mismatched") or {}
        return ([f"{c}: column missing" for c in mismatch.get("missing", [])]
                + [f"{c}: unexpected column" for c in mismatch.get("unexpected", [])])

    suite.add(Rule(form.file, "(columns)", "columns are exactly " + ", ".join(form.column_names),
                   E.ExpectTableColumnsToMatchSet(column_set=form.column_names, exact_match=True),
                   table_detail=column_problems))
    if form.name in ROW_COUNT_REQUIRED:
        suite.add(Rule(form.file, "(rows)", "at least one data row",
                       E.ExpectTableRowCountToBeBetween(min_value=1),
                       table_detail=lambda result: ["no data rows"]))
    return suite


def column_rules(form: Form, cut_date: str) -> list[Rule]:
    """The contract's per-column rules: type, required, codes, range, pattern, cut date."""
    ids = identifiers(form)
    f = form.file
    rules: list[Rule] = []
    for c in form.columns:
        rules.append(text_clean(f, c.name, ids))
        if c.required:
            rules.append(required(f, c.name, ids))
        if c.type in NUMBER_PATTERN:
            rules.append(number_text(f, c.name, c.type, NUMBER_PATTERN[c.type], ids))
        elif c.type in DATE_TYPES:
            rules.append(date_text(f, c.name, partial=c.type == "pdate", ids=ids))
            rules.append(not_after_cut(f, c.name, cut_date, ids))
        if c.codes is not None:
            rules.append(in_codes(f, c.name, c.codes, numeric=c.type in NUMBER_PATTERN, ids=ids))
        if c.min is not None or c.max is not None:
            rules.append(in_range(f, c.name, c.min, c.max, ids))
        if c.pattern:
            rules.append(matches(f, c.name, c.pattern, ids))
    rules.append(unique_key(f, tuple(form.key), ids))
    return rules


def _date(col: str) -> DateRef:
    return DateRef(col, col)


def pair_in_set(file: str, col_a: str, col_b: str, pairs, statement: str, detail, numeric_b: bool = False) -> Rule:
    """(col_a, col_b) is one of ``pairs``; ``numeric_b`` compares col_b as a number."""
    # GX's own metric loops over rows in Python (iterrows): the same check vectorised (issue 15)
    return Rule(file, col_b, statement,
                ExpectColumnPairValuesToBeInSetVectorised(column_A=col_a, column_B=num(col_b) if numeric_b else col_b,
                                                          value_pairs_set=list(pairs),
                                                          ignore_row_if="either_value_is_missing"),
                detail, needs=(col_a, col_b), reported_as=PAIR_IN_SET)


def ae_rules(f: str) -> list[Rule]:
    soc_pairs = [(term, soc) for term, (soc, _) in CTCAE_TERMS.items()]
    grade_pairs = [(term, g) for term, (_, grades) in CTCAE_TERMS.items() for g in grades]

    def soc_detail(r):
        expected = CTCAE_TERMS.get(r["AEDECOD"], ("(unknown term)",))[0]
        return f"{shown(r, 'AEBODSYS')} is not the SOC of '{shown(r, 'AEDECOD')}' (CTCAE 5.0: {expected})"

    def grade_detail(r):
        grades = CTCAE_TERMS.get(r["AEDECOD"], (None, ()))[1]
        return f"grade {shown(r, 'AETOXGR')} not allowed for '{shown(r, 'AEDECOD')}' (CTCAE 5.0 grades {codes_text(grades)})"

    astct, other = Col("AEDECOD").is_in(list(ASTCT_TERMS)), Col("AEDECOD").is_not_in(list(ASTCT_TERMS))
    fatal_pairs = [(a, c) for a in range(1, 6) for c in range(1, 6) if (a == 5) == (c == 5)]
    astct_rules = [rule for col in ("ASTCTGR", "AETOCI", "AESTER") for rule in (
        present_when(f, col, astct, "AEDECOD is CRS or ICANS (ASTCT 2019)"),
        empty_when(f, col, other, "AEDECOD is not CRS or ICANS"))]
    # Verbatim terms not yet coded (raw_spec AE; SAP 5.1): AEDECOD and AEBODSYS blank together;
    # a fatal event must be coded (the death reconciliation and the death listing need its term).
    uncoded, coded = Col("AEDECOD").is_null(), Col("AEDECOD").is_not_null()
    coding_rules = [
        empty_when(f, "AEBODSYS", uncoded, "AEDECOD is empty (term not yet coded: both or neither)"),
        present_when(f, "AEBODSYS", coded, "AEDECOD is coded (both or neither)"),
        present_when(f, "AEDECOD", equals("AETOXGR", 5, numeric=True), "AETOXGR is 5 (a fatal event must be coded)"),
    ]
    return [
        *coding_rules,
        *astct_rules,
        pair_in_set(f, "AETOXGR", "ASTCTGR", [(str(c), a) for a, c in fatal_pairs],
                    "ASTCTGR is 5 exactly when AETOXGR is 5 (a fatal event is fatal on both scales)",
                    lambda r: f"{shown(r, 'ASTCTGR')} with CTCAE grade {shown(r, 'AETOXGR')} "
                              f"(grade 5 on one scale only)", numeric_b=True),
        pair_in_set(f, "AEDECOD", "AEBODSYS", soc_pairs, "AEBODSYS is the CTCAE 5.0 SOC of AEDECOD", soc_detail),
        pair_in_set(f, "AEDECOD", "AETOXGR", grade_pairs, "AETOXGR is a CTCAE 5.0 grade of AEDECOD",
                    grade_detail, numeric_b=True),
        on_or_after(f, "AEENDTC", _date("AEENDTC"), _date("AESTDTC"), needs=("AEENDTC", "AESTDTC")),
    ]


def mrd_rules(f: str) -> list[Rule]:
    und, det = Col("MRDUND") == "Y", Col("MRDUND") == "N"
    return [
        empty_when(f, "MRDLEVEL", und, "MRDUND=Y (undetectable)"),
        present_when(f, "MRDLEVEL", det, "MRDUND=N (detectable)"),
        # A detected level cannot be below the sensitivity the sample reached (one cell in the
        # number of cells analysed): such a value is a unit or transcription error.
        Rule(f, "MRDLEVEL", "MRDLEVEL >= MRDSENS when MRDUND=N",
             E.ExpectColumnPairValuesAToBeGreaterThanB(column_A=num("MRDLEVEL"), column_B=num("MRDSENS"),
                                                       or_equal=True, ignore_row_if="either_value_is_missing",
                                                       row_condition=det),
             lambda r: f"{shown(r, 'MRDLEVEL')} is below the assay sensitivity MRDSENS {shown(r, 'MRDSENS')} "
                       f"although detectable (MRDUND=N)",
             needs=("MRDLEVEL", "MRDSENS", "MRDUND")),
    ]


def mob_rules(f: str) -> list[Rule]:
    """A failed mobilization may still have had an apheresis (date and a yield below the minimum
    dose): poor mobilizers are collected and fail on yield. So the outcome is checked against
    the yield, not against the presence of a collection."""
    failed, success = Col("MOBSTAT") == "FAILED", Col("MOBSTAT") == "SUCCESS"
    return [
        present_when(f, "COLLDTC", success, "MOBSTAT=SUCCESS"),
        present_when(f, "CD34", success, "MOBSTAT=SUCCESS"),
        empty_when(f, "CD34", Col("COLLDTC").is_null(), "COLLDTC is empty (no collection, no yield)"),
        in_range(f, "CD34", MIN_CD34_PER_KG, None, where=success,
                 why=" when MOBSTAT=SUCCESS (minimum CD34+ dose for an auto-HSCT)"),
        in_range(f, "CD34", 0, MIN_CD34_PER_KG, strict_max=True, where=failed,
                 why=" when MOBSTAT=FAILED (a yield at the minimum dose is a success)"),
        on_or_after(f, "COLLDTC", _date("COLLDTC"), _date("MOBSTDTC"), needs=("COLLDTC", "MOBSTDTC")),
    ]


def hsct_rules(f: str) -> list[Rule]:
    return [
        on_or_after(f, "HSCTDTC", _date("HSCTDTC"), _date("CONDSTDTC"), needs=("HSCTDTC", "CONDSTDTC")),
        on_or_after(f, "NEUTDTC", _date("NEUTDTC"), _date("HSCTDTC"), strict=True, needs=("NEUTDTC", "HSCTDTC")),
        on_or_after(f, "PLTDTC", _date("PLTDTC"), _date("HSCTDTC"), strict=True, needs=("PLTDTC", "HSCTDTC")),
    ]


def rs_rules(f: str) -> list[Rule]:
    return [in_range(f, "BMBLAST", 0, CR_BLAST_LIMIT, strict_max=True,
                     where=Col("RSORRES").is_in(REMISSION_CODES), why=" when RSORRES is CR/CRi")]


def bl_rules(f: str) -> list[Rule]:
    """Besides the date order: a stated pre-CAR-T1 MRD level agrees with the POS/NEG call under
    the registry record's thresholds (analysis.conventions.MRD_THRESHOLD: FC < 1e-4, NGS < 1e-6
    is negative). The level itself is optional."""
    rules = [on_or_after(f, "CRDTC", _date("CRDTC"), _date("DIAGDTC"), needs=("CRDTC", "DIAGDTC")),
             present_when(f, "WBCDIAGU", Col("WBCDIAG").is_not_null(), "WBCDIAG is given (the unit is stated)")]
    # The unit rule: a value outside the plausible range of its stated unit is a unit mix-up.
    for unit, (low, high) in WBC_RANGE.items():
        rules.append(in_range(f, "WBCDIAG", low, high, where=Col("WBCDIAGU") == unit,
                              why=f" when WBCDIAGU={unit} (plausible range of the unit; outside it the value "
                                  f"is in another unit: a unit mix-up)"))
    for method, threshold in MRD_THRESHOLD.items():
        pos = (Col("MRDPRE") == "POS") & (Col("MRDPREMT") == method)
        neg = (Col("MRDPRE") == "NEG") & (Col("MRDPREMT") == method)
        rules += [
            in_range(f, "MRDPRELV", threshold, None, where=pos, why=f" when MRDPRE=POS by {method}"),
            in_range(f, "MRDPRELV", 0, threshold, strict_max=True, where=neg, why=f" when MRDPRE=NEG by {method}"),
        ]
    return rules


def ds_rules(f: str) -> list[Rule]:
    died, alive = Col("DTHFL") == "Y", Col("DTHFL") == "N"
    stopped, not_stopped = Col("EOTSTAT") == "DISCONTINUED", Col("EOTSTAT").is_in(["COMPLETED", "ONGOING"])
    return [
        present_when(f, "DTHDTC", died, "DTHFL=Y"),
        empty_when(f, "DTHDTC", alive, "DTHFL=N"),
        empty_when(f, "DTHCAUS", alive, "DTHFL=N"),
        Rule(f, "DTHFL", "DTHFL=Y when DCREAS=DEATH",
             E.ExpectColumnValuesToBeInSet(column="DTHFL", value_set=["Y"], row_condition=Col("DCREAS") == "DEATH"),
             lambda r: f"{shown(r, 'DTHFL')} although DCREAS=DEATH (must be Y)", needs=("DTHFL", "DCREAS")),
        present_when(f, "DCREAS", stopped, "EOTSTAT=DISCONTINUED"),
        present_when(f, "DCDTC", stopped, "EOTSTAT=DISCONTINUED"),
        empty_when(f, "DCREAS", not_stopped, "EOTSTAT is COMPLETED/ONGOING"),
        empty_when(f, "DCDTC", not_stopped, "EOTSTAT is COMPLETED/ONGOING"),
        on_or_after(f, "LSTALVDTC", _date("DTHDTC"), _date("LSTALVDTC"), needs=("LSTALVDTC", "DTHDTC"),
                    why=" (last known alive cannot be after death)"),
        on_or_after(f, "DCDTC", _date("DTHDTC"), _date("DCDTC"), needs=("DCDTC", "DTHDTC"),
                    why=" (treatment cannot stop after death)"),
    ]


def ext_rules(f: str) -> list[Rule]:
    return [
        on_or_after(f, "CRDTC", _date("CRDTC"), _date("DIAGDTC"), needs=("CRDTC", "DIAGDTC")),
        on_or_after(f, "HSCTDTC", _date("HSCTDTC"), _date("CRDTC"), needs=("HSCTDTC", "CRDTC")),
        on_or_after(f, "RELDTC", _date("RELDTC"), _date("HSCTDTC"), needs=("RELDTC", "HSCTDTC")),
        on_or_after(f, "DTHDTC", _date("DTHDTC"), _date("HSCTDTC"), needs=("DTHDTC", "HSCTDTC")),
        on_or_after(f, "DTHDTC", _date("DTHDTC"), _date("RELDTC"), needs=("DTHDTC", "RELDTC")),
        on_or_after(f, "LSTFUDTC", _date("LSTFUDTC"), _date("HSCTDTC"), needs=("LSTFUDTC", "HSCTDTC")),
        on_or_after(f, "LSTFUDTC", _date("LSTFUDTC"), _date("RELDTC"), needs=("LSTFUDTC", "RELDTC")),
        Rule(f, "LSTFUDTC", "LSTFUDTC = DTHDTC when the patient died (last follow-up is the death)",
             E.ExpectColumnPairValuesToBeEqual(column_A="LSTFUDTC", column_B="DTHDTC",
                                               ignore_row_if="either_value_is_missing"),
             lambda r: f"{shown(r, 'LSTFUDTC')} differs from DTHDTC {shown(r, 'DTHDTC')} "
                       f"(last follow-up of a patient who died is the death date)",
             needs=("LSTFUDTC", "DTHDTC")),
        empty_when(f, "DTHCAUS", Col("DTHDTC").is_null(), "DTHDTC is empty"),
    ]


FORM_RULES = {"ae": ae_rules, "mrd": mrd_rules, "mob": mob_rules, "hsct": hsct_rules, "rs": rs_rules,
              "bl": bl_rules, "ds": ds_rules, "ext": ext_rules}


def value_suite(form: Form, text: pd.DataFrame, cut_date: str) -> Suite:
    """The suite ``raw.<form>``: contract rules of every column plus the form's own rules."""
    present = set(text.columns)
    subject = form.subject_column
    suite = Suite(f"raw.{form.name}", f"{form.file}: values ({form.title})", check_frame(form, text), subject,
                  missing_columns=tuple(c for c in form.column_names if c not in present))
    rules = column_rules(form, cut_date) + FORM_RULES.get(form.name, lambda f: [])(form.file)
    for rule in rules:
        suite.add(rule)
    return suite
