"""Reading raw exports (read-only) and their manifest. Nothing here ever writes to data/raw.

A raw file is read ONCE as bytes; its SHA-256 is taken from those bytes and the frame is parsed
from the same bytes (``read_form_checked``), so the derive step works on exactly the bytes whose
checksum it compared with what the validate step validated (``validated_sha256``): a file
changed in between stops the run (BadDataError, exit 3) instead of being derived unvalidated.

A raw file that is a symbolic link is refused (RawFileRefused, a BadDataError): a cut is a plain
folder of plain files, and a link could point anywhere on the machine.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pandas as pd

from analysis.build import read_record, sha256_file  # noqa: F401  (sha256_file re-exported: one definition)
from analysis.errors import BadDataError
from analysis.raw_spec import FORMS, MANIFEST, Form


class RawFileRefused(BadDataError):
    """A raw path that must not be read (a symbolic link)."""


def raw_path(cut_dir: Path, name: str) -> Path:
    """``cut_dir/name``, refusing a symbolic link (the file or the cut folder itself)."""
    cut_dir = Path(cut_dir)
    if cut_dir.is_symlink():
        raise RawFileRefused(f"{cut_dir}: the cut folder is a symbolic link; refused (copy the export "
                             f"into data/raw/ as a plain folder)")
    path = cut_dir / name
    if path.is_symlink():
        raise RawFileRefused(f"{path}: a symbolic link (to {path.resolve()}); refused: raw files must be "
                             f"plain files in the cut folder")
    return path


def read_manifest(cut_dir: Path) -> dict:
    with open(raw_path(cut_dir, MANIFEST), encoding="utf-8") as fh:
        return json.load(fh)


def _form(form: str | Form) -> Form:
    return FORMS[form] if isinstance(form, str) else form


def parse_form_bytes(data: bytes) -> pd.DataFrame:
    """Every cell a string exactly as exported, empty cell -> <NA>."""
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")


def read_form_text(cut_dir: Path, form: str | Form) -> pd.DataFrame:
    """One raw form exactly as exported: every cell a string, empty cell -> <NA>."""
    return parse_form_bytes(raw_path(cut_dir, _form(form).file).read_bytes())


def parse_form(df: pd.DataFrame, form: str | Form) -> pd.DataFrame:
    """Typed copy of a validated raw form: int/float columns numeric; date columns stay ISO
    strings (partial dates are imputed by the derivations, SAP 2.3)."""
    f = _form(form)
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


def validated_sha256(cut: str, cut_dir: Path, root: Path | None = None) -> tuple[dict[str, str] | None, str]:
    """SHA-256 of each raw file as the validate step saw it, and where that comes from: the
    validate build record (data/derived/.build/<cut>/validate.json) when there is one (always,
    on the command line: derive runs after validate), else manifest.json (validation fails
    unless every file matches it). (None, reason) when neither exists: a library call on a
    hand-made folder that was never validated, which nothing can check."""
    rec = read_record("validate", cut, root) if cut else None
    prefix = f"data:data/raw/{cut}/"
    if rec is not None:
        return ({k[len(prefix):]: v for k, v in rec["inputs"].items() if k.startswith(prefix)},
                "the validate step's build record")
    if not (Path(cut_dir) / MANIFEST).exists():
        return None, "no validate record and no manifest.json"
    from validation.manifest import ManifestError, manifest_hashes  # the one manifest reader
    try:
        return manifest_hashes(read_manifest(cut_dir)), MANIFEST
    except (OSError, ValueError, ManifestError) as exc:
        raise BadDataError(f"{Path(cut_dir) / MANIFEST}: cannot tell which bytes were validated ({exc}); "
                           f"run `python -m analysis validate --cut {cut}`") from None


def read_form_checked(cut_dir: Path, form: str | Form, expected: dict[str, str] | None,
                      source: str) -> tuple[pd.DataFrame, str]:
    """(typed frame, sha256) of a raw form read once, after checking that its bytes are those
    validated (``expected``; None: nothing to check against); raises BadDataError naming the file
    otherwise."""
    f = _form(form)
    path = raw_path(cut_dir, f.file)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    want = digest if expected is None else expected.get(f.file)
    if want != digest:
        raise BadDataError(f"{path}: SHA-256 {digest[:12]}.. is not that of the validated bytes "
                           f"({(want or 'no checksum')[:12]}.. per {source}); the raw file changed after "
                           f"validation (rule: derive only what was validated); nothing was derived. "
                           f"Run the pipeline again to validate the current export.")
    return parse_form(parse_form_bytes(data), f), digest
