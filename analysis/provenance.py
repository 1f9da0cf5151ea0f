"""Provenance of outputs, in one place: file hashes from build records, git state, pinned and
installed package versions. Used by the build (its records), the lock (lock.json) and the
overview page of the report. Reads build records and file bytes, never raw data contents.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis import build, paths

KEY_PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "lifelines", "tableone", "great-expectations",
                "pyarrow", "pyreadstat", "matplotlib", "jupytext", "nbclient", "nbconvert", "rtflite")
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)")
NOT_A_CHECKOUT = "unknown (not a git checkout)"


def git_state(repo: Path = paths.REPO_ROOT) -> dict:
    """Commit of ``repo`` and whether tracked files differ from it (None when git or the
    repository is not there, e.g. a source archive)."""
    def git(*a):
        return subprocess.run(["git", "-C", str(repo), *a], capture_output=True, text=True, timeout=60)
    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = git("status", "--porcelain", "--untracked-files=no")
        return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def git_commit(repo: Path = paths.REPO_ROOT) -> str:
    """``git_state`` as one line: the commit, noting uncommitted changes to tracked files."""
    state = git_state(repo)
    if state["commit"] is None:
        return NOT_A_CHECKOUT
    return state["commit"] + (" (with uncommitted changes)" if state["dirty"] else "")


def pinned_versions(lockfile: Path) -> dict[str, str]:
    """name -> version of every exact pin in requirements.lock."""
    pins = {}
    for line in Path(lockfile).read_text(encoding="utf-8").splitlines():
        m = _PIN.match(line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def environment(code_root: Path) -> dict:
    """The environment a lock records: requirements.lock hash and pins, Python, platform."""
    lockfile = code_root / build.LOCKFILE
    return {
        "requirements_lock_sha256": build.sha256_file(lockfile) if lockfile.exists() else None,
        "pinned_versions": pinned_versions(lockfile) if lockfile.exists() else {},
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def package_versions(names: Sequence[str] = KEY_PACKAGES) -> pd.DataFrame:
    """Package, Version: Python, then each of ``names`` as installed (importlib.metadata)."""
    rows = [("Python", platform.python_version())]
    for name in names:
        try:
            rows.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return pd.DataFrame(rows, columns=["Package", "Version"])


def raw_checksums(cut: str, root: Path | None = None) -> tuple[pd.DataFrame, str]:
    """SHA-256 of every raw input file of ``cut``: File, SHA-256, and where they come from. From
    the derive step's build record (``analysis.build``: the hashes of the bytes the derivation
    read), else from the export's manifest.json (metadata, not raw data)."""
    record = build.read_record("derive", cut, root)
    prefix = f"data:data/raw/{cut}/"
    if record:
        found = {k[len(prefix):]: v for k, v in sorted(record["inputs"].items()) if k.startswith(prefix)}
        return pd.DataFrame({"File": list(found), "SHA-256": list(found.values())}), "build record of the derive step"
    manifest_path = paths.raw_dir(cut, root) / "manifest.json"
    try:
        files = json.loads(manifest_path.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError) as exc:
        raise FileNotFoundError(f"{manifest_path}: no derive build record and no readable manifest "
                                f"with 'files' ({exc})") from exc
    return (pd.DataFrame({"File": list(files), "SHA-256": [f["sha256"] for f in files.values()]}),
            "export manifest (manifest.json)")


def output_checksums(folder: Path, names: Sequence[str], step: str, cut: str, root: Path | None = None) -> pd.DataFrame:
    """File, Bytes, SHA-256 of each of ``names`` in ``folder`` as it is now, and "Build record":
    "matches" / "DIFFERS" / "not recorded" against the hash ``step``'s build record holds for it
    (a file changed after the step wrote it shows as DIFFERS)."""
    record = build.read_record(step, cut, root) or {"outputs": {}}
    recorded = {Path(k).name: v for k, v in record["outputs"].items()}
    rows = []
    for name in names:
        path = Path(folder) / name
        digest = build.sha256_file(path)
        known = recorded.get(name)
        rows.append({"File": name, "Bytes": str(path.stat().st_size), "SHA-256": digest,
                     "Build record": "not recorded" if known is None else "matches" if known == digest else "DIFFERS"})
    return pd.DataFrame(rows, columns=["File", "Bytes", "SHA-256", "Build record"])
