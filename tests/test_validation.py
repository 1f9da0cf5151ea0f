"""Validation suites (validation/): a clean cut passes; each rule, broken once in a copy of the
cut, is reported with the exact failure line (file, row, subject, column, rule) and stops the
pipeline (ValidationFailed, CLI exit 3) without touching derived data.

The copy is of the latest shipped cut in data/raw; the tiny hand-made cut in
tests/fixtures/tiny_cut.py must pass too. Rows to corrupt are picked from the data, so the expected lines
are built from the test's own inputs, never copied from the validator's output. To keep the module
fast, one full validation of the clean cut is shared, and each corruption runs only the suites it
touches (validation.runner.check_cut(..., only=...)).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis import paths
from analysis.errors import ValidationFailed
from analysis.raw_spec import CTCAE_TERMS
from tests.fixtures import tiny_cut
from tests.fixtures.corrupt import copy_cut, first_row, refresh_manifest, set_cell, write_text
from validation.report import MAX_LINES_PER_RULE, failure_lines
from tests.validation_cut import day_after as _day
from tests.validation_cut import frame, lines_of, shipped_cut, subject_of
from validation.runner import REPORT_NAME, check_cut, validate_cut

REPO = Path(__file__).resolve().parent.parent


# --- the cut under test ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def source_cut() -> tuple[Path, str]:
    return shipped_cut()


@pytest.fixture(scope="module")
def clean_run(source_cut, tmp_path_factory):
    src, cut = source_cut
    root = tmp_path_factory.mktemp("clean")
    copy_cut(src, root, cut)
    return root, cut, validate_cut(cut, root=root)


@pytest.fixture
def work(source_cut, tmp_path) -> Path:
    """A fresh copy of the cut's raw folder to corrupt."""
    src, cut = source_cut
    return copy_cut(src, tmp_path, cut)


# --- a clean cut ---------------------------------------------------------------------------------------

def test_clean_cut_passes_and_writes_report(clean_run):
    root, cut, result = clean_run
    assert result.success and result.failures == []
    assert result.count("failed") == 0 and result.count("not evaluated") == 0
    html = (paths.report_dir(cut, root) / REPORT_NAME).read_text(encoding="utf-8")
    for suite in result.suites:
        assert f"id='{suite}'" in html
    assert "PASSED" in html and "Partial-date rule" in html
    # every form has a structure, value and (trial forms) cross suite
    for name in ("raw.dm", "raw.dm.structure", "raw.ext", "cross.ae", "cross.cart", "files"):
        assert name in result.suites
    assert result.seconds < 120


def test_clean_run_writes_only_the_report(clean_run):
    root, cut, _ = clean_run
    assert not (root / "data" / "derived").exists()
    written = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and "data/raw" not in p.as_posix()]
    assert written == [f"reports/{cut}/{REPORT_NAME}"]


# --- files and manifest ----------------------------------------------------------------------------

def test_missing_file(work):
    (work / "hsct.csv").unlink()
    lines = lines_of(work, refresh=False)
    assert "hsct.csv: file not found [file_present_and_readable]" in lines
    assert "hsct.csv: listed in manifest.json but absent from the cut folder [manifest_sha256]" in lines


def test_unreadable_csv_names_the_line(work):
    text = (work / "mob.csv").read_text(encoding="utf-8").splitlines()
    text[2] += ",EXTRA,FIELDS"
    (work / "mob.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    refresh_manifest(work)
    outcomes = check_cut(work, paths.cut_date(work.name), only={"cross.ae"})
    lines = failure_lines(outcomes)
    hit = [ln for ln in lines if ln.startswith("mob.csv: not a readable CSV")]
    assert hit and "line 3" in hit[0] and hit[0].endswith("[file_present_and_readable]")
    # the cross-form rules cannot run without mob.csv: said so, not silently passed
    cross = [o for o in outcomes if o.suite.name == "cross.ae"]
    assert cross and all(o.status == "not evaluated" for o in cross)
    assert cross[0].note == "not evaluated: mob.csv could not be read"


def test_changed_file_without_manifest_update_is_caught(work):
    from analysis.raw_io import sha256_file
    from validation.manifest import manifest_hashes
    import json
    before = manifest_hashes(json.loads((work / "manifest.json").read_text()))["dm.csv"]
    set_cell(work, "dm", 1, "WEIGHTKG", "71")
    after = sha256_file(work / "dm.csv")
    lines = lines_of(work, refresh=False)
    assert (f"dm.csv: SHA-256 {after[:8]}.. differs from manifest.json {before[:8]}.. "
            f"— the raw file changed after export [manifest_sha256]") in lines


def test_file_not_in_manifest_is_reported(work):
    (work / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    lines = lines_of(work, refresh=False)
    assert "notes.csv: present in the cut folder but not listed in manifest.json [manifest_sha256]" in lines


# --- structure ------------------------------------------------------------------------------------------

def test_missing_and_unexpected_columns(work):
    df = frame(work, "dm").drop(columns=["AGE"]).assign(EXTRA="x")
    write_text(work, "dm", df)
    lines = lines_of(work, "raw.dm.structure", "raw.dm")
    assert "dm.csv AGE: column missing [expect_table_columns_to_match_set]" in lines
    assert "dm.csv EXTRA: unexpected column [expect_table_columns_to_match_set]" in lines
    assert not any(" AGE: " in ln and "column missing" not in ln for ln in lines)  # AGE rules not evaluated


# --- per-column contract rules --------------------------------------------------------------------------

_subj = subject_of


COLUMN_RULE_CASES = [  # form, column, bad value, expected detail, expectation
    ("dm", "AGE", "212", "212 not in [14, 75]", "expect_column_values_to_be_between"),
    ("dm", "AGE", "3O", "3O is not an integer with |n| < 2^53", "expect_column_values_to_not_be_null"),
    ("dm", "WEIGHTKG", "70,5", "70,5 is not a finite number", "expect_column_values_to_not_be_null"),
    ("dm", "SEX", "", "empty, a value is required", "expect_column_values_to_not_be_null"),
    ("dm", "SEX", "3", "3 not in {1, 2}", "expect_column_values_to_be_in_set"),
    ("dm", "SITEID", "9", "9 does not match ^\\d{2}$", "expect_column_values_to_match_regex"),
    ("dm", "ENRLDTC", "2021-02-30", "2021-02-30 is not a valid date YYYY-MM-DD",
     "expect_column_values_to_not_be_null"),
    ("dm", "ENRLDTC", "2021-03", "2021-03 is not a valid date YYYY-MM-DD", "expect_column_values_to_not_be_null"),
    ("bl", "DIAGDTC", "2020", "2020 is not a valid date YYYY-MM-DD or YYYY-MM (a missing month is invalid)",
     "expect_column_values_to_not_be_null"),
    ("bl", "DIAGDTC", "2020-00", "2020-00 is not a valid date YYYY-MM-DD or YYYY-MM (a missing month is invalid)",
     "expect_column_values_to_not_be_null"),
    ("bl", "CD19PCT", "100.5", "100.5 not in [0, 100]", "expect_column_values_to_be_between"),
    ("bl", "PHSTAT", "pos", "pos not in {POS, NEG}", "expect_column_values_to_be_in_set"),
    ("mrd", "METHOD", "PCR", "PCR not in {FC, NGS}", "expect_column_values_to_be_in_set"),
    ("mrd", "MRDSENS", "0.5", "0.5 not in [1e-07, 0.01]", "expect_column_values_to_be_between"),
    ("ae", "AEDECOD", "Pyrexia", "Pyrexia not in {" + ", ".join(CTCAE_TERMS) + "}",
     "expect_column_values_to_be_in_set"),
]


def test_column_rules(work):
    """Each case breaks one cell in its own row (row = case number), all validated in one run."""
    expected = []
    for row, (form, column, value, detail, expectation) in enumerate(COLUMN_RULE_CASES, start=1):
        set_cell(work, form, row, column, value)
        expected.append(f"{form}.csv row {row} (SUBJID {_subj(work, form, row)}) {column}: {detail} [{expectation}]")
    lines = lines_of(work, *sorted({f"raw.{c[0]}" for c in COLUMN_RULE_CASES}))
    assert [e for e in expected if e not in lines] == []


def test_tiny_handmade_cut_passes(tmp_path):
    """The hand-made cut (partial dates, a death, a failed mobilization without apheresis) is valid."""
    cut_dir = tiny_cut.write_tiny_cut(tmp_path / tiny_cut.CUT)
    assert failure_lines(check_cut(cut_dir, paths.cut_date(tiny_cut.CUT))) == []


def test_pattern_rule_on_external_control(work):
    set_cell(work, "ext", 1, "PATID", "X12")
    lines = lines_of(work, "raw.ext")
    assert "ext.csv row 1 (PATID X12) PATID: X12 does not match ^R\\d{6}$ [expect_column_values_to_match_regex]" in lines


def test_valid_partial_date_is_accepted_in_pdate_column(work):
    set_cell(work, "bl", 1, "DIAGDTC", frame(work, "bl").loc[0, "DIAGDTC"][:7])
    assert lines_of(work, "raw.bl", "cross.bl") == []


def test_identifier_values_never_shown(work):
    set_cell(work, "dm", 1, "BRTHDTC", "1990-13-45")
    lines = lines_of(work, "raw.dm")
    subj = _subj(work, "dm", 1)
    assert (f"dm.csv row 1 (SUBJID {subj}) BRTHDTC: (identifier withheld) is not a valid date "
            "YYYY-MM-DD or YYYY-MM (a missing month is invalid) [expect_column_values_to_not_be_null]") in lines
    assert not any("1990-13-45" in ln for ln in lines)


def test_date_after_cut(work):
    set_cell(work, "rs", 1, "RSDTC", "2099-01-01")
    lines = lines_of(work, "raw.rs")
    cut = paths.cut_date(work.name)
    assert (f"rs.csv row 1 (SUBJID {_subj(work, 'rs', 1)}) RSDTC: 2099-01-01 is after the cut date {cut} "
            "[expect_column_values_to_be_between]") in lines


def test_duplicate_keys(work):
    ae = frame(work, "ae")
    write_text(work, "ae", pd.concat([ae, ae.iloc[[0]]], ignore_index=True))
    dm = frame(work, "dm")
    write_text(work, "dm", pd.concat([dm, dm.iloc[[1]]], ignore_index=True))
    lines = lines_of(work, "raw.ae", "raw.dm")
    s, seq = ae.loc[0, "SUBJID"], ae.loc[0, "AESEQ"]
    for row in (1, len(ae) + 1):
        assert (f"ae.csv row {row} (SUBJID {s}) SUBJID+AESEQ: duplicate key SUBJID={s}, AESEQ={seq} "
                "[expect_compound_columns_to_be_unique]") in lines
    d = dm.loc[1, "SUBJID"]
    assert f"dm.csv row {len(dm) + 1} (SUBJID {d}) SUBJID: duplicate key SUBJID={d} [expect_column_values_to_be_unique]" in lines


# --- terminal output, exceptions, CLI, no side effects --------------------------------------------------

def test_lines_are_capped_per_rule(work):
    dm = frame(work, "dm")
    dm = pd.concat([dm] * (MAX_LINES_PER_RULE // len(dm) + 2), ignore_index=True)  # more rows than the cap
    n = len(dm)
    write_text(work, "dm", dm.assign(AGE="200"))
    refresh_manifest(work)
    outcomes = check_cut(work, paths.cut_date(work.name), only={"raw.dm"})
    lines = [ln for ln in failure_lines(outcomes) if "AGE" in ln]
    assert len(lines) == MAX_LINES_PER_RULE + 1
    assert lines[-1] == (f"  ... and {n - MAX_LINES_PER_RULE} more for dm.csv AGE [expect_column_values_to_be_between] "
                         "(see the validation report)")


@pytest.mark.parametrize("previous_build", [True, False], ids=["after-a-build", "clean-state"])
def test_failure_raises_and_keeps_derived_data(work, previous_build):
    """A failed validation writes its report and nothing else: earlier derived data and other
    cuts' reports stay as they were (after-a-build); from a clean state nothing but the report
    appears (no data/derived/ folder)."""
    root = work.parent.parent.parent
    cut = work.name
    derived = paths.derived_dir(cut, root)
    other_report = paths.report_dir("cut-2000-01-01", root) / REPORT_NAME   # another cut's report
    if previous_build:
        derived.mkdir(parents=True)
        (derived / "adsl.csv").write_text("kept\n", encoding="utf-8")
        other_report.parent.mkdir(parents=True)
        other_report.write_text("other cut\n", encoding="utf-8")
    set_cell(work, "dm", 1, "AGE", "212")
    set_cell(work, "dm", 2, "BRTHDTC", "1985-02-31")   # an identifier: its value must not be shown
    refresh_manifest(work)
    with pytest.raises(ValidationFailed) as exc:
        validate_cut(cut, root=root)
    subj = _subj(work, "dm", 1)
    line = f"dm.csv row 1 (SUBJID {subj}) AGE: 212 not in [14, 75] [expect_column_values_to_be_between]"
    assert line in exc.value.failures
    assert exc.value.report_path == paths.report_dir(cut, root) / REPORT_NAME
    html = exc.value.report_path.read_text(encoding="utf-8")
    assert "FAILED" in html and "212 not in [14, 75]" in html
    assert "(identifier withheld)" in html and "1985-02-31" not in html
    assert not any("1985-02-31" in ln for ln in exc.value.failures)
    if previous_build:
        assert [p.name for p in derived.iterdir()] == ["adsl.csv"]
        assert (derived / "adsl.csv").read_text(encoding="utf-8") == "kept\n"
        assert other_report.read_text(encoding="utf-8") == "other cut\n"
    else:
        written = [p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.is_file() and not p.is_relative_to(paths.raw_root(root))]
        assert written == [f"reports/{cut}/{REPORT_NAME}"]
        assert not paths.derived_root(root).exists()


def test_cli_exits_3_and_prints_the_line(work):
    root = work.parent.parent.parent
    set_cell(work, "dm", 2, "AGE", "212")
    refresh_manifest(work)
    env = dict(os.environ, GX_ANALYTICS_ENABLED="False", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "analysis", "--root", str(root), "validate", "--cut", work.name],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 3, proc.stderr
    subj = _subj(work, "dm", 2)
    assert f"dm.csv row 2 (SUBJID {subj}) AGE: 212 not in [14, 75] [expect_column_values_to_be_between]" in proc.stderr


# --- more rules: date order within forms, external control, completeness, files ---------------------

PAIR = "[expect_column_pair_values_a_to_be_greater_than_b]"


def test_date_order_within_forms(work):
    """One corruption per form, each in a different form, validated in one run."""
    hsct, mob, ae, bl, ds = (frame(work, n) for n in ("hsct", "mob", "ae", "bl", "ds"))
    s = lambda df, r: df.loc[r - 1, "SUBJID"]  # noqa: E731
    cond = hsct.loc[0, "CONDSTDTC"]
    set_cell(work, "hsct", 1, "HSCTDTC", _day(cond, -1))
    set_cell(work, "hsct", 2, "NEUTDTC", hsct.loc[1, "HSCTDTC"])
    mrow = first_row(mob, mob["COLLDTC"].ne(""))
    set_cell(work, "mob", mrow, "COLLDTC", _day(mob.loc[mrow - 1, "MOBSTDTC"], -2))
    arow = first_row(ae, ae["AEENDTC"].str.len() == 10)
    start = ae.loc[arow - 1, "AESTDTC"]
    earlier_month = (pd.Timestamp(start[:7] + "-01") - pd.offsets.MonthBegin(1)).strftime("%Y-%m")
    set_cell(work, "ae", arow, "AEENDTC", earlier_month)   # whole month before onset: broken
    set_cell(work, "bl", 1, "CRDTC", _day(bl.loc[0, "DIAGDTC"][:7] + "-01", -1))
    drow = first_row(ds, ds["DTHFL"] == "Y")
    death = ds.loc[drow - 1, "DTHDTC"]
    set_cell(work, "ds", drow, "LSTALVDTC", _day(death, 1))
    lines = lines_of(work, "raw.hsct", "raw.mob", "raw.ae", "raw.bl", "raw.ds")
    expected = [
        f"hsct.csv row 1 (SUBJID {s(hsct, 1)}) HSCTDTC: {_day(cond, -1)} is before CONDSTDTC {cond} {PAIR}",
        f"hsct.csv row 2 (SUBJID {s(hsct, 2)}) NEUTDTC: {hsct.loc[1, 'HSCTDTC']} is on or before HSCTDTC "
        f"{hsct.loc[1, 'HSCTDTC']} {PAIR}",
        f"mob.csv row {mrow} (SUBJID {s(mob, mrow)}) COLLDTC: {_day(mob.loc[mrow - 1, 'MOBSTDTC'], -2)} is before "
        f"MOBSTDTC {mob.loc[mrow - 1, 'MOBSTDTC']} {PAIR}",
        f"ae.csv row {arow} (SUBJID {s(ae, arow)}) AEENDTC: {earlier_month} is before AESTDTC {start} {PAIR}",
        f"bl.csv row 1 (SUBJID {s(bl, 1)}) CRDTC: {_day(bl.loc[0, 'DIAGDTC'][:7] + '-01', -1)} is before DIAGDTC "
        f"{bl.loc[0, 'DIAGDTC']} {PAIR}",
        f"ds.csv row {drow} (SUBJID {s(ds, drow)}) LSTALVDTC: {_day(death, 1)} is after DTHDTC {death} "
        f"(last known alive cannot be after death) {PAIR}",
    ]
    assert [e for e in expected if e not in lines] == []


def test_partial_end_date_in_onset_month_is_not_an_error(work):
    ae = frame(work, "ae")
    arow = first_row(ae, ae["AEENDTC"].str.len() == 10)
    set_cell(work, "ae", arow, "AEENDTC", ae.loc[arow - 1, "AESTDTC"][:7])   # may end later that month
    assert not any(f"ae.csv row {arow} " in ln for ln in lines_of(work, "raw.ae"))


def test_pre_car_t1_mrd_call_agrees_with_level(work):
    bl = frame(work, "bl")
    row = first_row(bl, (bl["MRDPRE"] == "POS") & (bl["MRDPREMT"] == "FC"))
    set_cell(work, "bl", row, "MRDPRELV", "0.00005")
    lines = lines_of(work, "raw.bl")
    assert (f"bl.csv row {row} (SUBJID {bl.loc[row - 1, 'SUBJID']}) MRDPRELV: 0.00005 not in [0.0001, inf] when "
            "MRDPRE=POS by FC [expect_column_values_to_be_between]") in lines


def test_death_cause_and_reason_rules(work):
    ds = frame(work, "ds")
    alive = [i + 1 for i in ds.index[ds["DTHFL"] == "N"]]
    set_cell(work, "ds", alive[0], "DTHCAUS", "OTHER")
    set_cell(work, "ds", alive[1], "EOTSTAT", "DISCONTINUED")
    set_cell(work, "ds", alive[1], "DCREAS", "DEATH")
    set_cell(work, "ds", alive[1], "DCDTC", ds.loc[alive[1] - 1, "LSTALVDTC"])
    lines = lines_of(work, "raw.ds")
    s = lambda r: ds.loc[r - 1, "SUBJID"]  # noqa: E731
    assert (f"ds.csv row {alive[0]} (SUBJID {s(alive[0])}) DTHCAUS: OTHER given although DTHFL=N (must be empty) "
            "[expect_column_values_to_be_null]") in lines
    assert (f"ds.csv row {alive[1]} (SUBJID {s(alive[1])}) DTHFL: N although DCREAS=DEATH (must be Y) "
            "[expect_column_values_to_be_in_set]") in lines


def test_external_control_rules(work):
    ext = frame(work, "ext")
    dead = [i + 1 for i in ext.index[ext["DTHDTC"] != ""]]
    alive = [i + 1 for i in ext.index[ext["DTHDTC"] == ""]]
    relapsed = first_row(ext, ext["RELDTC"] != "")
    p = lambda r: ext.loc[r - 1, "PATID"]  # noqa: E731
    d0 = ext.loc[dead[0] - 1, "DTHDTC"]
    set_cell(work, "ext", dead[0], "LSTFUDTC", _day(d0, -10))
    set_cell(work, "ext", alive[0], "DTHCAUS", "GVHD")
    hsct = ext.loc[relapsed - 1, "HSCTDTC"]
    set_cell(work, "ext", relapsed, "RELDTC", _day(hsct, -5))
    set_cell(work, "ext", dead[1], "SEX", "male")
    lines = lines_of(work, "raw.ext")
    expected = [
        f"ext.csv row {dead[0]} (PATID {p(dead[0])}) LSTFUDTC: {_day(d0, -10)} differs from DTHDTC {d0} "
        "(last follow-up of a patient who died is the death date) [expect_column_pair_values_to_be_equal]",
        f"ext.csv row {alive[0]} (PATID {p(alive[0])}) DTHCAUS: GVHD given although DTHDTC is empty (must be empty) "
        "[expect_column_values_to_be_null]",
        f"ext.csv row {relapsed} (PATID {p(relapsed)}) RELDTC: {_day(hsct, -5)} is before HSCTDTC {hsct} {PAIR}",
        f"ext.csv row {dead[1]} (PATID {p(dead[1])}) SEX: male not in {{M, F}} [expect_column_values_to_be_in_set]",
    ]
    assert [e for e in expected if e not in lines] == []


def test_every_subject_has_baseline_and_disposition(work):
    bl = frame(work, "bl")
    subj = bl.loc[2, "SUBJID"]
    write_text(work, "bl", bl.drop(index=2))
    dm = frame(work, "dm")
    row = first_row(dm, dm["SUBJID"] == subj)
    lines = lines_of(work, "cross.dm")
    assert (f"dm.csv row {row} (SUBJID {subj}) SUBJID: {subj} has no baseline record in bl.csv "
            "[expect_column_values_to_be_in_set]") in lines


def test_remission_documented_before_car_t1(work):
    bl = frame(work, "bl")
    cart = frame(work, "cart")
    subj = bl.loc[0, "SUBJID"]
    cd22 = cart.loc[(cart["SUBJID"] == subj) & (cart["PHASE"] == "CAR-T1") & (cart["PRODUCT"] == "CD22"), "INFDTC"].iloc[0]
    set_cell(work, "bl", 1, "CRDTC", _day(cd22, 1))
    lines = lines_of(work, "cross.bl")
    assert (f"bl.csv row 1 (SUBJID {subj}) CRDTC: {_day(cd22, 1)} is after CAR-T1 CD22 infusion cart.INFDTC {cd22} "
            f"(the remission is documented before CAR-T1) {PAIR}") in lines


def test_mobilization_needs_car_t1(work):
    cart = frame(work, "cart")
    mob = frame(work, "mob")
    subj = mob.loc[0, "SUBJID"]
    write_text(work, "cart", cart[cart["SUBJID"] != subj])
    lines = lines_of(work, "cross.mob")
    assert (f"mob.csv row 1 (SUBJID {subj}) MOBSTDTC: mobilization but the subject has no CAR-T1 infusion in "
            "cart.csv [expect_column_values_to_be_in_set]") in lines


def test_empty_demographics(work):
    write_text(work, "dm", frame(work, "dm").iloc[0:0])
    lines = lines_of(work, "raw.dm.structure")
    assert "dm.csv: no data rows [expect_table_row_count_to_be_between]" in lines


def test_byte_order_mark_is_reported(work):
    (work / "bl.csv").write_bytes(b"\xef\xbb\xbf" + (work / "bl.csv").read_bytes())
    lines = lines_of(work)
    assert "bl.csv: starts with a UTF-8 byte-order mark; export UTF-8 without BOM [file_present_and_readable]" in lines


def test_not_utf8_and_no_manifest(work):
    (work / "rs.csv").write_bytes((work / "rs.csv").read_bytes() + "01-001,M1,2023-01-01,\xe9,CR\n".encode("latin-1"))
    (work / "manifest.json").unlink()
    lines = lines_of(work, refresh=False)
    assert any(ln.startswith("rs.csv: not UTF-8 text (byte ") and ln.endswith("[file_present_and_readable]")
               for ln in lines)
    assert "manifest.json: not found; the export's checksums cannot be verified [manifest_sha256]" in lines


def test_every_shipped_cut_is_valid(clean_run):
    """The latest cut is validated by clean_run; the earlier ones here (no report written)."""
    _, latest, _ = clean_run
    for cut in paths.list_cuts(REPO):
        if cut != latest:
            assert failure_lines(check_cut(paths.raw_dir(cut, REPO), paths.cut_date(cut))) == [], cut
