"""Turn an executed notebook into the notebook that is shown: cell options applied, figures and
tables numbered, cross-references resolved. Pure functions on nbformat notebooks.

Cell options (Quarto semantics, https://quarto.org/docs/reference/cells/cells-jupyter.html):
``include: false`` runs the cell and shows nothing; ``echo: false`` hides the code;
``output: false`` hides the outputs; ``output: asis`` passes printed text through as markdown
(so a printed heading or HTML table becomes part of the document; a Pandoc raw block
```` ```{=html} ```` becomes HTML); ``warning: false`` drops
warnings (Python writes them to stderr). A code cell labelled ``fig-*`` / ``tbl-*`` becomes
"Figure n" / "Table n" with its ``fig-cap`` / ``tbl-cap``, numbered in document order, and
``@fig-x`` / ``@tbl-x`` / ``@sec-x`` in the text become links ("Figure 1", the section title).
A heading ``## Title {#sec-x .unlisted}`` gets the id ``sec-x``; ``.unlisted`` keeps it out of
the table of contents. Fenced divs (``::: {.callout-note}``) become HTML <div>s.
"""

from __future__ import annotations

import copy
import html
import re

import nbformat

from analysis.errors import RenderError
from analysis.render.options import CROSSREF_KINDS, cell_options
from analysis.present.rawhtml import split_markdown_output

CROSSREF = re.compile(r"(?<![\w@.])(-?)@((?:fig|tbl|sec)-[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*)")
HEADING_WITH_ATTRS = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*\{([#.][^}]*)\}[ \t]*$", re.MULTILINE)
DIV_OPEN = re.compile(r"^:::+\s*\{([^}]*)\}\s*$|^:::+\s*([A-Za-z][\w-]*)\s*$")
DIV_CLOSE = re.compile(r"^:::+\s*$")
DIV_TITLE = re.compile(r'title\s*=\s*"([^"]*)"')
DIV_OPEN_MARKER = "fenced-div-open"
DIV_CLOSE_MARKER = "fenced-div-close"


def heading_attributes(attrs: str) -> tuple[str | None, list[str]]:
    """Pandoc attributes ``#id .class1 .class2`` -> (id, classes)."""
    ident, classes = None, []
    for token in attrs.split():
        if token.startswith("#"):
            ident = token[1:]
        elif token.startswith("."):
            classes.append(token[1:])
    return ident, classes


def convert_heading_attributes(markdown: str) -> tuple[str, dict[str, str]]:
    """Rewrite ``## Title {#sec-x .unlisted}`` as an HTML heading with that id and classes.

    Returns (markdown, {id: title}) so that ``@sec-x`` can be resolved to the title.
    """
    sections: dict[str, str] = {}

    def replace(m: re.Match) -> str:
        level, title, attrs = len(m.group(1)), m.group(2), m.group(3)
        ident, classes = heading_attributes(attrs)
        if ident:
            sections[ident] = title
        id_attr = f' id="{html.escape(ident)}"' if ident else ""
        class_attr = f' class="{html.escape(" ".join(classes))}"' if classes else ""
        return f"<h{level}{id_attr}{class_attr}>{html.escape(title, quote=False)}</h{level}>"

    return HEADING_WITH_ATTRS.sub(replace, markdown), sections


def convert_divs(markdown: str) -> str:
    """Pandoc fenced divs (``::: {.callout-note title="..."}`` ... ``:::``) as marker paragraphs
    that analysis.render.html.build_fenced_divs turns into <div>s after the markdown is rendered
    (nbconvert's markdown renderer would close a raw <div> before its content). The content in
    between stays markdown."""
    out = []
    for line in markdown.split("\n"):
        opened, closed = DIV_OPEN.match(line), DIV_CLOSE.match(line)
        if opened:
            attrs = opened.group(1) if opened.group(1) is not None else "." + opened.group(2)
            title = DIV_TITLE.search(attrs)
            ident, classes = heading_attributes(DIV_TITLE.sub("", attrs))
            if any(c.startswith("callout") for c in classes):
                classes = ["callout", *classes]
            marker = (f'<span class="{DIV_OPEN_MARKER}" data-class="{html.escape(" ".join(classes))}"'
                      f' data-id="{html.escape(ident or "")}"'
                      f' data-title="{html.escape(title.group(1) if title else "")}"></span>')
            out += ["", marker, ""]
        elif closed:
            out += ["", f'<span class="{DIV_CLOSE_MARKER}"></span>', ""]
        else:
            out.append(line)
    return "\n".join(out)


def number_floats(nb: nbformat.NotebookNode, defaults: dict) -> dict[str, str]:
    """Number the labelled figures and tables that will be shown: {label: 'Figure 1', ...}."""
    counters = {kind: 0 for kind in CROSSREF_KINDS}
    numbers = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        opts = cell_options(cell.metadata, defaults)
        kind = opts.crossref_kind
        if kind and opts.include:
            counters[kind] += 1
            numbers[opts.label] = f"{CROSSREF_KINDS[kind][0]} {counters[kind]}"
    return numbers


def resolve_crossrefs(markdown: str, targets: dict[str, str], notebook: str) -> str:
    """Replace ``@fig-x`` with a link ``[Figure 1](#fig-x)``; ``-@fig-x`` gives the bare number.

    A reference to a label that does not exist is an error (Quarto would print "?@fig-x").
    """
    def replace(m: re.Match) -> str:
        bare, label = m.group(1) == "-", m.group(2)
        if label not in targets:
            raise RenderError(f"notebook {notebook}: cross-reference @{label} points to no labelled "
                              f"figure, table or section (known: {', '.join(sorted(targets)) or 'none'})")
        text = targets[label].split(" ", 1)[1] if bare and label[:3] in ("fig", "tbl") else targets[label]
        return f"[{text}](#{label})"

    return CROSSREF.sub(replace, markdown)


def coalesced_streams(outputs: list) -> list:
    """Consecutive pieces of the same stream joined into one output: the kernel flushes
    stdout on a timer, so how a print is cut into pieces depends on the machine's load, and the
    page must not (an ``output: asis`` cell would otherwise become several markdown blocks)."""
    merged: list = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (out.output_type == "stream" and prev is not None and prev.output_type == "stream"
                and prev.name == out.name):
            merged[-1] = nbformat.v4.new_output("stream", name=out.name, text=prev.text + out.text)
        else:
            merged.append(out)
    return merged


def shown_outputs(outputs: list, opts) -> list:
    """The outputs of a cell as the options say they are shown."""
    if opts.output is False:
        return []
    kept = []
    for out in coalesced_streams(outputs):
        if out.output_type == "stream" and out.name == "stderr" and not opts.warning:
            continue
        if out.output_type == "stream" and out.name == "stdout" and opts.output == "asis":
            out = nbformat.v4.new_output("display_data", data={"text/markdown": out.text})
        kept += split_markdown_output(out)  # a raw ```{=html} block is HTML, as Pandoc reads it
    return kept


def float_metadata(opts, numbers: dict[str, str]) -> dict | None:
    """What the HTML template needs to wrap a labelled cell: its anchor, and for a numbered
    figure/table its kind, number and caption."""
    kind = opts.crossref_kind
    if not kind:
        return {"kind": None, "anchor": opts.label} if opts.label else None
    return {"kind": kind, "anchor": opts.label, "number": numbers[opts.label],
            "caption": opts.caption or "", "alt": opts.alt or ""}


def presentation_notebook(nb: nbformat.NotebookNode, defaults: dict, notebook: str) -> nbformat.NotebookNode:
    """A copy of the executed ``nb`` with every display option applied (see module docstring)."""
    out = copy.deepcopy(nb)
    numbers = number_floats(out, defaults)
    cells, sections = [], {}
    for cell in out.cells:
        if cell.cell_type == "markdown":
            cell.source, found = convert_heading_attributes(convert_divs(cell.source))
            sections.update(found)
            if cell.source.strip():
                cells.append(cell)
            continue
        if cell.cell_type != "code":
            continue  # raw cells are not part of an HTML report
        opts = cell_options(cell.metadata, defaults)
        if not opts.include:
            continue
        cell.outputs = shown_outputs(cell.outputs, opts)
        report = float_metadata(opts, numbers)
        if report:
            cell.metadata["report"] = report
        if not opts.echo:
            cell.metadata.setdefault("transient", {})["remove_source"] = True
        if cell.outputs or opts.echo:
            cells.append(cell)
    targets = {**numbers, **sections}
    for cell in cells:
        if cell.cell_type == "markdown":
            cell.source = resolve_crossrefs(cell.source, targets, notebook)
        elif cell.metadata.get("report", {}).get("kind"):
            cell.metadata["report"]["caption"] = resolve_crossrefs(cell.metadata["report"]["caption"],
                                                                   targets, notebook)
    out.cells = cells
    return out
