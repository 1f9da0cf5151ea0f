"""Reproducing a locked cut.

``reproduce_cut(cut)`` copies data/raw/<cut>/ into a fresh scratch tree, rebuilds validate ->
derive -> analyze there with the current code (a separate ``python -m analysis --root <scratch>``
process, so nothing of this process or of the working outputs leaks in), regenerates define.xml
from the rebuilt spec.json, and compares every locked output with the rebuilt one:

- derived datasets, spec.json, define.xml: byte for byte; when bytes differ, datasets get a
  record-level diff on their keys naming dataset, variable, USUBJID and both values, and text
  files a unified diff;
- the ARD schema version recorded in lock.json against ``analysis.ard.ARD_SCHEMA_VERSION``
  (a lock without it is schema 1); a different version is reported as such;
- ard.csv: result by result, joined on all columns but ``stat``: integers (counts) exactly,
  other numbers within relative tolerance common.REL_TOL (1e-9), text exactly.

It also reports raw files that differ from the SHA-256 recorded at lock time. The verdict is one
line per file; any difference raises ReproductionMismatch (exit code 4).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from analysis import ard, build, paths
from analysis.errors import BadDataError, ReproductionMismatch
from analysis.regulatory import common
from analysis.regulatory.define_xml import build_define, read_spec_json

REBUILD_STEPS = ("validate", "derive", "analyze")
MAX_LINES = 20  # differences listed per file (all are counted)


@dataclass
class FileVerdict:
    file: str
    ok: bool
    verdict: str
    details: list[str] = field(default_factory=list)


def rebuild_subprocess(cut: str, scratch: Path) -> None:
    """Rebuild ``cut`` in ``scratch`` with this repository's code, in a fresh interpreter."""
    env = {**os.environ, "ANALYSIS_ROOT": str(scratch)}
    cmd = [sys.executable, "-m", "analysis", "--root", str(scratch), "report", "--cut", cut,
           "--until", REBUILD_STEPS[-1]]
    proc = subprocess.run(cmd, cwd=paths.REPO_ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReproductionMismatch(f"rebuilding {cut} from raw failed (exit {proc.returncode}):\n"
                                   + proc.stderr[-3000:])


def locked_raw_from_git(manifest: dict, cut: str, name: str) -> bytes | None:
    """The raw file as it was locked, from git at the lock's commit, if that commit holds a file
    with the locked SHA-256 (else None: the cell-level diff is then not available)."""
    commit = (manifest.get("code") or {}).get("commit")
    if not commit:
        return None
    try:
        proc = subprocess.run(["git", "-C", str(paths.REPO_ROOT), "show", f"{commit}:data/raw/{cut}/{name}"],
                              capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0 or hashlib.sha256(proc.stdout).hexdigest() != manifest["raw"].get(name):
        return None
    return proc.stdout


def raw_value_changes(locked: bytes, current_dir: Path, name: str) -> list[str]:
    """Cell-level changes of one raw form between its locked bytes and the current file."""
    from analysis.raw_io import read_form_text
    from analysis.raw_spec import FORMS
    from analysis.regulatory.compare import raw_form_changes
    form = FORMS.get(Path(name).stem)
    if form is None:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / name).write_bytes(locked)
        old = read_form_text(Path(tmp), form)
    d = raw_form_changes(old, read_form_text(current_dir, form), form)
    return [f"{r['form']} {r['key']} {r['field'] or ''} {r['change']}: {r['old']!r} -> {r['new']!r}"
            for r in d.head(MAX_LINES).to_dict("records")]


def compare_raw(manifest: dict, raw_dir: Path, cut: str) -> list[FileVerdict]:
    now = {p.name: build.sha256_file(p) for p in sorted(raw_dir.iterdir()) if p.is_file()}
    out = []
    for name in sorted(set(manifest["raw"]) | set(now)):
        locked, current = manifest["raw"].get(name), now.get(name)
        if locked == current:
            out.append(FileVerdict(f"raw/{name}", True, "identical to the raw export that was locked"))
            continue
        what = "missing now" if current is None else "not in the lock" if locked is None else \
            "CHANGED since lock"
        details = [f"locked sha256 {locked}", f"current sha256 {current}"]
        old_bytes = locked_raw_from_git(manifest, cut, name) if locked and current else None
        if old_bytes is not None and name.endswith(".csv"):
            details += raw_value_changes(old_bytes, raw_dir, name)
        out.append(FileVerdict(f"raw/{name}", False, f"raw export {what}", details))
    return out


def compare_dataset(name: str, locked: Path, rebuilt: Path, spec: dict) -> FileVerdict:
    old, new = common.read_dataset(locked), common.read_dataset(rebuilt)
    keys = common.dataset_keys(spec, Path(name).stem, old)
    diff = common.diff_records(old, new, keys, Path(name).stem.upper())
    if diff.empty:
        return FileVerdict(name, False, "bytes differ but every record and value is equal "
                                        "(file metadata differs)")
    lines = [f"{r['dataset']} {r['change']}: {r['key']} variable {r['variable'] or '-'} "
             f"(USUBJID {r[common.SUBJECT_VARIABLE]}): locked {r['old']!r} -> rebuilt {r['new']!r}"
             for r in diff.head(MAX_LINES).to_dict("records")]
    return FileVerdict(name, False, f"DIFFERENT: {len(diff)} difference(s)", lines)


def compare_ard_files(locked: Path, rebuilt: Path) -> FileVerdict:
    d = common.diff_ard(common.read_ard(locked), common.read_ard(rebuilt))
    bad = d[d["status"] != "same"]
    tol = f"counts exact, other numbers rel. tol. {common.REL_TOL:g}"
    if bad.empty:
        return FileVerdict(common.ARD_FILE, True, f"all {len(d)} results equal ({tol})")
    lines = [" | ".join(f"{k}={r[k]}" for k in common.ARD_KEYS if r[k] is not None)
             + f": locked {r['old']} -> rebuilt {r['new']} ({r['status']})"
             for r in bad.head(MAX_LINES).to_dict("records")]
    return FileVerdict(common.ARD_FILE, False, f"DIFFERENT: {len(bad)} of {len(d)} results ({tol})", lines)


LEGACY_ARD_SCHEMA = "1"   # locks written before lock.json recorded ard_schema_version


def compare_ard_schema(manifest: dict, cut: str) -> FileVerdict:
    """The ARD schema version the lock recorded against the one this code writes: when they
    differ the locked ARD is in another shape, and the verdict says so (and how to re-lock)."""
    locked = str(manifest.get("ard_schema_version") or LEGACY_ARD_SCHEMA)
    name = "ARD schema version"
    if locked == ard.ARD_SCHEMA_VERSION:
        return FileVerdict(name, True, f"{locked} (as this code writes)")
    return FileVerdict(name, False, f"DIFFERENT: locked with ARD schema version {locked}, this code writes "
                                    f"version {ard.ARD_SCHEMA_VERSION}; the ARD changed shape, re-lock openly: "
                                    f"`python -m analysis lock --cut {cut} --force --reason ...`")


def compare_text(name: str, locked: bytes, rebuilt: bytes) -> FileVerdict:
    diff = list(difflib.unified_diff(locked.decode("utf-8", "replace").splitlines(),
                                     rebuilt.decode("utf-8", "replace").splitlines(),
                                     "locked", "rebuilt", lineterm="", n=0))
    return FileVerdict(name, False, "DIFFERENT", diff[:MAX_LINES])


def compare_one(rel: str, locked: Path, rebuilt_bytes: bytes, locked_sha: str, cut: str, scratch: Path,
                spec: dict) -> FileVerdict:
    """One locked output against its rebuilt bytes (by content, with the ARD tolerance). A locked
    file that cannot be read as its format is itself a difference (named), never a traceback."""
    locked_bytes = locked.read_bytes()
    if rebuilt_bytes == locked_bytes:
        return FileVerdict(rel, True, "identical (byte for byte)")
    try:
        if rel == common.ARD_FILE:
            return compare_ard_files(locked, common.working_path(rel, cut, scratch))
        if rel.startswith("derived/") and Path(rel).suffix in common.DATASET_SUFFIXES:
            return compare_dataset(rel, locked, common.working_path(rel, cut, scratch), spec)
    except (OSError, ValueError, KeyError) as exc:
        return FileVerdict(rel, False, f"DIFFERENT and not comparable record by record ({exc})")
    return compare_text(rel, locked_bytes, rebuilt_bytes)


def compare_outputs(cut: str, manifest: dict, locked_root: Path, scratch: Path) -> list[FileVerdict]:
    """Every locked output against its rebuilt counterpart in ``scratch``."""
    try:
        spec = common.read_spec(locked_root / "derived")
    except (OSError, ValueError):
        spec = {"datasets": []}   # an altered spec.json is reported by its own verdict
    verdicts = []
    rebuilt_names = {f"derived/{p.name}" for p in paths.derived_dir(cut, scratch).glob("*")
                     if p.is_file() and not p.name.startswith(".")}
    for rel in sorted(manifest["outputs"]):
        locked = locked_root / rel
        if rel == common.DEFINE_FILE:
            spec_file = paths.derived_dir(cut, scratch) / common.SPEC_FILE
            rebuilt_bytes = build_define(read_spec_json(spec_file), cut, "derived/") if spec_file.exists() else None
        else:
            p = common.working_path(rel, cut, scratch)
            rebuilt_bytes = p.read_bytes() if p is not None and p.exists() else None
        if not locked.is_file():
            verdicts.append(FileVerdict(rel, False, f"MISSING from the lock: {locked} is listed in "
                                                    f"{common.LOCK_MANIFEST} but no longer exists"))
            continue
        if rebuilt_bytes is None:
            verdicts.append(FileVerdict(rel, False, "MISSING: not produced by the rebuild"))
            continue
        verdicts.append(compare_one(rel, locked, rebuilt_bytes, manifest["outputs"][rel], cut, scratch, spec))
    for extra in sorted(rebuilt_names - set(manifest["outputs"])):
        if Path(extra).suffix in common.DATASET_SUFFIXES:
            verdicts.append(FileVerdict(extra, False, "NEW: produced by the rebuild but not in the lock"))
    return verdicts


def reproduce_cut(cut: str, root: Path | None = None,
                  rebuild: Callable[[str, Path], None] = rebuild_subprocess,
                  keep: bool = False, say: Callable[[str], None] = print) -> list[FileVerdict]:
    """Rebuild locked ``cut`` from its raw export in a scratch tree and compare (see module doc).
    Raises ReproductionMismatch naming what moved; returns the per-file verdicts when all match."""
    try:
        manifest = common.lock_manifest(cut, root)
    except (OSError, ValueError) as exc:
        raise ReproductionMismatch(f"{common.locked_dir(cut, root) / common.LOCK_MANIFEST}: unreadable ({exc})") from None
    if manifest is None and common.locked_dir(cut, root).is_dir():
        raise ReproductionMismatch(f"{common.locked_dir(cut, root) / common.LOCK_MANIFEST} is MISSING: the locked "
                                   f"folder exists but its provenance manifest was deleted")
    if manifest is None:
        raise BadDataError(f"{cut} is not locked ({common.locked_dir(cut, root) / common.LOCK_MANIFEST} "
                           f"missing); lock it first with `python -m analysis lock --cut {cut}`")
    raw = paths.raw_dir(cut, root)
    if not raw.is_dir():
        raise BadDataError(f"raw export {raw} of locked cut {cut} not found")
    scratch = Path(tempfile.mkdtemp(prefix=f"reproduce-{cut}-"))
    try:
        shutil.copytree(raw, paths.raw_dir(cut, scratch))
        verdicts = compare_raw(manifest, paths.raw_dir(cut, scratch), cut) + [compare_ard_schema(manifest, cut)]
        try:
            rebuild(cut, scratch)
        except (ReproductionMismatch, BadDataError) as exc:
            verdicts.append(FileVerdict("rebuild", False, "FAILED", str(exc).splitlines()[:MAX_LINES]))
        else:
            verdicts += compare_outputs(cut, manifest, common.locked_dir(cut, root), scratch)
    finally:
        if keep:
            say(f"scratch tree kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    for v in verdicts:
        say(f"{'OK  ' if v.ok else 'FAIL'} {v.file}: {v.verdict}")
        for line in v.details:
            say(f"       {line}")
    bad = [v for v in verdicts if not v.ok]
    if bad:
        raise ReproductionMismatch(
            f"{cut} does not reproduce: {len(bad)} of {len(verdicts)} checks differ: "
            + "; ".join(f"{v.file} ({v.verdict}{': ' + v.details[0] if v.details else ''})" for v in bad[:5]))
    say(f"{cut} reproduces: {len(verdicts)} checks, all equal")
    return verdicts
