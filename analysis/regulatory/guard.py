"""A LOCKED cut is not rebuilt from changed raw data.

Before any step of a cut runs, the CLI compares the raw export on disk with the provenance of
its lock (data/locked/<cut>/lock.json, key ``raw``). If a file was added, removed or changed,
the build stops with ReproductionMismatch (exit 4) naming each file: rebuilding would put
different numbers under the name of an official cut without a word. The locked evidence in
data/locked/<cut>/ is never touched by a build. To change a locked cut deliberately, re-lock it
(``python -m analysis lock --cut <cut> --force``, which skips this guard) and record why.

Light on purpose (json and hashing only): it runs on the CLI's fast path.
"""

from __future__ import annotations

import json
from pathlib import Path

from analysis import paths
from analysis.atomic import sweep_stale
from analysis.build import RECORD_DIR, sha256_file
from analysis.errors import ReproductionMismatch
from analysis.messages import say

LOCKED_DIRNAME = "locked"          # data/locked/<cut>/ (committed; not touched by any step)
LOCK_MANIFEST = "lock.json"


def lock_file(cut: str, root: Path | None = None) -> Path:
    return (root or paths.ROOT) / "data" / LOCKED_DIRNAME / cut / LOCK_MANIFEST


def raw_differences(cut: str, root: Path | None = None) -> list[str]:
    """One sentence per raw file of a locked ``cut`` that differs from its lock; [] when the cut
    is not locked or its raw export is the locked one."""
    p = lock_file(cut, root)
    if not p.exists():
        return []
    locked = json.loads(p.read_text(encoding="utf-8")).get("raw", {})
    raw = paths.raw_dir(cut, root)
    now = {f.name: sha256_file(f) for f in sorted(raw.iterdir()) if f.is_file()} if raw.is_dir() else {}
    out = []
    for name in sorted(set(locked) | set(now)):
        if locked.get(name) == now.get(name):
            continue
        what = ("missing now" if name not in now else "not in the lock (added)" if name not in locked
                else f"CHANGED (locked sha256 {locked[name][:12]}.., now {now[name][:12]}..)")
        out.append(f"data/raw/{cut}/{name}: {what}")
    return out


def refuse_changed_locked_raw(cut: str, root: Path | None = None) -> None:
    """Raise ReproductionMismatch (exit 4) when ``cut`` is locked and its raw export differs."""
    diffs = raw_differences(cut, root)
    if diffs:
        raise ReproductionMismatch(
            f"{cut} is a LOCKED cut and its raw export differs from the lock "
            f"({lock_file(cut, root)}); refusing to rebuild it with different numbers. "
            f"Differences:\n  " + "\n  ".join(diffs) + "\nRestore the locked raw files, or re-lock deliberately "
            f"with `python -m analysis lock --cut {cut} --force` and record the reason.")


def prepare_build(cut: str, root: Path) -> None:
    """Before a build: remove scratch left by killed runs (analysis.atomic.sweep_stale), and
    refuse to rebuild a LOCKED cut whose raw export differs from the lock (exit 4)."""
    for folder in (paths.derived_root(root), paths.reports_root(root), paths.report_dir(cut, root),
                   paths.derived_root(root) / RECORD_DIR / cut, root / "data" / "locked"):
        for p in sweep_stale(folder):
            say(f"removed {p} (left by a run that was killed)")
    refuse_changed_locked_raw(cut, root)
