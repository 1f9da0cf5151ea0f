"""Checks of the raw files themselves, before any value is read: presence, readability, and
agreement with the export manifest (SHA-256 of every file). These are custom checks (GX has no
notion of files) reported in the same way as the expectations."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from analysis.raw_io import sha256_file
from analysis.raw_spec import FORMS, MANIFEST


class ManifestError(ValueError):
    pass


def manifest_hashes(manifest: dict) -> dict[str, str]:
    """File name -> SHA-256 from manifest.json. Accepts the layouts an export may use:
    ``{"files": {"dm.csv": {"sha256": h}}}``, ``{"files": {"dm.csv": h}}``,
    ``{"files": [{"file"|"name"|"path": "dm.csv", "sha256": h}]}`` or a flat ``{"dm.csv": h}``."""
    files = manifest.get("files", manifest) if isinstance(manifest, dict) else manifest
    out: dict[str, str] = {}
    if isinstance(files, dict):
        items = files.items()
    elif isinstance(files, list):
        items = []
        for entry in files:
            name = next((entry[k] for k in ("file", "name", "path", "filename") if k in entry), None)
            if name is None:
                raise ManifestError(f"entry without a file name: {entry}")
            items.append((name, entry))
    else:
        raise ManifestError("no 'files' listing")
    for name, entry in items:
        if not str(name).endswith(".csv"):
            continue  # other metadata keys (seed, cut date, ...)
        digest = entry.get("sha256") if isinstance(entry, dict) else entry
        if not isinstance(digest, str):
            raise ManifestError(f"{name}: no sha256")
        out[Path(str(name)).name] = digest.lower()
    if not out:
        raise ManifestError("lists no .csv file")
    return out


def manifest_row_counts(manifest: dict) -> dict[str, int]:
    """File name -> data row count where the manifest states one (``"rows"``)."""
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if isinstance(files, dict):
        return {Path(n).name: e["rows"] for n, e in files.items() if isinstance(e, dict) and isinstance(e.get("rows"), int)}
    return {}


def csv_data_rows(path: Path) -> int:
    """Records after the header line (quoted newlines kept inside their record)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return max(sum(1 for _ in csv.reader(fh)) - 1, 0)


def short(digest: str) -> str:
    return digest[:8] + ".."


def manifest_problems(cut_dir: Path) -> list[str]:
    """Every disagreement between the folder and manifest.json, one sentence each."""
    cut_dir = Path(cut_dir)
    path = cut_dir / MANIFEST
    if not path.is_file():
        return [f"{MANIFEST}: not found; the export's checksums cannot be verified"]
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        listed = manifest_hashes(manifest)
        rows = manifest_row_counts(manifest)
    except (json.JSONDecodeError, UnicodeDecodeError, ManifestError, AttributeError, TypeError) as exc:
        return [f"{MANIFEST}: unreadable ({exc})"]
    problems = []
    for name, expected in sorted(listed.items()):
        f = cut_dir / name
        if not f.is_file():
            problems.append(f"{name}: listed in {MANIFEST} but absent from the cut folder")
            continue
        actual = sha256_file(f)
        if actual != expected:
            problems.append(f"{name}: SHA-256 {short(actual)} differs from {MANIFEST} {short(expected)} "
                            f"— the raw file changed after export")
        elif name in rows:
            try:
                found = csv_data_rows(f)
            except (UnicodeDecodeError, csv.Error):
                continue  # reported by the readability check
            if found != rows[name]:
                problems.append(f"{name}: {found} data rows but {MANIFEST} states {rows[name]}")
    for f in sorted(cut_dir.iterdir()):
        if f.is_file() and f.name != MANIFEST and not f.name.startswith(".") and f.name not in listed:
            problems.append(f"{f.name}: present in the cut folder but not listed in {MANIFEST}")
    return problems


def contract_files() -> list[str]:
    return [f.file for f in FORMS.values()]
