"""The rendered report as a reader sees it: a page rendered by the Jupyter fallback is opened
in headless Chromium (analysis.render.browser.check_report) and its DOM is checked: headings,
table and figure captions, images decoded from their data: URIs, the hidden cell's output
absent, the injected parameter shown, nothing fetched from the network. The same helper is
meant for the real report (``check_report(reports/<cut>/NN-*.html)``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analysis.render.browser import check_report, describe_image
from analysis.render.pipeline import render_cut

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "tests" / "fixtures" / "example-report.qmd"
CUT = "cut-2025-06-30"

__all__ = ["check_report"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("browser")
    notebooks = base / "notebooks"
    notebooks.mkdir()
    shutil.copy(EXAMPLE, notebooks / "01-example.qmd")
    return render_cut(CUT, root=base / "root", notebooks_dir=notebooks, engine="jupyter")


@pytest.mark.needs_chromium
def test_example_page_reads_as_intended(rendered, tmp_path):
    seen = check_report(rendered / "01-example.html", screenshot_path=tmp_path / "example.png")
    assert seen["title"] == "Example section of the report"
    assert seen["headings"] == [(1, "Example section of the report"), (2, "Data cut"), (2, "Results"),
                                (3, "Printed heading from asis")]
    assert seen["toc"] == ["Data cut", "Results", "Printed heading from asis"]
    assert seen["table_captions"] == ["Table 1: Counts by arm",
                                      "Table 2: Adverse events by maximum grade Safety population"]
    assert "CTCAE version 5.0." in seen["text"], "the table's footnote is shown"
    assert seen["figure_captions"] == ["Figure 1: A step curve drawn for the renderer test"]
    assert len(seen["images"]) == 1 and seen["broken_images"] == []
    image = seen["images"][0]
    assert image["mime"] == "image/png" and image["alt"] == "Step curve falling from 1 to 0.5"
    # style.py: 7 in at 150 dpi, minus the whitespace that bbox_inches="tight" trims
    assert 700 <= image["size"][0] <= 1050
    assert seen["external_requests"] == []
    assert f"Rendered for data cut: {CUT}" in seen["text"], "the injected parameter value is shown"
    assert "HIDDEN-INCLUDE-FALSE-OUTPUT" not in seen["text"] and "HIDDEN-OUTPUT-FALSE" not in seen["text"]
    assert seen["nav"] == [("index.html", "Index"), ("01-example.html", "Example section of the report")]
    assert seen["screenshot"].stat().st_size > 10_000


@pytest.mark.needs_chromium
def test_index_page_links_every_section(rendered):
    seen = check_report(rendered / "index.html")
    assert seen["headings"][0] == (1, f"Statistical analysis report, data cut {CUT}")
    assert "Contents" in [text for _, text in seen["headings"]]
    assert "Example section of the report" in seen["text"] and "01-example.qmd" in seen["text"]
    assert seen["external_requests"] == [] and seen["images"] == []


def test_broken_or_external_images_are_reported():
    """describe_image, the part of check_report that judges an <img src> (no browser needed)."""
    one_pixel_png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
    good = describe_image(f"data:image/png;base64,{one_pixel_png}")
    assert good["ok"] and good["size"] == (1, 1)
    assert "fetched" in describe_image("https://example.org/km.png")["problem"]
    assert describe_image("data:image/png;base64,")["problem"] == "empty image"
    assert "not a valid image/png" in describe_image("data:image/png;base64,R0lGODlh")["problem"]
    assert "does not decode" in describe_image("data:image/png;base64,@@@")["problem"]


@pytest.mark.needs_chromium
def test_whole_rendered_cut_has_no_problems(rendered):
    from analysis.render.browser import check_report_dir
    results = check_report_dir(rendered)
    assert sorted(results) == ["01-example.html", "index.html"]
    assert {name: seen["problems"] for name, seen in results.items()} == {"01-example.html": [], "index.html": []}


def test_page_problems_names_each_defect():
    from analysis.render.browser import page_problems
    seen = {"title": "", "headings": [], "external_requests": ["<script src=https://x> (network)"],
            "broken_images": [{"problem": "empty image", "src_prefix": "data:image/png;base64,"}],
            "table_captions": ["Table 1:"], "figure_captions": ["Figure 1: ok"]}
    assert page_problems(seen) == ["no <title>", "no headings", "broken image: empty image (data:image/png;base64,...)",
                                   "loads from outside the file: <script src=https://x> (network)",
                                   "empty caption: 'Table 1:'"]
