"""Locking an official data cut.

``lock_cut(cut)`` copies what was built for the cut into data/locked/<cut>/ (committed to git):

    derived/<dataset>.xpt, derived/spec.json   the ADaM datasets and their specification
    ard.csv (+ ard_methods.csv)                the analysis results dataset (+ its methods)
    define.xml                                 Define-XML 2.0 (datasets referenced as derived/*.xpt)
    lock.json                                  provenance manifest

lock.json holds the SHA-256 of every raw input (data/raw/<cut>/*) and of every locked output,
the SHA-256 of requirements.lock with the pinned versions, the Python version and platform, the
git commit and whether the work tree was dirty, per-step code fingerprints (analysis.build), and
the UTC time of locking. ``python -m analysis reproduce --cut <cut>`` checks a lock.

A re-lock (replacing a lock whose outputs or raw inputs changed) is deliberate and recorded:
``python -m analysis lock --cut <cut> --reason "..."`` stores in lock.json ``relock`` = the reason,
the SHA-256 of the previous lock.json, its git commit and lock time, and appends the previous
lock's identity to ``history`` (oldest first), so the chain of locks can be followed.

Why data/locked/ and not data/derived/<cut>/: the derive step rebuilds data/derived/<cut>/
atomically on every run, which would delete or silently replace committed evidence.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

from analysis import ard, build, paths, provenance
from analysis.atomic import atomic_dir
from analysis.errors import BadDataError
from analysis.regulatory import common
from analysis.regulatory.define_xml import build_define, read_spec_json

def raw_hashes(cut: str, root: Path | None = None) -> dict[str, str]:
    d = paths.raw_dir(cut, root)
    return {p.name: build.sha256_file(p) for p in sorted(d.iterdir()) if p.is_file()}


def lock_sources(cut: str, root: Path | None = None) -> dict[str, Path]:
    """Locked name -> built file: every derived dataset (each format written) and spec.json,
    and the ARD."""
    derived = paths.derived_dir(cut, root)
    sources = {f"derived/{p.name}": p for p in common.dataset_files(derived)}
    spec = derived / common.SPEC_FILE
    ard = paths.report_dir(cut, root) / common.ARD_FILE
    missing = [str(p) for p in (spec, ard) if not p.exists()]
    if not sources:
        missing.append(f"{derived}/*.xpt")
    if missing:
        raise BadDataError(f"cannot lock {cut}: not built ({', '.join(missing)} missing); "
                           f"run `python -m analysis report --cut {cut}` first")
    sources[f"derived/{common.SPEC_FILE}"] = spec
    sources[common.ARD_FILE] = ard
    for name in common.ARD_COMPANIONS:
        if (ard.parent / name).exists():
            sources[name] = ard.parent / name
    return dict(sorted(sources.items()))


def make_manifest(cut: str, outputs: dict[str, str], root: Path | None, code_root: Path) -> dict:
    return {
        "cut": cut,
        "locked_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "raw": raw_hashes(cut, root),
        "outputs": outputs,
        "environment": provenance.environment(code_root),
        "ard_schema_version": ard.ARD_SCHEMA_VERSION,
        "code": {**provenance.git_state(code_root), "step_code_sha256": build.code_fingerprints()},
        "tolerance": {"ard_float_relative": common.REL_TOL, "ard_float_absolute": common.ABS_TOL,
                      "counts": "exact", "datasets": "byte for byte"},
    }


def previous_lock(cut: str, root: Path | None, reason: str | None) -> dict | None:
    """The identity of the lock about to be replaced (None when the cut was never locked)."""
    path = common.locked_dir(cut, root) / common.LOCK_MANIFEST
    if not path.exists():
        return None
    old = json.loads(path.read_text(encoding="utf-8"))
    return {"reason": reason, "previous_lock_sha256": build.sha256_file(path),
            "previous_git_commit": (old.get("code") or {}).get("commit"),
            "previous_locked_utc": old.get("locked_utc"),
            "previous_reason": (old.get("relock") or {}).get("reason"),
            "history": list(old.get("history") or [])}


def lock_cut(cut: str, root: Path | None = None, force: bool = False, code_root: Path | None = None,
             reason: str | None = None) -> dict:
    """Copy the built outputs of ``cut`` to data/locked/<cut>/ with lock.json; return the manifest.

    A lock is an event: locking again when the outputs and raw files are those already locked
    changes nothing (the existing manifest is returned). An existing lock whose outputs would
    change is replaced only with ``force`` or a ``reason`` (which implies force); the replaced
    lock's identity and the reason are recorded (``relock``, ``history``)."""
    if reason is not None and not reason.strip():
        raise BadDataError(f"re-lock of {cut}: the reason must not be empty")
    force = force or reason is not None
    code_root = code_root or paths.REPO_ROOT
    sources = lock_sources(cut, root)
    define = build_define(read_spec_json(sources[f"derived/{common.SPEC_FILE}"]), cut, href_prefix="derived/")
    outputs = {rel: build.sha256_file(src) for rel, src in sources.items()}
    outputs[common.DEFINE_FILE] = hashlib.sha256(define).hexdigest()
    outputs = dict(sorted(outputs.items()))
    old = common.lock_manifest(cut, root)
    if old is not None:
        if old.get("outputs") == outputs and old.get("raw") == raw_hashes(cut, root):
            return old
        if not force:
            changed = sorted(k for k in set(old["outputs"]) | set(outputs)
                             if old["outputs"].get(k) != outputs.get(k))
            raise BadDataError(f"{cut} is already locked and these outputs would change: {changed or 'raw inputs'}; "
                               f"re-lock deliberately with `python -m analysis lock --cut {cut} --force`")
    manifest = make_manifest(cut, outputs, root, code_root)
    prev = previous_lock(cut, root, reason)
    if prev is not None:
        history = prev.pop("history")
        manifest["relock"] = prev
        manifest["history"] = history + [{"lock_sha256": prev["previous_lock_sha256"],
                                          "git_commit": prev["previous_git_commit"],
                                          "locked_utc": prev["previous_locked_utc"],
                                          "reason": prev["previous_reason"]}]
    with atomic_dir(common.locked_dir(cut, root)) as tmp:
        for rel, src in sources.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, tmp / rel)
        (tmp / common.DEFINE_FILE).write_bytes(define)
        copied = {rel: build.sha256_file(tmp / rel) for rel in outputs}
        if copied != outputs:  # a source rewritten while we copied: do not lock a mixture
            raise RuntimeError(f"outputs of {cut} changed while being locked; run lock again")
        (tmp / common.LOCK_MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n",
                                                encoding="utf-8")
    return manifest
