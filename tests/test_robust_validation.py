"""Issue 14, wrong data that used to pass validation (exit 0): each case is a small edit of the
hand-made tiny cut (tests/fixtures/tiny_cut.py), and only the suites the edit touches are run.

Expected failure lines are written from the test's own inputs (row, subject, value), never
copied from the validator's output.
"""

from __future__ import annotations

import json

import pytest

from analysis import paths
from analysis.raw_spec import FORMS
from analysis.regulatory.compare import WITHHELD
from tests.fixtures import tiny_cut
from tests.fixtures.corrupt import read_text, refresh_manifest, set_cell, write_text
from validation.cross import cross_suites
from validation.form_suites import structure_suite, value_suite
from validation.frames import load_form, num
from validation.report import failure_lines
from validation.runner import check_cut


@pytest.fixture
def tiny(tmp_path):
    return tiny_cut.write_tiny_cut(tmp_path / "data" / "raw" / tiny_cut.CUT)


def lines_of(cut_dir, *suites):
    refresh_manifest(cut_dir)
    return failure_lines(check_cut(cut_dir, paths.cut_date(cut_dir.name), only=set(suites)), cap=10**9)


def test_grade_with_a_leading_zero_is_still_grade_5(tiny):
    """'05' parses as the integer 5: the 'grade 5 only if the subject died' rule must see it."""
    set_cell(tiny, "ae", 1, "AETOXGR", "05")      # 01-001 is alive (ds.DTHFL=N); CRS allows grade 5
    lines = lines_of(tiny, "cross.ae", "raw.ae")
    assert ("ae.csv row 1 (SUBJID 01-001) AETOXGR: grade 5 (fatal) but ds.DTHFL is N "
            "[expect_column_values_to_be_in_set]") in lines


def test_no_rule_compares_a_number_column_as_text(tiny):
    """Every row condition comparing an int/float column's value reads its typed helper column
    (COL__num), never the text."""
    loaded = {n: load_form(tiny, f) for n, f in FORMS.items()}
    suites, frames = [], {}
    for n, lf in loaded.items():
        vs = value_suite(lf.form, lf.text, "2024-06-30")
        suites += [structure_suite(lf.form, lf.text), vs]
        frames[n] = vs.frame
    suites += cross_suites(frames, {})
    numeric = {c.name for f in FORMS.values() for c in f.columns if c.type in ("int", "float")}

    def columns(cond):   # columns whose VALUE a condition compares (a null test compares none)
        if cond is None:
            return set()
        found = {cond.column.name} if type(cond).__name__ == "ComparisonCondition" else set()
        for sub in getattr(cond, "conditions", []) or []:
            found |= columns(sub)
        return found

    offending = [(s.name, r.statement, col) for s in suites for r in s.rules if r.expectation is not None
                 for col in columns(getattr(r.expectation, "row_condition", None)) if col in numeric]
    assert offending == []
    assert num("AETOXGR") in {c for s in suites for r in s.rules if r.expectation is not None
                              for c in columns(getattr(r.expectation, "row_condition", None))}


def test_identifier_with_a_trailing_newline_is_not_a_second_subject(tiny):
    dm = read_text(tiny, "dm")
    extra = dm.iloc[[0]].copy()
    extra["SUBJID"] = "01-001\n"          # quoted in the CSV: a value with a trailing control character
    write_text(tiny, "dm", __import__("pandas").concat([dm, extra], ignore_index=True))
    lines = lines_of(tiny, "raw.dm")
    row = len(dm) + 1
    assert f"dm.csv row {row} (SUBJID 01-001\\x0a) SUBJID: 01-001\\x0a does not match ^\\d{{2}}-\\d{{3}}$ " \
           "[expect_column_values_to_match_regex]" in lines
    assert f"dm.csv row {row} (SUBJID 01-001\\x0a) SUBJID: 01-001\\x0a contains the control character \\n " \
           "[expect_column_values_to_not_match_regex]" in lines
    # uniqueness is checked on the normalised value: both rows are the same subject
    assert "dm.csv row 1 (SUBJID 01-001) SUBJID: duplicate key SUBJID=01-001 [expect_column_values_to_be_unique]" in lines


def test_full_width_digits_do_not_match_an_ascii_pattern(tiny):
    set_cell(tiny, "ext", 1, "PATID", "R０００１")
    lines = lines_of(tiny, "raw.ext")
    assert "ext.csv row 1 (PATID R０００１) PATID: R０００１ does not match ^R\\d{6}$ " \
           "[expect_column_values_to_match_regex]" in lines


def test_whitespace_only_required_value_fails(tiny):
    set_cell(tiny, "ae", 2, "AETERM", "   ")
    lines = lines_of(tiny, "raw.ae")
    assert ("ae.csv row 2 (SUBJID 01-002) AETERM:     is blank (whitespace only): leave the cell empty or give "
            "a value [expect_column_values_to_not_match_regex]") in lines


@pytest.mark.parametrize("char, shown", [("\x00", "\\x00"), ("\x1b", "\\x1b"), ("\u202e", "\\u202e")])
def test_control_characters_are_rejected_and_shown_escaped(tiny, char, shown):
    set_cell(tiny, "ae", 3, "AETERM", f"low{char}platelets")
    lines = lines_of(tiny, "raw.ae")
    assert (f"ae.csv row 3 (SUBJID 02-003) AETERM: low{shown}platelets contains the control character {shown} "
            "[expect_column_values_to_not_match_regex]") in lines
    assert not any(char in ln for ln in lines)


def test_integer_beyond_int64_is_a_type_failure_not_a_crash(tiny):
    set_cell(tiny, "ae", 1, "AESEQ", "99999999999999999999999")
    lines = lines_of(tiny, "raw.ae")
    assert ("ae.csv row 1 (SUBJID 01-001) AESEQ: 99999999999999999999999 is not an integer with |n| < 2^53 "
            "[expect_column_values_to_not_be_null]") in lines


def test_same_key_written_two_ways_is_a_duplicate(tiny):
    set_cell(tiny, "ae", 2, "SUBJID", "01-001")
    set_cell(tiny, "ae", 2, "AESEQ", "01")        # 01-001 already has AESEQ 1
    lines = lines_of(tiny, "raw.ae")
    assert ("ae.csv row 2 (SUBJID 01-001) SUBJID+AESEQ: duplicate key SUBJID=01-001, AESEQ=01 "
            "[expect_compound_columns_to_be_unique]") in lines


def test_unknown_form_file_listed_in_the_manifest_is_reported(tiny):
    (tiny / "lab.csv").write_text("SUBJID,LBTEST\n01-001,HGB\n", encoding="utf-8")
    tiny_cut.write_manifest(tiny)                 # listed, with the right checksum
    lines = lines_of(tiny)
    assert any(ln.startswith("lab.csv: not a form of the raw contract") and "listed in manifest.json" in ln
               for ln in lines), lines


def test_manifest_of_another_cut_is_reported(tiny):
    m = json.loads((tiny / "manifest.json").read_text())
    m["cut"] = "cut-2023-12-31"
    (tiny / "manifest.json").write_text(json.dumps(m))
    lines = lines_of(tiny)
    assert ("manifest.json: exported for cut 'cut-2023-12-31' but found in folder 'cut-2024-06-30' "
            "(an export copied into another cut folder?) [manifest_sha256]") in lines


def test_symlinked_raw_file_is_refused_and_not_hashed(tiny, tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_bytes((tiny / "rs.csv").read_bytes())
    (tiny / "rs.csv").unlink()
    (tiny / "rs.csv").symlink_to(outside)
    lines = lines_of(tiny)
    assert "rs.csv: a symbolic link; refused: raw files must be plain files in the cut folder " \
           "[file_present_and_readable]" in lines


def test_identifier_value_in_the_wrong_column_is_withheld(tiny):
    set_cell(tiny, "dm", 1, "HOSPRN", "H7654321")
    set_cell(tiny, "ae", 1, "SUBJID", "H7654321")       # an identifier pasted into the subject column
    set_cell(tiny, "ae", 2, "AETERM", "fever H7654321")  # and into free text with a broken rule
    set_cell(tiny, "ae", 2, "AESER", "x")
    lines = lines_of(tiny, "raw.ae", "cross.ae")
    assert lines and not any("H7654321" in ln for ln in lines)
    assert f"ae.csv row 1 (SUBJID {WITHHELD}) SUBJID: {WITHHELD} does not match ^\\d{{2}}-\\d{{3}}$ " \
           "[expect_column_values_to_match_regex]" in lines
