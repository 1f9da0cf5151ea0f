"""The Jupyter-library engine: one .qmd -> one self-contained HTML page, without Quarto.

read (jupytext Rmd reader + our ``#|`` option parser) -> inject the parameters after the
``parameters`` cell -> execute (nbclient) in a fresh kernel, or in a warm one reset to a fresh
one's state (analysis.render.kernels) -> refuse text/html outputs (Quarto would load scripts
from a CDN for them) -> apply the display options and number figures/tables -> export
(nbconvert, our template) -> check nothing is fetched from the network.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from analysis.errors import RenderError
from analysis.render.execute import execute_notebook
from analysis.render.html import Page, export_notebook, external_references
from analysis.render.kernels import WarmKernel
from analysis.render.layout import presentation_notebook
from analysis.render.options import document_defaults
from analysis.render.params import inject_parameters
from analysis.render.qmd import QmdDocument
from analysis.present.rawhtml import widget_outputs


def executed_notebook(doc: QmdDocument, params: dict, project_meta: dict, cwd: Path,
                      timeout: int | None = None, kernel: WarmKernel | None = None
                      ) -> tuple[nbformat.NotebookNode, dict]:
    """(executed notebook with the parameters injected, the document's option defaults).
    ``kernel``: a warm kernel to run it in (analysis.render.kernels), else a new kernel."""
    defaults = document_defaults(project_meta, doc.front_matter, doc.name)
    nb = inject_parameters(doc.notebook, params, doc.front_matter, doc.name)
    kwargs = {"timeout": timeout} if timeout else {}
    if kernel is not None:
        kernel.execute(nb, notebook=doc.name, defaults=defaults, **kwargs)
    else:
        execute_notebook(nb, notebook=doc.name, cwd=cwd, defaults=defaults, **kwargs)
    return nb, defaults


def refuse_widget_outputs(nb: nbformat.NotebookNode, notebook: str) -> None:
    """A text/html or JavaScript output makes Quarto put require.js and jQuery from a CDN into the
    page (analysis.present.rawhtml): refused here too, so both engines accept the same notebooks."""
    found = widget_outputs(nb)
    if found:
        where = "; ".join(f"code cell {nb.cells[i].metadata.get('chunk', i + 1)} "
                          f"(label: {nb.cells[i].metadata.get('quarto', {}).get('label')}, "
                          f"line {nb.cells[i].metadata.get('qmd_line')}) outputs {mime}" for i, mime in found[:5])
        raise RenderError(f"notebook {notebook}: {where}. Quarto would load require.js and jQuery from the "
                          "network for such an output; show tables as analysis.present.table.Table or "
                          "analysis.present.rawhtml.HtmlBlock (text/markdown with a raw HTML block), not "
                          "IPython.display.HTML or a DataFrame")


def render_document(doc: QmdDocument, out_html: Path, params: dict, page: Page,
                    project_meta: dict, cwd: Path, timeout: int | None = None,
                    kernel: WarmKernel | None = None) -> Path:
    """Render one parsed .qmd with ``params`` into ``out_html``; returns ``out_html``.

    ``page`` gives the title, data cut and navigation bar. Raises NotebookExecutionError when
    a cell fails, RenderError for anything else wrong.
    """
    nb, defaults = executed_notebook(doc, params, project_meta, cwd, timeout, kernel)
    refuse_widget_outputs(nb, doc.name)
    shown = presentation_notebook(nb, defaults, doc.name)
    text = export_notebook(shown, page)
    remote = external_references(text)
    if remote:
        raise RenderError(f"notebook {doc.name}: the page is not self-contained, it would load "
                          f"{'; '.join(remote[:5])} (an image linked from the text must exist "
                          "beside the .qmd to be embedded)")
    out_html.write_text(text, encoding="utf-8")
    return out_html
