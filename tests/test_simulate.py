"""Tests of the SYNTHETIC raw-export simulator (analysis.simulate).

Contract checks are written here from analysis.raw_spec directly (independently of the Great
Expectations suites), so the simulator's own output is held to the contract it claims.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.raw_io import read_form, read_form_text, read_manifest, sha256_file
from analysis.raw_spec import CTCAE_TERMS, FORMS, MANIFEST, STUDYID
from analysis.simulate import CORRECTIONS, CUTS, DEFAULT_SEED, PLANTED_TRUTH, params, simulate_study, write_cuts

REPO = Path(__file__).resolve().parent.parent
PDATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


@pytest.fixture(scope="module")
def raw_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("raw")
    write_cuts(root)
    return root


def _cut_dir(raw_root: Path, cut: str) -> Path:
    return raw_root / cut


def _date(text: str, end: bool = False) -> date:
    """ISO date; a partial YYYY-MM at the first (start) or last (end) day (SAP 2.3)."""
    if len(text) == 7:
        first = date.fromisoformat(text + "-01")
        if not end:
            return first
        nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return nxt - timedelta(days=1)
    return date.fromisoformat(text)


# --- determinism, overwrite protection, manifest ---------------------------------------------------------
def test_same_seed_gives_byte_identical_files(raw_root, tmp_path):
    write_cuts(tmp_path)
    for cut in CUTS:
        names = sorted(p.name for p in (raw_root / cut).iterdir())
        assert names == sorted(p.name for p in (tmp_path / cut).iterdir())
        for name in names:
            assert (raw_root / cut / name).read_bytes() == (tmp_path / cut / name).read_bytes(), (cut, name)


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True])
def test_bad_seed_is_refused_before_anything_is_written(tmp_path, seed):
    with pytest.raises(ValueError, match="seed"):
        write_cuts(tmp_path, seed=seed)
    assert list(tmp_path.iterdir()) == []


def test_other_seed_gives_other_data(raw_root, tmp_path):
    write_cuts(tmp_path, seed=DEFAULT_SEED + 1)
    assert (raw_root / CUTS[-1] / "dm.csv").read_bytes() != (tmp_path / CUTS[-1] / "dm.csv").read_bytes()


def test_refuses_to_overwrite_raw_without_force(raw_root, tmp_path):
    write_cuts(tmp_path)
    before = (tmp_path / CUTS[0] / "ae.csv").read_bytes()
    with pytest.raises(FileExistsError, match="read-only"):
        write_cuts(tmp_path, seed=1)
    assert (tmp_path / CUTS[0] / "ae.csv").read_bytes() == before
    write_cuts(tmp_path, seed=1, force=True)
    assert (tmp_path / CUTS[0] / "ae.csv").read_bytes() != before


@pytest.mark.parametrize("previous_build", [True, False], ids=["after-a-build", "clean-state"])
def test_a_failing_cut_leaves_nothing_half_written(tmp_path, monkeypatch, previous_build):
    """Each cut is written whole or not at all (analysis.atomic.atomic_dir): from a clean state the
    failing cut is absent; over an earlier simulation (--force, another seed) it stays as it was."""
    import analysis.simulate as sim

    before = {}
    if previous_build:
        write_cuts(tmp_path, seed=DEFAULT_SEED + 7)
        before = {p.name: p.read_bytes() for p in (tmp_path / CUTS[-1]).iterdir()}
    real = sim.manifest_bytes

    def fail_on_last_cut(study, cut, files):   # raised after the CSVs are in the scratch folder
        if cut == CUTS[-1]:
            raise RuntimeError("disk full")
        return real(study, cut, files)

    monkeypatch.setattr(sim, "manifest_bytes", fail_on_last_cut)
    with pytest.raises(RuntimeError, match="disk full"):
        write_cuts(tmp_path, force=previous_build)
    if previous_build:
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(CUTS)
        assert {p.name: p.read_bytes() for p in (tmp_path / CUTS[-1]).iterdir()} == before
    else:
        assert sorted(p.name for p in tmp_path.iterdir()) == list(CUTS[:-1])
    assert (tmp_path / CUTS[0] / MANIFEST).exists()


def test_manifest_checksums_and_row_counts_match(raw_root):
    for cut in CUTS:
        d = raw_root / cut
        m = read_manifest(d)
        assert m["study"] == STUDYID and m["cut"] == cut and m["cut_date"] == cut[4:]
        assert m["synthetic"] is True and m["generator"] == "analysis.simulate" and m["seed"] == DEFAULT_SEED
        assert sorted(m["files"]) == sorted(f"{f}.csv" for f in FORMS)
        for name, info in m["files"].items():
            assert sha256_file(d / name) == info["sha256"]
            assert len(read_form_text(d, name[:-4])) == info["rows"]
        text = (d / MANIFEST).read_text()
        assert text == json.dumps(m, sort_keys=True, indent=2) + "\n"


def test_committed_raw_data_is_what_the_generator_writes(raw_root):
    """data/raw/ in the repository must be regenerable byte for byte from the default seed."""
    for cut in CUTS:
        committed = REPO / "data" / "raw" / cut
        if not committed.exists():
            pytest.skip(f"{committed} not generated yet")
        for f in sorted(p.name for p in (raw_root / cut).iterdir()):
            assert (committed / f).read_bytes() == (raw_root / cut / f).read_bytes(), (cut, f)


# --- the raw contract ------------------------------------------------------------------------------------------
def contract_violations(cut_dir: Path) -> list[str]:
    """Column-level rules of analysis.raw_spec: header, required, type, codes, range, pattern, key."""
    problems = []
    for name, form in FORMS.items():
        raw = read_form_text(cut_dir, form)
        if list(raw.columns) != form.column_names:
            problems.append(f"{name}: header {list(raw.columns)}")
            continue
        for col in form.columns:
            values = raw[col.name].dropna()
            if col.required and raw[col.name].isna().any():
                problems.append(f"{name}.{col.name}: missing in rows {list(raw.index[raw[col.name].isna()])[:5]}")
            if col.type == "date":
                bad = [v for v in values if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v)]
                bad += [v for v in values if v not in bad and not _valid_date(v)]
            elif col.type == "pdate":
                bad = [v for v in values if not PDATE.fullmatch(v) or not _valid_date(v if len(v) == 10 else v + "-01")]
            elif col.type == "int":
                bad = [v for v in values if not re.fullmatch(r"-?\d+", v)]
            elif col.type == "float":
                bad = [v for v in values if not _is_float(v)]
            else:
                bad = []
            if bad:
                problems.append(f"{name}.{col.name}: not {col.type}: {bad[:3]}")
                continue
            typed = values.astype(float) if col.type in ("int", "float") else values
            if col.codes is not None:
                codes = {str(c) for c in col.codes} if col.type == "str" else set(col.codes)
                out = [v for v in typed if v not in codes]
                if out:
                    problems.append(f"{name}.{col.name}: not in code list: {sorted(set(map(str, out)))[:5]}")
            if col.min is not None and (typed < col.min).any():
                problems.append(f"{name}.{col.name}: below {col.min}")
            if col.max is not None and (typed > col.max).any():
                problems.append(f"{name}.{col.name}: above {col.max}")
            if col.pattern is not None:
                out = [v for v in values if not re.fullmatch(col.pattern, v)]
                if out:
                    problems.append(f"{name}.{col.name}: pattern {col.pattern}: {out[:3]}")
        if raw.duplicated(list(form.key)).any():
            problems.append(f"{name}: duplicate key {form.key}")
    return problems


def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
        return True
    except ValueError:
        return False


def _is_float(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


@pytest.mark.parametrize("cut", CUTS)
def test_every_form_meets_the_raw_contract(raw_root, cut):
    assert contract_violations(raw_root / cut) == []


def _forms(raw_root: Path, cut: str) -> dict[str, pd.DataFrame]:
    return {name: read_form(raw_root / cut, name) for name in FORMS}


@pytest.mark.parametrize("cut", CUTS)
def test_protocol_order_and_schedule_intervals(raw_root, cut):
    f = _forms(raw_root, cut)
    d = lambda s: pd.to_datetime(s)  # noqa: E731
    cart = f["cart"]
    infusion = cart.pivot_table(index="SUBJID", columns=["PHASE", "PRODUCT"], values="INFDTC", aggfunc="first")
    dm = f["dm"].set_index("SUBJID")
    cd22, cd19 = d(infusion[("CAR-T1", "CD22")]), d(infusion[("CAR-T1", "CD19")])
    gap = (cd19 - cd22).dt.days.dropna()
    assert gap.between(1, 3).all(), "CD19 must follow CD22 by 1-3 days"
    assert (d(dm.loc[cd22.index, "ENRLDTC"]) <= cd22).all(), "enrollment <= CAR-T1"
    mob = f["mob"].set_index("SUBJID")
    after = (d(mob["MOBSTDTC"]) - cd22.reindex(mob.index)).dt.days
    assert after.between(40, 50).all(), "mobilisation starts ~6-7 weeks after CAR-T1"
    coll = (d(mob["COLLDTC"]) - cd22.reindex(mob.index)).dt.days.dropna()
    assert coll.between(42, 56).all(), "collection 6-8 weeks after CAR-T1"
    ok = mob["MOBSTAT"] == "SUCCESS"
    assert (mob.loc[ok, "CD34"] >= 2).all() and mob.loc[ok, "COLLDTC"].notna().all()
    assert (mob.loc[~ok, "CD34"].dropna() < 2).all()
    h = f["hsct"].set_index("SUBJID")
    cond_gap = (d(h["HSCTDTC"]) - d(h["CONDSTDTC"])).dt.days
    assert cond_gap.between(6, 7).all(), "BuCy starts ~6 days before HSCT"
    coll_to_hsct = (d(h["HSCTDTC"]) - d(mob.loc[h.index, "COLLDTC"])).dt.days
    assert coll_to_hsct.between(24, 32).all(), "HSCT ~4 weeks after collection"
    assert (d(mob.loc[h.index, "COLLDTC"]) < d(h["CONDSTDTC"])).all(), "collection < conditioning"
    assert (mob.loc[h.index, "MOBSTAT"] == "SUCCESS").all()
    neut = (d(h["NEUTDTC"]) - d(h["HSCTDTC"])).dt.days.dropna()
    plt = (d(h["PLTDTC"]) - d(h["HSCTDTC"])).dt.days.dropna()
    assert neut.between(9, 15).all() and plt.between(12, 23).all()
    if ("CAR-T2", "CD22") in infusion.columns:
        t2 = infusion[("CAR-T2", "CD22")].dropna()
        assert (infusion.loc[t2.index, ("CAR-T2", "CD19")] == t2).all(), "CAR-T2 products on one day"
        assert ((d(t2) - d(h.loc[t2.index, "HSCTDTC"])).dt.days == 2).all(), "CAR-T2 two days after HSCT"
    assert cart["DOSE"].between(2e6, 1e7).all()


@pytest.mark.parametrize("cut", CUTS)
def test_no_record_after_death_or_cut_and_none_before_enrollment(raw_root, cut):
    f = _forms(raw_root, cut)
    cut_day = date.fromisoformat(cut[4:])
    enrl = f["dm"].set_index("SUBJID")["ENRLDTC"].map(date.fromisoformat)
    ds = f["ds"].set_index("SUBJID")
    death = ds["DTHDTC"].dropna().map(date.fromisoformat)
    last_alive = ds["LSTALVDTC"].map(date.fromisoformat)
    dated = {"cart": ["INFDTC"], "mob": ["MOBSTDTC", "COLLDTC"], "hsct": ["CONDSTDTC", "HSCTDTC", "NEUTDTC", "PLTDTC"],
             "rs": ["RSDTC"], "mrd": ["MRDDTC"], "ae": ["AESTDTC", "AEENDTC"], "ds": ["DCDTC", "LSTALVDTC", "DTHDTC"]}
    for form, cols in dated.items():
        for col in cols:
            for subj, text in f[form][["SUBJID", col]].dropna().itertuples(index=False):
                when = _date(text, end=col == "AEENDTC")
                assert when <= cut_day, (form, subj, col, text)
                assert when <= last_alive[subj], (form, subj, col, text, "after LSTALVDTC")
                if subj in death.index:
                    assert when <= death[subj], (form, subj, col, text, "after death")
                if form in ("rs", "mrd", "cart"):
                    assert when >= enrl[subj], (form, subj, col, "before enrollment")
    for text in f["ext"]["LSTFUDTC"]:
        assert date.fromisoformat(text) <= cut_day


@pytest.mark.parametrize("cut", CUTS)
def test_clinical_consistency_of_records(raw_root, cut):
    f = _forms(raw_root, cut)
    rs = f["rs"]
    assert (rs.loc[rs["RSORRES"] == "RELAPSE", "BMBLAST"] >= 5).all()
    assert (rs.loc[rs["RSORRES"].isin(["CR", "CRi"]), "BMBLAST"] < 5).all()
    mrd = f["mrd"]
    und = mrd["MRDUND"] == "Y"
    assert mrd.loc[und, "MRDLEVEL"].isna().all() and mrd.loc[~und, "MRDLEVEL"].notna().all()
    assert (mrd.loc[~und, "MRDLEVEL"] >= mrd.loc[~und, "MRDSENS"]).all(), "a detected level is above the LoD"
    ae = f["ae"]
    uncoded = ae["AEDECOD"].isna()   # verbatim terms not yet coded: both blank, never fatal (SAP 5.1)
    assert ae.loc[uncoded, "AEBODSYS"].isna().all() and (ae.loc[uncoded, "AETOXGR"] < 5).all()
    for term, soc, grade in ae.loc[~uncoded, ["AEDECOD", "AEBODSYS", "AETOXGR"]].itertuples(index=False):
        assert CTCAE_TERMS[term][0] == soc and grade in CTCAE_TERMS[term][1], (term, soc, grade)
    ds = f["ds"].set_index("SUBJID")
    assert set(ds.index) == set(f["dm"]["SUBJID"])
    dead = ds["DTHFL"] == "Y"
    assert ds.loc[dead, ["DTHDTC", "DTHCAUS"]].notna().all().all()
    assert ds.loc[~dead, ["DTHDTC", "DTHCAUS"]].isna().all().all()
    assert (ds.loc[dead, "LSTALVDTC"] == ds.loc[dead, "DTHDTC"]).all()
    stopped = ds["EOTSTAT"] == "DISCONTINUED"
    assert ds.loc[stopped, ["DCREAS", "DCDTC"]].notna().all().all()
    assert ds.loc[~stopped, ["DCREAS", "DCDTC"]].isna().all().all()
    # grade 5 <=> non-relapse death: the fatal AE ends on the death date
    fatal = ae[ae["AETOXGR"] == 5]
    for subj, end in fatal[["SUBJID", "AEENDTC"]].itertuples(index=False):
        assert ds.loc[subj, "DTHDTC"] == end, subj
    assert fatal["SUBJID"].is_unique
    completed = ds.index[ds["EOTSTAT"] == "COMPLETED"]
    t2 = f["cart"][f["cart"]["PHASE"] == "CAR-T2"]["SUBJID"].unique()
    assert set(completed) == set(t2), "COMPLETED exactly when CAR-T2 was given"


@pytest.mark.parametrize("cut", CUTS)
def test_dates_in_clinical_order_within_records(raw_root, cut):
    """AE onset <= resolution (partial dates imputed per SAP 2.3), AEs on/after enrollment,
    diagnosis <= remission <= enrollment, and the registry's own order of events."""
    f = _forms(raw_root, cut)
    enrl = f["dm"].set_index("SUBJID")["ENRLDTC"].map(date.fromisoformat)
    for subj, st, en in f["ae"][["SUBJID", "AESTDTC", "AEENDTC"]].itertuples(index=False):
        assert _date(st) >= enrl[subj], (subj, st)
        if isinstance(en, str):
            assert _date(st) <= _date(en, end=True), (subj, st, en)
    for subj, diag, cr in f["bl"][["SUBJID", "DIAGDTC", "CRDTC"]].itertuples(index=False):
        assert _date(diag) <= date.fromisoformat(cr) <= enrl[subj], subj
    for row in f["ext"].itertuples(index=False):
        chain = [_date(row.DIAGDTC), date.fromisoformat(row.CRDTC), date.fromisoformat(row.HSCTDTC)]
        chain += [date.fromisoformat(v) for v in (row.RELDTC, row.DTHDTC) if isinstance(v, str)]
        assert chain == sorted(chain) and chain[1] < chain[2], row.PATID
        assert max(chain) <= date.fromisoformat(row.LSTFUDTC), row.PATID
        if isinstance(row.DTHDTC, str):
            assert row.DTHDTC == row.LSTFUDTC and isinstance(row.DTHCAUS, str), row.PATID
        gap = (date.fromisoformat(row.HSCTDTC) - date.fromisoformat(row.CRDTC)).days
        assert 55 <= gap <= 155, (row.PATID, "remission -> allo-HSCT 2-5 months")


def test_dropouts_occur_and_are_reasoned(raw_root):
    f = _forms(raw_root, CUTS[-1])
    ds = f["ds"]
    share = (ds["EOTSTAT"] == "COMPLETED").mean()
    assert 0.6 <= share <= 0.9, f"completion {share:.2f} (design ~0.70-0.80)"
    reasons = set(ds["DCREAS"].dropna())
    assert "MOBILIZATION FAILURE" in reasons and len(reasons) >= 2, reasons
    failed = f["mob"].loc[f["mob"]["MOBSTAT"] == "FAILED", "SUBJID"]
    assert set(failed) <= set(ds.loc[ds["DCREAS"] == "MOBILIZATION FAILURE", "SUBJID"])
    # a relapse before CAR-T2 stops the sandwich with reason RELAPSE on the relapse date
    relapse = f["rs"][f["rs"]["RSORRES"].isin(["RELAPSE", "NR"])].groupby("SUBJID")["RSDTC"].min()
    ds_i = ds.set_index("SUBJID")
    for subj, when in relapse.items():
        if ds_i.loc[subj, "EOTSTAT"] == "DISCONTINUED" and ds_i.loc[subj, "DCREAS"] == "RELAPSE":
            assert ds_i.loc[subj, "DCDTC"] == when


def test_mrd_messiness_is_present(raw_root):
    f = _forms(raw_root, CUTS[-1])
    mrd = f["mrd"]
    ngs_low_sens_negative = mrd[(mrd["METHOD"] == "NGS") & (mrd["MRDSENS"] > 1e-6) & (mrd["MRDUND"] == "Y")]
    assert len(ngs_low_sens_negative) >= 3, "undetectable NGS results that are not evaluable at 1e-6"
    assert ((mrd["METHOD"] == "FC") & (mrd["MRDSENS"] == 1e-5)).any(), "EuroFlow-sensitivity FC samples"
    # MRD recurrence: a detectable sample after an undetectable one in the same subject
    recurrence = 0
    for _, g in mrd.sort_values("MRDDTC").groupby("SUBJID"):
        seen_negative = False
        for und in g["MRDUND"]:
            if und == "Y":
                seen_negative = True
            elif seen_negative:
                recurrence += 1
                break
    assert recurrence >= 2
    ae = f["ae"]
    assert (ae["AETERM"] != ae["AEDECOD"]).mean() > 0.5, "verbatim terms differ from coded terms"
    assert ae["AEENDTC"].isna().any() and ae["AEENDTC"].str.len().eq(7).any() and ae["AESTDTC"].str.len().eq(7).any()
    bl = f["bl"]
    assert bl["WBCDIAG"].isna().any() or bl["CD22PCT"].isna().any()
    assert f["dm"]["BRTHDTC"].str.len().eq(7).any() and bl["DIAGDTC"].str.len().eq(7).any()
    assert f["dm"]["HOSPRN"].str.startswith("FAKE-").all() and f["dm"]["INITIALS"].str.startswith("ZZ").all()


def test_non_treatment_emergent_aes_exist(raw_root):
    f = _forms(raw_root, CUTS[-1])
    cart1 = f["cart"][(f["cart"]["PHASE"] == "CAR-T1") & (f["cart"]["PRODUCT"] == "CD22")].set_index("SUBJID")["INFDTC"]
    ae = f["ae"]
    before = [s for s, st in ae[["SUBJID", "AESTDTC"]].itertuples(index=False) if len(st) == 10 and st < cart1.get(s, "9")]
    assert len(before) >= 1


# --- cuts -------------------------------------------------------------------------------------------------------
def test_later_cut_is_a_superset_with_more_follow_up(raw_root):
    early, late = (_forms(raw_root, c) for c in CUTS[:2])
    assert set(early["dm"]["SUBJID"]) < set(late["dm"]["SUBJID"])
    assert len(late["rs"]) > len(early["rs"]) and len(late["ae"]) > len(early["ae"])
    assert (late["ds"]["DTHFL"] == "Y").sum() >= (early["ds"]["DTHFL"] == "Y").sum()
    e_ds, l_ds = early["ds"].set_index("SUBJID"), late["ds"].set_index("SUBJID")
    assert (l_ds.loc[e_ds.index, "LSTALVDTC"] >= e_ds["LSTALVDTC"]).all()
    assert (early["ds"]["EOTSTAT"] == "ONGOING").any(), "interim cut catches patients mid-sandwich"
    # the registry extract is the same file in every cut
    assert (raw_root / CUTS[0] / "ext.csv").read_bytes() == (raw_root / CUTS[1] / "ext.csv").read_bytes()
    # rows of the early cut keep their keys in the later cut (stable AESEQ etc.)
    for name in ("rs", "mrd", "ae", "cart"):
        key = list(FORMS[name].key)
        e_keys = set(map(tuple, early[name][key].astype(str).values))
        l_keys = set(map(tuple, late[name][key].astype(str).values))
        assert e_keys <= l_keys, name


def test_corrected_values_differ_between_cuts_for_the_same_key(raw_root):
    early, late = (_forms(raw_root, c) for c in CUTS[:2])
    assert len(CORRECTIONS) >= 3
    for c in CORRECTIONS:
        rows = []
        for frames in (early, late):
            df = frames[c.form]
            mask = np.ones(len(df), dtype=bool)
            for col, value in c.key:
                mask &= (df[col].astype(str) == str(value)).to_numpy()
            assert mask.sum() == 1, (c.form, c.key)
            rows.append(df.loc[mask, c.column].iloc[0])
        assert rows[0] != rows[1], c
    # nothing else changed in the corrected baseline rows
    e_bl, l_bl = (read_form_text(raw_root / c, "bl").fillna("").set_index("SUBJID") for c in CUTS[:2])
    changed = (e_bl != l_bl.loc[e_bl.index]).any(axis=1)
    assert list(changed[changed].index) == [dict(c.key)["SUBJID"] for c in CORRECTIONS if c.form == "bl"]


def test_ongoing_aes_at_the_interim_cut_resolve_later(raw_root):
    early, late = (_forms(raw_root, c) for c in CUTS[:2])
    key = ["SUBJID", "AESEQ"]
    m = early["ae"].merge(late["ae"], on=key, suffixes=("_e", "_l"))
    assert (m["AEENDTC_e"].isna() & m["AEENDTC_l"].notna()).any()


# --- statistical sanity on a large simulated cohort ------------------------------------------------------------
@pytest.fixture(scope="module")
def big_study():
    return simulate_study(seed=7, n_trial=3000, n_external=3000)


def _within_binomial(observed: float, low: float, high: float, n: int, z: float = 3.5) -> bool:
    """Observed proportion inside [low, high] widened by z binomial standard errors."""
    mid = min(max(observed, low), high)
    se = math.sqrt(max(mid * (1 - mid), 1e-4) / n)
    return low - z * se <= observed <= high + z * se


def test_crs_rates_match_parameters(big_study):
    """CRS after CAR-T1: any grade params.CRS1_ANY, grade >= 3 CRS1_ANY * P(grade >= 3 | CRS).
    Tolerance: 3.5 binomial SE (n = 3000: about +-0.025 and +-0.016)."""
    infused = [p for p in big_study.trial if p.infused]
    n = len(infused)
    grades = np.array([p.crs_grade("CAR-T1") for p in infused])
    expected_any = params.CRS1_ANY
    expected_severe = params.CRS1_ANY * sum(v for g, v in params.CRS1_GRADES.items() if g >= 3)
    assert _within_binomial((grades >= 1).mean(), expected_any, expected_any, n)
    assert _within_binomial((grades >= 3).mean(), expected_severe, expected_severe, n)
    completers = [p for p in big_study.trial if p.reached["cart2"]]
    crs2 = np.array([p.crs_grade("CAR-T2") for p in completers])
    assert _within_binomial((crs2 >= 1).mean(), params.CRS2_ANY, params.CRS2_ANY, len(completers))
    assert crs2.max() <= 2


def test_icans_rate_onsets_and_day28_mrd_match_parameters(big_study):
    """ICANS after CAR-T1 at params.ICANS1_ANY (3.5 binomial SE); CRS onset median in days 3-5
    and ICANS onset median in days 6-9 (T1.24: 5 and 7); day-28 FC MRD negativity (< 1e-4) in
    0.80-0.95 (T1.6 85 %, T1.21 87 %; no FC sample is taken in some patients)."""
    trial = [p for p in big_study.trial if p.infused]
    icans = np.array([max([e.grade for e in p.adverse_events if e.phase == "CAR-T1" and e.term.startswith("Immune effector")],
                          default=0) for p in trial])
    assert _within_binomial((icans >= 1).mean(), params.ICANS1_ANY, params.ICANS1_ANY, len(trial))
    crs_onsets = [e.start for p in trial for e in p.adverse_events if e.phase == "CAR-T1" and e.term.startswith("Cytokine")]
    icans_onsets = [e.start for p in trial for e in p.adverse_events if e.phase == "CAR-T1" and e.term.startswith("Immune effector")]
    assert 3 <= np.median(crs_onsets) <= 5 and 6 <= np.median(icans_onsets) <= 9
    day28 = [m for p in trial for m in p.mrd
             if m.method == "FC" and any(a.day == m.day and a.visit == "CAR-T1 D28" and a.response != "NR"
                                         for a in p.assessments)]
    negative = np.mean([m.undetectable or m.level < 1e-4 for m in day28])
    assert 0.80 <= negative <= 0.95, negative


def test_two_year_os_lfs_and_completion_match_targets(big_study):
    """Truth (no censoring) 2-year proportions vs the ranges of PLANTED_TRUTH['expected_2y'],
    widened by 3.5 binomial SE. OS from CAR-T1 / allo-HSCT; LFS here from the same origin."""
    t2y = 730.5
    trial = [p for p in big_study.trial if p.infused]   # outcomes from CAR-T1
    os_trial = np.mean([p.death_day > t2y for p in trial])
    lfs_trial = np.mean([min(p.relapse_day, p.death_day) > t2y for p in trial])
    exp = PLANTED_TRUTH["expected_2y"]
    assert _within_binomial(os_trial, *exp["SANDWICH"]["OS"], len(trial)), os_trial
    assert _within_binomial(lfs_trial, *exp["SANDWICH"]["LFS"], len(trial)), lfs_trial
    ext = big_study.external
    days = lambda x, d: math.inf if d is None else (d - x.hsct).days  # noqa: E731
    os_ext = np.mean([days(x, x.death) > t2y for x in ext])
    lfs_ext = np.mean([min(days(x, x.relapse), days(x, x.death)) > t2y for x in ext])
    nrm_ext = np.mean([x.death is not None and x.death_cause != "RELAPSE" and days(x, x.death) <= t2y for x in ext])
    assert _within_binomial(os_ext, *exp["ALLO_EXT"]["OS"], len(ext)), os_ext
    assert _within_binomial(lfs_ext, *exp["ALLO_EXT"]["LFS"], len(ext)), lfs_ext
    assert _within_binomial(nrm_ext, *exp["ALLO_EXT"]["NRM"], len(ext)), nrm_ext
    completion = np.mean([p.eot == "COMPLETED" for p in trial])   # free choice: 65-80 % of the infused
    assert _within_binomial(completion, 0.65, 0.80, len(trial)), completion


def test_planted_confounding_direction(big_study):
    """Trial patients are older, more often MRD-positive and in CR2 than controls (each
    difference > 5 standard errors of a difference of means); Ph and risk do not differ (< 3 SE)."""
    trial, ext = big_study.trial, big_study.external

    def z(f):
        a = np.array([f(x.cov) for x in trial], float)
        b = np.array([f(x.cov) for x in ext], float)
        return (a.mean() - b.mean()) / math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))

    assert z(lambda c: c.age) > 5 and z(lambda c: c.mrd_positive) > 5 and z(lambda c: c.cr2) > 5
    assert abs(z(lambda c: c.ph_positive)) < 3 and abs(z(lambda c: c.high_risk)) < 3


# --- the planted confounding in the shipped realisation ------------------------------------------------------
def _lfs_frame_from_raw(cut_dir: Path) -> pd.DataFrame:
    """LFS on the time scale 'days since the pre-treatment remission' with entry at treatment
    (CAR-T1 / allo-HSCT), one row per patient of both cohorts, with the confounders."""
    f = {name: read_form(cut_dir, name) for name in ("dm", "bl", "cart", "rs", "ds", "ext")}
    d = pd.to_datetime
    cart1 = f["cart"].query("PHASE == 'CAR-T1' and PRODUCT == 'CD22'").set_index("SUBJID")["INFDTC"]
    t = f["bl"].set_index("SUBJID").join(f["dm"].set_index("SUBJID")["AGE"]).join(f["ds"].set_index("SUBJID"))
    t = t.join(cart1.rename("CART1"), how="inner")
    relapse = f["rs"][f["rs"]["RSORRES"].isin(["RELAPSE", "NR"])].groupby("SUBJID")["RSDTC"].min()
    event_date = pd.concat([d(relapse.reindex(t.index)), d(t["DTHDTC"])], axis=1).min(axis=1)
    trial = pd.DataFrame({
        "entry": (d(t["CART1"]) - d(t["CRDTC"])).dt.days, "event": event_date.notna().astype(int),
        "stop": (event_date.fillna(d(t["LSTALVDTC"])) - d(t["CRDTC"])).dt.days, "sandwich": 1,
        "age10": (t["AGE"].astype(float) - 40) / 10, "mrd": (t["MRDPRE"] == "POS").astype(int),
        "cr2": (t["DISSTAT"] == "CR2").astype(int), "ph": (t["PHSTAT"] == "POS").astype(int),
        "high": (t["CYTORISK"] == "HIGH").astype(int)})
    e = f["ext"]
    ev = pd.concat([d(e["RELDTC"]), d(e["DTHDTC"])], axis=1).min(axis=1)
    ext = pd.DataFrame({
        "entry": (d(e["HSCTDTC"]) - d(e["CRDTC"])).dt.days, "event": ev.notna().astype(int),
        "stop": (ev.fillna(d(e["LSTFUDTC"])) - d(e["CRDTC"])).dt.days, "sandwich": 0,
        "age10": (e["AGE"].astype(float) - 40) / 10, "mrd": (e["MRDPRE"] == "positive").astype(int),
        "cr2": (e["DISSTAT"] == "CR2").astype(int), "ph": (e["PHPOS"] == "Y").astype(int),
        "high": (e["CYTORISK"] == "high").astype(int)})
    both = pd.concat([trial, ext], ignore_index=True)
    both["stop"] = np.maximum(both["stop"], both["entry"] + 0.5)
    return both


def test_shipped_cut_shows_the_planted_confounding(raw_root):
    """In the shipped later cut: the naive LFS log HR (sandwich vs allo) lies above the
    covariate-adjusted one (statsmodels PHReg, delayed entry), i.e. the naive comparison is biased
    against the sandwich as PLANTED_TRUTH states; ATT weights from a main-effects logistic
    propensity model balance every planted confounder (age, MRD, CR2) to |SMD| < 0.1."""
    from statsmodels.discrete.discrete_model import Logit
    from statsmodels.duration.hazard_regression import PHReg

    df = _lfs_frame_from_raw(raw_root / CUTS[-1])
    conf = ["age10", "mrd", "cr2", "ph", "high"]

    def log_hr(cols):
        fit = PHReg(df["stop"].to_numpy(float), df[cols].to_numpy(float), status=df["event"].to_numpy(),
                    entry=df["entry"].to_numpy(float), ties="efron").fit()
        return fit.params[0]

    naive, adjusted = log_hr(["sandwich"]), log_hr(["sandwich", *conf])
    assert PLANTED_TRUTH["naive_bias_direction"] == "upward"
    assert naive > adjusted, (naive, adjusted)
    x = np.column_stack([np.ones(len(df)), df[conf].to_numpy(float)])
    ps = Logit(df["sandwich"].to_numpy(), x).fit(disp=0).predict(x)
    treated = df["sandwich"].to_numpy() == 1
    w = np.where(treated, 1.0, ps / (1 - ps))
    for c in ("age10", "mrd", "cr2"):   # the planted confounders (PLANTED_TRUTH["confounders"])
        v = df[c].to_numpy(float)
        pooled_sd = math.sqrt((v[treated].var(ddof=1) + v[~treated].var(ddof=1)) / 2)
        smd = (np.average(v[treated], weights=w[treated]) - np.average(v[~treated], weights=w[~treated])) / pooled_sd
        assert abs(smd) < 0.1, (c, smd)


def test_recent_verbatim_terms_arrive_uncoded_and_are_coded_at_the_next_cut(raw_root):
    """Issue 10: AEs entered within params.AE_CODING_LAG_DAYS of a cut have AEDECOD/AEBODSYS
    blank; the same record (subject, AESEQ) is coded in the next cut; CRS/ICANS and fatal events
    are never left uncoded."""
    from datetime import timedelta

    from analysis.simulate import params as P
    first = pd.read_csv(raw_root / "cut-2024-06-30" / "ae.csv")
    later = pd.read_csv(raw_root / "cut-2025-06-30" / "ae.csv").set_index(["SUBJID", "AESEQ"])
    uncoded = first[first["AEDECOD"].isna()]
    assert len(uncoded) >= 3
    cut = pd.Timestamp("2024-06-30")
    onset = pd.to_datetime(uncoded["AESTDTC"], format="mixed")
    assert (onset > cut - timedelta(days=P.AE_CODING_LAG_DAYS)).all()   # entered in the last 3 weeks
    for key in zip(uncoded["SUBJID"], uncoded["AESEQ"]):
        assert pd.notna(later.loc[key, "AEDECOD"]) and pd.notna(later.loc[key, "AEBODSYS"]), key
    assert first.loc[first["AEDECOD"].notna()].shape[0] > 0


def test_late_reported_events_appear_in_a_later_cut_dated_before_the_earlier_one(raw_root):
    """Issue 10 (messy data): an AE reported months late is absent from cut-2024-06-30 although its
    onset is before that cut, and present in cut-2025-06-30; the changes step lists it as a new
    event with its (early) onset date."""
    from analysis.regulatory.compare import raw_events
    first = pd.read_csv(raw_root / "cut-2024-06-30" / "ae.csv")
    later = pd.read_csv(raw_root / "cut-2025-06-30" / "ae.csv")
    known = set(zip(first["SUBJID"], first["AESEQ"]))
    onset = pd.to_datetime(later["AESTDTC"], format="mixed")
    is_new = pd.Series([key not in known for key in zip(later["SUBJID"], later["AESEQ"])], index=later.index)
    late = later[is_new & (onset <= pd.Timestamp("2024-06-30"))]
    assert len(late) >= 1
    first_subjects = set(first["SUBJID"])
    assert set(late["SUBJID"]) <= first_subjects     # the subject was already in the earlier cut
    events = raw_events({"ae": first}, {"ae": later})
    listed = events[events["event"] == "adverse event"]
    for r in late.itertuples():
        assert ((listed["subject"] == r.SUBJID) & (listed["date"] == r.AESTDTC)).any(), r
