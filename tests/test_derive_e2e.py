"""End to end: derive every shipped data cut (data/raw/<cut>/) in a scratch tree and check the
invariants of the datasets, and that two runs give byte-identical files."""

from __future__ import annotations

import hashlib
import shutil

import pandas as pd
import pytest

from analysis import paths
from analysis.derive.pipeline import derive_cut
from analysis.raw_io import read_form_text
from analysis.raw_spec import IDENTIFIER_COLUMNS

SHIPPED = paths.list_cuts(paths.REPO_ROOT)
pytestmark = pytest.mark.skipif(not SHIPPED, reason="no data cut in data/raw/ yet (python -m analysis simulate)")


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module", params=SHIPPED)
def cut(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    raw = paths.raw_dir(request.param, paths.REPO_ROOT)
    shutil.copytree(raw, paths.raw_dir(request.param, root))
    out = derive_cut(request.param, root)
    data = {n: pd.read_parquet(out / f"{n}.parquet") for n in ("adsl", "adtte", "admrd", "adae")}
    return request.param, root, out, raw, data


def test_adsl_one_row_per_subject_of_both_sources(cut):
    _, _, _, raw, d = cut
    dm, ext = read_form_text(raw, "dm"), read_form_text(raw, "ext")
    assert d["adsl"]["USUBJID"].is_unique
    assert len(d["adsl"]) == len(dm) + len(ext)
    assert (d["adsl"]["COHORT"] == "SANDWICH").sum() == len(dm)


def test_adtte_invariants(cut):
    name, _, _, _, d = cut
    t, sl = d["adtte"], d["adsl"]
    assert not t.duplicated(["USUBJID", "PARAMCD"]).any()
    assert (t["AVAL"] >= 1).all() and set(t["CNSR"]) <= {0, 1}
    assert (t["ADT"] <= t["DCUTDT"]).all() and (t["DCUTDT"] == pd.Timestamp(paths.cut_date(name))).all()
    assert set(t["USUBJID"]) <= set(sl["USUBJID"])
    assert ((t["ADT"] - t["STARTDT"]).dt.days + 1 == t["AVAL"]).all()
    assert ((t["CNSR"] == 1) == (t["EVNTTYPE"] == 0)).all()
    assert set(t.loc[t.PARAMCD == "RELNRM", "EVNTTYPE"]) <= {0, 1, 2}
    by = {p: g.set_index("USUBJID") for p, g in t.groupby("PARAMCD")}
    assert set(by["LFS"].index) <= set(by["OS"].index)
    assert set(by["LFS"].index) == set(sl.loc[sl.LFSFL == "Y", "USUBJID"])
    cr = by["OSCR"]
    assert (cr["AVAL"] - cr["ENTRY"] == by["OS"]["AVAL"].reindex(cr.index)).all()
    assert (by["LFS"]["CNSR"] == by["RELNRM"]["CNSR"].reindex(by["LFS"].index)).all()


def test_admrd_and_adae_cover_the_raw_records(cut):
    name, _, _, raw, d = cut
    mrd = read_form_text(raw, "mrd")
    assert (d["admrd"]["BESTFL"] == "N").sum() == len(mrd)
    best = d["admrd"].loc[d["admrd"]["BESTFL"] == "Y"]
    assert set(best["AVALC"]) <= {"NEGATIVE", "POSITIVE", "NOT EVALUABLE"}
    assert len(best) == 2 * (d["adsl"]["SAFFL"] == "Y").sum()
    ae = read_form_text(raw, "ae")
    assert len(d["adae"]) <= len(ae) and (d["adae"]["ASTDT"] <= pd.Timestamp(paths.cut_date(name))).all()
    assert not d["adae"].duplicated(["USUBJID", "AESEQ"]).any()


def test_no_identifier_value_in_any_derived_file(cut):
    _, _, out, raw, _ = cut
    dm = read_form_text(raw, "dm")
    needles = {v.encode() for c in IDENTIFIER_COLUMNS if c in dm for v in dm[c].dropna() if len(v) >= 5}
    for p in out.iterdir():
        blob = p.read_bytes()
        assert not [n for n in needles if n in blob], p.name


def test_second_run_is_byte_identical(cut):
    name, root, out, _, _ = cut
    first = _digests(out)
    assert _digests(derive_cut(name, root)) == first
