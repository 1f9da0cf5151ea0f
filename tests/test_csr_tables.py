"""The rtf step (analysis/csr_tables.py): the CSR's RTF tables are a step of their own, built from
the ARD by the same builders the report's notebooks show, and the index links every one."""

from __future__ import annotations

import re

from analysis import build, csr_tables
from analysis.present import numbering as NB
from analysis.render.pipeline import index_notebook, rtf_index_section
from tests.conftest import REPO

NOTEBOOKS = REPO / "analysis" / "notebooks"


def test_rtf_is_a_step_after_analyze_that_render_and_identifiers_wait_for():
    table = build.DEPENDENCIES
    assert build.PIPELINE.index("analyze") < build.PIPELINE.index("rtf") < build.PIPELINE.index("render")
    assert {"derive", "analyze"} <= set(table["rtf"].after)
    assert "rtf" in table["render"].after and "rtf" in table["identifiers"].after


def test_the_rtf_step_owns_the_tables_folder_not_render(tmp_path):
    cut = "cut-2025-06-30"
    (tmp_path / "data" / "raw" / cut).mkdir(parents=True)
    report = tmp_path / "reports" / cut
    (report / "tables").mkdir(parents=True)
    (report / "tables" / "deaths.rtf").write_text("{\\rtf1}")
    (report / "index.html").write_text("<html/>")
    assert list(build.owned_outputs("rtf", cut, tmp_path)) == [f"reports/{cut}/tables/deaths.rtf"]
    assert list(build.owned_outputs("render", cut, tmp_path)) == [f"reports/{cut}/index.html"]


def _shown_in_notebooks() -> list[str]:
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.qmd")))
    return re.findall(r'CSR\.show\(f?"([a-z0-9_{}.()]+)"', text)


def test_every_rtf_table_is_the_one_a_notebook_shows_and_no_notebook_exports_on_the_side():
    shown = _shown_in_notebooks()
    # 03-efficacy shows survival_{paramcd.lower()} for OS and LFS
    expanded = {k for s in shown for k in ([s] if "{" not in s else ["survival_os", "survival_lfs"])}
    assert expanded == set(csr_tables.BUILDERS)
    for p in NOTEBOOKS.glob("*.qmd"):
        assert "present.table import export" not in p.read_text(encoding="utf-8"), p.name


def test_every_numbered_registry_table_or_listing_has_a_builder():
    tables = {o.key for o in NB.OUTPUTS if o.kind in ("Table", "Listing")}
    assert tables <= set(csr_tables.BUILDERS)


def test_render_puts_the_rtf_steps_index_section_on_the_index_page():
    section = NB.rtf_index_markdown(["deaths", "ae_overview"], csr_tables.TABLES_DIR)
    nb = index_notebook("cut-2025-06-30", [], ("ard.csv", "tables"), "jupyter", section)
    text = "\n".join(c.source for c in nb.cells)
    assert "[deaths.rtf](tables/deaths.rtf)" in text and "[ae_overview.rtf](tables/ae_overview.rtf)" in text
    assert "- [ard.csv](ard.csv)" in text and "- [tables](tables)" not in text


def test_render_reads_the_index_section_from_the_report_folder(tmp_path):
    """render writes its pages into a scratch folder; the rtf step's tables/ is in the report
    folder (carried over only when render replaces it), so the section is read from there."""
    assert rtf_index_section(tmp_path) == ""
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / csr_tables.INDEX_FILE).write_text("## Tables and listings as RTF\n")
    assert rtf_index_section(tmp_path) == "## Tables and listings as RTF\n"
