"""Checks of the raw files themselves, before any value is read: presence, readability, and
agreement with the export manifest (SHA-256 of every file). These are custom checks (GX has no
notion of files) reported in the same way as the expectations.

The manifest must name the cut it was exported for (``"cut"``: the folder name, so an old export
copied into a new cut folder fails), every file in the folder must be listed, and every listed
or present file must be a form of the raw contract (analysis.raw_spec.FORMS): an unknown form
file is reported, never silently ignored. A file that is a symbolic link is refused (a raw cut
is a plain folder of plain files; a link could point anywhere on the machine)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from analysis.build import sha256_file
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
        if not str(name).endswith(".csv") and not isinstance(entry, dict):
            continue  # other metadata keys (seed, cut date, ...)
        digest = entry.get("sha256") if isinstance(entry, dict) else entry
        if not isinstance(digest, str):
            raise ManifestError(f"{name}: no sha256")
        if Path(str(name)).name != str(name):
            raise ManifestError(f"{name}: a listed file must be a plain name in the cut folder")
        out[str(name)] = digest.lower()
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


def cut_problems(manifest: dict, cut_dir: Path) -> list[str]:
    """The manifest's own ``cut`` (and ``cut_date`` where given) agree with the folder."""
    cut = manifest.get("cut") if isinstance(manifest, dict) else None
    if cut is None:
        return [f"{MANIFEST}: states no \"cut\"; the export cannot be matched to the folder {cut_dir.name}"]
    problems = []
    if cut != cut_dir.name:
        problems.append(f"{MANIFEST}: exported for cut {cut!r} but found in folder {cut_dir.name!r} "
                        f"(an export copied into another cut folder?)")
    date = manifest.get("cut_date")
    if date is not None and f"cut-{date}" != cut_dir.name:
        problems.append(f"{MANIFEST}: cut_date {date!r} does not match folder {cut_dir.name!r}")
    return problems


def file_kind_problems(cut_dir: Path, listed: dict[str, str]) -> list[str]:
    """Files (present or listed) that are not forms of the contract, and symbolic links."""
    known = set(contract_files())
    present = {f.name for f in cut_dir.iterdir() if f.name != MANIFEST and not f.name.startswith(".")}
    problems = [f"{name}: not a form of the raw contract (analysis/raw_spec.py: {', '.join(sorted(known))}); "
                f"{'listed in ' + MANIFEST if name in listed else 'present in the cut folder'} but never read"
                for name in sorted((present | set(listed)) - known)]
    problems += [f"{f.name}: a symbolic link; raw files must be plain files in the cut folder"
                 for f in sorted(cut_dir.iterdir()) if f.is_symlink()]
    return problems


def manifest_problems(cut_dir: Path) -> list[str]:
    """Every disagreement between the folder and manifest.json, one sentence each."""
    cut_dir = Path(cut_dir)
    path = cut_dir / MANIFEST
    if path.is_symlink():
        return [f"{MANIFEST}: a symbolic link; raw files must be plain files in the cut folder"]
    if not path.is_file():
        return [f"{MANIFEST}: not found; the export's checksums cannot be verified"]
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        listed = manifest_hashes(manifest)
        rows = manifest_row_counts(manifest)
    except (json.JSONDecodeError, UnicodeDecodeError, ManifestError, AttributeError, TypeError) as exc:
        return [f"{MANIFEST}: unreadable ({exc})"]
    problems = cut_problems(manifest, cut_dir) + file_kind_problems(cut_dir, listed)
    for name, expected in sorted(listed.items()):
        f = cut_dir / name
        if f.is_symlink():
            continue  # reported above; never hashed (it may point outside data/raw)
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
        if (f.is_file() or f.is_symlink()) and f.name != MANIFEST and not f.name.startswith(".") and f.name not in listed:
            problems.append(f"{f.name}: present in the cut folder but not listed in {MANIFEST}")
    return problems


def contract_files() -> list[str]:
    return [f.file for f in FORMS.values()]
