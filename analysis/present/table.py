"""A display table and its two renderings: HTML (Quarto report) and RTF (clinical study report).

A :class:`Table` holds only strings: the numbers were rounded by ``analysis.present.formats``
before they got here, so HTML and RTF show exactly the same cells.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.atomic import atomic_write_text
from analysis.present.rawhtml import raw_html_block

INDENT_SPACES = 3  # RTF/text indentation per level (CSR tables indent with spaces)


@dataclass
class Table:
    """A formatted table.

    ``frame``: display strings, one column per displayed column (first column = row labels).
    ``headers``: the displayed column headers, same length as ``frame.columns``; a ``"\\n"``
    starts a new header line (e.g. ``"Placebo\\nN = 86"``).
    ``indent``: indentation level of each row's label (0 = flush left).
    ``subtitles``: lines under the title (population, data cut, ...).
    ``footnotes``: method and abbreviation notes, printed under the table.
    """

    title: str
    frame: pd.DataFrame
    headers: list[str]
    footnotes: list[str] = field(default_factory=list)
    subtitles: list[str] = field(default_factory=list)
    indent: list[int] | None = None
    source: str | None = None

    def __post_init__(self):
        if len(self.headers) != self.frame.shape[1]:
            raise ValueError(f"Table {self.title!r}: {len(self.headers)} headers for "
                             f"{self.frame.shape[1]} columns")
        if self.indent is None:
            self.indent = [0] * len(self.frame)
        if len(self.indent) != len(self.frame):
            raise ValueError(f"Table {self.title!r}: {len(self.indent)} indent levels for "
                             f"{len(self.frame)} rows")
        self.frame = self.frame.reset_index(drop=True).astype(str)

    def cell(self, row_label: str, column: str) -> str:
        """The cell in the row whose label (first column) is ``row_label``; for tests and QC."""
        hits = self.frame.index[self.frame.iloc[:, 0] == row_label]
        if len(hits) != 1:
            raise KeyError(f"{len(hits)} rows labelled {row_label!r} in table {self.title!r}")
        return self.frame.loc[hits[0], column]

    def _repr_markdown_(self) -> str:
        """Notebooks (Quarto or the Jupyter fallback) display a Table as its HTML, inside a
        Pandoc raw HTML block: a ``text/html`` output would make Quarto load require.js and
        jQuery from a CDN (see analysis.present.rawhtml). No ``_repr_html_`` on purpose."""
        return raw_html_block(to_html(self))

    def with_indented_labels(self) -> pd.DataFrame:
        """The frame with row labels indented by spaces (plain-text and RTF rendering)."""
        out = self.frame.copy()
        first = out.columns[0]
        out[first] = [" " * (INDENT_SPACES * level) + text
                      for level, text in zip(self.indent, out[first])]
        return out


# ------------------------------------------------------------------------------------------------
# HTML
# ------------------------------------------------------------------------------------------------

def _html_text(text: str) -> str:
    return html.escape(str(text)).replace("\n", "<br>")


def to_html(table: Table, table_class: str = "clinical-table") -> str:
    """A self-contained ``<table>`` with ``<caption>`` (title and subtitles), header, body and
    the footnotes in ``<tfoot>``; row labels indented with ``padding-left`` (em)."""
    ncol = table.frame.shape[1]
    caption = "<br>".join(_html_text(t) for t in [table.title, *table.subtitles])
    head = "".join(f"<th>{_html_text(h)}</th>" for h in table.headers)
    body_rows = []
    for level, (_, row) in zip(table.indent, table.frame.iterrows()):
        cells = [f'<td style="text-align:left;padding-left:{0.3 + 1.2 * level:.1f}em">'
                 f"{_html_text(row.iloc[0])}</td>"]
        cells += [f'<td style="text-align:center">{_html_text(v)}</td>' for v in row.iloc[1:]]
        body_rows.append("<tr>" + "".join(cells) + "</tr>")
    notes = [*table.footnotes] + ([table.source] if table.source else [])
    foot = "".join(f'<tr><td colspan="{ncol}" style="text-align:left;font-size:smaller">'
                   f"{_html_text(n)}</td></tr>" for n in notes)
    return (f'<table class="{table_class}">\n<caption>{caption}</caption>\n'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body_rows) +
            f"\n</tbody>\n<tfoot>{foot}</tfoot>\n</table>\n")


# ------------------------------------------------------------------------------------------------
# RTF via rtflite
# ------------------------------------------------------------------------------------------------

def rtf_escape(text: str) -> str:
    r"""Escape RTF control characters (``\ { }``) and turn newlines into ``\line``.

    rtflite's own text conversion is switched off everywhere: it would read ``_`` as a subscript
    and LaTeX commands as symbols, which mangles ADaM names like ``TRTEMFL`` or ``AVAL_X``.
    Non-ASCII characters are encoded by rtflite as ``\uN*``.
    """
    text = str(text).replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}")
    return text.replace("\r\n", "\n").replace("\n", "\\line ")


RTF_CHARS_PER_INCH = 15   # 9-pt body text, conservative (digits and capitals are the widest)
RTF_CELL_PADDING = 2      # characters of cell margins per column


def _longest_word(texts) -> int:
    return max([len(w) for t in texts for w in str(t).split()] + [1])


def _column_widths(table: Table, capacity: float | None = None) -> list[float]:
    """Relative widths from the longest cell/header line of each column (label column wider).

    With ``capacity`` (characters that fit across the page), the label column gives way first so
    that the widths add up to at most ``capacity``: every other column then gets at least its
    longest line, so no header or cell word is broken across lines (issue 11); the label column
    never goes below its own longest word."""
    frame = table.with_indented_labels()
    widths, words = [], []
    for i, col in enumerate(frame.columns):
        texts = list(frame[col]) + table.headers[i].split("\n")
        longest = max([len(s) for s in frame[col]] + [len(line) for line in table.headers[i].split("\n")] + [4])
        widths.append(float(min(longest, 60)) + RTF_CELL_PADDING)
        words.append(float(_longest_word(texts)) + RTF_CELL_PADDING)
    if capacity is not None and len(widths) > 1:
        room = capacity - sum(widths[1:])
        widths[0] = max(min(widths[0], room), words[0])
    return widths


def _page_capacity(page) -> float:
    """Characters that fit across the table width of an rtflite page."""
    return float(page.col_width) * RTF_CHARS_PER_INCH


PAGE_NUMBER_FIELDS = "Page \\chpgn of {\\field{\\*\\fldinst NUMPAGES }}"   # rtflite's default page header


def rtf_string(table: Table, orientation: str | None = None, rows_per_page: int | None = None,
               page_header: str | None = None) -> str:
    """The RTF document text of ``table`` (rtflite 2.6 ``RTFDocument.rtf_encode``): title and
    subtitles, column headers repeated on each page, body, footnotes and source; the page header
    of every page is ``page_header`` (e.g. the interim / final status of the cut) and "Page x of y"."""
    import polars as pl  # rtflite works on polars frames; its pandas path is broken in 2.6
    import rtflite as rtf

    frame = table.with_indented_labels()
    ncol = frame.shape[1]
    if orientation is None:
        orientation = "landscape" if ncol > 4 else "portrait"
    body = pl.DataFrame({f"c{i}": [rtf_escape(v) for v in frame[col]]
                         for i, col in enumerate(frame.columns)})
    justification = ["l"] + ["c"] * (ncol - 1)
    page = rtf.RTFPage(orientation=orientation, **({"nrow": rows_per_page} if rows_per_page else {}))
    widths = _column_widths(table, _page_capacity(page))
    kwargs = dict(
        df=body,
        rtf_page=page,
        # "Page x of y", as CSR tables carry, after the status line when there is one
        rtf_page_header=rtf.RTFPageHeader(
            text=[(rtf_escape(page_header) + " \\line " if page_header else "") + PAGE_NUMBER_FIELDS],
            text_convert=[False]),
        rtf_title=rtf.RTFTitle(text=[rtf_escape(t) for t in [table.title, *table.subtitles]],
                               text_convert=[False]),
        rtf_column_header=rtf.RTFColumnHeader(text=[rtf_escape(h) for h in table.headers],
                                              col_rel_width=widths,
                                              text_justification=justification,
                                              text_convert=[False]),
        rtf_body=rtf.RTFBody(col_rel_width=widths,
                             text_justification=[justification], text_convert=[[False]]),
    )
    if table.footnotes:
        kwargs["rtf_footnote"] = rtf.RTFFootnote(text=[rtf_escape(n) for n in table.footnotes],
                                                 text_convert=[[False]])
    if table.source:
        kwargs["rtf_source"] = rtf.RTFSource(text=[rtf_escape(table.source)], text_convert=[[False]])
    return rtf.RTFDocument(**kwargs).rtf_encode()


def write_rtf(table: Table, path: str | Path, orientation: str | None = None,
              rows_per_page: int | None = None, page_header: str | None = None) -> Path:
    """Write ``table`` as an RTF file (whole or not at all); returns the path."""
    path = Path(path)
    atomic_write_text(path, rtf_string(table, orientation, rows_per_page, page_header))
    return path


def write_html(table: Table, path: str | Path) -> Path:
    """Write the HTML ``<table>`` fragment of ``table`` (whole or not at all)."""
    path = Path(path)
    atomic_write_text(path, to_html(table))
    return path


def write_outputs(table: Table, directory: str | Path, name: str, page_header: str | None = None) -> dict[str, Path]:
    """Write ``<name>.html`` (fragment) and ``<name>.rtf`` (for the CSR, ``page_header`` on every
    page) into ``directory``; returns {"html": path, "rtf": path}."""
    directory = Path(directory)
    return {"html": write_html(table, directory / f"{name}.html"),
            "rtf": write_rtf(table, directory / f"{name}.rtf", page_header=page_header)}
