"""Load one raw form as text and build the frame its expectations run on.

The check frame keeps every raw column as exported (text, ``<NA>`` for an empty cell) and adds
typed helper columns, so that a value which does not parse is reported once by its type check and
is simply absent (null) from the range and order checks:

- ``ROW``            1-based data row as in the CSV (header not counted)
- ``<COL>__num``     int/float columns: the number, null if the text is not a number
- ``<COL>__lo/__hi`` date/pdate columns: earliest/latest day the text can stand for
                     (``validation.dates``), null if it is not a valid date
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.raw_io import read_form_text
from analysis.raw_spec import Form
from validation.dates import date_bounds

ROW = "ROW"
INT_TEXT = re.compile(r"^[+-]?\d+$")
FLOAT_TEXT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
NUMBER_PATTERN = {"int": INT_TEXT.pattern, "float": FLOAT_TEXT.pattern}
DATE_TYPES = ("date", "pdate")


def num(col: str) -> str:
    return f"{col}__num"


def lo(col: str) -> str:
    return f"{col}__lo"


def hi(col: str) -> str:
    return f"{col}__hi"


@dataclass
class LoadedForm:
    """A raw form as read from its CSV, or the reason it could not be read."""
    form: Form
    path: Path
    text: pd.DataFrame | None = None   # every cell a string, exactly as exported
    error: str | None = None           # why the file is absent or unreadable

    @property
    def ok(self) -> bool:
        return self.text is not None


def load_form(cut_dir: Path, form: Form) -> LoadedForm:
    """Read ``<cut_dir>/<form>.csv`` as text; an absent or unreadable file gives ``error``
    (naming the line where the CSV parser stopped, when it says)."""
    path = Path(cut_dir) / form.file
    if not path.is_file():
        return LoadedForm(form, path, error="file not found")
    with open(path, "rb") as fh:
        if fh.read(3) == b"\xef\xbb\xbf":  # would glue itself to the first column name
            return LoadedForm(form, path, error="starts with a UTF-8 byte-order mark; export UTF-8 without BOM")
    try:
        text = read_form_text(cut_dir, form)
    except UnicodeDecodeError as exc:
        return LoadedForm(form, path, error=f"not UTF-8 text (byte {exc.start}: {exc.reason})")
    except pd.errors.EmptyDataError:
        return LoadedForm(form, path, error="empty file: no header line")
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        return LoadedForm(form, path, error=f"not a readable CSV: {exc}".strip())
    return LoadedForm(form, path, text=text)


def check_frame(form: Form, text: pd.DataFrame) -> pd.DataFrame:
    """The frame the value expectations of ``form`` run on (see module docstring). Columns the
    contract names but the file lacks are added empty; their expectations are not evaluated
    (the structure suite reports the missing column)."""
    out = pd.DataFrame(index=text.index)
    out[ROW] = range(1, len(text) + 1)
    for col in form.columns:
        values = text[col.name] if col.name in text.columns else pd.Series(None, index=text.index, dtype="str")
        out[col.name] = values.astype("str")
        if col.type in NUMBER_PATTERN:
            well_formed = values.astype("string").str.match(NUMBER_PATTERN[col.type]).fillna(False).astype(bool)
            out[num(col.name)] = pd.to_numeric(values.where(well_formed), errors="coerce").astype("float64")
        elif col.type in DATE_TYPES:
            out[lo(col.name)], out[hi(col.name)] = date_bounds(values, allow_partial=col.type == "pdate")
    return out.reset_index(drop=True)
