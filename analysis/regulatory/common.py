"""Shared by compare, lock and reproduce: where locked cuts live, reading derived datasets and the
ARD whatever their format, and the two comparisons (record-level dataset diff, ARD diff)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis import ard, paths
from analysis.regulatory.guard import LOCK_MANIFEST, LOCKED_DIRNAME  # noqa: F401  (one definition)

LOCKED_DERIVED_DIRNAME = "derived"  # data/locked/<cut>/derived/: the locked ADaM datasets
SPEC_FILE = "spec.json"
ARD_FILE = ard.ARD_CSV
ARD_COMPANIONS = (ard.ARD_METHODS,)   # locked beside the ARD when the analyze step writes them
DEFINE_FILE = "define.xml"
DATASET_SUFFIXES = (".xpt", ".parquet", ".csv")
# The ARD (schema, keys, tolerance, diff) is owned by analysis.ard; these names are its.
ARD_KEYS = tuple(ard.KEY_COLUMNS)
ARD_VALUE = ard.VALUE
REL_TOL, ABS_TOL = ard.REL_TOL, ard.ABS_TOL
cell_text, _with_occurrence, as_number, stats_equal = ard.cell_text, ard.with_occurrence, ard.as_number, ard.stats_equal
SUBJECT_VARIABLE = "USUBJID"


def locked_dir(cut: str, root: Path | None = None) -> Path:
    return (root or paths.ROOT) / "data" / LOCKED_DIRNAME / cut


def locked_derived_dir(cut: str, root: Path | None = None) -> Path:
    """The locked copy of a cut's ADaM datasets: data/locked/<cut>/derived/ (the locked folder
    itself holds the ARD and define.xml, not datasets)."""
    return locked_dir(cut, root) / LOCKED_DERIVED_DIRNAME


def working_path(locked_rel: str, cut: str, root: Path | None = None) -> Path | None:
    """Where the pipeline writes the output that a lock stores as ``locked_rel``:
    'derived/<file>' -> data/derived/<cut>/<file>; 'ard.csv', 'ard_methods.csv', 'define.xml' ->
    reports/<cut>/<file>."""
    head, _, rest = locked_rel.partition("/")
    if head == LOCKED_DERIVED_DIRNAME and rest:
        return paths.derived_dir(cut, root) / rest
    if not rest and locked_rel != LOCK_MANIFEST:
        return paths.report_dir(cut, root) / locked_rel
    return None


def lock_manifest(cut: str, root: Path | None = None) -> dict | None:
    """The lock manifest of ``cut``, or None when the cut is not locked."""
    p = locked_dir(cut, root) / LOCK_MANIFEST
    if not p.exists():
        return None
    return json.loads(p.read_text(encoding="utf-8"))


def is_locked(cut: str, root: Path | None = None) -> bool:
    return lock_manifest(cut, root) is not None


def dataset_files(folder: Path) -> list[Path]:
    """Every dataset file of a derived folder, in every format written (.xpt, .parquet, .csv)."""
    if not Path(folder).is_dir():
        return []
    return sorted(p for p in Path(folder).iterdir()
                  if p.is_file() and p.suffix in DATASET_SUFFIXES and not p.name.startswith("."))


def derived_datasets(folder: Path, preference: tuple[str, ...] = DATASET_SUFFIXES) -> dict[str, Path]:
    """Dataset files of a derived folder: {'adsl': path, ...}; one file per dataset, the first
    suffix of ``preference`` that exists (default: SAS transport (.xpt, the submission format)
    over parquet over csv)."""
    found: dict[str, Path] = {}
    if not Path(folder).is_dir():
        return found
    for suffix in reversed(preference):
        for p in sorted(Path(folder).glob(f"*{suffix}")):
            found[p.stem.lower()] = p
    return dict(sorted(found.items()))


def read_dataset(path: Path) -> pd.DataFrame:
    """Read a derived dataset by suffix (.xpt SAS transport v5, .parquet, .csv as text)."""
    path = Path(path)
    if path.suffix == ".xpt":
        df = pd.read_sas(path, format="xport", encoding="utf-8")
    elif path.suffix == ".parquet":
        df = pd.read_parquet(path)
    elif path.suffix == ".csv":
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    else:
        raise ValueError(f"{path}: not a dataset format this package reads ({DATASET_SUFFIXES})")
    return df


def read_spec(folder: Path) -> dict:
    p = Path(folder) / SPEC_FILE
    if not p.exists():
        return {"datasets": []}
    return json.loads(p.read_text(encoding="utf-8"))


def dataset_keys(spec: dict, name: str, df: pd.DataFrame) -> list[str]:
    """Key variables of a dataset from spec.json; USUBJID (+ a row number) if not declared."""
    for ds in spec.get("datasets", []):
        if ds["name"].lower() == name.lower():
            keys = [k for k in ds.get("keys", []) if k in df.columns]
            if keys:
                return keys
    return [SUBJECT_VARIABLE] if SUBJECT_VARIABLE in df.columns else []


def diff_records(old: pd.DataFrame, new: pd.DataFrame, keys: list[str], dataset: str) -> pd.DataFrame:
    """Record-level differences of two versions of one dataset joined on ``keys``.

    One row per difference: dataset, key (text 'K1=v1, K2=v2'), USUBJID, variable, old, new,
    change ('added record' / 'removed record' / 'value changed' / 'variable added' /
    'variable removed')."""
    cols = ["dataset", "key", SUBJECT_VARIABLE, "variable", "old", "new", "change"]
    rows: list[dict] = []
    for var in sorted(set(old.columns) - set(new.columns)):
        rows.append({"dataset": dataset, "key": "", SUBJECT_VARIABLE: None, "variable": var,
                     "old": "present", "new": "absent", "change": "variable removed"})
    for var in sorted(set(new.columns) - set(old.columns)):
        rows.append({"dataset": dataset, "key": "", SUBJECT_VARIABLE: None, "variable": var,
                     "old": "absent", "new": "present", "change": "variable added"})
    o = _with_occurrence(old, keys).astype(object)
    n = _with_occurrence(new, keys).astype(object)
    join = [*keys, "_occ"]
    for df in (o, n):
        for k in join:
            df[k] = df[k].map(cell_text)
    m = o.merge(n, on=join, how="outer", suffixes=("__old", "__new"), indicator=True)
    common = [c for c in old.columns if c in new.columns and c not in keys]

    def key_text(r) -> str:
        txt = ", ".join(f"{k}={r[k]}" for k in keys)
        return txt + (f" (#{int(r['_occ']) + 1})" if r["_occ"] not in (0, "0", None) else "")

    def subject(r):
        if SUBJECT_VARIABLE in keys:
            return r[SUBJECT_VARIABLE]
        for c in (SUBJECT_VARIABLE + "__new", SUBJECT_VARIABLE + "__old"):
            if c in r and cell_text(r[c]) is not None:
                return cell_text(r[c])
        return None

    for r in m.to_dict("records"):
        if r["_merge"] != "both":
            rows.append({"dataset": dataset, "key": key_text(r), SUBJECT_VARIABLE: subject(r), "variable": "",
                         "old": None if r["_merge"] == "right_only" else "present",
                         "new": None if r["_merge"] == "left_only" else "present",
                         "change": "added record" if r["_merge"] == "right_only" else "removed record"})
            continue
        for c in common:
            a, b = cell_text(r[c + "__old"]), cell_text(r[c + "__new"])
            if a != b:
                rows.append({"dataset": dataset, "key": key_text(r), SUBJECT_VARIABLE: subject(r),
                             "variable": c, "old": a, "new": b, "change": "value changed"})
    return pd.DataFrame(rows, columns=cols)


def read_ard(path: Path) -> pd.DataFrame:
    """The ARD as text (analysis.ard.read_text: the one ARD reader)."""
    return ard.read_text(path)


diff_ard = ard.diff
