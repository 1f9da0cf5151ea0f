"""Issue 11, the parts the first pass left: every table and figure of every notebook numbered in
the registry (efficacy, MRD, external control included), one Table 1, and the presentation defects
(display labels instead of ARD ids, love plot, weighted KM legend, MRD caption, one name for the
1-year rate, one day convention). Small hand-made inputs; each test fails on the code before.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis import conventions as C  # noqa: E402
from analysis.paths import REPO_ROOT  # noqa: E402
from analysis.present import labels as L  # noqa: E402
from analysis.present import numbering as NB  # noqa: E402

NOTEBOOKS = sorted((REPO_ROOT / "analysis" / "notebooks").glob("*.qmd"))
CHUNK = re.compile(r"```\{python\}\n(.*?)```", re.S)


def _chunks(path):
    """(label, fig-cap, code) of every labelled cell of a notebook."""
    out = []
    for body in CHUNK.findall(path.read_text(encoding="utf-8")):
        label = re.search(r"^#\| label: (\S+)$", body, re.M)
        if label:
            cap = re.search(r'^#\| fig-cap: "(.*)"$', body, re.M)
            out.append((label.group(1), cap.group(1) if cap else None, body))
    return out


def _program(path) -> str:
    return "analysis/notebooks/" + path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_table_and_figure_of_a_notebook_is_registered_and_numbered(path):
    cells = [c for c in _chunks(path) if c[0].startswith(("tbl-", "fig-"))]
    registered = {o.chunk: o for o in NB.outputs_of(_program(path))}
    assert sorted(registered) == sorted(label for label, _, _ in cells), "registry and notebook disagree"
    for label, cap, code in cells:
        entry = registered[label]
        if label.startswith("fig-"):
            assert entry.kind == "Figure" and cap.startswith(f"{entry.label}: "), (label, cap)
        else:
            assert entry.kind in ("Table", "Listing")
            # the cell shows the rtf step's table of its key (numbered title, footer; one builder)
            body = [line for line in code.splitlines() if line.strip() and not line.startswith("#|")]
            assert body == [f'CSR.show("{entry.key}", inputs)'], label


def test_the_registry_covers_efficacy_mrd_and_external_control():
    programs = {o.program.rsplit("/", 1)[1] for o in NB.OUTPUTS}
    assert {"03-efficacy.qmd", "04-mrd.qmd", "06-external-control.qmd", "07-external-sensitivity.qmd"} <= programs
    assert len({o.chunk for o in NB.OUTPUTS}) == len(NB.OUTPUTS)


def test_table_1_is_shown_once_in_the_whole_report():
    """Old code: 02-population and 06-external-control each rendered a Table 1 (different rounding).
    Now one builder (analysis/present/csr/population.py) and one cell show it."""
    cells = [(p.name, label) for p in NOTEBOOKS for label, _, code in _chunks(p)
             if "format_table1(" in code or '"table1"' in code]
    assert cells == [("02-population.qmd", "tbl-table1")]
    builders = sorted(p.name for p in (REPO_ROOT / "analysis/present/csr").glob("*.py")
                      if "format_table1(" in p.read_text(encoding="utf-8"))
    assert builders == ["population.py"]


def test_method_footnotes_name_the_analysis_not_its_ard_id():
    from analysis.present import comparison_tables as CT
    methods = pd.DataFrame({"analysis": ["km", "iptw_cox", "tte_rmst_diff", "landmark_n", "gray"],
                            "method": ["Kaplan-Meier", "weighted Cox", "bootstrap", "counts", "Gray (1988)"]})
    lines = CT.methods_lookup(methods, "km", "iptw_cox", "tte_rmst_diff", "landmark_n", "gray", "absent")
    assert lines == ["Survival rates: Kaplan-Meier.", "Hazard ratio (weighted): weighted Cox.",
                     "Difference in RMST (primary): bootstrap.", "Subjects and events (landmark): counts.",
                     "Gray's test: Gray (1988)."]
    assert not any(re.match(r"^[a-z0-9_]+:", line) for line in lines)


def test_maturity_footnotes_carry_no_ard_ids():
    from analysis.present import maturity as M
    assert M.__dict__["L"].method_notes({"mrd_agreement": "Cohen's kappa"}, "mrd_agreement") == \
        ["FC / NGS agreement: Cohen's kappa."]


def _balance():
    # the largest imbalance on the bottom row, at the right: where the old legend ("lower right") sat
    return pd.DataFrame({"covariate": ["AGE", "SEX", "MRDPRE"], "level": [None, "F", "POS"],
                         "smd_unweighted": [0.05, 0.2, 0.9], "smd_weighted": [0.02, 0.05, 0.85]})


def test_love_plot_legend_covers_no_point_and_axis_shows_display_labels():
    from analysis.stats.weighting import love_plot
    fig = love_plot(_balance(), labels=L.covariate_label)
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend() or fig.legends[0]
    box = legend.get_window_extent()
    assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1), "legend cut off"
    for coll in ax.collections:
        for x, y in ax.transData.transform(coll.get_offsets()):
            assert not box.contains(x, y), "the legend covers a point"
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == ["Age (years)", "Sex: female", "MRD before therapy: positive"]
    assert not any(code in t for t in ticks for code in ("MRDPRE", "POS", "SEX")), ticks   # no raw codes
    plt.close(fig)


def test_weighted_km_legend_shows_subjects_and_sum_of_weights():
    """Old code: the legend said "N = 3" for 4 controls whose weights sum to 3.5 (n_risk of the
    weighted origin row, rounded)."""
    from analysis.present import curves as CV
    from analysis.stats import survival
    adtte = pd.DataFrame({"COHORT": [C.COHORT_TRIAL] * 3 + [C.COHORT_EXTERNAL] * 4,
                          "AVAL": [100, 200, 300, 50, 150, 250, 400], "CNSR": [0, 1, 0, 0, 1, 0, 1],
                          "W": [1, 1, 1, 0.5, 1.0, 1.5, 0.5]})
    curve = survival.km_curve(adtte, "COHORT", conf_type=C.KM_CONF_TYPE, conf_level=C.CONF_LEVEL, weights="W")
    fig = CV.plot_km_panels({"OS": curve}, n_subjects={"OS": {C.COHORT_TRIAL: 3, C.COHORT_EXTERNAL: 4}})
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("N = 4; sum of weights 3.5" in t for t in texts), texts
    assert any("N = 3; sum of weights 3.0" in t for t in texts), texts
    plt.close(fig)


def test_mrd_figure_caption_describes_what_is_drawn():
    """The sensitivity is drawn as short horizontal tick markers and each patient's samples are
    joined by thin grey lines; the old caption spoke of grey bars (nothing is a bar)."""
    from matplotlib.patches import Rectangle

    from analysis.present import figures as FG
    samples = pd.DataFrame({"USUBJID": ["A", "A", "B"], "METHOD": ["FC", "FC", "FC"], "day": [28, 90, 28],
                            "level": [1e-3, 1e-4, 1e-5], "undetectable": [False, True, False],
                            "SENS": [1e-5, 1e-4, 1e-5]})
    fig = FG.mrd_course_plot(samples, {"FC": 1e-4})
    ax = fig.axes[0]
    markers = {line.get_marker() for line in ax.get_lines()}
    joined = [line for line in ax.get_lines() if line.get_linestyle() == "-" and line.get_marker() in ("None", "", None)]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    plt.close(fig)
    cap = dict((label, c) for label, c, _ in _chunks(REPO_ROOT / "analysis/notebooks/04-mrd.qmd"))["fig-mrd-course"]
    assert "_" in markers and "tick" in cap
    assert joined and "grey lines" in cap
    assert not bars and "bar" not in cap


def test_one_name_for_the_one_year_rate():
    """Old code: 'Rate at 12 months' in the single-arm table, 'Rate at 1 year' in the others."""
    from analysis.present import maturity as M
    from analysis import ard as A
    trial = C.COHORT_TRIAL
    ard = A.concat([*(A.rows("km", "MRDDURFC", trial, "AVAL", level, {"surv": 0.5, "lcl": 0.3, "ucl": 0.7, "n_risk": 12})
                      for level in (M.LEVEL_1Y, M.LEVEL_2Y)),
                    A.rows("km_n", "MRDDURFC", trial, "", "", {"n": 20, "n_event": 6}),
                    A.rows("km_median", "MRDDURFC", trial, "", "", {"median": np.nan, "lcl": np.nan, "ucl": np.nan})])
    table = M.single_arm_km_table(ard, {"MRDDURFC": "FC-MRD"}, title="t")
    labels = list(table.frame.iloc[:, 0])
    assert "Rate at 1 year, % (95% CI); n at risk" in labels and "Rate at 2 years, % (95% CI); n at risk" in labels
    assert not any("months" in lb and lb.startswith("Rate") for lb in labels)
    assert L.timepoint_name(C.TIMEPOINT_1Y_DAYS) == "1 year"


def test_one_day_convention_in_listings_and_tables():
    """Old code: listings showed CDISC study days (CAR-T1 = day 1) while the tables count days
    since the event (day 0): an AE on the day of CAR-T1 was 'day 1' in the listing."""
    from analysis.present import listings as LI
    d = pd.Timestamp
    adae = pd.DataFrame({"USUBJID": ["S1", "S1"], "AESER": ["Y", "Y"], "TRTEMFL": ["Y", "Y"],
                         "AEDECOD": ["Sepsis", "Fever"], "ATOXGR": [3.0, 2.0], "APHASE": ["CAR-T1", "CAR-T1"],
                         "TRTSDT": [d("2024-01-01")] * 2, "ASTDT": [d("2024-01-01"), d("2024-01-31")],
                         "AENDT": [d("2024-01-05"), pd.NaT], "ASTDY": [1.0, 31.0], "AENDY": [5.0, np.nan],
                         "ADURN": [5.0, np.nan]})
    listing = LI.serious_ae_listing(adae)
    assert list(listing["Onset day"]) == ["0", "30"] and list(listing["End day"]) == ["4", ""]
    adsl = pd.DataFrame({"COHORT": [C.COHORT_TRIAL], "USUBJID": ["S1"], "DTHFL": ["Y"], "TRTSDT": [d("2024-01-01")],
                         "DTHDT": [d("2024-01-31")], "DTHCAUS": ["INFECTION"], "RELDT": [pd.NaT]})
    assert list(LI.death_listing(adsl)["Day of death"]) == ["30"]   # "within 30 days" in Table 14.3.2.1
    safety = (REPO_ROOT / "analysis/present/csr/safety.py").read_text(encoding="utf-8")   # the listings' footnotes
    assert "day 1 = CAR-T1" not in safety and "CAR-T1 = day 0" in safety
