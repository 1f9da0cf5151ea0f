"""HTML in the report without a ``text/html`` cell output.

Quarto's Jupyter engine adds require.js and jQuery from cdnjs.cloudflare.com to a page as soon as
any executed cell has a ``text/html`` (or ``application/javascript``) output
(quarto-cli src/core/jupyter/widgets.ts: such outputs may be "JavaScript widgets"), and
``embed-resources`` cannot inline them without the network: the page would not open air-gapped.
So tables reach the page as ``text/markdown`` holding a Pandoc raw HTML block::

    ```{=html}
    <table>...</table>
    ```

which Quarto passes to the page as it is. The Jupyter fallback renders the same block as HTML
(``split_raw_html``), so both engines give the same page, and it refuses a ``text/html`` output
(``widget_outputs``) as the Quarto path would end up refusing its page.
"""

from __future__ import annotations

import re

import nbformat

RAW_HTML_BLOCK = re.compile(r"^(?P<fence>`{3,})\{=html\}[ \t]*\n(?P<html>.*?)\n(?P=fence)[ \t]*$",
                            re.MULTILINE | re.DOTALL)
# Output types for which Quarto pulls require.js / jQuery from a CDN (widgets.ts, haveOutputType).
WIDGET_MIMETYPES = ("text/html", "application/javascript")
DISPLAY_OUTPUTS = ("display_data", "execute_result")


def raw_html_block(html: str) -> str:
    """``html`` as a Pandoc raw HTML block (markdown); the fence outgrows any backticks inside."""
    fence = "```"
    while fence in html:
        fence += "`"
    return f"{fence}{{=html}}\n{html.strip(chr(10))}\n{fence}\n"


class HtmlBlock:
    """Shows an HTML fragment in a report notebook (instead of ``IPython.display.HTML``, whose
    ``text/html`` output would make Quarto load scripts from the network)."""

    def __init__(self, html: str):
        self.html = html

    def _repr_markdown_(self) -> str:
        return raw_html_block(self.html)


def split_raw_html(markdown: str) -> list[tuple[str, str]]:
    """``markdown`` as [(mimetype, text)]: its raw HTML blocks as ("text/html", html), the text
    around them as ("text/markdown", text), in order; blank parts dropped."""
    parts, start = [], 0
    for m in RAW_HTML_BLOCK.finditer(markdown):
        parts.append(("text/markdown", markdown[start:m.start()]))
        parts.append(("text/html", m.group("html")))
        start = m.end()
    parts.append(("text/markdown", markdown[start:]))
    return [(kind, text) for kind, text in parts if text.strip()]


def text_of(data) -> str:
    return "".join(data) if isinstance(data, list) else str(data)


def split_markdown_output(output) -> list:
    """A ``text/markdown`` display output with raw HTML blocks as several outputs (markdown and
    ``text/html`` in turn), for the fallback's exporter; any other output as it is."""
    if output.get("output_type") not in DISPLAY_OUTPUTS or "text/markdown" not in output.get("data", {}):
        return [output]
    parts = split_raw_html(text_of(output["data"]["text/markdown"]))
    if [kind for kind, _ in parts] == ["text/markdown"] or not parts:
        return [output]
    return [nbformat.v4.new_output("display_data", data={kind: text}) for kind, text in parts]


def widget_outputs(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(cell index, mimetype) of every output for which Quarto would load require.js/jQuery."""
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") in DISPLAY_OUTPUTS:
                found += [(index, m) for m in WIDGET_MIMETYPES if m in output.get("data", {})]
    return found
