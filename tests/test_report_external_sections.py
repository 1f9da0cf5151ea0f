"""Report sections 05-08 (safety, external control, external sensitivity, changes) rendered for
the shipped latest data cut and read back in headless Chromium.

One module-scoped render: a scratch project tree gets a copy of the shipped raw exports of every
cut; derive, analyze and changes run for the previous and the latest cut (validation is the
validation tests' business), then ``render_cut`` renders only these four notebooks. Each page
must show its sections, table captions and figures, with every image decoding, nothing loaded
from outside the file, and the numbers quoted in the text equal to the ARD's, formatted.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from analysis import conventions as C
from analysis import paths
from analysis import ard as ard_io
from analysis.present import cohort_style as CS
from analysis.present import forest as FO
from analysis.present import safety_tables as ST
from analysis.present import formats as F

pytestmark = pytest.mark.needs_chromium

NOTEBOOKS = ("05-safety.qmd", "06-external-control.qmd", "07-external-sensitivity.qmd", "08-changes.qmd")
EXPECTED = {
    "05-safety.html": {   # issue 11: numbered tables (analysis/present/numbering.py)
        "headings": ["Exposure, adherence and follow-up", "Overview of adverse events",
                     "Adverse events by system organ class, preferred term and worst grade",
                     "Adverse events of grade 3 or higher", "Serious adverse events", "Adverse events by period",
                     "Cytokine release syndrome and ICANS", "Deaths", "Listings"],
        "tables": ["Table 14.1.3: Exposure: CAR-T dose, CD34+ yield and engraftment",
                   "Table 14.1.4: Protocol adherence", "Table 14.1.5: Follow-up of the trial cohort",
                   "Table 14.3.1.1: Overview of treatment-emergent adverse events",
                   "Table 14.3.1.2: Treatment-emergent adverse events by system organ class, preferred term and worst grade",
                   "Table 14.3.1.3: Treatment-emergent adverse events of CTCAE grade 3 or higher",
                   "Table 14.3.1.4: Serious treatment-emergent adverse events by system organ class",
                   "Table 14.3.1.5: Treatment-emergent adverse events by period at onset",
                   "Table 14.3.1.6: Cytokine release syndrome and ICANS by ASTCT 2019 grade and infusion",
                   f"Table 14.3.1.7: {ST.TIMING_TITLE}", "Table 14.3.2.1: Deaths of the trial cohort",
                   "Listing 16.2.7.1: Serious treatment-emergent adverse events",
                   "Listing 16.2.7.2: Deaths, sandwich cohort"],
        "figures": 0,
    },
    "06-external-control.html": {
        "headings": ["Baseline characteristics", "Overall survival", "Leukemia-free survival",
                     "2-year OS and LFS, difference, log-rank and Cox"],
        # one Table 1 in the report (Table 14.1.2, population section): none here (issue 11)
        "tables": ["Table 14.2.3.1: 2-year overall and leukemia-free survival: sandwich versus external allo-HSCT"],
        "figures": 2,
    },
    "07-external-sensitivity.html": {
        "headings": ["The target trial and its emulation", "Primary comparison: common clock, delayed entry, ATT weighting",
                     "Relapse and non-relapse mortality as competing risks",
                     "Propensity-score weighting", "Time zero: delayed entry, landmark and per protocol",
                     "How robust is the comparison?"],
        "tables": ["The target trial and its emulation",
                   "Intercurrent events of the estimand and their strategies (ICH E9(R1))",
                   "Primary external comparison: target-trial emulation on the common clock",
                   "Relapse and non-relapse mortality as competing risks",
                   "Covariate balance before and after propensity-score weighting (ATT)",
                   "Propensity-score weights (ATT) and effective sample size",
                   "Propensity-score weighted (ATT) 2-year OS and LFS",
                   "Common origin (remission before therapy) with delayed entry: 2-year OS and LFS",
                   "Landmark analysis: 2-year OS and LFS among subjects alive and relapse-free at the landmark",
                   "Per-protocol view: trial completers from CAR-T2 versus controls from allo-HSCT",
                   "What each view of the comparison can and cannot remove"],
        "figures": 6,
    },
    "08-changes.html": {
        "headings": ["Summary", "Key results", "Subjects added", "New events", "Raw values changed",
                     "Analysis results that moved", "Derived data differences"],
        "tables": ["Key results: previous and this cut", "Subjects added since the previous cut", "New events by type",
                   "Raw values changed for the same key (form, subject, field, old, new)",
                   "ARD results by analysis and status"],
        "figures": 0,
    },
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """(report folder, cut, ARD) of a scratch tree with these four sections rendered."""
    from analysis.analyze.pipeline import analyze_cut
    from analysis.derive.pipeline import derive_cut
    from analysis.present.csr.step import rtf_cut
    from analysis.regulatory.compare import changes_step
    from analysis.render.pipeline import render_cut

    root = tmp_path_factory.mktemp("ext-report")
    shutil.copytree(paths.raw_root(), paths.raw_root(root))
    cut = paths.latest_cut(root)
    previous = paths.previous_cut(cut, root)
    for c in (previous, cut):
        if c is not None:
            derive_cut(c, root=root)
            analyze_cut(c, root=root)
    rtf_cut(cut, root=root)
    changes_step(cut, root=root)
    notebooks = root / "notebooks"
    notebooks.mkdir()
    for name in NOTEBOOKS:
        shutil.copyfile(paths.NOTEBOOKS_DIR / name, notebooks / name)
    out = render_cut(cut, root, notebooks_dir=notebooks)
    return out, cut, previous, ard_io.read(out / "ard.csv")


@pytest.fixture(scope="module")
def pages(rendered):
    from analysis.render.browser import check_report_dir
    return check_report_dir(rendered[0])


@pytest.mark.parametrize("page", sorted(EXPECTED))
def test_section_shows_its_headings_tables_and_figures(pages, page):
    seen = pages[page]
    assert seen["problems"] == [], seen["problems"]
    h2 = [text for level, text in seen["headings"] if level == 2]
    for heading in EXPECTED[page]["headings"]:
        assert heading in h2, f"{page}: section {heading!r} missing (h2: {h2})"
    for title in EXPECTED[page]["tables"]:
        assert any(title in caption for caption in seen["table_captions"]), \
            f"{page}: table {title!r} missing (captions: {seen['table_captions']})"
    if page == "06-external-control.html":
        assert len(seen["table_captions"]) == 1 and "Table 14.1.2" in seen["text"]
    assert len(seen["figure_captions"]) == EXPECTED[page]["figures"]
    assert all(caption.startswith("Figure ") and len(caption) > 20 for caption in seen["figure_captions"])
    assert len(seen["images"]) == EXPECTED[page]["figures"]
    assert seen["broken_images"] == []
    assert all(img["ok"] and img["size"][0] >= 600 for img in seen["images"])  # readable, not thumbnails
    assert "**" not in seen["text"], f"{page}: markdown left unrendered"


def test_external_control_text_quotes_the_ard(pages, rendered):
    """The 2-year OS of both cohorts and the log-rank P printed in 06 are the ARD's, formatted by
    the report's rules (checked here from the ARD file, independently of the notebook)."""
    _, _, _, ard = rendered
    text = pages["06-external-control.html"]["text"]
    for group in ("SANDWICH", "ALLO_EXT"):
        est = [ard_io.lookup(ard, context="km", param="OS", group1_level=group, variable_level=CS.LEVEL_2Y, stat_name=s)
               for s in ("surv", "lcl", "ucl", "n_risk")]
        if est[3] < C.MIN_AT_RISK:  # SAP 3.5: not a bare number
            assert f"not reliably estimable (n at risk {F.fmt_int(est[3])} < {C.MIN_AT_RISK})" in text
        else:
            assert F.fmt_est_ci(*(100 * v for v in est[:3]), 1) in text
    p = ard_io.lookup(ard, context="logrank", param="OS", stat_name="p")
    assert f"log-rank P = {F.fmt_pvalue(p)}" in text


def test_sensitivity_page_reads_robustness_from_the_numbers(pages, rendered):
    _, _, _, ard = rendered
    text = pages["07-external-sensitivity.html"]["text"]
    assert FO.robustness_statement(FO.forest_rows(ard)) in text
    n_boot = ard_io.lookup(ard, context="iptw_diff", param="OS", stat_name="n_boot")
    assert f"{F.fmt_int(n_boot)} replicates" in text
    assert "5% level" not in text and "immortal" not in text.lower()


def test_changes_page_names_both_cuts(pages, rendered):
    _, cut, previous, _ = rendered
    text = pages["08-changes.html"]["text"]
    assert f"Compared: {cut} (this cut) with {previous} (previous cut" in text


def test_safety_page_quotes_the_ard_with_period_denominators(pages, rendered):
    """Issue 11: the AE-by-period row of CAR-T2 is n (%) of the subjects who entered CAR-T2 (ARD N),
    not of the safety population; the CTCAE grade is never labelled ASTCT when the cut lacks it."""
    out, _, _, ard = rendered
    text = pages["05-safety.html"]["text"]
    import lxml.html
    table = lxml.html.parse(str(out / "tables" / "ae_period.html")).getroot()
    cells = {tr[0].text_content().strip(): [td.text_content().strip() for td in tr[1:]] for tr in table.iter("tr")
             if len(tr) == 4 and tr[0].tag == "td"}
    get = lambda name: ard_io.lookup(ard, context="ae_by", variable="APHASE", variable_level="CAR-T2", stat_name=name)  # noqa: E731
    adsl = pd.read_parquet(out.parents[1] / "data" / "derived" / rendered[1] / "adsl.parquet")
    entered = int((adsl["CART2DT"].notna() & (adsl["COHORT"] == "SANDWICH")).sum())   # independent count
    assert get("N") == entered < ard_io.lookup(ard, context="ae_overview", variable_level="N", stat_name="N")
    assert cells["CAR-T2"][:2] == [F.fmt_int(get("N")), F.fmt_n_pct(get("n_subj"), get("pct"))]
    recorded = ard[(ard["context"] == "crs_icans_grade") & (ard["stat_name"] == "n_recorded")]["stat"].sum()
    assert ("ASTCT grade not recorded in this cut" in text) == (recorded == 0)
    imputed = ard_io.lookup(ard, context="ae_imputation", stat_name="n_onset_imputed")
    assert f"{F.fmt_int(imputed)} had an onset date without the day" in text


def test_index_links_every_rtf_table(rendered):
    """Issue 11: the report index links every RTF file of tables/, under its registered number."""
    out = rendered[0]
    index = (out / "index.html").read_text(encoding="utf-8")
    rtfs = sorted(p.name for p in (out / "tables").glob("*.rtf"))
    assert rtfs and all(f'href="tables/{name}"' in index for name in rtfs)
    assert "Table 14.3.1.5" in index
