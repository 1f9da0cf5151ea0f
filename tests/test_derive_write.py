"""derive_cut output: files, SAS transport v5 with labels, spec.json, byte-identical reruns,
all-or-nothing writing. Runs on the hand-made cut in a scratch tree (ANALYSIS_ROOT-style root)."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pandas as pd
import pyreadstat
import pytest

from analysis.derive import pipeline
from analysis.derive.pipeline import derive_cut
from analysis.derive.write import fix_xpt_timestamps, sas_stamp
from analysis.errors import BadDataError
from tests.test_derive_cases import CUT, case_text_forms, write_case_cut

FILES = sorted(f"{n}.{e}" for n in ("adsl", "adtte", "admrd", "adae") for e in ("parquet", "xpt")) + ["spec.json"]


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def derived(tmp_path_factory):
    root = tmp_path_factory.mktemp("derive")
    write_case_cut(root)
    return root, derive_cut(CUT, root)


def test_writes_every_dataset_in_both_formats_and_the_spec(derived):
    root, out = derived
    assert out == root / "data" / "derived" / CUT
    assert sorted(p.name for p in out.iterdir()) == FILES


def test_rerun_is_byte_identical(derived, tmp_path):
    root, out = derived
    first = _digests(out)
    time.sleep(1.1)  # the XPT header clock would tick
    second = _digests(derive_cut(CUT, root))
    assert first == second
    # and in a different folder (paths must not leak into the files)
    write_case_cut(tmp_path)
    assert _digests(derive_cut(CUT, tmp_path)) == first


def test_xpt_is_version_5_with_labels_and_dates_like_the_parquet(derived):
    _, out = derived
    spec = json.loads((out / "spec.json").read_text())
    for entry in spec["datasets"]:
        name = entry["name"].lower()
        head = (out / f"{name}.xpt").read_bytes()[:80 * 3]
        assert head.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD")   # v5 (v8 says LIBV8)
        assert sas_stamp(pd.Timestamp("2025-06-30")) in head and b"30JUN25:00:00:00" in head
        data, meta = pyreadstat.read_xport(str(out / f"{name}.xpt"))
        assert meta.table_name == entry["name"] and meta.file_label == entry["label"]
        assert meta.column_names == [v["name"] for v in entry["variables"]]
        assert meta.column_names_to_labels == {v["name"]: v["label"] for v in entry["variables"]}
        for v in entry["variables"]:
            assert len(v["name"]) <= 8 and len(v["label"]) <= 40
        parquet = pd.read_parquet(out / f"{name}.parquet")
        assert len(parquet) == len(data) == entry["records"]
        dates = [v["name"] for v in entry["variables"] if v.get("format") == "DATE9."]
        for col in dates:  # pyreadstat turns DATE9. numbers back into dates
            assert (pd.to_datetime(data[col]).fillna(pd.Timestamp(0)) == parquet[col].fillna(pd.Timestamp(0))).all()


def test_spec_json_describes_every_variable(derived):
    _, out = derived
    spec = json.loads((out / "spec.json").read_text())
    assert [d["name"] for d in spec["datasets"]] == ["ADSL", "ADTTE", "ADMRD", "ADAE"]
    assert spec["cut"] == CUT and set(spec["raw_sha256"]) >= {"dm.csv", "ext.csv"}
    for d in spec["datasets"]:
        df = pd.read_parquet(out / f"{d['name'].lower()}.parquet")
        assert list(df.columns) == [v["name"] for v in d["variables"]]
        assert not df.duplicated(d["keys"]).any()
        for v in d["variables"]:
            assert v["type"] in ("Char", "Num") and v["origin"] in ("Collected", "Derived", "Assigned", "Predecessor")
            if v["type"] == "Char":
                assert v["length"] >= max([len(s.encode()) for s in df[v["name"]].dropna()], default=1)
    adtte = next(d for d in spec["datasets"] if d["name"] == "ADTTE")
    aval = next(v for v in adtte["variables"] if v["name"] == "AVAL")
    assert "ADT - STARTDT + 1" in aval["derivation"]


def test_no_identifier_in_any_file(derived):
    _, out = derived
    for p in out.iterdir():
        blob = p.read_bytes()
        for needle in (b"INITIALS", b"BRTHDTC", b"HOSPRN", b"H123", b"1990-01"):
            assert needle not in blob, (p.name, needle)


@pytest.fixture(params=[True, False], ids=["after-a-build", "clean-state"])
def earlier(request, tmp_path):
    """(root, derived folder, {file: sha256} before) of a scratch tree holding the hand-made raw
    cut, with an earlier derive (after-a-build) or none (clean-state: no data/derived/ at all)."""
    write_case_cut(tmp_path)
    out = derive_cut(CUT, tmp_path) if request.param else tmp_path / "data" / "derived" / CUT
    return tmp_path, out, _digests(out) if request.param else None


def test_failure_midway_leaves_previous_files_untouched(earlier, monkeypatch):
    root, out, before = earlier
    calls = {"n": 0}
    real = pipeline.write_dataset

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "write_dataset", failing)
    with pytest.raises(OSError, match="simulated"):
        derive_cut(CUT, root)
    if before is None:
        assert not out.exists(), "a failed first derive leaves no (half) folder"
    else:
        assert _digests(out) == before
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no scratch left


def test_bad_raw_data_stops_before_writing(earlier):
    root, out, before = earlier
    forms = case_text_forms()
    forms["ds"].loc[0, "DTHDTC"] = "2024-13-01"
    write_case_cut(root, forms=forms)
    with pytest.raises(BadDataError, match=r"ds.csv column DTHDTC: subject 01-001: '2024-13-01'"):
        derive_cut(CUT, root)
    if before is None:
        assert not out.exists()
    else:
        assert _digests(out) == before, "the previous derived datasets stay as they were"


def test_missing_form_is_bad_data(tmp_path):
    folder = write_case_cut(tmp_path)
    os.remove(folder / "mrd.csv")
    with pytest.raises(BadDataError, match="mrd.csv: raw form missing"):
        derive_cut(CUT, tmp_path)


def test_xpt_stamp_fix_touches_only_headers():
    body = b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!000000000000000000000000000000  "
    data = (b"SAS" + b" " * 61 + b"25NOV26:18:19:41").ljust(80) + body + b"01JAN20:00:00:00".ljust(80)
    fixed = fix_xpt_timestamps(data, pd.Timestamp("2025-06-30"))
    assert fixed[:80].endswith(b"30JUN25:00:00:00") and fixed.endswith(b"01JAN20:00:00:00".ljust(80))


def test_an_early_cut_with_empty_forms_derives(tmp_path):
    """First cut of a study: nobody mobilized or transplanted yet, no MRD sample, no AE."""
    forms = case_text_forms()
    for name in ("mob", "hsct", "mrd", "ae"):
        forms[name] = forms[name].iloc[0:0]
    forms["cart"] = forms["cart"].loc[forms["cart"].PHASE == "CAR-T1"]
    forms["ds"].loc[forms["ds"].EOTSTAT == "COMPLETED", "EOTSTAT"] = "ONGOING"
    write_case_cut(tmp_path, forms=forms)
    out = derive_cut(CUT, tmp_path)
    adsl = pd.read_parquet(out / "adsl.parquet")
    adtte = pd.read_parquet(out / "adtte.parquet")
    admrd = pd.read_parquet(out / "admrd.parquet")
    assert (adsl.loc[adsl.COHORT == "SANDWICH", "COMPLFL"] == "N").all()
    assert not {"OSPP", "LFSPP", "MRDDURFC", "MRDDURNG"} & set(adtte.PARAMCD)
    assert len(pd.read_parquet(out / "adae.parquet")) == 0
    assert set(admrd.BESTSTAT) == {"NOT EVALUABLE"} and len(admrd) == 2 * (adsl.SAFFL == "Y").sum()


def test_a_character_value_beyond_the_v5_limit_is_refused(tmp_path):
    forms = case_text_forms()
    forms["ae"].loc[0, "AETERM"] = "x" * 201
    write_case_cut(tmp_path, forms=forms)
    with pytest.raises(BadDataError, match="ADAE.AETERM: a value is longer than 200 bytes"):
        derive_cut(CUT, tmp_path)
