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
        else:
            out[c] = s.map(lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else v).astype("string")
    return pd.DataFrame(out)


def scan_table(df: pd.DataFrame, file: Path, values: dict[str, Identifier]) -> list[str]:
    """Identifier columns by name, and identifying values in any cell (exact or as a substring)."""
    problems = []
    upper = {c.upper(): c for c in map(str, df.columns)}
    for ident in IDENTIFIER_COLUMNS:
        if ident in upper:
            problems.append(_leak("as a column", ident, None, file, f"column {upper[ident]}"))
    if not values or df.empty:
        return problems
    text = _dataset_cells_as_text(df)
    pattern = re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))
    for c in text.columns:
        s = text[c].dropna()
        hits = s[s.str.contains(pattern, regex=True)]
        for row, cell in hits.head(5).items():
            ident = values[pattern.search(cell).group(0)]
            problems.append(_leak("as a value", ident.column, ident.subject, file,
                                  f"column {c}, row {row + 1 if isinstance(row, int) else row}"))
    return problems


def scan_text(text: str, file: Path, values: dict[str, Identifier], html: bool) -> list[str]:
    problems = []
    if html:
        for ident in IDENTIFIER_COLUMNS:
            if re.search(rf"<th[^>]*>\s*{ident}\s*</th>", text, flags=re.IGNORECASE):
                problems.append(_leak("as a table column", ident, None, file, f"<th>{ident}</th>"))
    for value, ident in values.items():
        pos = text.find(value)
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
    tables, texts = output_files(cut, root)
    base = root or paths.ROOT
    problems = []
    for p in tables:
        rel = p.relative_to(base) if p.is_relative_to(base) else p
        df = common.read_ard(p) if p.name == common.ARD_FILE else common.read_dataset(p)
        problems += scan_table(df, rel, values)
    for p in texts:
        rel = p.relative_to(base) if p.is_relative_to(base) else p
        problems += scan_text(p.read_text(encoding="utf-8", errors="replace"), rel, values,
                              html=p.suffix.lower() in (".html", ".htm"))
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
