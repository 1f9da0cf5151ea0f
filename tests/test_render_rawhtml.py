"""HTML without text/html outputs (analysis.present.rawhtml), and the last self-containment check
of the render step over every HTML file it wrote."""

from __future__ import annotations

import nbformat
import pytest

from analysis.errors import RenderError
from analysis.render.layout import shown_outputs
from analysis.render.options import QUARTO_DEFAULTS, cell_options
from analysis.render.pipeline import check_self_contained
from analysis.present.rawhtml import (
    HtmlBlock,
    raw_html_block,
    split_raw_html,
    widget_outputs,
)


def test_raw_block_round_trips_and_outgrows_backticks_inside():
    html = "<table><tr><td>```x```</td></tr></table>"
    block = raw_html_block(html)
    assert block.startswith("````{=html}\n") and block.endswith("\n````\n")
    assert split_raw_html(block) == [("text/html", html)]
    assert HtmlBlock(html)._repr_markdown_() == block


def test_markdown_around_raw_blocks_keeps_its_order():
    md = "## Title\n\nText.\n\n```{=html}\n<table>A</table>\n```\n\nMore **text**.\n\n```{=html}\n<b>B</b>\n```\n"
    assert split_raw_html(md) == [("text/markdown", "## Title\n\nText.\n\n"), ("text/html", "<table>A</table>"),
                                  ("text/markdown", "\n\nMore **text**.\n\n"), ("text/html", "<b>B</b>")]
    assert split_raw_html("```python\nx = 1\n```\n") == [("text/markdown", "```python\nx = 1\n```\n")]


def test_fallback_shows_a_raw_block_as_html_not_as_code():
    table = nbformat.v4.new_output("display_data", data={"text/plain": "<Table>",
                                                         "text/markdown": raw_html_block("<table>T</table>")})
    printed = nbformat.v4.new_output("stream", name="stdout", text="Intro\n\n" + raw_html_block("<p>P</p>"))
    opts = cell_options({"quarto": {"output": "asis"}}, QUARTO_DEFAULTS)
    shown = shown_outputs([table, printed], opts)
    assert [dict(o.data) for o in shown] == [{"text/html": "<table>T</table>"}, {"text/markdown": "Intro\n\n"},
                                             {"text/html": "<p>P</p>"}]


def test_widget_outputs_are_the_ones_quarto_adds_scripts_for():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a", outputs=[nbformat.v4.new_output(
                    "display_data", data={"text/markdown": "x", "text/plain": "x"})]),
                nbformat.v4.new_code_cell("b", outputs=[nbformat.v4.new_output(
                    "execute_result", data={"text/html": "<b>", "text/plain": "b"}, execution_count=1)]),
                nbformat.v4.new_code_cell("c", outputs=[nbformat.v4.new_output(
                    "display_data", data={"application/javascript": "alert(1)"})])]
    assert widget_outputs(nb) == [(1, "text/html"), (2, "application/javascript")]


@pytest.mark.parametrize("html, found", [
    ('<img src="data:image/png;base64,AAAA"><a href="https://example.org">a link is not a load</a>', None),
    ('<script src="https://cdnjs.cloudflare.com/ajax/libs/jquery/3.5.1/jquery.min.js"></script>', "jquery.min.js"),
    ('<div style="background: url(https://x.org/a.png)">x</div>', "style"),
    ('<img srcset="https://x.org/a.png 2x">', "srcset"),
])
def test_every_html_file_of_the_render_is_checked(tmp_path, html, found):
    (tmp_path / "tables").mkdir()
    (tmp_path / "01-a.html").write_text("<html><body><p>ok</p></body></html>")
    (tmp_path / "tables" / "t.html").write_text(f"<html><body>{html}</body></html>")
    if found is None:
        check_self_contained(tmp_path)
    else:
        with pytest.raises(RenderError, match=rf"tables/t.html: .*{found}"):
            check_self_contained(tmp_path)
