"""Reading raw exports (read-only) and their manifest. Nothing here ever writes to data/raw."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis.build import sha256_file  # noqa: F401  (re-exported: one definition, in the light build module)
from analysis.raw_spec import FORMS, MANIFEST, Form


def read_manifest(cut_dir: Path) -> dict:
    path = Path(cut_dir) / MANIFEST
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def read_form_text(cut_dir: Path, form: str | Form) -> pd.DataFrame:
    """One raw form exactly as exported: every cell a string, empty cell -> <NA>."""
    f = FORMS[form] if isinstance(form, str) else form
    path = Path(cut_dir) / f.file
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    return df


def parse_form(df: pd.DataFrame, form: str | Form) -> pd.DataFrame:
    """Typed copy of a validated raw form: int/float columns numeric; date columns stay ISO
    strings (partial dates are imputed by the derivations, SAP 2.3)."""
    f = FORMS[form] if isinstance(form, str) else form
    out = df.copy()
    for col in f.columns:
        if col.name not in out.columns:
            continue
        if col.type == "int":
            out[col.name] = pd.to_numeric(out[col.name]).astype("Int64")
        elif col.type == "float":
            out[col.name] = pd.to_numeric(out[col.name]).astype("Float64")
    return out


def read_form(cut_dir: Path, form: str | Form) -> pd.DataFrame:
    return parse_form(read_form_text(cut_dir, form), form)
