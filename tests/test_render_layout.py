"""Parameter injection, display options, numbering/cross-references and page finishing,
on hand-made notebooks (no kernel): analysis.render.params, .layout, .html."""

from __future__ import annotations

import nbformat
import pytest

from analysis.errors import RenderError
from analysis.render.html import (NavEntry, add_navigation, external_references, finish_page,
                                  toc_element, toc_headings, parse_page)
from analysis.render.layout import convert_heading_attributes, presentation_notebook, resolve_crossrefs
from analysis.render.options import QUARTO_DEFAULTS
from analysis.render.params import INJECTED_TAG, inject_parameters, python_literal

DEFAULTS = {**QUARTO_DEFAULTS, "echo": False}


def code(source: str, outputs=(), tags=(), **options) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata = {"quarto": {k.replace("_", "-"): v for k, v in options.items()}, "tags": list(tags)}
    cell.outputs = list(outputs)
    return cell


def stream(name: str, text: str):
    return nbformat.v4.new_output("stream", name=name, text=text)


def notebook(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


# --- parameters ---------------------------------------------------------------------------------

def test_injected_cell_follows_the_parameters_cell_and_overrides_its_defaults():
    nb = notebook(nbformat.v4.new_markdown_cell("# T"), code("cut = None\nroot = None", tags=["parameters"]),
                  code("print(cut)"))
    out = inject_parameters(nb, {"cut": "cut-2025-06-30", "root": None}, {}, "01-doc.qmd")
    assert [c.metadata.get("tags") for c in out.cells] == [None, ["parameters"], [INJECTED_TAG], []]
    injected = out.cells[2]
    # Executing the parameters cell then the injected cell leaves the injected values.
    scope: dict = {}
    exec(out.cells[1].source, scope)
    exec(injected.source, scope)
    assert (scope["cut"], scope["root"]) == ("cut-2025-06-30", None)
    assert len(nb.cells) == 3, "the input notebook is not modified"


def test_injected_cell_inherits_display_options_but_not_the_label():
    nb = notebook(code("cut = None", tags=["parameters"], include=False, label="params"))
    out = inject_parameters(nb, {"cut": "c"}, {}, "01-doc.qmd")
    assert out.cells[1].metadata["quarto"] == {"include": False}


def test_parameters_declared_in_front_matter_only_are_accepted():
    nb = notebook(code("cut = None", tags=["parameters"]))
    out = inject_parameters(nb, {"cut": "c", "root": "/r"}, {"params": {"root": None}}, "01-doc.qmd")
    assert "root = '/r'" in out.cells[1].source


@pytest.mark.parametrize("cells, params, message", [
    ([code("x = 1")], {"cut": "c"}, "no cell tagged 'parameters'"),
    ([code("cut = None", tags=["parameters"]), code("root = None", tags=["parameters"])], {"cut": "c"},
     "2 cells tagged 'parameters'"),
    ([code("cut = None", tags=["parameters"])], {"cutt": "c"}, "does not declare parameter"),
])
def test_parameter_errors_name_the_notebook(cells, params, message):
    with pytest.raises(RenderError, match=message) as info:
        inject_parameters(notebook(*cells), params, {}, "03-efficacy.qmd")
    assert "03-efficacy.qmd" in str(info.value)


def test_only_literal_values_can_be_injected():
    assert python_literal("alpha", 0.05) == "alpha = 0.05"
    assert python_literal("cut", "it's") == 'cut = "it\'s"'
    with pytest.raises(RenderError, match="only str, int"):
        python_literal("when", object())
    with pytest.raises(RenderError, match="identifier"):
        python_literal("not-a-name", 1)


# --- display options --------------------------------------------------------------------------

def test_cell_options_decide_what_is_shown():
    nb = notebook(
        code("setup()", [stream("stdout", "SETUP\n")], include=False),
        code("hidden_code()", [stream("stdout", "shown output\n")]),
        code("shown_code()", [stream("stdout", "x\n")], echo=True),
        code("quiet()", [stream("stdout", "NO\n")], output=False, echo=True),
        code("warn()", [stream("stderr", "UserWarning: W\n"), stream("stdout", "kept\n")], warning=False),
        code("loud()", [stream("stderr", "UserWarning: W2\n")]),
        code("md()", [stream("stdout", "## Printed\n")], output="asis"),
        code("nothing_to_show = 1"),
    )
    shown = presentation_notebook(nb, DEFAULTS, "01-doc.qmd")
    sources = [c.source for c in shown.cells]
    assert "setup()" not in sources, "include: false shows nothing"
    assert "nothing_to_show = 1" not in sources, "a hidden-code cell without output leaves no trace"
    by_source = {c.source: c for c in shown.cells}
    assert by_source["hidden_code()"].metadata["transient"] == {"remove_source": True}
    assert "transient" not in by_source["shown_code()"].metadata
    assert by_source["quiet()"].outputs == [] and "transient" not in by_source["quiet()"].metadata
    assert [o.text for o in by_source["warn()"].outputs] == ["kept\n"]
    assert [o.name for o in by_source["loud()"].outputs] == ["stderr"]
    asis = by_source["md()"].outputs
    assert asis[0].output_type == "display_data" and asis[0].data == {"text/markdown": "## Printed\n"}


def test_figures_and_tables_are_numbered_in_order_and_referenced():
    nb = notebook(
        nbformat.v4.new_markdown_cell("See @fig-km, @tbl-ae and -@fig-forest; back to @sec-eff."),
        nbformat.v4.new_markdown_cell("## Efficacy {#sec-eff}"),
        code("km()", [stream("stdout", "k")], label="fig-km", fig_cap="KM of OS"),
        code("hidden()", [stream("stdout", "h")], label="fig-hidden", include=False),
        code("ae()", [stream("stdout", "a")], label="tbl-ae", tbl_cap="AEs by grade"),
        code("forest()", [stream("stdout", "f")], label="fig-forest"),
        code("listing()", [stream("stdout", "l")], label="km-listing"),
    )
    shown = presentation_notebook(nb, DEFAULTS, "01-doc.qmd")
    assert shown.cells[0].source == ("See [Figure 1](#fig-km), [Table 1](#tbl-ae) and [2](#fig-forest); "
                                     "back to [Efficacy](#sec-eff).")
    assert shown.cells[1].source == '<h2 id="sec-eff">Efficacy</h2>'
    reports = [c.metadata.get("report") for c in shown.cells[2:5]]
    assert [(r["anchor"], r["number"], r["caption"]) for r in reports] == [
        ("fig-km", "Figure 1", "KM of OS"), ("tbl-ae", "Table 1", "AEs by grade"), ("fig-forest", "Figure 2", "")]
    assert shown.cells[5].metadata["report"] == {"kind": None, "anchor": "km-listing"}, "other labels: anchor only"
    from analysis.render.html import Page, export_notebook
    doc = parse_page(export_notebook(shown, Page(title="T", cut="c", engine="e")))
    assert doc.get_element_by_id("km-listing").get("class") == "report-anchor"
    assert doc.get_element_by_id("fig-km").tag == "figure"


def test_reference_to_an_unknown_label_is_an_error():
    with pytest.raises(RenderError, match=r"05-safety.qmd: cross-reference @fig-missing points to no"):
        resolve_crossrefs("as in @fig-missing", {"fig-km": "Figure 1"}, "05-safety.qmd")
    # e-mail addresses and decorators are not references
    assert resolve_crossrefs("mail a@fig-x.org", {}, "x") == "mail a@fig-x.org"


def test_heading_attributes_give_ids_and_unlisted_classes():
    md, sections = convert_heading_attributes("# Top\n\n### Details {#sec-d .unnumbered .unlisted}\ntext")
    assert md == '# Top\n\n<h3 id="sec-d" class="unnumbered unlisted">Details</h3>\ntext'
    assert sections == {"sec-d": "Details"}


# --- page finishing ---------------------------------------------------------------------------

PAGE = """<!DOCTYPE html><html><head><title>t</title></head><body>
<main><header><h1 class="title">Doc</h1></header>
<h2 id="a">Alpha<a class="anchor-link" href="#a">¶</a></h2><h3>Alpha one</h3><h3 class="unlisted">Skip</h3>
<h2>Beta</h2><h4>too deep</h4>
<figure class="report-float report-fig" id="fig-a" data-alt="Curve"><img src="data:image/png;base64,AAAA"><figcaption>
<span class="float-number">Figure 1:</span> Cap</figcaption></figure>
<figure class="report-float report-tbl" id="tbl-a"><figcaption><span class="float-number">Table 1</span></figcaption>
<table><caption>Adverse events by grade</caption><tr><td>1</td></tr></table></figure>
</main><aside><nav id="TOC"></nav></aside></body></html>"""


def test_finish_page_builds_the_toc_alt_texts_and_table_numbers():
    doc = parse_page(finish_page(PAGE))
    toc = doc.get_element_by_id("TOC")
    assert [a.text for a in toc.iter("a")] == ["Alpha", "Alpha one", "Beta"]
    assert [a.get("href") for a in toc.iter("a")] == ["#a", "#alpha-one", "#beta"]
    # "Alpha one" is nested under "Alpha"
    assert toc.xpath("./ul/li[1]/ul/li/a")[0].text == "Alpha one"
    assert doc.find(".//img").get("alt") == "Curve"
    table_figure = doc.get_element_by_id("tbl-a")
    assert table_figure.find("figcaption") is None
    assert " ".join(table_figure.find(".//caption").text_content().split()) == "Table 1: Adverse events by grade"


def test_toc_of_headings_starting_deeper_is_flat():
    _, ul = toc_element([(3, "x", "X"), (2, "y", "Y")])
    assert [li.find("a").text for li in ul] == ["X", "Y"]


def test_toc_ids_do_not_collide():
    doc = parse_page("<html><body><main><h2>Same</h2><h2>Same</h2><p id='same'></p></main></body></html>")
    assert [i for _, i, _ in toc_headings(doc.find(".//main"))] == ["same-2", "same-3"]


def test_external_references_finds_what_a_browser_would_fetch():
    page = ("<html><head><script src='https://cdn.example/x.js'></script>"
            "<link rel='stylesheet' href='//cdn.example/s.css'><style>@import url('https://f.example/a.css');</style>"
            "</head><body><a href='https://quarto.org'>a link is fine</a><img src='data:image/png;base64,AA'>"
            "<img src='km.png'></body></html>")
    found = external_references(page)
    assert len(found) == 4
    assert any("x.js" in f and "(network)" in f for f in found) and any("s.css" in f for f in found)
    assert any("km.png> (file)" in f for f in found)


def test_add_navigation_puts_the_bar_first_in_the_body():
    out = parse_page(add_navigation("<html><head></head><body class='q'><p>x</p></body></html>",
                                    [NavEntry("index.html", "Index"), NavEntry("01-a.html", "A & B")], "01-a.html"))
    nav = out.find("body")[0]
    assert nav.tag == "nav" and [a.text for a in nav.iter("a")] == ["Index", "A & B"]
    assert nav.find_class("current")[0].get("href") == "01-a.html"
    assert out.find("head").find("style") is not None


def test_image_linked_from_markdown_is_embedded(tmp_path):
    """A static picture in the text (e.g. a study schema next to the .qmd) ends up inside the page."""
    import base64

    from analysis.render.html import Page, export_notebook
    one_pixel_png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
    (tmp_path / "schema.png").write_bytes(one_pixel_png)
    nb = notebook(nbformat.v4.new_markdown_cell("## Design\n\n![Study schema](schema.png)"))
    page = export_notebook(nb, Page(title="T", cut="cut-2025-06-30", engine="test", resource_dir=tmp_path))
    img = parse_page(page).find(".//main//img")
    assert img.get("src").startswith("data:image/png;base64,")
    assert base64.b64decode(img.get("src").split(",", 1)[1]) == one_pixel_png
    assert img.get("alt") == "Study schema"
    assert external_references(page) == []


def test_fenced_divs_become_html_divs_with_markdown_inside():
    from analysis.render.html import Page, export_notebook
    md = ('Before.\n\n::: {.callout-note title="Synthetic data"}\nAll numbers are **simulated**.\n\n'
          '::: {#inner .aside}\nnested\n:::\n:::\n\nAfter.')
    nb = notebook(nbformat.v4.new_markdown_cell(md))
    doc = parse_page(export_notebook(presentation_notebook(nb, DEFAULTS, "x"), Page(title="T", cut="c", engine="e")))
    callout = doc.find_class("callout-note")[0]
    assert callout.tag == "div" and callout.get("class") == "callout callout-note"
    assert callout[0].text == "Synthetic data" and callout[0].get("class") == "callout-title"
    assert callout.find(".//strong").text == "simulated", "the div's content is still markdown"
    inner = doc.get_element_by_id("inner")
    assert inner.getparent() is callout and inner.text_content().strip() == "nested"
    texts = [" ".join(el.text_content().split()) for el in callout.getparent()]
    assert texts[0] == "Before." and texts[-1] == "After.", "text outside the div stays outside"
    assert not doc.find_class("fenced-div-open") and not doc.find_class("fenced-div-close")


def test_heading_with_attributes_keeps_the_blank_line_before_the_next_paragraph():
    # The HTML heading must stay a block of its own: without the blank line after it, markdown
    # treats the next paragraph as part of the raw HTML block and leaves **bold** unrendered.
    text, _ = convert_heading_attributes("## Results {#sec-results}\n\nFirst **bold** paragraph.\n")
    assert text == '<h2 id="sec-results">Results</h2>\n\nFirst **bold** paragraph.\n'


def test_pieces_of_one_printed_text_make_one_markdown_block():
    """The kernel flushes stdout on a timer, so under load one print can arrive in pieces; an
    ``output: asis`` cell must still give one block (and a page independent of the load)."""
    nb = notebook(
        code("md()", [stream("stdout", "- first item\n"), stream("stdout", "- second item\n")], output="asis"),
        code("both()", [stream("stdout", "a\n"), stream("stderr", "W\n"), stream("stdout", "b\n")]),
    )
    by_source = {c.source: c for c in presentation_notebook(nb, DEFAULTS, "01-doc.qmd").cells}
    asis = by_source["md()"].outputs
    assert len(asis) == 1 and asis[0].data == {"text/markdown": "- first item\n- second item\n"}
    assert [(o.name, o.text) for o in by_source["both()"].outputs] == [("stdout", "a\n"), ("stderr", "W\n"),
                                                                         ("stdout", "b\n")]
