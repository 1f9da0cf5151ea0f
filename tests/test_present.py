"""Tests of the formatting layer analysis.present: number rules, display layouts, HTML and RTF.

Expected strings are written by hand from the rules in analysis/present/formats.py (half away
from zero, "n (x.x)", "median (Q1, Q3)", "NE", "<0.001") and from hand-computed statistics.
"""

from __future__ import annotations

import re

import lxml.html
import numpy as np
import pandas as pd
import pytest

from analysis.present import layouts as L
from analysis.present import table as T
from analysis.present import formats as F
from analysis.stats import tables

# ------------------------------------------------------------------------------------------------
# number rules
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, decimals, expected", [
    (2.675, 2, "2.68"),      # binary 2.67499.. -> half-even/float formatting would give 2.67
    (0.125, 2, "0.13"),      # exact tie: away from zero (Python's round gives 0.12)
    (3.25, 1, "3.3"),
    (-0.5, 0, "-1"),
    (-0.04, 1, "0.0"),       # no negative zero
    (12.0, 0, "12"),
    (float("nan"), 1, "NE"),
    (float("inf"), 1, "NE"),
    (None, 1, "NE"),
])
def test_fmt_num_rounds_half_away_from_zero(value, decimals, expected):
    assert F.fmt_num(value, decimals) == expected


@pytest.mark.parametrize("p, expected", [
    (0.0004, "<0.001"), (0.001, "0.001"), (0.0496, "0.050"), (0.5, "0.500"),
    (0.9996, ">0.999"), (float("nan"), "NE"),
])
def test_fmt_pvalue(p, expected):
    assert F.fmt_pvalue(p) == expected


def test_composite_formats():
    assert F.fmt_n_pct(3, 100 * 3 / 7) == "3 (42.9)"
    assert F.fmt_n_pct(0, 0.0) == "0"
    assert F.fmt_n_pct(2, float("nan")) == "2 (NE)"
    assert F.fmt_n_pct_events(2, 200 / 3, 3) == "2 (66.7) [3]"
    assert F.fmt_n_pct_events(0, 0, 0) == "0"
    assert F.fmt_mean_sd(2.5, 1.2909944, 0) == "2.5 (1.29)"
    assert F.fmt_median_q1q3(2.5, 1.75, 3.25, 0) == "2.5 (1.8, 3.3)"
    assert F.fmt_range(1, 4, 0) == "1, 4"
    assert F.fmt_est_ci(23.0, 16.43, float("nan"), 1) == "23.0 (16.4, NE)"
    assert F.fmt_header("Placebo", 86) == "Placebo\nN = 86"
    assert F.fmt_conf_level(0.95) == "95%" and F.fmt_conf_level(0.975) == "97.5%"


# ------------------------------------------------------------------------------------------------
# Table 1
# ------------------------------------------------------------------------------------------------

@pytest.fixture
def small_adsl():
    return pd.DataFrame({
        "USUBJID": list("abcdefg"),
        "ARM": ["A", "A", "A", "B", "B", "B", "B"],
        "AGE": [10, 20, 30, 1, 2, 3, 4],
        "SEX": ["F", "M", None, "F", "F", "M", "M"],
    })


def test_format_table1_cells(small_adsl):
    tidy = tables.table1(small_adsl, "ARM", ["AGE", "SEX"], categorical=["SEX"],
                         labels={"AGE": "Age (years)", "SEX": "Sex"})
    t = L.format_table1(tidy, groups=["A", "B"])
    # hand computation: A = 10, 20, 30 -> mean 20, SD 10, quartiles 15 / 25 (linear);
    # B = 1..4 -> mean 2.5, SD 1.2910, quartiles 1.75 / 3.25
    assert t.frame.loc[t.frame.Characteristic == "Mean (SD)", "A"].item() == "20.0 (10.00)"
    assert t.frame.loc[t.frame.Characteristic == "Mean (SD)", "B"].item() == "2.5 (1.29)"
    assert t.frame.loc[t.frame.Characteristic == "Median (Q1, Q3)", "B"].item() == "2.5 (1.8, 3.3)"
    assert t.frame.loc[t.frame.Characteristic == "Min, Max", "A"].item() == "10, 30"
    assert t.cell("F", "A") == "1 (33.3)" and t.cell("F", "B") == "2 (50.0)"
    assert t.cell("Missing", "A") == "1 (33.3)" and t.cell("Missing", "B") == "0"
    # Missing is the last level of Sex
    levels = t.frame.Characteristic.tolist()
    assert levels.index("Missing") == levels.index("M") + 1
    assert t.headers[:3] == ["Characteristic", "A\nN = 3", "B\nN = 4"]
    assert t.headers[-1] == "SMD\nA vs B"
    smd = tidy.loc[(tidy.variable == "AGE") & (tidy.stat_name == "smd"), "stat"].item()
    assert t.cell("Age (years)", "SMD A vs B") == F.fmt_smd(smd)
    assert any("standardized mean difference" in n for n in t.footnotes)
    # the label rows are flush left, statistics indented
    assert t.indent[levels.index("Age (years)")] == 0 and t.indent[levels.index("Mean (SD)")] == 1


# ------------------------------------------------------------------------------------------------
# AE tables
# ------------------------------------------------------------------------------------------------

@pytest.fixture
def ae_tidy():
    adsl = pd.DataFrame({"USUBJID": ["S1", "S2", "S3", "S4", "S5"], "ARM": ["A", "A", "A", "B", "B"],
                         "SAFFL": "Y"})
    adae = pd.DataFrame({
        "USUBJID": ["S1", "S1", "S2", "S4", "S1"],
        "AEBODSYS": ["Immune", "Immune", "Immune", "Blood", "Blood"],
        "AEDECOD": ["CRS", "CRS", "CRS", "Anemia", "Anemia"],
        "ATOXGR": [1, 3, 2, 4, 1], "TRTEMFL": "Y"})
    return tables.ae_summary(adae, adsl, "ARM")


def test_format_ae_table_cells_and_order(ae_tidy):
    t = L.format_ae_table(ae_tidy, grades=("any", ">=3"))
    col_any, col_high = "A | Any grade", "A | Grade \u2265 3"
    assert t.cell("CRS", col_any) == "2 (66.7) [3]"        # S1 twice + S2 -> 2 subjects, 3 events
    assert t.cell("CRS", col_high) == "1 (33.3) [1]"
    assert t.cell("CRS", "B | Any grade") == "0"
    assert t.cell("Subjects with at least one TEAE", "B | Any grade") == "1 (50.0) [1]"
    # frequency order: Blood (S4 + S1) and Immune (S1 + S2) tie at 2 subjects -> alphabetical
    labels = t.frame.iloc[:, 0].tolist()
    assert labels == ["Subjects with at least one TEAE", "Blood", "Anemia", "Immune", "CRS"]
    assert t.indent == [0, 0, 1, 0, 1]
    assert t.headers[1] == "A\nN = 3\nAny grade"
    worst = L.format_ae_table(ae_tidy, grades=("1", "2", "3", "4", "5"), show_events=False)
    assert worst.cell("CRS", "A | Grade 3") == "1 (33.3)"  # S1 at its worst grade only
    assert worst.cell("CRS", "A | Grade 1") == "0"
    assert any("worst grade" in n for n in worst.footnotes)
    with pytest.raises(ValueError, match="grades"):
        L.format_ae_table(ae_tidy, grades=("7",))


def test_format_ae_table_min_pct_drops_rare_terms(ae_tidy):
    t = L.format_ae_table(ae_tidy, min_pct=60)
    assert t.frame.iloc[:, 0].tolist() == ["Subjects with at least one TEAE", "Immune", "CRS"]


# ------------------------------------------------------------------------------------------------
# survival and rates (frames with the columns of analysis.stats.survival / rates)
# ------------------------------------------------------------------------------------------------

@pytest.fixture
def km_frames():
    q = pd.DataFrame({"COHORT": ["SANDWICH"] * 2 + ["ALLO_EXT"] * 2, "prob": [0.5, 0.25] * 2,
                      "quantile": [700.0, 200.0, 400.0, 150.0], "lcl": [500.0, 100.0, 300.0, 90.0],
                      "ucl": [np.nan, 300.0, 600.0, 250.0], "conf_type": "log-log", "conf_level": 0.95})
    e = pd.DataFrame({"COHORT": ["SANDWICH"] * 3 + ["ALLO_EXT"] * 3,
                      "time": [100.0, 500.0, 800.0, 100.0, 600.0, 700.0],
                      "surv": [0.9, 0.8, 0.7512, 0.95, 0.7, 0.6], "lcl": [0.8, 0.7, 0.6, 0.9, 0.6, 0.5],
                      "ucl": [0.95, 0.9, 0.85, 0.99, 0.8, 0.7], "conf_type": "log-log", "conf_level": 0.95,
                      "method": "Kaplan-Meier, Greenwood variance"})
    lr = pd.DataFrame({"COHORT": ["SANDWICH", "ALLO_EXT"], "n": [25, 40], "observed": [6, 14],
                       "chisq": 1.2, "df": 1, "p": 0.2734})
    cox = pd.DataFrame({"term": ["SANDWICH"], "hr": [0.654], "lcl": [0.3], "ucl": [1.4], "p": [0.0004]})
    return q, e, lr, cox


def test_format_survival_summary(km_frames):
    q, e, lr, cox = km_frames
    diff = pd.DataFrame({"COHORT": ["SANDWICH"], "reference": ["ALLO_EXT"], "time": [730.5],
                         "diff": [0.2], "lcl": [-0.0049], "ucl": [0.40501],
                         "method": ["difference of Kaplan-Meier estimates, Greenwood variance"]})
    t = L.format_survival_summary(q, "COHORT", estimates=e, timepoints=[730.5], logrank=lr, cox=cox,
                                  difference=diff, groups=["SANDWICH", "ALLO_EXT"])
    assert t.cell("Difference in rate at 2 years (SANDWICH - ALLO_EXT), percentage points (95% CI)",
                  "Comparison") == "20.0 (-0.5, 40.5)"
    assert "Difference in KM rates: difference of Kaplan-Meier estimates, Greenwood variance." in t.footnotes
    # 700 d / 30.4375 = 22.998 -> 23.0; 500 d -> 16.4; upper limit not reached -> NE
    assert t.cell("Median, months (95% CI)", "SANDWICH") == "23.0 (16.4, NE)"
    assert t.cell("25th percentile, months (95% CI)", "ALLO_EXT") == "4.9 (3.0, 8.2)"
    # at 730.5 d the step in effect is the row at 500 d (SANDWICH) / 700 d (ALLO_EXT)
    assert t.cell("Rate at 2 years, % (95% CI)", "SANDWICH") == "80.0 (70.0, 90.0)"
    assert t.cell("Rate at 2 years, % (95% CI)", "ALLO_EXT") == "60.0 (50.0, 70.0)"
    assert t.cell("Events, n (%)", "ALLO_EXT") == "14 (35.0)"
    assert t.cell("Hazard ratio (SANDWICH) (95% CI)", "Comparison") == "0.65 (0.30, 1.40)"
    assert t.cell("Cox Wald P (SANDWICH)", "Comparison") == "<0.001"
    assert t.cell("Log-rank P", "Comparison") == "0.273"
    assert t.headers[1:3] == ["SANDWICH\nN = 25", "ALLO_EXT\nN = 40"]
    assert any("Kaplan-Meier, Greenwood variance, log-log transform" in n for n in t.footnotes)
    assert any("30.4375 days" in n for n in t.footnotes)


def test_format_rates():
    r = pd.DataFrame({"COHORT": ["SANDWICH", "SANDWICH", "ALLO_EXT"],
                      "endpoint": ["FC-MRD negative", "NGS-MRD negative", "FC-MRD negative"],
                      "x": [18, 12, 0], "n": [20, 18, 10], "rate": [0.9, 12 / 18, 0.0],
                      "lcl": [0.6830, 0.4099, 0.0], "ucl": [0.9877, 0.8666, 0.3085],
                      "method": "clopper-pearson"})
    t = L.format_rates(r, by="COHORT", label="endpoint")
    assert t.frame.loc[0, "SANDWICH"] == "18/20 (90.0)" and t.frame.loc[1, "SANDWICH"] == "(68.3, 98.8)"
    assert t.frame.loc[0, "ALLO_EXT"] == "0/10 (0.0)" and t.frame.loc[1, "ALLO_EXT"] == "(0.0, 30.9)"
    assert t.frame.loc[2, "ALLO_EXT"] == "NE"          # no NGS rate in that cohort
    assert "Exact Clopper-Pearson 95% CI." in t.footnotes
    # different denominators within SANDWICH: no single "N = " in its header
    assert t.headers[1:] == ["SANDWICH", "ALLO_EXT\nN = 10"]


# ------------------------------------------------------------------------------------------------
# HTML and RTF
# ------------------------------------------------------------------------------------------------

@pytest.fixture
def demo_table():
    frame = pd.DataFrame({"Characteristic": ["Age", "Mean (SD)", "P & Q {x}"],
                          "A": ["", "20.0 (10.00)", "<0.001"], "B": ["", "2.5 (1.29)", "\u2265 3"]})
    return T.Table(title="Table 14.1.1 Demographics {draft}", frame=frame,
                   headers=["Characteristic", "A\nN = 3", "B\nN = 4"], indent=[0, 1, 1],
                   subtitles=["Safety population"], source="Source: ADSL (TRTEMFL_X)",
                   footnotes=["SMD: standardized mean difference.", "NE: not estimable."])


def test_to_html_structure(demo_table):
    doc = lxml.html.fromstring(T.to_html(demo_table))
    assert doc.tag == "table"
    assert doc.find("caption").text_content() == "Table 14.1.1 Demographics {draft}Safety population"
    assert [th.text_content() for th in doc.iter("th")] == ["Characteristic", "AN = 3", "BN = 4"]
    rows = doc.find("tbody").findall("tr")
    assert [td.text_content() for td in rows[2]] == ["P & Q {x}", "<0.001", "\u2265 3"]
    assert "padding-left:1.5em" in rows[1][0].get("style")
    # notebooks show the HTML as a Pandoc raw block in a text/markdown output, never as text/html
    # (Quarto would add require.js/jQuery from a CDN for it: analysis.present.rawhtml)
    from IPython.core.formatters import DisplayFormatter
    data, _ = DisplayFormatter().format(demo_table)
    assert set(data) == {"text/plain", "text/markdown"}
    assert data["text/markdown"] == "```{=html}\n" + T.to_html(demo_table).strip("\n") + "\n```\n"
    notes = [td.text_content() for td in doc.find("tfoot").iter("td")]
    assert notes == ["SMD: standardized mean difference.", "NE: not estimable.", "Source: ADSL (TRTEMFL_X)"]


def _balanced_braces(text: str) -> bool:
    depth = 0
    for token in re.findall(r"\\[\\{}]|[{}]", text):  # escaped \\ \{ \} are not groups
        if token in ("{", "}"):
            depth += 1 if token == "{" else -1
            if depth < 0:
                return False
    return depth == 0


def _rtf_table_rows(text: str) -> list[list[str]]:
    """Cell texts of every RTF table row, decoded (an independent minimal reader: cells are
    ``{\\f0 text}\\cell`` groups, rows end with ``\\row``)."""
    def decode(cell: str) -> str:
        cell = re.sub(r"\\uc1\\u(-?\d+)\*", lambda m: chr(int(m.group(1)) % 65536), cell)
        cell = cell.replace("\\line ", "\n")
        return re.sub(r"\\([\\{}])", r"\1", cell)
    rows = text.split("\\intbl\\row")[:-1]
    return [[decode(c) for c in re.findall(r"\{\\f0 ((?:[^{}\\]|\\.)*)\}\\cell", row)] for row in rows]


def test_write_rtf_well_formed(demo_table, tmp_path):
    path = T.write_rtf(demo_table, tmp_path / "t14_1_1.rtf")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("{\\rtf1") and text.rstrip().endswith("}")
    assert _balanced_braces(text)
    assert "Table 14.1.1 Demographics \\{draft\\}" in text           # braces escaped, not groups
    assert "A\\line N = 3" in text and "B\\line N = 4" in text      # header with N on a new line
    assert "20.0 (10.00)" in text and "<0.001" in text
    assert "\\u8805" in text                                         # the >= sign as RTF unicode
    assert "SMD: standardized mean difference." in text and "NE: not estimable." in text
    assert "TRTEMFL_X" in text and "\\sub" not in text               # no LaTeX-style conversion
    assert "   Mean (SD)" in text                                    # indented row label
    assert "Page \\chpgn of" in text                                 # page x of y header
    rows = _rtf_table_rows(text)                                     # read back, decoded
    assert rows[0] == demo_table.headers
    assert rows[1:4] == demo_table.with_indented_labels().values.tolist()


def test_rtf_of_cdisc_pilot_ae_table(cdisc_pilot_dir, tmp_path):
    read = lambda n: pd.read_sas(cdisc_pilot_dir / f"{n}.xpt", format="xport", encoding="latin1")  # noqa: E731
    tidy = tables.ae_summary(read("adae"), read("adsl"), "TRT01A", grade=None)
    t = L.format_ae_table(tidy, groups=["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"],
                          sort="alpha", title="Table 14-5.01 Incidence of TEAEs by treatment group")
    text = T.write_rtf(t, tmp_path / "ae.rtf").read_text(encoding="utf-8")
    assert _balanced_braces(text)
    # the published CDISC Pilot 01 row "ANY BODY SYSTEM": 65 (75.6%) [281] / 77 (91.7%) [412]
    assert "65 (75.6) [281]" in text and "77 (91.7) [412]" in text
    assert "Placebo\\line N = 86" in text
    # every body row, in order and complete, across the page breaks (headers repeat per page)
    rows = _rtf_table_rows(text)
    header_rows = [r for r in rows if r == t.headers]
    body = [r for r in rows if r != t.headers and len(r) == len(t.headers)]
    assert len(header_rows) == text.count("\\page") + 1 >= 2
    assert body == t.with_indented_labels().values.tolist()


def test_table_rejects_mismatched_headers():
    with pytest.raises(ValueError, match="headers"):
        T.Table(title="x", frame=pd.DataFrame({"a": ["1"], "b": ["2"]}), headers=["a"])


def test_write_outputs_writes_both_formats(demo_table, tmp_path):
    paths = T.write_outputs(demo_table, tmp_path / "tables", "t14_1_1")
    assert paths["html"].read_text(encoding="utf-8").startswith('<table class="clinical-table">')
    assert paths["rtf"].read_text(encoding="utf-8").startswith("{\\rtf1")
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["t14_1_1.html", "t14_1_1.rtf"]


def test_format_ae_overview_and_ae_by():
    adsl = pd.DataFrame({"USUBJID": ["S1", "S2", "S3"], "ARM": ["A", "A", "B"], "SAFFL": "Y"})
    adae = pd.DataFrame({"USUBJID": ["S1", "S1", "S2"], "ATOXGR": [3, 1, 5], "TRTEMFL": "Y",
                         "AESER": ["Y", "N", "Y"], "AREL": ["N", "N", "Y"],
                         "APHASE": ["CAR-T1", "CAR-T1", "HSCT"]})
    ov = L.format_ae_overview(tables.ae_overview(adae, adsl, "ARM"))
    assert ov.cell("Any TEAE", "A") == "2 (100.0) [3]" and ov.cell("Any TEAE", "B") == "0"
    assert ov.cell("Any TEAE of grade 5", "A") == "1 (50.0) [1]"
    assert ov.headers == ["Category", "A\nN = 2", "B\nN = 1"]
    by = L.format_ae_overview(tables.ae_by(adae, adsl, "ARM", "APHASE"), category="level",
                              row_header="Treatment phase", show_events=False)
    assert by.cell("CAR-T1", "A") == "1 (50.0)" and by.cell("HSCT", "A") == "1 (50.0)"


def test_format_survival_summary_single_arm_with_counts(km_frames):
    q, e, _, _ = km_frames
    one = q[q.COHORT == "SANDWICH"].drop(columns="COHORT")
    t = L.format_survival_summary(one, None, counts=pd.DataFrame({"n": [25], "events": [6]}),
                                  time_unit="days", decimals=0)
    assert t.headers == ["Overall survival", "All\nN = 25"]
    assert t.cell("Events, n (%)", "All") == "6 (24.0)"
    assert t.cell("Median, days (95% CI)", "All") == "700 (500, NE)"
    assert "Comparison" not in t.frame.columns


def test_format_table1_from_minimal_columns(small_adsl):
    """Rows read back from the analysis results dataset carry only variable, level, group,
    reference (of the SMD rows), stat_name, stat: the same display results (labels = variable names)."""
    tidy = tables.table1(small_adsl, "ARM", ["AGE", "SEX"], categorical=["SEX"])
    full = L.format_table1(tidy)
    minimal = tidy[["variable", "level", "group", "reference", "stat_name", "stat"]].copy()
    for c in ("level", "reference"):
        minimal[c] = minimal[c].replace("", np.nan)   # as a CSV round trip gives it
    slim = L.format_table1(minimal)
    pd.testing.assert_frame_equal(slim.frame, full.frame)
    assert slim.headers == full.headers
