"""Nothing directly identifying leaves raw.

Raw exports carry identifying columns (analysis.raw_spec.IDENTIFIER_COLUMNS: INITIALS, BRTHDTC,
HOSPRN). This check fails with BadDataError, naming the identifier column, the subject and the
output file, when any of them reaches an output of the cut:

- by NAME: a column so named in a derived dataset or the ARD, or a table header so named in a
  report HTML file;
- by VALUE: a distinctive identifying value of raw (a hospital record number, a complete birth
  date YYYY-MM-DD) found in any cell of a derived dataset or the ARD, or anywhere in the text of
  a report file (HTML, define.xml, CSV, JSON, Markdown).

Values shorter than ``MIN_VALUE_LENGTH`` characters (initials "AB", partial birth dates
"1980-05") are not searched by value: they cannot be told apart from codes and ordinary dates
and would flag every report; their columns are still caught by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis import paths
from analysis.errors import BadDataError
from analysis.raw_io import read_form_text
from analysis.raw_spec import FORMS, IDENTIFIER_COLUMNS
from analysis.regulatory import common
from analysis.regulatory.compare import WITHHELD

MIN_VALUE_LENGTH = 6          # '1980-05-17' and 'H12345' are searched; initials 'AB' are not
FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TEXT_SUFFIXES = (".html", ".htm", ".xml", ".csv", ".json", ".md", ".txt", ".tex", ".rtf", ".svg", ".js")


@dataclass(frozen=True)
class Identifier:
    column: str
    subject: str
    value: str
    form: str


def form_identifiers(df: pd.DataFrame, form, name: str | None = None) -> list[Identifier]:
    """Every non-missing identifying value of one raw form (text frame)."""
    found = []
    cols = [c.name for c in form.columns if c.identifier and c.name in df.columns]
    if not cols:
        return found
    subject = df[form.subject_column] if form.subject_column in df.columns else pd.Series(None, index=df.index)
    for c in cols:
        for subj, v in zip(subject, df[c]):
            if isinstance(v, str) and v.strip():
                found.append(Identifier(c, str(subj), v.strip(), name or form.name))
    return found


def raw_identifiers(cut: str, root: Path | None = None) -> list[Identifier]:
    """Every non-missing identifying value of the raw export of ``cut``."""
    found = []
    cut_dir = paths.raw_dir(cut, root)
    for name, form in FORMS.items():
        if not any(c.identifier for c in form.columns) or not (cut_dir / form.file).exists():
            continue
        found += form_identifiers(read_form_text(cut_dir, form), form, name)
    return found


def searchable(ids: list[Identifier]) -> dict[str, Identifier]:
    """The values distinctive enough to search for (see module docstring)."""
    out = {}
    for i in ids:
        if len(i.value) < MIN_VALUE_LENGTH:
            continue
        if i.column == "BRTHDTC" and not FULL_DATE.match(i.value):
            continue
        out[i.value] = i
    return out


def identifiers_of_form(df: pd.DataFrame, form) -> dict[str, Identifier]:
    """The searchable identifying values of one raw form (for withholding them in messages)."""
    return searchable(form_identifiers(df, form))


def withhold_in_text(text: str, values: dict[str, Identifier]) -> str:
    """``text`` with every identifying value in it replaced by the withheld-identifier marker of
    the change tables (analysis.regulatory.compare.WITHHELD): one marker everywhere."""
    if not values or not text:
        return text
    for value in sorted(values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, WITHHELD)
    return text


class ValueFinder:
    """Finds every occurrence of the identifying values in a text in time linear in the text.

    Searching each value in turn (``text.find``) costs values x text: quadratic in the number of
    patients, as both grow with it. Instead each value is reduced to its shape (a digit becomes
    ``[0-9]``, an ASCII letter ``[A-Za-z]``, anything else itself; '1980-05-17' and 'H12345' give
    two shapes for thousands of values), the text is scanned once per shape for every
    (overlapping) match, and a match counts when it is one of the values. A value occurring at
    a position is a match of its shape there, so nothing is missed."""

    def __init__(self, values: dict[str, Identifier]):
        self.values = values
        shapes = dict.fromkeys(self.shape(v) for v in values)
        self.patterns = [re.compile(f"(?=({shape}))") for shape in shapes]
        self.any_shape = re.compile("|".join(shapes)) if shapes else None

    @staticmethod
    def shape(value: str) -> str:
        return "".join("[0-9]" if ch in "0123456789" else "[A-Za-z]" if ch.isascii() and ch.isalpha()
                       else re.escape(ch) for ch in value)

    def first_positions(self, text: str) -> dict[str, int]:
        """{value: position of its first occurrence} for the values found in ``text``."""
        first: dict[str, int] = {}
        for pattern in self.patterns:
            for m in pattern.finditer(text):
                value = m.group(1)
                if value in self.values and m.start() < first.get(value, len(text)):
                    first[value] = m.start()
        return first

    def leftmost(self, text: str) -> str | None:
        """The value occurring first in ``text`` (the longest where several start there)."""
        found = self.first_positions(text)
        return min(found, key=lambda v: (found[v], -len(v))) if found else None


def _leak(kind: str, ident_col: str, subject: str | None, file: Path, detail: str) -> str:
    who = f"subject {subject}" if subject else "column name"
    return f"{file}: identifier {ident_col} ({who}) found {kind}: {detail}"


def _dataset_cells_as_text(df: pd.DataFrame) -> pd.DataFrame:
    """Cells as text; date/datetime columns as ISO dates, so a birth date stored as a date is found."""
    out = {}
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[c] = s.dt.strftime("%Y-%m-%d")
        elif s.dtype == object:  # only these can hold bytes (XPT character columns): decoded one by one
            out[c] = s.map(lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else v).astype("string")
        else:  # numbers, strings: converted by pandas at once (a Python call per cell was linear but slow)
            out[c] = s.astype("string")
    return pd.DataFrame(out)


def scan_table(df: pd.DataFrame, file: Path, values: dict[str, Identifier],
               finder: ValueFinder | None = None) -> list[str]:
    """Identifier columns by name, and identifying values in any cell (exact or as a substring).
    ``finder``: ValueFinder(values), built once by the caller for many tables."""
    problems = []
    upper = {c.upper(): c for c in map(str, df.columns)}
    for ident in IDENTIFIER_COLUMNS:
        if ident in upper:
            problems.append(_leak("as a column", ident, None, file, f"column {upper[ident]}"))
    if not values or df.empty:
        return problems
    finder = finder or ValueFinder(values)
    text = _dataset_cells_as_text(df)
    for c in text.columns:
        s = text[c].dropna()
        candidates = s[s.str.contains(finder.any_shape, regex=True)]  # cells with something value-shaped
        hits = candidates.map(finder.leftmost).dropna()
        for row, value in hits.head(5).items():
            ident = values[value]
            problems.append(_leak("as a value", ident.column, ident.subject, file,
                                  f"column {c}, row {row + 1 if isinstance(row, int) else row}"))
    return problems


def scan_text(text: str, file: Path, values: dict[str, Identifier], html: bool,
              finder: ValueFinder | None = None) -> list[str]:
    problems = []
    if html:
        for ident in IDENTIFIER_COLUMNS:
            if re.search(rf"<th[^>]*>\s*{ident}\s*</th>", text, flags=re.IGNORECASE):
                problems.append(_leak("as a table column", ident, None, file, f"<th>{ident}</th>"))
    first = (finder or ValueFinder(values)).first_positions(text)
    for value, ident in values.items():
        pos = first.get(value, -1)
        if pos >= 0:
            line = text.count("\n", 0, pos) + 1
            problems.append(_leak("as a value", ident.column, ident.subject, file, f"line {line}"))
    return problems


def output_files(cut: str, root: Path | None = None) -> tuple[list[Path], list[Path]]:
    """(tables, text files) of the outputs of ``cut``: derived datasets, the ARD, report files."""
    tables = common.dataset_files(paths.derived_dir(cut, root))
    report = paths.report_dir(cut, root)
    ard = report / common.ARD_FILE
    if ard.exists():
        tables.append(ard)
    texts = []
    for folder in (paths.derived_dir(cut, root), report):
        if folder.is_dir():
            texts += [p for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES
                      and p not in tables and not p.name.startswith(".")]
    return tables, texts


def find_leaks(cut: str, root: Path | None = None) -> list[str]:
    """Every place an identifier of the raw export of ``cut`` reached one of its outputs."""
    values = searchable(raw_identifiers(cut, root))
    finder = ValueFinder(values)
    tables, texts = output_files(cut, root)
    base = root or paths.ROOT
    problems = []
    for p in tables:
        rel = p.relative_to(base) if p.is_relative_to(base) else p
        df = common.read_ard(p) if p.name == common.ARD_FILE else common.read_dataset(p)
        problems += scan_table(df, rel, values, finder)
    for p in texts:
        rel = p.relative_to(base) if p.is_relative_to(base) else p
        problems += scan_text(p.read_text(encoding="utf-8", errors="replace"), rel, values,
                              html=p.suffix.lower() in (".html", ".htm"), finder=finder)
    return problems


def check_identifiers(cut: str, root: Path | None = None) -> None:
    """Raise BadDataError listing every identifier leak in the outputs of ``cut``."""
    problems = find_leaks(cut, root)
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise BadDataError(f"identifying data from raw reached outputs of {cut} "
                           f"({len(problems)} finding(s)); remove them before anything leaves:\n"
                           + "\n".join(shown))


def identifiers_step(cut: str, root: Path | None = None) -> None:
    """Pipeline step 'identifiers' (the last one): fails the build on any leak."""
    check_identifiers(cut, root)
