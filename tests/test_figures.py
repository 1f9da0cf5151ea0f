"""Tests of analysis.present.figures on small hand-made frames.

Expected values are computed here by hand or by a plain count written in the test (numbers at
risk = subjects with time >= t; Kaplan-Meier steps by the product-limit formula on 4-6 subjects),
never copied from the module's output. Coordinates are compared with a tolerance of 1e-9 months.
"""

from __future__ import annotations

import hashlib
import io
import json
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis import build, paths  # noqa: E402
from analysis import conventions as C  # noqa: E402
from analysis import ard as A  # noqa: E402
from analysis.analyze import sap  # noqa: E402
from analysis.present import figures as FG  # noqa: E402
from analysis.present.layouts import format_survival_summary  # noqa: E402
from analysis.stats import survival  # noqa: E402
from analysis.present import ard_views as AV  # noqa: E402
from analysis import provenance as PV  # noqa: E402

M = C.DAYS_PER_MONTH
TOL = 1e-9


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _by_gid(fig, prefix):
    """Artists of the figure whose gid starts with ``prefix``, by gid."""
    found = {}
    for ax in fig.axes:
        for artist in [*ax.lines, *ax.texts, *ax.patches, *ax.collections]:
            gid = artist.get_gid()
            if gid and gid.startswith(prefix):
                found[gid] = artist
    return found


# Group A: events at 30 and 90 days, censored at 60 and 120 -> S = 3/4 after 30, 3/4 * 1/2 after 90.
# Group B: event at 45 (tie with a censoring at 45), events at 200, censored at 400.
TINY = pd.DataFrame({
    "USUBJID": [f"S{i}" for i in range(8)],
    "ARM": ["A"] * 4 + ["B"] * 4,
    "AVAL": [30.0, 60.0, 90.0, 120.0, 45.0, 45.0, 200.0, 400.0],
    "CNSR": [0, 1, 0, 1, 0, 1, 0, 1],
})


def test_km_plot_risk_table_counts_equal_a_plain_count_at_each_tick():
    fig = FG.km_plot(TINY, "ARM", step_months=3)
    ticks = fig.axes[0].get_xticks()
    # the table columns sit on the curve's ticks, 0 .. first multiple of 3 months beyond 400 days
    assert ticks[0] == 0 and ticks[-1] == pytest.approx(np.ceil(400 / M / 3) * 3)
    texts = _by_gid(fig, "risk:")
    assert len(texts) == 2 * len(ticks)
    # the table is its own axes under the curve, sharing the curve's x scale
    ax_curve, ax_risk = fig.axes
    assert ax_risk.get_xlim() == ax_curve.get_xlim()
    assert ax_risk.get_position().y1 <= ax_curve.get_position().y0
    for group in ("A", "B"):
        times = TINY.loc[TINY["ARM"] == group, "AVAL"].to_numpy()
        for tick in ticks:
            text = texts[f"risk:{group}:{tick:g}"]
            assert int(text.get_text()) == int((times >= tick * M).sum()), (group, tick)
            assert text.get_position()[0] == pytest.approx(tick, abs=TOL)


def test_km_plot_risk_table_agrees_with_stats_risk_table():
    fig = FG.km_plot(TINY, "ARM", step_months=2)
    ticks = fig.axes[0].get_xticks()
    reference = survival.risk_table(TINY, "ARM", ticks * M)
    texts = _by_gid(fig, "risk:")
    for row in reference.itertuples():
        assert int(texts[f"risk:{row.ARM}:{row.time / M:g}"].get_text()) == row.n_risk


def test_km_plot_censor_marks_sit_on_the_curve_at_the_censored_times():
    fig = FG.km_plot(TINY, "ARM")
    marks = _by_gid(fig, "censor:")
    a_x, a_y = marks["censor:A"].get_data()
    np.testing.assert_allclose(a_x, np.array([60, 120]) / M, atol=TOL)
    np.testing.assert_allclose(a_y, [3 / 4, 3 / 8], atol=TOL)       # hand product-limit
    b_x, b_y = marks["censor:B"].get_data()
    # at 45 days one event and one censoring: the mark sits at S after the event, 3/4
    np.testing.assert_allclose(b_x, np.array([45, 400]) / M, atol=TOL)
    np.testing.assert_allclose(b_y, [3 / 4, 3 / 4 * 1 / 2], atol=TOL)
    curve = _by_gid(fig, "km:")["km:A"]
    assert set(np.round(curve.get_ydata(), 12)) == {1.0, 0.75, 0.375}


def test_km_plot_single_group_labels_and_errors():
    fig = FG.km_plot(TINY[TINY["ARM"] == "A"], None)
    assert set(_by_gid(fig, "risk:")) == {f"risk:All subjects:{t:g}" for t in fig.axes[0].get_xticks()}
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["All subjects", "Censored"]
    with pytest.raises(ValueError, match="groups \\['C'\\] not in column 'ARM'"):
        FG.km_plot(TINY, "ARM", groups=["A", "C"])
    with pytest.raises(ValueError, match="focus_group 'Z'"):
        FG.km_plot(TINY, "ARM", focus_group="Z")
    with pytest.raises(ValueError, match="missing column"):
        FG.km_plot(TINY.drop(columns="CNSR"), "ARM")


def test_km_plot_focus_group_limits_the_axis_to_that_groups_follow_up():
    fig = FG.km_plot(TINY, "ARM", focus_group="A", step_months=1)
    assert fig.axes[0].get_xlim()[1] == pytest.approx(np.ceil(120 / M))


@pytest.mark.parametrize("days, step, last", [(0, 3, 3), (365.25, None, 12), (800, None, 30), (2000, None, 72)])
def test_km_ticks(days, step, last):
    ticks = FG.km_ticks(days, step)
    assert ticks[0] == 0 and ticks[-1] == pytest.approx(last)
    assert ticks[-1] * M >= days


def test_km_ticks_rejects_bad_input():
    with pytest.raises(ValueError, match="non-negative"):
        FG.km_ticks(float("nan"))
    with pytest.raises(ValueError, match="positive"):
        FG.km_ticks(10, 0)


# ------------------------------------------------------------------------------------------------
# swimmer
# ------------------------------------------------------------------------------------------------

def _day(n):
    return pd.Timestamp("2024-01-01") + pd.Timedelta(days=n)


ADSL = pd.DataFrame({
    "USUBJID": ["T-01-001", "T-01-002", "T-01-003"],
    "TRTSDT": [_day(0), _day(10), pd.NaT],            # subject 3 never received CAR-T1
    "COLLDT": [_day(50), pd.NaT, pd.NaT],
    "AHSCTDT": [_day(80), pd.NaT, pd.NaT],
    "CART2DT": [_day(82), pd.NaT, pd.NaT],
    "RELDT": [pd.NaT, _day(70), pd.NaT],
    "DTHDT": [pd.NaT, _day(100), pd.NaT],
    "LSTALVDT": [_day(300), _day(100), _day(5)],
})
ADMRD = pd.DataFrame({
    "USUBJID": ["T-01-001", "T-01-001", "T-01-001", "T-01-002", "T-01-002", "T-01-001"],
    "METHOD": ["FC", "NGS", "NGS", "FC", "FC", "FC"],
    "DTYPE": [None, None, None, None, None, "BEST"],
    "ADT": [_day(28), _day(28), _day(120), _day(38), _day(0), _day(28)],
    "TRTSDT": [_day(0), _day(0), _day(0), _day(10), _day(10), _day(0)],
    "AVAL": [0.0, 2e-6, 0.0, 3e-3, 1e-2, np.nan],
    "MRDUND": ["Y", "N", "Y", "N", "N", None],
    "SENS": [1e-5, 1e-6, 1e-5, 1e-4, 1e-4, np.nan],
    "EVALFL": ["Y", "Y", "N", "Y", "Y", None],
    "NEGFL": ["Y", "N", "N", "N", "N", None],
})


def test_swimmer_frame_days_from_cart1_and_lane_ends():
    frame = FG.swimmer_frame(ADSL, ADMRD)
    assert set(frame["USUBJID"]) == {"T-01-001", "T-01-002"}          # untreated subject has no lane
    got = {(r.USUBJID, r.event, r.day) for r in frame.itertuples()}
    expected = {("T-01-001", "CAR-T1", 0), ("T-01-001", "Collection", 50), ("T-01-001", "Auto-HSCT", 80),
                ("T-01-001", "CAR-T2", 82), ("T-01-001", "Alive at last contact", 300),
                ("T-01-001", "FC negative", 28), ("T-01-001", "NGS positive", 28),
                ("T-01-002", "CAR-T1", 0), ("T-01-002", "Relapse", 60), ("T-01-002", "Death", 90),
                ("T-01-002", "FC positive", 28)}
    # the non-evaluable NGS sample, the baseline FC sample (day 0) and the BEST record are not drawn
    assert got == expected
    assert frame.groupby("USUBJID")["end"].first().to_dict() == {"T-01-001": 300, "T-01-002": 90}


def test_swimmer_plot_has_one_lane_per_subject_as_long_as_its_follow_up():
    fig = FG.swimmer_plot(FG.swimmer_frame(ADSL, ADMRD))
    lanes = _by_gid(fig, "lane:")
    assert set(lanes) == {"lane:T-01-001", "lane:T-01-002"}
    assert lanes["lane:T-01-001"].get_width() == pytest.approx(300 / M)
    assert lanes["lane:T-01-002"].get_width() == pytest.approx(90 / M)
    # longest follow-up on top (largest y)
    assert lanes["lane:T-01-001"].get_y() > lanes["lane:T-01-002"].get_y()
    deaths = _by_gid(fig, "event:Death")["event:Death"].get_offsets()
    np.testing.assert_allclose(deaths[:, 0], [90 / M], atol=TOL)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert sorted(labels) == ["01-001", "01-002"]


def test_swimmer_frame_refuses_an_unknown_method():
    with pytest.raises(ValueError, match="events without a marker"):
        FG.swimmer_frame(ADSL, ADMRD.assign(METHOD="PCR"))


# ------------------------------------------------------------------------------------------------
# MRD course
# ------------------------------------------------------------------------------------------------

def test_mrd_course_undetectable_at_sensitivity_detected_at_level_and_thresholds():
    samples = FG.mrd_course_frame(ADMRD)
    assert len(samples) == 5                                            # BEST record dropped
    fig = FG.mrd_course_plot(samples)
    art = _by_gid(fig, "")
    und_x, und_y = art["undetectable:FC"].get_data()
    np.testing.assert_allclose(und_x, [28 / M], atol=TOL)
    np.testing.assert_allclose(und_y, [1e-5], atol=0)                   # drawn at its sensitivity
    det_x, det_y = art["detected:FC"].get_data()
    # subject 002's sample 10 days before its CAR-T1 is not drawn (the axis starts at CAR-T1)
    assert sorted(zip(np.round(det_x * M), det_y)) == [(28, 3e-3)]
    np.testing.assert_allclose(art["detected:NGS"].get_data()[1], [2e-6])
    np.testing.assert_allclose(art["undetectable:NGS"].get_data()[1], [1e-5])
    np.testing.assert_allclose(sorted(art["sensitivity:NGS"].get_data()[1]), [1e-6, 1e-5])
    assert art["threshold:FC"].get_ydata()[0] == 1e-4 and art["threshold:NGS"].get_ydata()[0] == 1e-6
    assert all(ax.get_yscale() == "log" for ax in fig.axes)


# ------------------------------------------------------------------------------------------------
# diagrams
# ------------------------------------------------------------------------------------------------

def test_study_design_has_every_stage_and_interval():
    fig = FG.study_design_diagram()
    boxes = _by_gid(fig, "design:")
    assert len(boxes) == len(FG.STUDY_DESIGN_STEPS) == 6
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for needed in ("CAR-T1", "collection", "auto-HSCT", "CAR-T2", "Follow-up", "6-8 wk", "4 wk", "+2 d"):
        assert needed in texts


FLOW_ADSL = pd.DataFrame({
    "USUBJID": list("abcde"),
    "ENRLFL": ["Y"] * 5,
    "TRTSDT": [_day(0)] * 4 + [pd.NaT],
    "COLLDT": [_day(50)] * 2 + [pd.NaT] * 3,
    "DCSREAS": [None, None, "WITHDRAWAL", "DEATH", None],
})
FLOW_STEPS = [("Enrolled", "ENRLFL"), ("CAR-T1", "TRTSDT"), ("Collected", "COLLDT")]


def test_consort_exits_count_who_stopped_where_and_why():
    exits = FG.consort_exits(FLOW_ADSL, FLOW_STEPS)
    assert exits.to_dict("records") == [
        {"after_step": "Enrolled", "reason": "Not recorded", "n": 1},
        {"after_step": "CAR-T1", "reason": "Death", "n": 1},
        {"after_step": "CAR-T1", "reason": "Withdrawal", "n": 1},
    ]
    fig = FG.consort_diagram([("Enrolled", 5), ("CAR-T1", 4), ("Collected", 2)], exits)
    texts = _by_gid(fig, "")
    assert "n = 5" in texts["step:Enrolled"].axes.texts[0].get_text()
    assert texts["exit:CAR-T1"].get_text() == "Stopped: n = 2\nDeath: 1\nWithdrawal: 1"


def test_consort_refuses_exits_that_do_not_add_up_and_skipped_steps():
    exits = FG.consort_exits(FLOW_ADSL, FLOW_STEPS)
    with pytest.raises(ValueError, match="2 exits after 'CAR-T1' but the flow drops from 4 to 1"):
        FG.consort_diagram([("Enrolled", 5), ("CAR-T1", 4), ("Collected", 1)], exits)
    skipped = FLOW_ADSL.assign(TRTSDT=[pd.NaT] + [_day(0)] * 4)
    with pytest.raises(ValueError, match="subject a reached 'Collected' without 'CAR-T1'"):
        FG.consort_exits(skipped, FLOW_STEPS)


# ------------------------------------------------------------------------------------------------
# ARD adapters
# ------------------------------------------------------------------------------------------------

def _adtte_two_groups():
    rng = np.random.default_rng(7)
    n = 40
    return pd.DataFrame({"USUBJID": [f"S{i}" for i in range(n)],
                         "COHORT": [C.COHORT_TRIAL] * 15 + [C.COHORT_EXTERNAL] * 25,
                         "PARAMCD": "OS",
                         "AVAL": np.ceil(rng.exponential(600, n)), "CNSR": rng.integers(0, 2, n)})


def test_survival_summary_from_the_ard_equals_the_summary_from_the_statistics_frames():
    """The same table two ways: ARD rows (sap.km_analyses -> CSV round trip -> adapter) and the
    stats frames directly. Any lost or mis-keyed number shows as a differing cell."""
    adtte = _adtte_two_groups()
    ard_rows = A.read(io.BytesIO(A.to_csv_bytes(sap.km_analyses(adtte, "OS"))))
    from_ard = format_survival_summary(**AV.survival_summary_inputs(ard_rows, "OS"),
                                       timepoints=sap.KM_TIMEPOINTS, groups=list(sap.COHORTS))
    by = "COHORT"
    counts = adtte.groupby(by).agg(n=("CNSR", "size"), events=("CNSR", lambda s: int((s == 0).sum()))).reset_index()
    direct = format_survival_summary(
        survival.km_quantiles(adtte, by, probs=(0.5,)), by,
        estimates=survival.km_estimates(adtte, by, sap.KM_TIMEPOINTS), timepoints=sap.KM_TIMEPOINTS,
        logrank=survival.logrank(adtte, by), counts=counts,
        cox=survival.cox(adtte, by, reference=C.COHORT_EXTERNAL).assign(term=" vs ".join(sap.COMPARISON)),
        difference=survival.km_difference(adtte, by, C.TIMEPOINT_2Y_DAYS, C.COHORT_EXTERNAL),
        groups=list(sap.COHORTS))
    pd.testing.assert_frame_equal(from_ard.frame, direct.frame)
    assert from_ard.headers == direct.headers


def test_survival_summary_inputs_relabel_groups_and_comparisons():
    ard_rows = sap.km_analyses(_adtte_two_groups(), "OS")
    inputs = AV.survival_summary_inputs(ard_rows, "OS", group_labels={C.COHORT_TRIAL: "Trial"})
    assert set(inputs["quantiles"]["COHORT"]) == {"Trial", C.COHORT_EXTERNAL}
    assert inputs["cox"]["term"].iloc[0] == f"Trial vs {C.COHORT_EXTERNAL}"
    assert inputs["difference"][["COHORT", "reference"]].iloc[0].tolist() == ["Trial", C.COHORT_EXTERNAL]
    with pytest.raises(KeyError, match="param='LFS'"):
        AV.survival_summary_inputs(ard_rows, "LFS")


def test_survival_summary_inputs_by_param_puts_parameters_side_by_side():
    adtte = _adtte_two_groups()
    trial = adtte[adtte["COHORT"] == C.COHORT_TRIAL]
    ard_rows = A.concat([sap.km_analyses(trial.assign(PARAMCD=p), p, reference=None) for p in ("D1", "D2")])
    inputs = AV.survival_summary_inputs_by_param(ard_rows, {"D1": "First", "D2": "Second"})
    assert inputs["counts"].to_dict("records") == [
        {"Method": "First", "n": 15, "events": int((trial["CNSR"] == 0).sum())},
        {"Method": "Second", "n": 15, "events": int((trial["CNSR"] == 0).sum())}]
    assert inputs["cox"] is None and inputs["difference"] is None


def test_mrd_rate_and_table1_frames():
    rows = A.concat([A.rows("mrd_rate", "MRD-FC", "SANDWICH", "BESTSTAT", "NEGATIVE",
                            {"n": 10, "x": 7, "rate": 0.7, "lcl": 0.35, "ucl": 0.93}),
                     A.rows("table1", "ADSL", "SANDWICH", "N", "", {"n": 10}),
                     A.rows("table1", "ADSL", "SANDWICH", "SEX", "F", {"n": 4, "pct": 40.0}),
                     A.rows("table1", "ADSL", A.Comparison("SANDWICH", "ALLO_EXT"), "SEX", "", {"smd": 0.2})])
    rates = AV.mrd_rate_frame(rows, {"MRD-FC": "Flow"})
    assert rates[["label", "x", "n", "rate"]].iloc[0].tolist() == ["Flow", 7, 10, 0.7]
    t1 = AV.table1_frame(rows, {"SEX": ("Sex", True)}, group_labels={"SANDWICH": "Trial"})
    assert set(t1["group"]) == {"Trial"}
    assert t1.loc[t1["stat_name"] == "smd", "reference"].tolist() == ["ALLO_EXT"]
    assert t1.loc[t1["variable"] == "SEX", "var_type"].unique().tolist() == ["categorical"]
    with pytest.raises(ValueError, match="\\['SEX'\\] have no label"):
        AV.table1_frame(rows, {})


def test_rates_beyond_the_longest_follow_up_are_not_estimable():
    """Group T: 3 subjects, event at 100 days, censored at 400 and 500 -> S = 2/3 from day 100,
    nobody at risk after day 500: the 2-year (730.5 d) rate is not defined. Group R: every
    subject has the event by day 400 -> S = 0 there, defined (nobody at risk, curve at 0)."""
    adtte = pd.DataFrame({"USUBJID": list("abcdef"), "PARAMCD": "OS",
                          "COHORT": [C.COHORT_TRIAL] * 3 + [C.COHORT_EXTERNAL] * 3,
                          "AVAL": [100.0, 400, 500, 50, 150, 400], "CNSR": [0, 1, 1, 0, 0, 0]})
    rows = sap.km_analyses(adtte, "OS")
    inputs = AV.survival_summary_inputs(rows, "OS")
    est = inputs["estimates"].set_index(["COHORT", "time"])
    assert est.loc[(C.COHORT_TRIAL, 365.25), "surv"] == pytest.approx(2 / 3)
    assert np.isnan(est.loc[(C.COHORT_TRIAL, 730.5), "surv"])
    assert est.loc[(C.COHORT_EXTERNAL, 730.5), "surv"] == 0.0
    assert inputs["difference"][["diff", "lcl", "ucl"]].isna().all(axis=None)
    table = format_survival_summary(**inputs, timepoints=sap.KM_TIMEPOINTS, groups=list(sap.COHORTS))
    assert table.cell("Rate at 1 year, % (95% CI)", C.COHORT_TRIAL).startswith("66.7 (")   # 2/3 by hand
    assert table.cell("Rate at 2 years, % (95% CI)", C.COHORT_TRIAL) == "NE (NE, NE)"
    assert table.cell("Rate at 2 years, % (95% CI)", C.COHORT_EXTERNAL).startswith("0.0")


# ------------------------------------------------------------------------------------------------
# provenance (overview page)
# ------------------------------------------------------------------------------------------------

def _write_raw_cut(root, cut, files):
    """A raw cut folder with the given {name: bytes} and a manifest listing their SHA-256."""
    folder = paths.raw_dir(cut, root)
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    manifest = {"cut": cut, "files": {n: {"sha256": hashlib.sha256(d).hexdigest(), "rows": 1} for n, d in files.items()}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_raw_checksums_from_the_build_record_else_the_manifest(tmp_path):
    cut = "cut-2030-01-31"
    _write_raw_cut(tmp_path, cut, {"dm.csv": b"SUBJID\n1\n", "ae.csv": b"SUBJID\n"})
    frame, source = PV.raw_checksums(cut, tmp_path)
    assert source == "export manifest (manifest.json)"
    assert dict(zip(frame["File"], frame["SHA-256"])) == {
        "dm.csv": hashlib.sha256(b"SUBJID\n1\n").hexdigest(), "ae.csv": hashlib.sha256(b"SUBJID\n").hexdigest()}
    record = build.record_path("derive", cut, tmp_path)
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"version": build.RECORD_VERSION, "outputs": {},
                                  "inputs": {f"data:data/raw/{cut}/dm.csv": "a" * 64, "code:x.py": "b" * 64}}))
    frame, source = PV.raw_checksums(cut, tmp_path)
    assert source == "build record of the derive step"
    assert frame.to_dict("records") == [{"File": "dm.csv", "SHA-256": "a" * 64}]     # code inputs left out


def test_raw_checksums_without_record_or_manifest_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest.json: no derive build record"):
        PV.raw_checksums("cut-2030-01-31", tmp_path)


def test_output_checksums_compare_with_the_build_record(tmp_path):
    cut = "cut-2030-01-31"
    folder = tmp_path / "out"
    folder.mkdir()
    for name in ("same.bin", "changed.bin", "new.bin"):
        (folder / name).write_bytes(name.encode())
    record = build.record_path("derive", cut, tmp_path)
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"version": build.RECORD_VERSION, "inputs": {}, "outputs": {
        f"data/derived/{cut}/same.bin": hashlib.sha256(b"same.bin").hexdigest(),
        f"data/derived/{cut}/changed.bin": hashlib.sha256(b"before").hexdigest()}}))
    frame = PV.output_checksums(folder, ["same.bin", "changed.bin", "new.bin"], "derive", cut, tmp_path)
    assert frame["Build record"].tolist() == ["matches", "DIFFERS", "not recorded"]
    assert frame["Bytes"].tolist() == ["8", "11", "7"]
    assert frame["SHA-256"].iloc[2] == hashlib.sha256(b"new.bin").hexdigest()


def test_git_commit_and_package_versions(tmp_path):
    assert PV.git_commit(tmp_path) == "unknown (not a git checkout)"
    if (paths.REPO_ROOT / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}( \(with uncommitted changes\))?", PV.git_commit())
    versions = dict(PV.package_versions(("pandas", "surely-not-a-package-xyz")).values)
    assert versions["pandas"] == pd.__version__
    assert versions["surely-not-a-package-xyz"] == "not installed"
    assert "Python" in versions


def test_swimmer_plot_samples_lanes_beyond_the_limit_and_says_so():
    n = 250
    ends = np.arange(n, 0, -1) * 10.0          # subject S000 has the longest follow-up
    events = pd.DataFrame({"USUBJID": [f"T-01-{i:03d}" for i in range(n)], "event": "CAR-T1", "day": 0.0,
                           "end": ends})
    fig = FG.swimmer_plot(events, max_lanes=50)
    lanes = _by_gid(fig, "lane:")
    assert len(lanes) == 50
    widths = sorted(bar.get_width() * M for bar in lanes.values())
    assert widths[0] == pytest.approx(10.0) and widths[-1] == pytest.approx(n * 10.0)  # both extremes kept
    assert len(fig.axes[0].collections[0].get_offsets()) == 50      # markers only for the lanes drawn
    note = fig.axes[0].title.get_text()
    assert note.startswith("50 of 250 patients shown")
    assert fig.get_size_inches()[1] == pytest.approx(0.9 + 0.19 * 50)
    full = FG.swimmer_plot(events, max_lanes=None)
    assert len(_by_gid(full, "lane:")) == n and full.axes[0].title.get_text() == ""
    plt.close("all")


def test_mrd_course_of_many_subjects_is_one_line_broken_between_subjects():
    n = FG.MRD_LINES_AS_ONE_ABOVE + 1
    subjects = np.repeat([f"T-{i:04d}" for i in range(n)], 2)
    samples = pd.DataFrame({"USUBJID": subjects, "METHOD": "FC", "day": np.tile([30.0, 90.0], n),
                            "level": np.tile([1e-3, 1e-5], n), "undetectable": False, "SENS": 1e-5})
    fig = FG.mrd_course_plot(samples)
    (joined,) = [a for a in fig.axes[0].get_lines() if a.get_gid() == "subject-lines"]
    x, y = joined.get_data()
    assert np.isnan(x).sum() == n - 1                                    # one break between subjects
    np.testing.assert_allclose(x[:5], [30 / M, 90 / M, np.nan, 30 / M, 90 / M])
    np.testing.assert_allclose(y[~np.isnan(y)], np.tile([1e-3, 1e-5], n))
    few = FG.mrd_course_plot(samples[samples["USUBJID"].isin(subjects[:6])])
    grey = [a for a in few.axes[0].get_lines() if a.get_color() == "#BBBBBB"]
    assert len(grey) == 3, "a few subjects: one line each, as before"
    plt.close("all")
