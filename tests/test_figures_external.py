"""The present modules of the safety and external-comparison sections (ard_views, curves, forest,
propensity, comparison_tables, listings, changes, safety_tables) and analysis.analyze.crs_icans_timing on small hand-made frames.

Expected values are hand calculations stated next to each assertion (tolerance 1e-12 unless
said otherwise), or the values put into the input frames (the figures must draw what they are
given).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis import conventions as C  # noqa: E402
from analysis import ard as A  # noqa: E402
from analysis.analyze import crs_icans_timing  # noqa: E402
from analysis.present import ard_views as AV  # noqa: E402
from analysis.present import changes as CH  # noqa: E402
from analysis.present import cohort_style as CS  # noqa: E402
from analysis.present import comparison_tables as CT  # noqa: E402
from analysis.present import curves as CV  # noqa: E402
from analysis.present import forest as FO  # noqa: E402
from analysis.present import listings as LI  # noqa: E402
from analysis.present import propensity as PS  # noqa: E402
from analysis.present import safety_tables as ST  # noqa: E402
from analysis.stats import competing, survival  # noqa: E402

TRIAL, CTRL = C.COHORT_TRIAL, C.COHORT_EXTERNAL
COMP = A.Comparison(TRIAL, CTRL)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _competing_frame() -> pd.DataFrame:
    # trial: 4 subjects, events relapse@10, NRM@20, relapse@30, censored@40 (no censoring before
    # the last time, so the CIFs are plain proportions: CIR 1/4 at 10, 2/4 at 30; NRM 1/4 at 20)
    # control: relapse@5, censored@15, NRM@25 -> AJ: CIR(5)=1/3; S(25-)=2/3, 1 at risk: NRM(25)=2/3
    return pd.DataFrame({
        "COHORT": [TRIAL] * 4 + [CTRL] * 3,
        "AVAL": [10, 20, 30, 40, 5, 15, 25],
        "EVNTTYPE": [1, 2, 1, 0, 1, 0, 2],
    })


def test_stacked_cif_hand_values():
    cif = competing.cumulative_incidence(_competing_frame(), "COHORT", event_type="EVNTTYPE")
    st = CV.stacked_cif(cif)
    trial = st[st["COHORT"] == TRIAL].set_index("time")
    assert trial.loc[10, "cir"] == pytest.approx(0.25, abs=1e-12)
    assert trial.loc[20, "nrm"] == pytest.approx(0.25, abs=1e-12)
    assert trial.loc[30, "cir"] == pytest.approx(0.5, abs=1e-12)
    assert trial.loc[30, "cir_nrm"] == pytest.approx(0.75, abs=1e-12)
    ctrl = st[st["COHORT"] == CTRL].set_index("time")
    assert ctrl.loc[5, "cir"] == pytest.approx(1 / 3, abs=1e-12)
    assert ctrl.loc[25, "nrm"] == pytest.approx(2 / 3, abs=1e-12)
    assert ctrl.loc[25, "cir_nrm"] == pytest.approx(1.0, abs=1e-12)
    # beyond the control's last follow-up (25) the CIF is not estimable: no row at 30, 40
    assert 40 not in ctrl.index and 30 not in ctrl.index


def test_stacked_cif_curves_are_the_cumulative_incidence_values():
    cif = competing.cumulative_incidence(_competing_frame(), "COHORT", event_type="EVNTTYPE")
    fig = CV.plot_stacked_cif(cif)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == [CS.cohort_label(TRIAL), CS.cohort_label(CTRL)]
    for ax, cohort in zip(axes, (TRIAL, CTRL)):
        lines = {ln.get_gid(): ln for ln in ax.get_lines() if ln.get_gid()}
        exp = cif[(cif["COHORT"] == cohort)].dropna(subset=["cif"])
        cir = exp[exp["cause"] == 1].sort_values("time")
        nrm = exp[exp["cause"] == 2].sort_values("time")
        x, y = lines["CIR"].get_data()
        np.testing.assert_allclose(x, cir["time"] / C.DAYS_PER_MONTH, rtol=0, atol=1e-12)
        np.testing.assert_allclose(y, cir["cif"], rtol=0, atol=1e-12)
        _, y2 = lines["CIR + NRM"].get_data()
        np.testing.assert_allclose(y2, cir["cif"].to_numpy() + nrm["cif"].to_numpy(), rtol=0, atol=1e-12)
        assert "Months" in ax.get_xlabel()


def test_stacked_cif_names_missing_cause():
    cif = competing.cumulative_incidence(_competing_frame(), "COHORT", event_type="EVNTTYPE", causes=[1])
    with pytest.raises(ValueError, match="no rows for cause 2"):
        CV.stacked_cif(cif)


def _ard_diffs() -> pd.DataFrame:
    values = {("km_diff", "OS"): (0.10, -0.05, 0.25), ("iptw_diff", "OS"): (0.02, -0.12, 0.16),
              ("landmark_diff", "OS"): (-0.03, -0.20, 0.14), ("km_diff", "LFS"): (0.20, 0.05, 0.35),
              ("iptw_diff", "LFS"): (0.15, 0.01, 0.29), ("landmark_diff", "LFS"): (0.12, 0.02, 0.22)}
    parts = [A.rows(a, p, COMP, "AVAL", C.TIMEPOINT_2Y_DAYS, {"diff": d, "lcl": lo, "ucl": hi, "p": 0.5})
             for (a, p), (d, lo, hi) in values.items()]
    return A.concat(parts), values


def test_forest_rows_one_row_per_analysis_and_param():
    ard, values = _ard_diffs()
    rows = FO.forest_rows(A.read(_roundtrip(ard)))
    assert len(rows) == 6
    assert rows[["param", "analysis"]].drop_duplicates().shape[0] == 6
    for r in rows.itertuples():
        d, lo, hi = values[(r.analysis, r.param)]
        assert (r.diff, r.lcl, r.ucl) == pytest.approx((d, lo, hi), abs=1e-15)
    # views absent from the ARD (primary, delayed entry, per protocol) are left out, order of VIEWS
    # kept (grouped by estimand / time origin: common-clock landmark before the own-origin views)
    assert list(rows.loc[rows["param"] == "OS", "analysis"]) == ["landmark_diff", "km_diff", "iptw_diff"]
    assert rows.loc[rows["analysis"] == "km_diff", "group"].unique().tolist() == [FO.OWN_ORIGINS]
    assert not rows["primary"].any()


def _roundtrip(ard: pd.DataFrame, tmp=None):
    import io
    return io.BytesIO(A.to_csv_bytes(ard))


def test_forest_plot_draws_estimates_and_intervals_in_percentage_points():
    ard, values = _ard_diffs()
    rows = FO.forest_rows(A.read(_roundtrip(ard)))
    fig = FO.plot_forest(rows)
    ax = fig.axes[0]
    containers = [c for c in ax.containers if c.get_label() in ("Overall survival", "Leukemia-free survival")]
    assert len(containers) == 2
    for cont, param in zip(containers, ("OS", "LFS")):
        part = rows[rows["param"] == param]
        x, _ = cont.lines[0].get_data()
        np.testing.assert_allclose(x, 100 * part["diff"], atol=1e-12)
        segments = cont.lines[2][0].get_segments()
        np.testing.assert_allclose([s[0][0] for s in segments], 100 * part["lcl"], atol=1e-12)
        np.testing.assert_allclose([s[1][0] for s in segments], 100 * part["ucl"], atol=1e-12)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["OS: Landmark [landmark]", "OS: Naive [own origins]", "OS: PS-weighted (ATT) [own origins]",
                      "LFS: Landmark [landmark]", "LFS: Naive [own origins]", "LFS: PS-weighted (ATT) [own origins]"]
    # the printed estimates: 10.0 (-5.0, 25.0) for the naive OS difference 0.10 (-0.05, 0.25)
    assert [t.get_text() for t in ax.texts][1] == "10.0 (-5.0, 25.0)"
    assert len(ax.texts) == 6
    assert any(ln.get_xdata()[0] == 0 for ln in ax.get_lines())  # the no-difference line


def test_not_estimable_view_is_kept_and_named():
    ard, _ = _ard_diffs()
    ard = A.concat([ard, A.rows("per_protocol_diff", "OS", COMP, "AVAL", C.TIMEPOINT_2Y_DAYS,
                                {"diff": np.nan, "lcl": np.nan, "ucl": np.nan, "p": np.nan})])
    rows = FO.forest_rows(A.read(_roundtrip(ard)))
    assert list(rows.loc[rows["param"] == "OS", "analysis"])[-1] == "per_protocol_diff"
    text = FO.robustness_statement(rows)
    # the NaN row does not enter any count, and its group is named as not estimable
    assert "interval includes 0 in 2 of 2" in text
    assert "per protocol: not estimable at 2 years" in text
    fig = FO.plot_forest(rows)
    assert "NE (NE, NE)" in [t.get_text() for t in fig.axes[0].texts]


def test_robustness_statement_compares_like_with_like():
    """Within the own-origin group, OS naive 10.0 and weighted 2.0 both positive, both intervals
    include 0; LFS both positive, none includes 0; the landmark (another clock) is reported on
    its own, never pooled with them; no 'significance at the 5% level' wording."""
    ard, _ = _ard_diffs()
    text = FO.robustness_statement(FO.forest_rows(A.read(_roundtrip(ard))))
    assert ("own origins: Naive 10.0 (-5.0, 25.0); PS-weighted (ATT) 2.0 (-12.0, 16.0) percentage points "
            "(trial ahead; interval includes 0 in 2 of 2)") in text
    assert "landmark: Landmark -3.0 (-20.0, 14.0) percentage points (trial behind; interval includes 0 in 1 of 1)" in text
    assert "own origins: Naive 20.0 (5.0, 35.0); PS-weighted (ATT) 15.0 (1.0, 29.0) percentage points " \
           "(trial ahead; interval includes 0 in 0 of 2)" in text
    assert "5% level" not in text and "significan" not in text


def test_balance_from_ard_feeds_love_plot():
    bal = pd.DataFrame({"covariate": ["AGE", "SEX", "SEX"], "level": ["", "F", "M"],
                        "smd_unweighted": [0.3, 0.2, -0.2], "smd_weighted": [0.01, 0.05, -0.05]})
    parts = [A.rows("ps_balance", "ATT", COMP, r.covariate, r.level,
                    {"smd_unweighted": r.smd_unweighted, "smd_weighted": r.smd_weighted})
             for r in bal.itertuples()]
    back = PS.balance_from_ard(A.read(_roundtrip(A.concat(parts))))
    assert list(back["covariate"]) == ["AGE", "SEX", "SEX"]
    assert list(back["level"]) == ["", "F", "M"]
    np.testing.assert_allclose(back["smd_weighted"], bal["smd_weighted"], atol=1e-15)
    from analysis.stats.weighting import love_plot
    fig = love_plot(back)
    assert len(fig.axes[0].get_yticklabels()) == 3
    with pytest.raises(ValueError, match="no 'ps_balance' rows"):
        PS.balance_from_ard(A.read(_roundtrip(parts[0].assign(context="x"))))


def test_weighted_km_panels_draw_the_weighted_curve():
    # trial, weights 2, 1, 1: death at 100 (w 2), censored 200 (w 1), death 300 (w 1).
    # Weighted KM: S(100) = 1 - 2/4 = 0.5; at 300 the weighted risk set is 1 with 1 death: S = 0.
    data = pd.DataFrame({"COHORT": [TRIAL] * 3 + [CTRL] * 2, "AVAL": [100, 200, 300, 50, 500],
                         "CNSR": [0, 1, 0, 0, 1], "W": [2.0, 1.0, 1.0, 1.0, 1.0]})
    curves = {p: survival.km_curve(data, "COHORT", weights="W") for p in ("OS", "LFS")}
    fig = CV.plot_km_panels(curves, xlabel="Months from CAR-T1")
    assert [ax.get_title() for ax in fig.axes] == ["Overall survival", "Leukemia-free survival"]
    ax = fig.axes[0]
    line = next(ln for ln in ax.get_lines() if ln.get_gid() == f"km:{TRIAL}")
    x, y = line.get_data()
    assert list(y) == pytest.approx([1.0, 0.5, 0.5, 0.0], abs=1e-12)
    assert x[1] == pytest.approx(100 / C.DAYS_PER_MONTH, abs=1e-12)
    assert "(N = 4)" in line.get_label()           # the sum of the weights
    assert ax.get_xlabel() == "Months from CAR-T1"


def test_weight_distribution_counts_every_subject():
    frame = pd.DataFrame({"COHORT": [TRIAL] * 3 + [CTRL] * 4, "PS": [0.6, 0.7, 0.8, 0.2, 0.3, 0.4, 0.5],
                          "IPTW": [1, 1, 1, 0.25, 0.43, 0.67, 1.0]})
    fig = PS.plot_weight_distribution(frame)
    assert [ax.get_xlabel() for ax in fig.axes] == ["Propensity score", "Weight"]
    for ax in fig.axes:
        patches = {p.get_gid(): p for p in ax.patches if p.get_gid()}
        assert [int(patches[c].get_data().values.sum()) for c in (TRIAL, CTRL)] == [3, 4]


def _adsl_adae():
    d = pd.Timestamp
    adsl = pd.DataFrame({"USUBJID": ["S1", "S2", "S3"], "COHORT": [TRIAL] * 3,
                         "TRTSDT": [d("2023-01-01")] * 3,
                         "CART2DT": [d("2023-04-01"), pd.NaT, pd.NaT],
                         "AHSCTDT": [d("2023-03-30"), pd.NaT, pd.NaT],
                         "COLLDT": [d("2023-02-20"), d("2023-02-21"), pd.NaT],
                         "DTHFL": ["N", "Y", "Y"], "DTHDT": [pd.NaT, d("2023-03-01"), d("2023-01-10")],
                         "DTHCAUS": [None, "RELAPSE", "INFECTION"],
                         "RELDT": [pd.NaT, d("2023-02-25"), pd.NaT]})
    adae = pd.DataFrame({
        "USUBJID": ["S1", "S1", "S2", "S3", "S3"],
        "AEDECOD": ["Cytokine release syndrome", "Cytokine release syndrome", "Cytokine release syndrome",
                    "Sepsis", "Cytokine release syndrome"],
        "ASTDT": [d("2023-01-06"), d("2023-04-03"), d("2023-01-10"), d("2023-01-08"), d("2022-12-30")],
        "ADURN": [5.0, np.nan, 3.0, 3.0, 2.0], "ASTDY": [6.0, 93.0, 10.0, 8.0, -2.0],
        "AENDY": [10.0, np.nan, 12.0, 10.0, -1.0], "ATOXGR": [2.0, 1.0, 3.0, 5.0, 1.0],
        "AENDT": [d("2023-01-10"), pd.NaT, d("2023-01-12"), d("2023-01-10"), d("2022-12-31")],
        "TRTSDT": [d("2023-01-01")] * 5,
        "TRTEMFL": ["Y", "Y", "Y", "Y", "N"], "AESER": ["N", "N", "Y", "Y", "N"],
        "APHASE": ["CAR-T1", "CAR-T2", "CAR-T1", "CAR-T1", "PRE"],
        "CRSFL": ["Y", "Y", "Y", "N", "Y"], "ICANSFL": ["N"] * 5})
    return adsl, adae


def test_crs_episodes_onset_from_the_preceding_infusion():
    adsl, adae = _adsl_adae()
    ep = crs_icans_timing.episodes(adae, adsl, "CRSFL").sort_values(["USUBJID", "ONSETDY"])
    # S1: 2023-01-06 - CAR-T1 2023-01-01 = day 5; 2023-04-03 - CAR-T2 2023-04-01 = day 2;
    # S2: day 9 after CAR-T1; S3's pre-treatment record is not treatment-emergent: excluded
    assert list(zip(ep["USUBJID"], ep["INFUSION"], ep["ONSETDY"])) == [
        ("S1", "CAR-T2", 2.0), ("S1", "CAR-T1", 5.0), ("S2", "CAR-T1", 9.0)]
    rows = A.read(_roundtrip(crs_icans_timing.timing_rows(adae, adsl)))
    look = lambda **k: A.lookup(rows, context="crs_icans_timing", param="CRS", **k)  # noqa: E731
    assert look(variable="EPISODES", variable_level="ANY", stat_name="n_episodes") == 3
    assert look(variable="EPISODES", variable_level="ANY", stat_name="n_subj") == 2
    assert look(variable="EPISODES", variable_level="ANY", stat_name="n_ongoing") == 1
    # onset days 2, 5, 9: median 5, type-7 quartiles 3.5 and 7
    assert look(variable="ONSETDY", variable_level="ANY", stat_name="median") == 5
    assert look(variable="ONSETDY", variable_level="ANY", stat_name="q1") == pytest.approx(3.5)
    assert look(variable="ONSETDY", variable_level="ANY", stat_name="q3") == pytest.approx(7.0)
    # durations: 5 and 3 (the ongoing one excluded)
    assert look(variable="ADURN", variable_level="ANY", stat_name="n") == 2
    assert look(variable="ADURN", variable_level="CAR-T1", stat_name="median") == 4
    assert look(variable="EPISODES", variable_level="CAR-T2", stat_name="n_episodes") == 1
    table = ST.timing_table(rows)
    assert table.frame.iloc[2]["ANY"] == "5.0 (3.5, 7.0)"
    assert table.frame.iloc[0]["Syndrome"] == "CRS"
    # ICANS: no episodes -> zero counts, not-estimable summaries
    assert A.lookup(rows, context="crs_icans_timing", param="ICANS", variable="EPISODES", variable_level="ANY",
                    stat_name="n_episodes") == 0
    assert "NE" in ST.timing_table(rows).frame.iloc[9]["ANY"]


def test_safety_listings():
    adsl, adae = _adsl_adae()
    sae = LI.serious_ae_listing(adae)
    assert list(sae["Subject"]) == ["S2", "S3"]
    assert list(sae["Outcome"]) == ["resolved after 3 days", "fatal"]
    # days since CAR-T1 (CAR-T1 = day 0; issue 11: one day convention): study days 10 and 8 minus 1
    assert list(sae["Onset day"]) == ["9", "7"]
    deaths = LI.death_listing(adsl)
    # S2 died 2023-03-01, 59 days after CAR-T1 on 2023-01-01 (day 0); relapse on 2023-02-25 came first
    assert list(deaths["Subject"]) == ["S2", "S3"]
    assert list(deaths["Day of death"]) == ["59", "9"]
    assert list(deaths["Relapse before death"]) == ["yes", "no"]
    assert list(deaths["Last step reached"]) == ["stem-cell collection", "CAR-T1"]
    assert ST.flagged_term(adae, "CRSFL", "x") == "Cytokine release syndrome"
    assert ST.flagged_term(adae, "ICANSFL", "ICANS default") == "ICANS default"
    with pytest.raises(ValueError, match="several preferred terms"):
        ST.flagged_term(adae.assign(CRSFL="Y"), "CRSFL", "x")
    empty = LI.listing_table(sae.iloc[0:0], "Serious AEs")
    assert empty.frame.iloc[0, 0] == "None."


def test_comparison_table_formats_the_ard_numbers():
    parts = []
    for g, n, e, s2 in ((TRIAL, 40, 10, 0.7512), (CTRL, 150, 60, 0.5549)):
        parts.append(A.rows("km_n", "OS", g, "AVAL", "", {"n": n, "n_event": e}))
        for lv, s in ((C.TIMEPOINT_1Y_DAYS, 0.9), (C.TIMEPOINT_2Y_DAYS, s2)):
            parts.append(A.rows("km", "OS", g, "AVAL", lv, {"surv": s, "lcl": s - 0.1, "ucl": s + 0.05}))
        parts.append(A.rows("km_median", "OS", g, "AVAL", "median", {"median": np.nan, "lcl": 600.0,
                                                                      "ucl": np.nan}))
    parts.append(A.rows("km_diff", "OS", COMP, "AVAL", C.TIMEPOINT_2Y_DAYS,
                        {"diff": 0.1963, "lcl": 0.0123, "ucl": 0.3803, "p": 0.04}))
    parts.append(A.rows("cox", "OS", COMP, "COHORT", "", {"hr": 0.555, "lcl": 0.3, "ucl": 1.02, "p": 0.0004}))
    parts.append(A.rows("logrank", "OS", COMP, "COHORT", "", {"chisq": 4, "df": 1, "p": 0.0455}))
    ard = A.read(_roundtrip(A.concat(parts)))
    t = CT.comparison_table(ard, "km", params=("OS",), medians=True, title="x")
    assert t.headers[1] == f"{CS.cohort_label(TRIAL)}\nN = 40"
    assert t.cell("Events, n (%)", TRIAL) == "10 (25.0)"
    assert t.cell("Rate at 2 years, % (95% CI)", TRIAL) == "75.1 (65.1, 80.1)"  # no n_risk in this ARD
    assert t.cell("Median, months (95% CI)", CTRL) == f"NE ({600 / C.DAYS_PER_MONTH:.1f}, NE)"
    assert t.cell("Difference at 2 years, percentage points (95% CI)", "Comparison") == "19.6 (1.2, 38.0)"
    assert t.cell("Hazard ratio, trial vs control (95% CI)", "Comparison") == "0.56 (0.30, 1.02)"  # 0.555 half-up
    assert t.cell("Cox Wald P (nominal)", "Comparison") == "<0.001"
    assert t.cell("Log-rank P (nominal)", "Comparison") == "0.046"


# --- ARD -> tidy AE frames: the formatted tables show the ARD numbers --------------------------------

def _ae_ard() -> pd.DataFrame:
    soc, term = "Immune system disorders", "Cytokine release syndrome"
    parts = [A.rows("ae_overview", "TEAE", TRIAL, "category", "N", {"N": 40}),
             A.rows("ae_overview", "TEAE", TRIAL, "category", "Any TEAE", {"n_subj": 38, "pct": 95.0, "n_events": 120})]
    # the grade scope: group3 = ATOXGR at the worst grade (or ">=3"); empty for any grade
    for scope, n in (("", 34), ("1", 20), ("2", 8), ("3", 4), ("4", 2), (">=3", 6)):
        grade = {"group3": "ATOXGR" if scope else "", "group3_level": scope}
        parts.append(A.rows("ae", "TEAE", TRIAL, "ANY", "", {"n_subj": n, "pct": 100 * n / 40, "n_events": n + 1},
                            **grade))
        parts.append(A.rows("ae", "TEAE", TRIAL, "AEBODSYS", soc, {"n_subj": n, "pct": 100 * n / 40, "n_events": n},
                            **grade))
        parts.append(A.rows("ae", "TEAE", TRIAL, "AEDECOD", term, {"n_subj": n, "pct": 100 * n / 40, "n_events": n},
                            group2="AEBODSYS", group2_level=soc, **grade))
    return A.read(_roundtrip(A.concat(parts)))


def test_ae_tables_from_ard_rows():
    from analysis.present.layouts import format_ae_overview, format_ae_table
    ard = _ae_ard()
    tidy = AV.ae_table_frame(ard)
    assert set(tidy["section"]) == {"population", "overall", "soc", "term"}
    term_rows = tidy[tidy["section"] == "term"]
    assert set(term_rows["soc"]) == {"Immune system disorders"}
    assert set(term_rows["term"]) == {"Cytokine release syndrome"}
    table = format_ae_table(tidy, grades=("any", "3"), show_events=False)
    # 34 of 40 = 85.0 %, worst grade 3: 4 of 40 = 10.0 %
    assert table.cell("Cytokine release syndrome", f"{TRIAL} | Grade 3") == "4 (10.0)"
    assert table.cell("Cytokine release syndrome", f"{TRIAL} | Any grade") == "34 (85.0)"
    assert table.headers[1].startswith(f"{TRIAL}\nN = 40")
    overview = format_ae_overview(AV.ae_overview_frame(ard, "ae_overview"))
    assert overview.cell("Any TEAE", TRIAL) == "38 (95.0) [120]"
    grade = ST.term_grade_table(ard, "Cytokine release syndrome", title="CRS")
    assert grade.cell("Grade 2", TRIAL) == "8 (20.0)"
    assert grade.cell("Grade 5", TRIAL) == "0"        # no row in the ARD: nobody at grade 5
    assert grade.cell("Grade \u2265 3", TRIAL) == "6 (15.0)"


def test_ae_by_keeps_phase_order():
    parts = [A.rows("ae_by", "TEAE", TRIAL, "APHASE", "", {"N": 10})]
    for phase in ("CAR-T2", "AUTO-HSCT", "CAR-T1"):
        parts.append(A.rows("ae_by", "TEAE", TRIAL, "APHASE", phase, {"n_subj": 1, "pct": 10.0, "n_events": 1}))
    tidy = AV.ae_overview_frame(A.read(_roundtrip(A.concat(parts))), "ae_by", "APHASE", order=AV.PHASE_ORDER)
    levels = [c for c in dict.fromkeys(tidy["category"]) if c]
    assert levels == ["CAR-T1", "AUTO-HSCT", "CAR-T2"]
    with pytest.raises(ValueError, match="no 'ae_by' rows for CRSFL"):
        AV.ae_overview_frame(A.read(_roundtrip(A.concat(parts))), "ae_by", "CRSFL")


# --- changes since the previous cut ---------------------------------------------------------------

def _change_tables(first: bool = False, alerts: int = 0) -> dict:
    from analysis.regulatory.compare import COLUMNS, TABLES
    t = {name: pd.DataFrame(columns=COLUMNS[name]) for name in TABLES}
    if first:
        t["summary"] = pd.DataFrame({"item": ["from cut", "to cut"], "value": ["none (first data cut)", "cut-2025-06-30"]})
        return t
    t["summary"] = pd.DataFrame({"item": ["from cut", "to cut", "from cut locked"],
                                 "value": ["cut-2024-06-30", "cut-2025-06-30", "yes"]})
    t["raw_changes"] = pd.DataFrame({"form": ["dm", "dm", "ae"], "key": ["SUBJID=01-001"] * 3,
                                     "subject": ["01-001"] * 3, "field": ["HOSPRN", "SEX", ""],
                                     "old": ["H123456", "1", None], "new": ["H654321", "2", None],
                                     "change": ["value changed", "value changed", "record added"]})
    t["ard_changes"] = pd.DataFrame({"context": ["km", "km", "cox"], "param": ["OS", "OS", "OS"],
                                     "group1_level": [TRIAL, CTRL, TRIAL],
                                     "group2": ["", "", "REFERENCE"], "group2_level": ["", "", CTRL], "variable": ["AVAL", "AVAL", "COHORT"],
                                     "variable_level": [CS.LEVEL_2Y, CS.LEVEL_2Y, ""], "stat_name": ["surv", "surv", "hr"],
                                     "old": ["0.958", "0.765", "0.341"], "new": ["0.732", "0.765", "0.9"],
                                     "delta": [-0.226, 0.0, 0.559], "status": ["changed", "same", "changed"]})
    t["locked_alerts"] = pd.DataFrame({"cut": ["cut-2024-06-30"] * alerts, "what": ["raw export changed after lock"] * alerts,
                                       "file": ["data/raw/cut-2024-06-30/dm.csv"] * alerts,
                                       "locked_sha256": ["a"] * alerts, "current_sha256": ["b"] * alerts})
    return t


def test_changes_first_cut_is_one_line():
    text = CH.changes_markdown(_change_tables(first=True), ("HOSPRN",))
    assert text == "This is the first data cut (cut-2025-06-30): there is no previous cut to compare with."


def test_changes_withhold_identifiers_and_show_key_results():
    text = CH.changes_markdown(_change_tables(), ("HOSPRN", "BRTHDTC"))
    assert "H123456" not in text and "H654321" not in text
    assert CH.WITHHELD in text
    assert "SEX" in text  # a non-identifying field keeps its values
    moves = CH.key_result_moves(_change_tables()["ard_changes"])
    assert list(moves["Group"][:2]) == [CS.cohort_label(TRIAL), CS.cohort_label(CTRL)]
    assert list(moves.iloc[0][["Previous cut", "This cut", "Status"]]) == ["95.8%", "73.2%", "changed"]
    assert moves.loc[moves["Result"] == "OS hazard ratio", "This cut"].item() == "0.90"
    assert "No locked cut" in text and "callout-warning" not in text


def test_changes_call_out_a_changed_locked_cut():
    text = CH.changes_markdown(_change_tables(alerts=1), ("HOSPRN",))
    assert '::: {.callout-warning title="Data of a locked cut changed"}' in text
    assert "data/raw/cut-2024-06-30/dm.csv" in text


def test_value_carried_beyond_follow_up_is_marked():
    """A 2-year KM row with n_risk = 0 (nobody followed to 2 years; R extend = TRUE carries the
    last value) is marked, footnoted and said in words; a row with n_risk > 0 is not."""
    parts = []
    for g, n_risk in ((TRIAL, 0), (CTRL, 30)):
        parts.append(A.rows("km_n", "OS", g, "AVAL", "", {"n": 20, "n_event": 1}))
        for lv in (C.TIMEPOINT_1Y_DAYS, C.TIMEPOINT_2Y_DAYS):
            parts.append(A.rows("km", "OS", g, "AVAL", lv, {"n_risk": n_risk if lv > 400 else 10, "surv": 0.95,
                                                            "lcl": 0.7, "ucl": 0.99}))
    parts.append(A.rows("km_diff", "OS", COMP, "AVAL", C.TIMEPOINT_2Y_DAYS,
                        {"diff": 0.1, "lcl": -0.1, "ucl": 0.3, "p": 0.3}))
    parts.append(A.rows("logrank", "OS", COMP, "COHORT", "", {"chisq": 1, "df": 1, "p": 0.3}))
    ard = A.read(_roundtrip(A.concat(parts)))
    t = CT.comparison_table(ard, "km", params=("OS",))
    assert t.cell("Rate at 2 years, % (95% CI)", TRIAL) == f"95.0 (70.0, 99.0) {CT.CARRIED}"
    assert t.cell("Rate at 2 years, % (95% CI)", CTRL) == "95.0 (70.0, 99.0); n at risk 30"
    assert t.cell("Rate at 1 year, % (95% CI)", TRIAL) == "95.0 (70.0, 99.0); n at risk 10"
    assert t.cell("Difference at 2 years, percentage points (95% CI)", "Comparison").endswith(CT.CARRIED)
    assert t.footnotes[0] == CT.FOOTNOTE_CARRIED
    assert "Nobody in Sandwich (trial) was followed to 2 years" in CT.two_year_sentence(ard, "OS")
    rows = FO.forest_rows(ard)
    assert rows["carried"].tolist() == [True]
    assert "beyond a cohort's follow-up: Naive" in FO.robustness_statement(rows)


def test_rate_on_fewer_than_the_minimum_at_risk_is_not_a_bare_number():
    """SAP 3.5: 4 at risk at 2 years (< conventions.MIN_AT_RISK) -> "not reliably estimable (n at
    risk 4 < 10)"; 10 at risk -> the number with its n at risk."""
    parts = []
    for g, n_risk in ((TRIAL, 4), (CTRL, 10)):
        parts.append(A.rows("km", "OS", g, "AVAL", C.TIMEPOINT_2Y_DAYS,
                            {"n_risk": n_risk, "surv": 0.732, "lcl": 0.463, "ucl": 0.881}))
    ard = A.read(_roundtrip(A.concat(parts)))
    level = A._level_text(C.TIMEPOINT_2Y_DAYS)
    assert CT.pct_ci(ard, "km", param="OS", group1_level=TRIAL, variable_level=level) == \
        f"not reliably estimable (n at risk 4 < {C.MIN_AT_RISK})"
    assert CT.pct_ci(ard, "km", param="OS", group1_level=CTRL, variable_level=level) == "73.2 (46.3, 88.1); n at risk 10"


def test_ps_model_sentence_names_left_out_covariates():
    parts = [A.rows("ps_model", "ATT", COMP, "covariate", c, {"in_model": v})
             for c, v in (("AGE", True), ("SEX", True), ("CNSPOS", False))]
    text = PS.ps_model_sentence(A.read(_roundtrip(A.concat(parts))))
    assert text.startswith("The propensity model (main-effects logistic regression) includes age, sex.")
    assert "Left out at this cut: CNS involvement" in text
    assert PS.ps_model_sentence(A.read(_roundtrip(parts[0].assign(context="other")))) == ""


def test_fmt_ard_value():
    assert CH.fmt_ard_value("0.95833333333333337") == "0.958"
    assert CH.fmt_ard_value("40") == "40"
    assert CH.fmt_ard_value(-0.2255) == "-0.226"    # half away from zero
    assert CH.fmt_ard_value(None) == "" and CH.fmt_ard_value(float("nan")) == ""
    assert CH.fmt_ard_value("nan") == "NE"


def test_long_listing_is_cut_with_a_footnote_counting_the_rest():
    listing = pd.DataFrame({"Subject": [f"S{i}" for i in range(7)], "Day": [str(i) for i in range(7)]})
    table = LI.listing_table(listing, "Serious AEs", footnotes=["Study day 1 = CAR-T1."], max_rows=5)
    assert list(table.frame["Subject"]) == ["S0", "S1", "S2", "S3", "S4"]
    assert table.footnotes[0] == "Study day 1 = CAR-T1."
    assert table.footnotes[1].startswith("First 5 of 7 records shown")
    short = LI.listing_table(listing, "Serious AEs", max_rows=7)
    assert len(short.frame) == 7 and short.footnotes == []


def test_forest_drops_a_difference_resting_on_fewer_than_the_minimum_at_risk():
    """SAP 3.5 in the forest plot: the naive 2-year difference whose trial rate rests on 4 at risk
    is not drawn as a number (NaN, unreliable) and the robustness sentence says why."""
    ard, _ = _ard_diffs()
    level = C.TIMEPOINT_2Y_DAYS
    ard = A.concat([ard, A.rows("km", "OS", TRIAL, "AVAL", level, {"n_risk": 4, "surv": 0.7}),
                    A.rows("km", "OS", CTRL, "AVAL", level, {"n_risk": 80, "surv": 0.6})])
    rows = FO.forest_rows(A.read(_roundtrip(ard)))
    naive = rows[(rows["param"] == "OS") & (rows["analysis"] == "km_diff")].iloc[0]
    assert naive["unreliable"] and np.isnan(naive["diff"])
    assert "not reliably estimable (fewer than 10 at risk at 2 years): Naive" in FO.robustness_statement(rows)
    fig = FO.plot_forest(rows)
    assert f"n at risk < {C.MIN_AT_RISK}" in [t.get_text() for t in fig.axes[0].texts]


def test_rmst_forest_rows_are_the_ard_differences_in_months():
    """rmst_forest_rows: the RMST differences of the views that estimate one (primary tte, naive
    km, weighted iptw), ARD days / 30.4375, grouped as the views, the primary marked."""
    parts = [A.rows(a, "OS", COMP, "AVAL", C.RMST_TAU_DAYS, {"diff": d, "lcl": d - 60, "ucl": d + 60})
             for a, d in (("tte_rmst_diff", 90.0), ("rmst_diff", 30.0), ("iptw_rmst_diff", 45.0))]
    rows = FO.rmst_forest_rows(A.read(_roundtrip(A.concat(parts))), params=("OS",))
    assert rows["analysis"].tolist() == ["tte_rmst_diff", "rmst_diff", "iptw_rmst_diff"]
    np.testing.assert_allclose(rows["diff"], np.array([90.0, 30.0, 45.0]) / C.DAYS_PER_MONTH, atol=1e-12)
    assert rows["primary"].tolist() == [True, False, False]
    text = FO.robustness_statement(rows, scale=1, unit="months", measure="difference in RMST to 24 months")
    assert "common clock: Primary: ATT-weighted 3.0 (1.0, 4.9) months" in text
