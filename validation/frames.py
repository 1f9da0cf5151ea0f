r"""Load one raw form as text and build the frame its expectations run on.

The check frame keeps every raw column as exported (text, ``<NA>`` for an empty cell) and adds
typed helper columns, so that a value which does not parse is reported once by its type check and
is simply absent (null) from the range and order checks:

- ``ROW``            1-based data row as in the CSV (header not counted)
- ``<COL>__num``     int/float columns: the number, null if the text is not a number
- ``<COL>__lo/__hi`` date/pdate columns: earliest/latest day the text can stand for
                     (``validation.dates``), null if it is not a valid date
- ``<COL>__key``     key columns: the NORMALISED value uniqueness is checked on (an int as its
                     number, text with Unicode compatibility forms folded, surrounding
                     whitespace and control characters removed), so "05" and "5", or "01-001"
                     and "01-001\n", are the same key

Typed values are normalised once, here, and every rule on a typed column reads the normalised
helper column (never the text): a grade "05" is the grade 5. Every pattern is matched against the
WHOLE value (``full_match``: ``\A(?:...)\Z``, ASCII digits), so a trailing newline or control
character never slips past ``$``. An int must be exactly representable (|n| < 2^53, so it fits
int64 and the float helper column); a float must be finite: otherwise the type rule fails.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.messages import CONTROL
from analysis.raw_io import read_form_text
from analysis.raw_spec import Form
from validation.dates import date_bounds

ROW = "ROW"


def full_match(pattern: str) -> str:
    """``pattern`` matched against the WHOLE value, ``\\d`` meaning ASCII 0-9 only, for GX's regex
    expectations (which search): '^a$' accepts 'a\\n', full_match('^a$') does not; '\\d' accepts
    a full-width '１', full_match's digits do not. (Written so that pandas' pyarrow and Python
    regex engines agree: no inline flags.)"""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            pair = pattern[i:i + 2]
            out.append(("0-9" if in_class else "[0-9]") if pair == "\\d" else pair)
            i += 2
            continue
        in_class = (in_class and ch != "]") or (not in_class and ch == "[")
        out.append(ch)
        i += 1
    return rf"\A(?:{''.join(out)})\Z"


INT_TEXT = re.compile(full_match(r"[+-]?\d+"))
FLOAT_TEXT = re.compile(full_match(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"))
NUMBER_PATTERN = {"int": INT_TEXT.pattern, "float": FLOAT_TEXT.pattern}
DATE_TYPES = ("date", "pdate")
MAX_EXACT_INT = 2 ** 53   # |int| below this is exact in float64 and fits int64 (derivations use Int64)
# Control characters (analysis.messages.CONTROL_CHARS) are never allowed in a raw value: a NUL is
# cut short by SAS transport and kept by Parquet, escape sequences act on terminals.


def num(col: str) -> str:
    return f"{col}__num"


def lo(col: str) -> str:
    return f"{col}__lo"


def hi(col: str) -> str:
    return f"{col}__hi"


def key(col: str) -> str:
    return f"{col}__key"


def normalised_text(values: pd.Series) -> pd.Series:
    """Text as compared for identity: NFKC, control characters and surrounding whitespace removed."""
    def norm(v):
        if not isinstance(v, str):
            return v
        return CONTROL.sub("", unicodedata.normalize("NFKC", v)).strip()
    return values.map(norm, na_action="ignore").astype("object")


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
    if path.is_symlink():
        return LoadedForm(form, path, error="a symbolic link; refused: raw files must be plain files in the cut folder")
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
            out[num(col.name)] = typed_number(values, col.type)
        elif col.type in DATE_TYPES:
            out[lo(col.name)], out[hi(col.name)] = date_bounds(values, allow_partial=col.type == "pdate")
        if col.name in form.key:
            out[key(col.name)] = (out[num(col.name)] if col.type in NUMBER_PATTERN else normalised_text(values))
    return out.reset_index(drop=True)


def typed_number(values: pd.Series, kind: str) -> pd.Series:
    """The number of each well-formed cell (float64); null where the text is not a number of
    ``kind``, an int is not exact (|n| >= 2^53) or a float is not finite."""
    well_formed = values.astype("string").str.fullmatch(NUMBER_PATTERN[kind]).fillna(False).astype(bool)
    number = pd.Series(np.nan, index=values.index, dtype="float64")
    if well_formed.any():
        # text -> float never overflows: 1e400 -> inf, a 30-digit int -> 1e29
        number[well_formed] = values[well_formed].astype(str).astype("float64")
    representable = number.abs() < MAX_EXACT_INT if kind == "int" else np.isfinite(number)
    return number.where(representable)
