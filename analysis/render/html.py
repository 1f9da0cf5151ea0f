"""Export a presentation notebook to ONE self-contained HTML page, and finish pages.

nbconvert's HTMLExporter with this package's template (templates/sap_report: nbconvert's "lab"
cell markup in a page of our own, CSS inlined, no script or stylesheet from the internet).
Images are embedded as data: URIs (nbconvert writes image outputs inline; ``embed_images``
does the same for images linked from markdown). The finished page gets a navigation bar
(the report's notebooks), a table of contents built from its headings (h1-h3, including
headings printed by ``output: asis`` cells), figure alt texts and table numbers.

Reference: nbconvert "Customizing exporters / templates"
(https://nbconvert.readthedocs.io/en/latest/customizing.html).
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import lxml.html
import nbconvert
import nbformat
from lxml import etree
from nbconvert import HTMLExporter

from analysis.render.layout import DIV_CLOSE_MARKER, DIV_OPEN_MARKER

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "sap_report"
TOC_LEVELS = ("h1", "h2", "h3")
UNLISTED_CLASSES = {"unlisted"}
SYNTHETIC_NOTICE = '<span class="synthetic">SYNTHETIC data</span> (seeded simulator; no patient data)'
# An attribute that makes the browser fetch something: the report must open air-gapped.
FETCHING_ATTRIBUTES = (("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
                       ("source", "src"), ("video", "src"), ("audio", "src"), ("object", "data"),
                       ("embed", "src"), ("track", "src"), ("input", "src"), ("video", "poster"),
                       ("img", "srcset"), ("source", "srcset"), ("frame", "src"))
NBCONVERT_PLACEHOLDER_ALT = "No description has been provided for this image"
REMOTE_URL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
CSS_REMOTE_IMPORT = re.compile(r"@import\s+(url\()?\s*['\"]?\s*(https?:)?//|url\(\s*['\"]?\s*(https?:)?//", re.IGNORECASE)


@dataclass(frozen=True)
class NavEntry:
    """One link of the navigation bar: the page file name and its short title."""
    href: str
    label: str


@dataclass
class Page:
    """What the template shows around the notebook content."""
    title: str
    cut: str
    engine: str
    subtitle: str = ""
    nav: list[NavEntry] = field(default_factory=list)
    current: str | None = None
    resource_dir: Path | None = None  # where images linked from markdown are read (and embedded)


def nav_html(entries: list[NavEntry], current: str | None) -> str:
    links = []
    for entry in entries:
        cls = ' class="current" aria-current="page"' if entry.href == current else ""
        links.append(f'<a href="{html_lib.escape(entry.href)}"{cls}>{html_lib.escape(entry.label)}</a>')
    return "\n".join(links)


@lru_cache(maxsize=None)
def css_text(name: str) -> str:
    return (TEMPLATES_DIR / TEMPLATE_NAME / name).read_text(encoding="utf-8")


def report_css() -> str:
    return css_text("report.css") + "\n" + css_text("nav.css")


def make_exporter() -> HTMLExporter:
    return HTMLExporter(template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATES_DIR)],
                        exclude_input_prompt=True, exclude_output_prompt=True, embed_images=True,
                        anchor_link_text="¶")


def cut_status_label(cut: str) -> str:
    """The cut's status for every page header (SAP 3.7: one declaration, conventions.CUT_STATUS)."""
    from analysis.conventions import cut_status
    return {"interim": "interim analysis", "final": "final analysis"}.get(
        cut_status(cut), "interim/final status not declared")


def page_resources(page: Page) -> dict:
    status = cut_status_label(page.cut)  # issue 12: interim or final on every page, not only on two
    meta = (f"Data cut <b>{html_lib.escape(page.cut)}</b>, <b>{status}</b> (every p-value nominal) · "
            f"{SYNTHETIC_NOTICE}")
    return {"metadata": {"path": str(page.resource_dir or Path.cwd())}, "report": {
        "title": page.title, "subtitle": page.subtitle, "engine": page.engine, "css": report_css(),
        "nav_html": nav_html(page.nav, page.current), "meta_html": meta,
        "footer_html": (f"Data cut {html_lib.escape(page.cut)} ({status}) · SYNTHETIC data · "
                        f"rendered by analysis.render ({html_lib.escape(page.engine)})"),
    }}


def export_notebook(nb: nbformat.NotebookNode, page: Page) -> str:
    """The notebook as a finished, self-contained HTML page (see the module docstring)."""
    body, _ = make_exporter().from_notebook_node(nb, resources=page_resources(page))
    return finish_page(body)


# --- post-processing of the exported page ---------------------------------------------------

def parse_page(text: str):
    parser = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
    return lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)


def serialize_page(doc) -> str:
    return lxml.html.tostring(doc, doctype="<!DOCTYPE html>", encoding="unicode", method="html")


def heading_text(heading) -> str:
    """A heading's text without nbconvert's trailing anchor-link pilcrow."""
    parts = [heading.text or ""]
    for child in heading:
        if "anchor-link" not in (child.get("class") or ""):
            parts.append(child.text_content())
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())


def slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "section"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def toc_headings(main) -> list[tuple[int, str, str]]:
    """(level, id, text) of the listed h1-h3 in ``main`` (not the page title); gives ids as needed."""
    taken = {el.get("id") for el in main.iter() if el.get("id")}
    found = []
    for heading in main.iter(*TOC_LEVELS):
        classes = set((heading.get("class") or "").split())
        if "title" in classes or classes & UNLISTED_CLASSES:
            continue
        text = heading_text(heading)
        if not text:
            continue
        if not heading.get("id"):
            heading.set("id", slug(text, taken))
            taken.add(heading.get("id"))
        found.append((int(heading.tag[1]), heading.get("id"), text))
    return found


def toc_element(headings: list[tuple[int, str, str]]):
    """(title, nested <ul>) for the headings: a deeper heading nests under the one before it."""
    nav_title = etree.Element("h2")
    nav_title.text = "Contents"
    root = etree.Element("ul")
    stack: list[list] = [[None, root]]  # [heading level of the items of this <ul>, <ul>]
    for level, ident, text in headings:
        while len(stack) > 1 and stack[-1][0] > level:
            stack.pop()
        if stack[-1][0] is None:
            stack[-1][0] = level
        elif level > stack[-1][0] and len(stack[-1][1]):
            stack.append([level, etree.SubElement(stack[-1][1][-1], "ul")])
        item = etree.SubElement(stack[-1][1], "li")
        link = etree.SubElement(item, "a", href=f"#{ident}")
        link.text = text
    return nav_title, root


def add_toc(doc) -> None:
    main = doc.find(".//main")
    nav = doc.get_element_by_id("TOC", None)
    if main is None or nav is None:
        return
    title, ul = toc_element(toc_headings(main))
    nav.append(title)
    nav.append(ul)


def add_figure_alt_text(doc) -> None:
    """Every image gets an alt text: its figure's ``fig-alt``, else its caption, else "Figure"
    (replacing nbconvert's placeholder "No description has been provided for this image")."""
    for img in doc.iter("img"):
        if img.get("alt") and img.get("alt") != NBCONVERT_PLACEHOLDER_ALT:
            continue
        figure = next(img.iterancestors("figure"), None)
        caption = figure.find("figcaption") if figure is not None else None
        if figure is not None and figure.get("data-alt"):
            alt = figure.get("data-alt")
        elif caption is not None:
            alt = " ".join(caption.text_content().split())
        else:
            alt = "Figure"
        img.set("alt", alt)


_CSR_NUMBER = re.compile(r"^(Table|Listing|Figure) \d+(\.\d+)+: ")


def drop_numbers_of_csr_figures(doc) -> None:
    """A figure whose caption starts with its registered CSR number ("Figure 14.1.1: ...",
    analysis/present/numbering.py) keeps that number only, not a second page-local one."""
    for figcaption in doc.iter("figcaption"):
        spans = figcaption.find_class("float-number")
        if not spans:
            continue
        rest = figcaption.text_content().strip()[len(spans[0].text_content().strip()):].strip()
        if _CSR_NUMBER.match(rest):
            spans[0].drop_tree()


def number_table_captions(doc) -> None:
    """A ``tbl-`` labelled cell without ``tbl-cap`` whose HTML table brings its own <caption>
    (analysis/present tables do): put the number into that caption instead of a separate one."""
    for figure in doc.find_class("report-tbl"):
        figcaption = figure.find("figcaption")
        table_caption = next(figure.iter("caption"), None)
        if figcaption is None or table_caption is None:
            continue
        number = figcaption.find_class("float-number")
        own_text = figcaption.text_content().strip()
        if _CSR_NUMBER.match(table_caption.text_content().strip()):
            # the table carries its registered CSR number (analysis/present/numbering.py), the same
            # as its RTF: no second, page-local number
            figure.remove(figcaption)
            continue
        if number and own_text == number[0].text_content().strip():
            label = etree.Element("span", attrib={"class": "float-number"})
            label.text = number[0].text_content().strip() + ": "
            label.tail = table_caption.text or ""
            table_caption.text = ""
            table_caption.insert(0, label)
            figure.remove(figcaption)


def marker_block(marker):
    """The element that stands for a div marker: its paragraph when it is alone in one."""
    parent = marker.getparent()
    alone = parent is not None and parent.tag == "p" and len(parent) == 1 and not (parent.text or "").strip()
    return parent if alone else marker


def build_fenced_divs(doc) -> None:
    """Replace each open-marker ... close-marker pair (layout.convert_divs) by a <div> holding
    the elements in between. Markers are siblings, as they come from one markdown cell."""
    for marker in reversed(doc.find_class(DIV_OPEN_MARKER)):  # innermost first
        start = marker_block(marker)
        div = etree.Element("div", attrib={"class": marker.get("data-class") or ""})
        if marker.get("data-id"):
            div.set("id", marker.get("data-id"))
        if marker.get("data-title"):
            title = etree.SubElement(div, "p", attrib={"class": "callout-title"})
            title.text = marker.get("data-title")
        sibling = start.getnext()
        while sibling is not None:
            following = sibling.getnext()
            closes = sibling.find_class(DIV_CLOSE_MARKER) or (DIV_CLOSE_MARKER in (sibling.get("class") or ""))
            if closes:
                sibling.getparent().remove(sibling)
                break
            div.append(sibling)
            sibling = following
        start.addprevious(div)
        div.tail = start.tail
        start.getparent().remove(start)


def finish_page(text: str) -> str:
    doc = parse_page(text)
    build_fenced_divs(doc)
    number_table_captions(doc)
    drop_numbers_of_csr_figures(doc)
    add_toc(doc)
    add_figure_alt_text(doc)
    return serialize_page(doc)


def add_navigation(text: str, entries: list[NavEntry], current: str | None) -> str:
    """Insert the navigation bar (and its stylesheet) at the top of a page rendered elsewhere
    (by Quarto), so both engines link the report's pages the same way."""
    doc = parse_page(text)
    head, body = doc.find("head"), doc.find("body")
    if body is None:
        raise ValueError("the page has no <body>")
    style = etree.Element("style")
    style.text = css_text("nav.css")
    (head if head is not None else body).append(style)
    nav = lxml.html.fragment_fromstring(f'<nav class="report-nav" aria-label="Report notebooks">'
                                        f'{nav_html(entries, current)}</nav>')
    body.insert(0, nav)
    return serialize_page(doc)


def external_references(text: str) -> list[str]:
    """What the page would load from outside itself (should be nothing): a URL on the network or
    a neighbouring file, in a script, stylesheet, image, frame or media element, or a CSS import.

    Links (<a href>) are not loaded and are allowed; so are data: URIs and in-page #anchors.
    """
    doc = parse_page(text)
    found = []
    for tag, attr in FETCHING_ATTRIBUTES:
        for el in doc.iter(tag):
            value = (el.get(attr) or "").strip()
            if value and not value.startswith(("data:", "#")):
                where = "network" if REMOTE_URL.match(value) else "file"
                found.append(f"<{tag} {attr}={value[:120]}> ({where})")
    for style in doc.iter("style"):
        if CSS_REMOTE_IMPORT.search(style.text or ""):
            found.append("<style> imports or loads a remote URL")
    for el in doc.iter():
        if isinstance(el.tag, str) and CSS_REMOTE_IMPORT.search(el.get("style") or ""):
            found.append(f"<{el.tag} style=...> loads a remote URL")
    return found


def engine_description() -> str:
    return f"Jupyter fallback: jupytext + nbclient + nbconvert {nbconvert.__version__}"
