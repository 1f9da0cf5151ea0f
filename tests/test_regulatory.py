"""Regulatory tools on small hand-made raw cuts and a fake derive/analyze: compare, lock,
reproduce, Define-XML, identifier check. Expected values are counted by hand from the fixtures."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

from analysis import ard, build, cli, paths
from analysis.errors import EXIT_MISMATCH, EXIT_OK, BadDataError, ReproductionMismatch
from analysis.regulatory import common, compare, define_xml, identifiers, lock, reproduce

CUT1, CUT2 = "cut-2024-06-30", "cut-2025-06-30"

DM1 = """STUDYID,SITEID,SUBJID,INITIALS,BRTHDTC,HOSPRN,SEX,AGE,WEIGHTKG,ENRLDTC
SWCART-01,01,01-001,AB,1980-05-17,H0012345,1,43,70.5,2023-01-10
SWCART-01,01,01-002,CD,1975-11,H0067890,2,48,61,2023-02-01
"""
DM2 = DM1.replace("H0067890", "H0067891") + "SWCART-01,02,02-003,EF,1990-01-02,H0099999,1,33,80,2024-09-01\n"
DS1 = """SUBJID,EOTSTAT,DCREAS,DCDTC,LSTALVDTC,DTHFL,DTHDTC,DTHCAUS
01-001,COMPLETED,,,2024-06-01,N,,
01-002,ONGOING,,,2024-06-15,N,,
"""
DS2 = """SUBJID,EOTSTAT,DCREAS,DCDTC,LSTALVDTC,DTHFL,DTHDTC,DTHCAUS
01-001,COMPLETED,,,2025-05-01,N,,
01-002,DISCONTINUED,RELAPSE,2024-10-01,2024-12-20,Y,2024-12-20,RELAPSE
02-003,ONGOING,,,2025-06-01,N,,
"""
RS1 = """SUBJID,VISIT,RSDTC,BMBLAST,RSORRES
01-001,M1,2023-02-15,1,CR
01-002,M1,2023-03-05,2,CR
"""
RS2 = RS1 + "01-002,M12,2024-09-20,35,RELAPSE\n"
MRD1 = """SUBJID,MRDDTC,METHOD,MRDUND,MRDLEVEL,MRDSENS
01-001,2023-02-15,FC,Y,,1e-5
01-002,2023-03-05,FC,Y,,1e-5
"""
MRD2 = MRD1 + "01-002,2024-06-20,FC,N,0.002,1e-5\n01-001,2024-06-20,FC,N,0.00001,1e-5\n"
AE1 = """SUBJID,AESEQ,AETERM,AEDECOD,AEBODSYS,AETOXGR,AESTDTC,AEENDTC,AESER,AERELCAR
01-001,1,CRS,Cytokine release syndrome,Immune system disorders,2,2023-01-20,2023-01-25,N,Y
"""
AE2 = AE1.replace("2023-01-25", "2023-01-27") + \
    "01-002,1,Sepsis,Sepsis,Infections and infestations,4,2024-11-02,,Y,N\n"
EXT1 = """PATID,AGE,SEX,PHPOS,CYTORISK,WBCDIAG,CNSSTAT,DISSTAT,MRDPRE,DONOR,DIAGDTC,CRDTC,HSCTDTC,RELDTC,DTHDTC,DTHCAUS,LSTFUDTC
R0001,40,M,N,standard,10,CNS1,CR1,negative,MSD,2021-01,2021-03-01,2021-06-01,,,,2024-06-01
"""
EXT2 = EXT1.replace(",,,,2024-06-01", ",2024-10-01,,,2025-06-01") + \
    "R0002,30,F,Y,high,50,CNS1,CR2,positive,HAPLO,2022-02,2022-04-01,2022-07-01,,2023-01-05,GVHD,2023-01-05\n"


def write_cut(root: Path, cut: str, forms: dict[str, str]) -> Path:
    d = paths.raw_dir(cut, root)
    d.mkdir(parents=True, exist_ok=True)
    for name, text in forms.items():
        (d / f"{name}.csv").write_text(text)
    return d


@pytest.fixture
def two_cuts(tmp_path):
    write_cut(tmp_path, CUT1, {"dm": DM1, "ds": DS1, "rs": RS1, "mrd": MRD1, "ae": AE1, "ext": EXT1})
    write_cut(tmp_path, CUT2, {"dm": DM2, "ds": DS2, "rs": RS2, "mrd": MRD2, "ae": AE2, "ext": EXT2})
    return tmp_path


# --- a fake derive + analyze, deterministic, with the real file layout ---------------------------

SPEC = {"datasets": [{"name": "ADSL", "label": "Subject-Level Analysis Dataset", "keys": ["USUBJID"], "records": 0,
                      "variables": [
                          {"name": "USUBJID", "label": "Unique Subject Identifier", "type": "Char", "length": 16,
                           "origin": "Derived", "source": "", "derivation": "STUDYID || '-' || SUBJID"},
                          {"name": "AGE", "label": "Age", "type": "Num", "length": 8, "origin": "Predecessor",
                           "source": "DM.AGE", "derivation": ""},
                          {"name": "DTHFL", "label": "Subject Death Flag", "type": "Char", "length": 1,
                           "origin": "Predecessor", "source": "DS.DTHFL", "derivation": ""}]}]}


def fake_derive(cut: str, root: Path) -> None:
    dm = pd.read_csv(paths.raw_dir(cut, root) / "dm.csv", dtype=str)
    ds = pd.read_csv(paths.raw_dir(cut, root) / "ds.csv", dtype=str)
    adsl = dm.merge(ds, on="SUBJID")
    out = pd.DataFrame({"USUBJID": "SWCART-01-" + adsl["SUBJID"], "AGE": adsl["AGE"], "DTHFL": adsl["DTHFL"]})
    d = paths.derived_dir(cut, root)
    d.mkdir(parents=True, exist_ok=True)
    out.to_csv(d / "adsl.csv", index=False, lineterminator="\n")
    (d / "spec.json").write_text(json.dumps(SPEC, indent=1))


def fake_analyze(cut: str, root: Path) -> None:
    adsl = pd.read_csv(paths.derived_dir(cut, root) / "adsl.csv")
    rows = ard.concat([ard.rows("demog", "AGE", "SANDWICH", "AGE", "", {"n": len(adsl), "mean": float(adsl["AGE"].mean())}),
                       ard.rows("os", "OS", "SANDWICH", "", "", {"events": int((adsl["DTHFL"] == "Y").sum())})])
    d = paths.report_dir(cut, root)
    d.mkdir(parents=True, exist_ok=True)
    (d / "ard.csv").write_bytes(ard.to_csv_bytes(rows))


def fake_rebuild(cut: str, scratch: Path) -> None:
    fake_derive(cut, scratch)
    fake_analyze(cut, scratch)


def built(root: Path, *cuts: str) -> Path:
    for c in cuts:
        fake_rebuild(c, root)
    return root


# --- compare ---------------------------------------------------------------------------------------

def test_compare_raw_subjects_events_and_changed_values(two_cuts):
    t = compare.compare_cuts(CUT1, CUT2, two_cuts)
    assert t["subjects_added"][["cohort", "subject"]].values.tolist() == [["trial", "02-003"],
                                                                          ["external control", "R0002"]]
    ev = t["events"]
    raw = ev[ev["source"] == "raw"]
    got = sorted(zip(raw["event"], raw["subject"]))
    # 01-002: death and relapse; MRD recurrence only for 01-002 (0.002 >= 1e-4 after negative);
    # 01-001's 1e-5 is below the FC threshold 1e-4 (conventions.MRD_THRESHOLD), not a recurrence;
    # one new AE (01-002 Sepsis). 01-001's CRS is an old AE whose end date changed.
    # external control: R0001 relapsed since; R0002 is new and already dead (a new death).
    assert got == [("MRD recurrence", "01-002"), ("adverse event", "01-002"), ("death", "01-002"),
                   ("death (external control)", "R0002"), ("relapse", "01-002"),
                   ("relapse (external control)", "R0001")]
    rc = t["raw_changes"]
    changed = rc[rc["change"] == "value changed"]
    row = changed[(changed["form"] == "ae")].iloc[0]
    assert (row["key"], row["subject"], row["field"], row["old"], row["new"]) == \
        ("SUBJID=01-001, AESEQ=1", "01-001", "AEENDTC", "2023-01-25", "2023-01-27")
    # a corrected hospital record number is listed, but its values are withheld
    hosp = changed[changed["field"] == "HOSPRN"]
    assert hosp[["subject", "old", "new"]].values.tolist() == [["01-002", compare.WITHHELD, compare.WITHHELD]]
    ds_fields = set(changed.loc[changed["subject"] == "01-002", "field"][changed["form"] == "ds"])
    assert ds_fields == {"EOTSTAT", "DCREAS", "DCDTC", "LSTALVDTC", "DTHFL", "DTHDTC", "DTHCAUS"}
    added = rc[rc["change"] == "record added"]
    assert sorted(added["form"]) == ["ae", "dm", "ds", "ext", "mrd", "mrd", "rs"]
    summary = dict(zip(t["summary"]["item"], t["summary"]["value"]))
    assert summary["subjects added (trial)"] == "1"
    assert summary["new events: death"] == "1"
    assert summary["ARD results compared"] == "not compared (ARD of both cuts needed)"   # nothing built yet


def test_compare_names_an_ard_of_another_schema_instead_of_failing(two_cuts):
    """An ARD in schema 1 (a lock older than the cards columns) is not compared result by result
    and the summary says which file and which version; the rest of the comparison still runs."""
    built(two_cuts, CUT1, CUT2)
    old = paths.report_dir(CUT1, two_cuts) / "ard.csv"
    old.write_text("analysis,param,group,variable,level,stat_name,stat\ndemog,AGE,SANDWICH,AGE,,n,2\n")
    t = compare.compare_cuts(CUT1, CUT2, two_cuts)
    assert t["ard_changes"].empty and not t["derived_changes"].empty
    summary = dict(zip(t["summary"]["item"], t["summary"]["value"].astype(str)))
    note = next(v for k, v in summary.items() if "ARD of from cut" in k)
    assert f"ARD schema version 1, not comparable with version {ard.ARD_SCHEMA_VERSION}" in note
    assert summary["ARD results compared"].startswith("not compared")


def test_compare_derived_and_ard_when_built(two_cuts):
    built(two_cuts, CUT1, CUT2)
    t = compare.compare_cuts(CUT1, CUT2, two_cuts)
    d = t["derived_changes"]
    assert set(d["change"]) == {"added record", "value changed"}
    v = d[d["change"] == "value changed"].iloc[0]
    assert (v["dataset"], v["USUBJID"], v["variable"], v["old"], v["new"]) == \
        ("ADSL", "SWCART-01-01-002", "DTHFL", "N", "Y")
    ard = t["ard_changes"].set_index("stat_name")
    assert ard.loc["n", "status"] == "changed" and (ard.loc["n", "old"], ard.loc["n", "new"]) == ("2", "3")
    # mean age (43+48)/2 = 45.5 -> (43+48+33)/3 = 41.333...
    assert ard.loc["mean", "delta"] == pytest.approx(124 / 3 - 45.5, rel=1e-12)
    assert ard.loc["events", "new"] == "1"


def test_compare_reads_the_locked_datasets_when_only_the_lock_of_the_old_cut_exists(two_cuts):
    """A fresh clone: the old cut exists only as data/locked/<cut>/ (ard.csv at its top, the ADaM
    datasets in derived/). The comparison must read derived/, record by record, and say so."""
    built(two_cuts, CUT1, CUT2)
    lock.lock_cut(CUT1, two_cuts)
    for working in (paths.derived_dir(CUT1, two_cuts), paths.report_dir(CUT1, two_cuts)):
        for p in working.iterdir():
            p.unlink()
        working.rmdir()
    t = compare.compare_cuts(CUT1, CUT2, two_cuts)
    d = t["derived_changes"]
    assert set(d["dataset"]) == {"ADSL"} and set(d["change"]) == {"added record", "value changed"}
    v = d[d["change"] == "value changed"].iloc[0]
    assert (v["USUBJID"], v["variable"], v["old"], v["new"]) == ("SWCART-01-01-002", "DTHFL", "N", "Y")
    summary = dict(zip(t["summary"]["item"], t["summary"]["value"]))
    assert summary["derived data of from cut"] == f"data/locked/{CUT1}/derived/ (locked copy)"
    assert summary["derived data of to cut"] == f"data/derived/{CUT2}/ (working build)"
    assert summary["ARD of from cut"] == f"data/locked/{CUT1}/ard.csv (locked copy)"
    assert summary["ARD of to cut"] == f"reports/{CUT2}/ard.csv (working build)"
    # with a working build of the old cut present, that one is preferred
    fake_rebuild(CUT1, two_cuts)
    again = dict(zip(*compare.compare_cuts(CUT1, CUT2, two_cuts)["summary"][["item", "value"]].T.values))
    assert again["derived data of from cut"] == f"data/derived/{CUT1}/ (working build)"


def test_a_folder_without_adsl_holds_no_adam_datasets(tmp_path):
    (tmp_path / "ard.csv").write_text("analysis,stat\n")
    assert not compare.holds_adam_datasets(tmp_path)
    (tmp_path / "adsl.parquet").write_bytes(b"")
    assert compare.holds_adam_datasets(tmp_path)


def test_changes_written_and_loaded_for_the_report(two_cuts):
    built(two_cuts, CUT1, CUT2)
    compare.changes_step(CUT2, two_cuts)
    identifiers.check_identifiers(CUT2, two_cuts)   # the change tables carry no identifier
    loaded = compare.load_changes(CUT2, two_cuts)
    assert set(loaded) == set(compare.TABLES)
    assert loaded["subjects_added"]["subject"].tolist() == ["02-003", "R0002"]
    assert list(loaded["ard_changes"].columns) == compare.COLUMNS["ard_changes"]
    # the first cut has nothing to compare with: empty tables with their columns
    compare.changes_step(CUT1, two_cuts)
    first = compare.load_changes(CUT1, two_cuts)
    assert first["events"].empty and list(first["events"].columns) == compare.COLUMNS["events"]


def test_compare_cli_writes_tables_and_flags_a_changed_locked_cut(two_cuts, capsys):
    built(two_cuts, CUT1, CUT2)
    lock.lock_cut(CUT1, two_cuts)
    assert cli.main(["--root", str(two_cuts), "compare", "--from", CUT1, "--to", CUT2]) == EXIT_OK
    out = capsys.readouterr().out
    assert "02-003" in out and "Sepsis grade 4" in out
    assert (two_cuts / "reports" / CUT2 / "changes" / "raw_changes.csv").exists()
    dm = paths.raw_dir(CUT1, two_cuts) / "dm.csv"
    dm.write_text(dm.read_text().replace(",43,", ",44,"))
    assert cli.main(["--root", str(two_cuts), "compare", "--from", CUT1, "--to", CUT2]) == EXIT_MISMATCH
    alerts = compare.load_changes(CUT2, two_cuts)["locked_alerts"]
    assert alerts["file"].tolist() == [f"data/raw/{CUT1}/dm.csv"]
    assert alerts["what"].iloc[0] == "raw export changed after lock"


# --- lock and reproduce --------------------------------------------------------------------------

def test_lock_writes_outputs_and_provenance(two_cuts):
    built(two_cuts, CUT1)
    m = lock.lock_cut(CUT1, two_cuts)
    locked = common.locked_dir(CUT1, two_cuts)
    assert sorted(m["outputs"]) == ["ard.csv", "define.xml", "derived/adsl.csv", "derived/spec.json"]
    for rel, sha in m["outputs"].items():
        assert lock.build.sha256_file(locked / rel) == sha
    assert m["raw"]["dm.csv"] == lock.build.sha256_file(paths.raw_dir(CUT1, two_cuts) / "dm.csv")
    assert m["environment"]["pinned_versions"]["pandas"] == pd.__version__
    assert m["environment"]["requirements_lock_sha256"]
    assert len(m["code"]["commit"] or "") in (0, 40) and m["code"]["dirty"] in (True, False, None)
    assert json.loads((locked / "lock.json").read_text()) == m


def test_relock_with_changed_outputs_needs_force(two_cuts):
    built(two_cuts, CUT1)
    first = lock.lock_cut(CUT1, two_cuts)
    assert lock.lock_cut(CUT1, two_cuts) == first  # same bytes: the lock stands as it was
    (paths.report_dir(CUT1, two_cuts) / "ard.csv").write_text("analysis,param,group,variable,level,stat_name,stat\n")
    with pytest.raises(BadDataError, match=r"already locked.*ard.csv.*--force"):
        lock.lock_cut(CUT1, two_cuts)
    lock.lock_cut(CUT1, two_cuts, force=True)


def test_reproduce_matches_an_untouched_cut(two_cuts):
    built(two_cuts, CUT1)
    lock.lock_cut(CUT1, two_cuts)
    lines = []
    verdicts = reproduce.reproduce_cut(CUT1, two_cuts, rebuild=fake_rebuild, say=lines.append)
    assert all(v.ok for v in verdicts)
    assert "OK   ard.csv: identical (byte for byte)" in lines
    assert lines[-1].startswith(f"{CUT1} reproduces")


def test_reproduce_fails_naming_what_moved_after_a_raw_value_changed(two_cuts):
    built(two_cuts, CUT1)
    lock.lock_cut(CUT1, two_cuts)
    dm = paths.raw_dir(CUT1, two_cuts) / "dm.csv"
    dm.write_text(dm.read_text().replace(",1,43,", ",1,53,"))   # subject 01-001: AGE 43 -> 53
    lines = []
    with pytest.raises(ReproductionMismatch) as exc:
        reproduce.reproduce_cut(CUT1, two_cuts, rebuild=fake_rebuild, say=lines.append)
    text = "\n".join(lines)
    assert "FAIL raw/dm.csv: raw export CHANGED since lock" in text
    assert "ADSL value changed: USUBJID=SWCART-01-01-001 variable AGE (USUBJID SWCART-01-01-001): " \
           "locked '43' -> rebuilt '53'" in text
    assert "stat_name=mean: locked 45.5 -> rebuilt 50.5 (changed)" in text
    assert "OK   derived/spec.json" in text
    assert "raw/dm.csv" in str(exc.value)


def test_reproduce_cli_exit_codes(two_cuts, monkeypatch, capsys):
    built(two_cuts, CUT1)
    lock.lock_cut(CUT1, two_cuts)
    monkeypatch.setattr(reproduce, "rebuild_subprocess", fake_rebuild)
    monkeypatch.setattr(reproduce.reproduce_cut, "__defaults__",
                        (None, fake_rebuild, False, print))
    assert cli.main(["--root", str(two_cuts), "reproduce", "--cut", CUT1]) == EXIT_OK
    locked_ard = common.locked_dir(CUT1, two_cuts) / "ard.csv"
    original = locked_ard.read_text()
    # a float moved by 2e-11 relative: within the stated tolerance 1e-9, still reproduces
    locked_ard.write_text(original.replace("45.5", "45.500000001"))
    assert cli.main(["--root", str(two_cuts), "reproduce", "--cut", CUT1]) == EXIT_OK
    assert "ard.csv: all 3 results equal (counts exact, other numbers rel. tol. 1e-09)" in capsys.readouterr().out
    # 2e-7 relative: a different result
    locked_ard.write_text(original.replace("45.5", "45.50001"))
    assert cli.main(["--root", str(two_cuts), "reproduce", "--cut", CUT1]) == EXIT_MISMATCH
    # a count differs by one: exact comparison
    locked_ard.write_text(original.replace("AGE,,n,n,2", "AGE,,n,n,3"))
    assert cli.main(["--root", str(two_cuts), "reproduce", "--cut", CUT1]) == EXIT_MISMATCH
    assert "stat_name=n: locked 3 -> rebuilt 2 (changed)" in capsys.readouterr().out
    # an unlocked cut cannot be reproduced: bad input, exit 3
    assert cli.main(["--root", str(two_cuts), "reproduce", "--cut", CUT2]) == 3


def test_lock_records_the_ard_schema_version_and_reproduce_compares_it(two_cuts):
    """lock.json names the ARD schema version; reproduce passes it when equal and names both
    versions (and the re-lock) when the lock predates the current shape."""
    built(two_cuts, CUT1)
    lock.lock_cut(CUT1, two_cuts)
    manifest = common.lock_manifest(CUT1, two_cuts)
    assert manifest["ard_schema_version"] == ard.ARD_SCHEMA_VERSION
    assert reproduce.compare_ard_schema(manifest, CUT1).ok
    old = {k: v for k, v in manifest.items() if k != "ard_schema_version"}   # a lock written before versioning
    verdict = reproduce.compare_ard_schema(old, CUT1)
    assert not verdict.ok
    assert f"locked with ARD schema version 1, this code writes version {ard.ARD_SCHEMA_VERSION}" in verdict.verdict
    assert f"lock --cut {CUT1} --force --reason" in verdict.verdict


def test_ard_tolerance_counts_exact_floats_relative():
    assert common.stats_equal("12", "12") and not common.stats_equal("12", "13")
    assert common.stats_equal("0.123456789012", "0.1234567890125")      # rel diff 4e-13
    assert not common.stats_equal("0.5", "0.5000001")                    # rel diff 2e-7 > 1e-9
    assert common.stats_equal(None, None) and not common.stats_equal("1", None)
    assert common.stats_equal("NaN", "nan") and common.stats_equal("Yes", "Yes")


# --- identifiers ----------------------------------------------------------------------------------

def test_clean_outputs_pass_the_identifier_check(two_cuts):
    built(two_cuts, CUT1)
    (paths.report_dir(CUT1, two_cuts) / "report.html").write_text(
        "<html><p>Identifiers INITIALS, BRTHDTC, HOSPRN are dropped at derivation.</p>"
        "<table><tr><th>AGE</th></tr><tr><td>43</td></tr></table></html>")
    identifiers.check_identifiers(CUT1, two_cuts)


def test_a_hospital_number_in_the_report_html_is_caught(two_cuts):
    built(two_cuts, CUT1)
    (paths.report_dir(CUT1, two_cuts) / "report.html").write_text("<html>\n<p>listing: H0067890</p></html>")
    with pytest.raises(BadDataError) as exc:
        identifiers.check_identifiers(CUT1, two_cuts)
    msg = str(exc.value)
    assert f"reports/{CUT1}/report.html: identifier HOSPRN (subject 01-002) found as a value: line 2" in msg


def test_a_leaking_derived_dataset_is_caught_by_column_and_by_value(two_cuts):
    built(two_cuts, CUT1)
    adsl = paths.derived_dir(CUT1, two_cuts) / "adsl.csv"
    df = pd.read_csv(adsl, dtype=str)
    df["BRTHDTC"] = ["1980-05-17", "1975-11"]
    df["NOTE"] = ["born 1980-05-17", ""]
    df.to_csv(adsl, index=False)
    with pytest.raises(BadDataError) as exc:
        identifiers.check_identifiers(CUT1, two_cuts)
    msg = str(exc.value)
    assert f"data/derived/{CUT1}/adsl.csv: identifier BRTHDTC (column name) found as a column" in msg
    assert "identifier BRTHDTC (subject 01-001) found as a value: column NOTE, row 1" in msg
    # the partial birth date 1975-11 is too common a string to search for (documented limit)
    assert "subject 01-002" not in msg


def test_identifier_table_header_in_html_is_caught(two_cuts):
    built(two_cuts, CUT1)
    (paths.report_dir(CUT1, two_cuts) / "listing.html").write_text("<table><tr><th>INITIALS</th></tr></table>")
    with pytest.raises(BadDataError, match="identifier INITIALS .* as a table column"):
        identifiers.check_identifiers(CUT1, two_cuts)


# --- Define-XML ------------------------------------------------------------------------------------

def test_define_xml_structure_matches_spec():
    xml = define_xml.build_define(SPEC, CUT1, href_prefix="derived/")
    assert define_xml.check_define(xml, SPEC) == []
    doc = etree.fromstring(xml)
    ns = {"odm": define_xml.ODM_NS, "def": define_xml.DEF_NS}
    assert doc.tag == f"{{{define_xml.ODM_NS}}}ODM" and doc.nsmap["def"] == define_xml.DEF_NS
    mdv = doc.find("odm:Study/odm:MetaDataVersion", ns)
    assert mdv.get(f"{{{define_xml.DEF_NS}}}DefineVersion") == "2.0.0"
    usubjid = doc.find(".//odm:ItemGroupDef[@OID='IG.ADSL']/odm:ItemRef[@ItemOID='IT.ADSL.USUBJID']", ns)
    assert (usubjid.get("KeySequence"), usubjid.get("Mandatory"), usubjid.get("MethodOID")) == \
        ("1", "Yes", "MT.ADSL.USUBJID")
    method = doc.find(".//odm:MethodDef[@OID='MT.ADSL.USUBJID']/odm:Description/odm:TranslatedText", ns)
    assert method.text == "STUDYID || '-' || SUBJID"
    age = doc.find(".//odm:ItemDef[@OID='IT.ADSL.AGE']", ns)
    assert (age.get("DataType"), age.get("Length")) == ("float", "8")
    assert age.find("def:Origin", ns).get("Type") == "Predecessor"
    assert doc.find(".//def:leaf", ns).get(f"{{{define_xml.XLINK_NS}}}href") == "derived/adsl.xpt"
    # same spec, same bytes (reproduce compares define.xml byte for byte)
    assert define_xml.build_define(SPEC, CUT1, href_prefix="derived/") == xml


def test_define_xml_structure_check_catches_a_wrong_label():
    xml = define_xml.build_define(SPEC, CUT1)
    bad = json.loads(json.dumps(SPEC))
    bad["datasets"][0]["variables"][1]["label"] = "Age at consent"
    bad["datasets"][0]["variables"].append({"name": "SEX", "label": "Sex", "type": "Char", "length": 1,
                                            "origin": "Predecessor", "source": "DM.SEX", "derivation": ""})
    problems = define_xml.check_define(xml, bad)
    assert problems == ["IT.ADSL.AGE: label 'Age' != spec 'Age at consent'", "IT.ADSL.SEX: no ItemDef"]


XSD = os.environ.get("DEFINE_XML_XSD")


@pytest.mark.skipif(not XSD, reason="CDISC Define-XML 2.0 schema not shipped: set DEFINE_XML_XSD="
                                    "/path/to/cdisc-define-2.0/define2-0-0.xsd (with its ODM 1.3.2 imports)")
def test_define_xml_is_valid_against_the_cdisc_schema():
    xml = define_xml.build_define(SPEC, CUT1)
    assert define_xml.validate_schema(xml, Path(XSD)) == []
    # and the schema is really checking: an ItemDef without its required DataType is rejected
    broken = xml.replace(b' DataType="float"', b"", 1)
    assert define_xml.validate_schema(broken, Path(XSD))


def test_compare_defaults_to_latest_versus_previous_and_rejects_the_first_cut(two_cuts, capsys):
    assert cli.main(["--root", str(two_cuts), "compare", "--no-write"]) == EXIT_OK
    assert f"Changes from {CUT1} to {CUT2}" in capsys.readouterr().out
    assert not (two_cuts / "reports" / CUT2 / "changes").exists()
    assert cli.main(["--root", str(two_cuts), "compare", "--to", CUT1]) == 3
    assert "first data cut" in capsys.readouterr().err
    assert cli.main(["--root", str(two_cuts), "compare", "--from", "cut-1999-01-01"]) == 3


def test_reproduce_names_the_raw_cell_that_moved(tmp_path):
    d = write_cut(tmp_path, CUT1, {"dm": DM1})
    locked = (d / "dm.csv").read_bytes()
    (d / "dm.csv").write_text(DM1.replace(",2,48,", ",2,49,"))
    assert reproduce.raw_value_changes(locked, d, "dm.csv") == [
        "dm SUBJID=01-002 AGE value changed: '48' -> '49'"]


def test_lock_cli_builds_the_cut_then_locks_it(two_cuts, monkeypatch, capsys):
    """`lock` brings every step up to date first (fake derive/analyze/rtf/render, the real define,
    changes and identifier steps), then writes data/locked/<cut>/."""
    import sys
    import types
    mod = types.ModuleType("fake_steps_for_lock")
    mod.validate = lambda cut, root=None: None
    mod.derive = lambda cut, root=None: fake_derive(cut, root)
    mod.analyze = lambda cut, root=None: fake_analyze(cut, root)
    mod.render = lambda cut, root=None: (paths.report_dir(cut, root) / "index.html").write_text("<html/>")
    mod.rtf = lambda cut, root=None: None   # the RTF tables are not part of a lock
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    for s in ("validate", "derive", "analyze", "rtf", "render"):
        monkeypatch.setitem(build.DEPENDENCIES, s, dataclasses.replace(build.DEPENDENCIES[s], entry=f"{mod.__name__}:{s}"))
    assert cli.main(["--root", str(two_cuts), "lock", "--cut", CUT1]) == EXIT_OK
    err = capsys.readouterr().err
    assert "[identifiers] cut-2024-06-30 done" in err and f"locked {CUT1}" in err
    m = common.lock_manifest(CUT1, two_cuts)
    assert sorted(m["outputs"]) == ["ard.csv", "define.xml", "derived/adsl.csv", "derived/spec.json"]
    # the new lock is an input of the 'changes' step (it calls out changes to locked cuts), so
    # locking again re-runs changes and what follows it once; the lock itself is not rewritten
    lock_json = (common.locked_dir(CUT1, two_cuts) / "lock.json").read_bytes()
    assert cli.main(["--root", str(two_cuts), "lock", "--cut", CUT1]) == EXIT_OK
    err = capsys.readouterr().err
    assert [ln.split()[0] for ln in err.splitlines() if " running " in ln] == ["[changes]", "[render]", "[identifiers]"]
    assert (common.locked_dir(CUT1, two_cuts) / "lock.json").read_bytes() == lock_json
    assert cli.main(["--root", str(two_cuts), "lock", "--cut", CUT1]) == EXIT_OK
    assert " running " not in capsys.readouterr().err
