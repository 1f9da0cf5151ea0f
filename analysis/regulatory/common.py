"""Shared by compare, lock and reproduce: where locked cuts live, reading derived datasets and the
ARD whatever their format, and the two comparisons (record-level dataset diff, ARD diff)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from analysis import paths
from analysis.regulatory.guard import LOCK_MANIFEST, LOCKED_DIRNAME  # noqa: F401  (one definition)

LOCKED_DERIVED_DIRNAME = "derived"  # data/locked/<cut>/derived/: the locked ADaM datasets
SPEC_FILE = "spec.json"
ARD_FILE = "ard.csv"
ARD_COMPANIONS = ("ard_methods.csv",)   # locked beside the ARD when the analyze step writes them
DEFINE_FILE = "define.xml"
DATASET_SUFFIXES = (".xpt", ".parquet", ".csv")
# The ARD is long: one row per statistic, identified by every column but ``stat``.
ARD_KEYS = ("analysis", "param", "group", "variable", "level", "stat_name")
ARD_VALUE = "stat"
# Floats in the ARD are equal when |a-b| <= REL_TOL * max(|a|, |b|) (or both within ABS_TOL of 0):
# 1e-9 tolerates the last-digit noise of a different BLAS / libm, not a changed result.
REL_TOL = 1e-9
ABS_TOL = 1e-12
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


def cell_text(v) -> str | None:
    """Comparable text of a cell: missing -> None, 3.0 -> '3', bytes decoded."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _with_occurrence(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Add '_occ' numbering duplicates of the key, so a non-unique key still joins 1:1."""
    df = df.copy()
    df["_occ"] = df.groupby(keys, dropna=False, sort=False).cumcount() if keys else range(len(df))
    return df


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
    """The ARD as text (keys and stat exactly as written; numbers parsed only when compared)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    missing = [c for c in (*ARD_KEYS, ARD_VALUE) if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: ARD lacks columns {missing} (expected {list(ARD_KEYS) + [ARD_VALUE]})")
    return df


def as_number(text):
    if text is None:
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _is_integer_text(text) -> bool:
    t = str(text).strip().lstrip("+-")
    return t.isdigit()


def stats_equal(a, b, rel_tol: float = REL_TOL, abs_tol: float = ABS_TOL) -> bool:
    """Two ARD values agree: integers (counts) exactly, other numbers within ``rel_tol``
    (relative) or ``abs_tol`` (absolute, near zero), text exactly; both missing agree."""
    if a is None or b is None:
        return a is None and b is None
    if _is_integer_text(a) and _is_integer_text(b):
        return int(a) == int(b)
    x, y = as_number(a), as_number(b)
    if x is None or y is None:
        return str(a) == str(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=rel_tol, abs_tol=abs_tol)


def diff_ard(old: pd.DataFrame, new: pd.DataFrame, rel_tol: float = REL_TOL) -> pd.DataFrame:
    """Every ARD result of either version, joined on all columns but ``stat``: the ARD keys,
    old, new, delta (new-old when numeric), status ('same' / 'changed' / 'added' / 'removed')."""
    keys = list(ARD_KEYS)
    o = _with_occurrence(old[[*keys, ARD_VALUE]], keys).astype(object)
    n = _with_occurrence(new[[*keys, ARD_VALUE]], keys).astype(object)
    for df in (o, n):
        for k in keys:
            df[k] = df[k].map(cell_text)
        df[ARD_VALUE] = df[ARD_VALUE].map(cell_text)
    m = o.merge(n, on=[*keys, "_occ"], how="outer", suffixes=("_old", "_new"), indicator=True)
    out = m[keys].copy()
    out["old"] = m[ARD_VALUE + "_old"]
    out["new"] = m[ARD_VALUE + "_new"]

    def delta(r):
        x, y = as_number(r["old"]), as_number(r["new"])
        return None if x is None or y is None else y - x

    def state(r, how):
        if how == "left_only":
            return "removed"
        if how == "right_only":
            return "added"
        return "same" if stats_equal(r["old"], r["new"], rel_tol) else "changed"

    out["delta"] = [delta(r) for r in out.to_dict("records")]
    out["status"] = [state(r, how) for r, how in zip(out.to_dict("records"), m["_merge"])]
    return out.reset_index(drop=True)
