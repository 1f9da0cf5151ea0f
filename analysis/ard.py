"""The analysis results dataset (ARD): the one owner of its schema, files, reading, writing,
checking, comparing and looking up.

Shape: the columns of the pharmaverse ``cards`` package / CDISC Analysis Results Standard, one
statistic per row, full precision::

    context  param  group1 group1_level  group2 group2_level  group3 group3_level
    variable variable_level  stat_name  stat_label  stat

``context`` is the analysis id (its method is listed once in ``ard_methods.csv``, column
``analysis``, so that every table footnote can print it); ``param`` the ADaM parameter (PARAMCD;
TEAE for adverse-event incidence); ``group1``/``group1_level`` the grouping variable and its
level (COHORT = SANDWICH); ``group2``/``group2_level`` the outer level of a hierarchy (AEBODSYS =
the SOC of a preferred term) or, on the row of a comparison of two groups, the reference level:
group1_level is the compared level and group2 = ``REFERENCE_GROUP`` ("REFERENCE"), group2_level =
the reference level (COHORT = SANDWICH against REFERENCE = ALLO_EXT: a hazard ratio, a difference
of rates, a standardized mean difference), as cardx keeps a reference level in a column of its
own rather than in the text of a contrast (:class:`Comparison`; never "A vs B"); ``group3`` /
``group3_level`` a further stratum, the grade scope of AE incidence (ATOXGR = k: subjects by
their worst grade k; ATOXGR = ">=3": subjects with any event of grade 3 or more; empty: any
grade); ``variable`` /
``variable_level`` what is summarised and its level. ``stat_label`` is the display label of
``stat_name`` (``STAT_LABELS``). A row is identified by every column but ``stat_label`` and
``stat`` (``KEY_COLUMNS``), and those keys are unique (``check``).

``ARD_SCHEMA_VERSION`` names this shape; the lock records it in lock.json and ``reproduce`` says
so when a locked ARD was written in another one. Version 1 (columns analysis, param, group,
variable, level, stat_name, stat; hierarchy packed as "SOC / term") is no longer read; version 2
had no group3 columns (the AE grade scope was text in ``param``: "worst grade 3"). Schema 3
before 2026-12-01 packed a comparison into group1_level ("SANDWICH vs ALLO_EXT").
"""

from __future__ import annotations

import io
import math
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from analysis.atomic import atomic_write_bytes

ARD_SCHEMA_VERSION = "3"
ARD_CSV = "ard.csv"
ARD_PARQUET = "ard.parquet"
ARD_METHODS = "ard_methods.csv"
METHODS_COLUMNS = ["analysis", "method"]

ARD_COLUMNS = ["context", "param", "group1", "group1_level", "group2", "group2_level", "group3", "group3_level",
               "variable", "variable_level", "stat_name", "stat_label", "stat"]
# the columns of earlier schema versions still recognised by name (``schema_of``)
EARLIER_COLUMNS = {"2": [c for c in ARD_COLUMNS if c not in ("group3", "group3_level")]}
VALUE = "stat"
LABEL = "stat_label"
KEY_COLUMNS = [c for c in ARD_COLUMNS if c not in (LABEL, VALUE)]
TEXT_COLUMNS = [c for c in ARD_COLUMNS if c != VALUE]
LEGACY_COLUMNS = {"analysis", "group", "level"}   # schema 1; named in the mismatch message
DEFAULT_GROUP1 = "COHORT"
# group2 of a comparison row, whose group2_level is the reference level (analysis.stats.cards
# writes the same name: the statistics layer imports no other layer; tests/test_ard.py checks)
REFERENCE_GROUP = "REFERENCE"

# Floats in the ARD are equal when |a-b| <= REL_TOL * max(|a|, |b|) (or both within ABS_TOL of 0):
# 1e-9 tolerates the last-digit noise of a different BLAS / libm, not a changed result.
REL_TOL = 1e-9
ABS_TOL = 1e-12

STAT_LABELS = {
    "n": "n", "N": "N", "n_subj": "n", "n_events": "Events", "n_event": "Events", "pct": "%",
    "mean": "Mean", "sd": "SD", "median": "Median", "q1": "Q1", "q3": "Q3", "min": "Min", "max": "Max",
    "lcl": "CI lower", "ucl": "CI upper", "se": "SE", "std_err": "SE", "p": "p-value",
    "surv": "Survival probability", "n_risk": "Number at risk", "hr": "Hazard ratio",
    "shr": "Subdistribution hazard ratio", "diff": "Difference", "rmst": "RMST", "cif": "Cumulative incidence",
    "rate": "Rate", "x": "Responders", "smd": "Standardized mean difference", "kappa": "Cohen's kappa",
    "chisq": "Chi-square", "df": "Degrees of freedom", "missing": "Missing", "sum": "Sum",
    "ess": "Effective sample size", "evalue": "E-value", "evalue_ci": "E-value (CI bound)", "rr": "Risk ratio",
    "n_risk_weighted": "Weighted number at risk", "reliable": "Reliably estimable (1/0)",
    "extended": "Curve carried to tau (1/0)", "last_time": "Longest time observed", "n_boot": "Bootstrap replicates",
    "n_boot_used": "Bootstrap replicates used", "n_boot_failed": "Bootstrap replicates failed", "seed": "Random seed",
    "smd_unweighted": "SMD, unweighted", "smd_weighted": "SMD, weighted", "mean_treated": "Mean, treated",
    "mean_control": "Mean, controls", "mean_control_weighted": "Mean, controls, weighted",
    "in_model": "In the model (1/0)", "status_code": "Status code", "p_nominal": "Nominal p-values (1/0)",
    "n_episodes": "Episodes", "n_ongoing": "Ongoing", "n_outside": "Outside the range", "se_diff": "SE",
}


class Comparison(NamedTuple):
    """The groups of a comparison row: group1_level ``compared``, group2 ``REFERENCE_GROUP`` at
    the level ``reference``."""
    compared: str
    reference: str


class ArdSchemaError(ValueError):
    """An ARD file or frame not in this schema: wrong columns, duplicate keys, text stats."""


def stat_label(stat_name: str) -> str:
    """Display label of a statistic (``STAT_LABELS``; the name itself when none is declared)."""
    return STAT_LABELS.get(stat_name, stat_name)


def rows(context: str, param: str, group, variable: str, level, stats: Mapping[str, float], *,
         group1: str | None = None, group2: str = "", group2_level="", group3: str = "",
         group3_level="") -> pd.DataFrame:
    """ARD rows for one cell: every statistic in ``stats`` becomes its own row. ``group`` is the
    level of ``group1`` (default ``DEFAULT_GROUP1``; none when ``group`` is empty), or a
    :class:`Comparison` (its reference level goes to group2 ``REFERENCE_GROUP``)."""
    if isinstance(group, Comparison):
        group, group2, group2_level = group.compared, REFERENCE_GROUP, group.reference
    group_level = _level_text(group)
    if group1 is None:
        group1 = DEFAULT_GROUP1 if group_level else ""
    return pd.DataFrame({
        "context": context, "param": param, "group1": group1, "group1_level": group_level,
        "group2": group2, "group2_level": _level_text(group2_level), "group3": group3,
        "group3_level": _level_text(group3_level), "variable": variable,
        "variable_level": _level_text(level), "stat_name": list(stats),
        "stat_label": [stat_label(s) for s in stats], "stat": [_number(v) for v in stats.values()],
    }, columns=ARD_COLUMNS)


def with_context(frame: pd.DataFrame, context: str, param: str) -> pd.DataFrame:
    """Complete the cards-shaped rows a statistics function emits (every column but context and
    param) into ARD rows: the analysis layer only adds what the analysis is."""
    out = frame.copy()
    out["context"] = context
    if "param" not in out:
        out["param"] = param
    for c in TEXT_COLUMNS:
        if c not in out:
            out[c] = ""
    out[LABEL] = out["stat_name"].map(stat_label)
    for c in TEXT_COLUMNS:
        out[c] = out[c].map(_level_text)
    out[VALUE] = out[VALUE].map(_number).astype(float)
    return out[ARD_COLUMNS].reset_index(drop=True)


def concat(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if p is not None and len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float if c == VALUE else object) for c in ARD_COLUMNS})
    return pd.concat(parts, ignore_index=True)[ARD_COLUMNS]


def _number(value) -> float:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return float("nan")
    return float(value)


def _level_text(level) -> str:
    if level is None or level is pd.NA or (isinstance(level, float) and np.isnan(level)):
        return ""
    if isinstance(level, (float, np.floating)) and float(level).is_integer():
        return str(int(level))
    return str(level)


def check_columns(columns: Iterable[str], source: str = "ARD") -> None:
    """Exactly ``ARD_COLUMNS``; a schema-1 ARD is named as such (re-run analyze / re-lock)."""
    columns = list(columns)
    if columns == ARD_COLUMNS:
        return
    missing = [c for c in ARD_COLUMNS if c not in columns]
    extra = [c for c in columns if c not in ARD_COLUMNS]
    hint = ""
    if LEGACY_COLUMNS <= set(columns):
        hint = (f"; it is an ARD of schema version 1 (columns {columns}), this code reads schema "
                f"version {ARD_SCHEMA_VERSION}: re-run `python -m analysis analyze` (a locked cut: re-lock it)")
    raise ArdSchemaError(f"{source}: ARD columns do not match schema version {ARD_SCHEMA_VERSION}: "
                         f"missing {missing}, unexpected {extra} (expected {ARD_COLUMNS}){hint}")


def schema_of(path) -> str:
    """The schema version of an ARD file from its header: ``ARD_SCHEMA_VERSION``, "1" (the
    columns of schema 1) or "unknown"."""
    columns = list(pd.read_csv(path, nrows=0).columns)
    if columns == ARD_COLUMNS:
        return ARD_SCHEMA_VERSION
    for version, earlier in EARLIER_COLUMNS.items():
        if columns == earlier:
            return version
    return "1" if LEGACY_COLUMNS <= set(columns) else "unknown"


def check(ard: pd.DataFrame, source: str = "ARD") -> pd.DataFrame:
    """The ARD's own contract: exact columns, unique keys, numeric stats."""
    check_columns(ard.columns, source)
    dup = ard.duplicated(KEY_COLUMNS, keep=False)
    if dup.any():
        raise ArdSchemaError(f"{source}: ARD keys not unique ({int(dup.sum())} rows):\n"
                             + ard.loc[dup, KEY_COLUMNS].head(10).to_string())
    if not pd.api.types.is_float_dtype(ard[VALUE]):
        raise ArdSchemaError(f"{source}: ARD stat column must be numeric (got {ard[VALUE].dtype})")
    return ard


def to_csv_bytes(ard: pd.DataFrame) -> bytes:
    """CSV with 17 significant digits (the float round-trips exactly), LF line ends: the same
    ARD gives the same bytes."""
    buf = io.StringIO()
    ard[ARD_COLUMNS].to_csv(buf, index=False, float_format="%.17g", lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def write(ard: pd.DataFrame, folder, methods: pd.DataFrame | None = None) -> Path:
    """Write ard.csv (byte-deterministic), ard.parquet and, when given, ard_methods.csv into
    ``folder``, each atomically; the ARD is checked first. Returns the csv path."""
    folder = Path(folder)
    check(ard, str(folder / ARD_CSV))
    buf = io.BytesIO()
    ard[ARD_COLUMNS].to_parquet(buf, index=False)
    atomic_write_bytes(folder / ARD_PARQUET, buf.getvalue())
    if methods is not None:
        atomic_write_bytes(folder / ARD_METHODS,
                           methods[METHODS_COLUMNS].to_csv(index=False, lineterminator="\n").encode("utf-8"))
    atomic_write_bytes(folder / ARD_CSV, to_csv_bytes(ard))
    return folder / ARD_CSV


def read(path) -> pd.DataFrame:
    """An ARD file (csv, or parquet by suffix; a csv buffer too), checked: text keys, float stats."""
    source = str(path) if isinstance(path, (str, Path)) else "ARD"
    if isinstance(path, (str, Path)) and Path(path).suffix == ".parquet":
        df = pd.read_parquet(path)
        check_columns(df.columns, source)
        df[TEXT_COLUMNS] = df[TEXT_COLUMNS].astype(str)
    else:
        df = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False,
                         na_values={VALUE: ["", "nan", "NaN"]})
        check_columns(df.columns, source)
    df[VALUE] = df[VALUE].astype(float)
    return check(df, source)


def read_text(path) -> pd.DataFrame:
    """The ARD as text (keys and stat exactly as written; numbers parsed only when compared)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    check_columns(df.columns, str(path))
    for c in TEXT_COLUMNS:
        df[c] = df[c].fillna("")
    return df


def read_methods(path) -> pd.DataFrame:
    """ard_methods.csv (analysis -> method); empty when the file is absent."""
    path = Path(path)
    return pd.read_csv(path) if path.exists() else pd.DataFrame(columns=METHODS_COLUMNS)


def select(ard: pd.DataFrame, **keys) -> pd.DataFrame:
    """Rows whose columns equal ``keys`` (values compared as text), in the ARD's order."""
    return ard.iloc[_positions(ard, keys)]


def stat_values(ard: pd.DataFrame, **keys) -> np.ndarray:
    """The ``stat`` of the rows ``select`` gives, without building the rows (a table's cells)."""
    return ard[VALUE].to_numpy(dtype=float)[_positions(ard, keys)]


def _positions(ard: pd.DataFrame, keys: Mapping) -> np.ndarray:
    """Row positions matching ``keys``. With a ``context`` key they are found through an index
    of the frame built once (``_RowIndex``): a report table makes hundreds of lookups in one ARD,
    and masking and copying the whole frame each time cost seconds of the rtf step (issue 15)."""
    for k in keys:
        if k not in ard.columns:
            raise KeyError(f"ARD has no column {k!r} (columns {ARD_COLUMNS})")
    texts = {k: _level_text(v) for k, v in keys.items()}
    if "context" not in texts:
        mask = np.ones(len(ard), dtype=bool)
        for k, text in texts.items():
            mask &= ard[k].to_numpy(dtype=object) == text
        return np.flatnonzero(mask)
    index = _RowIndex.of(ard)
    positions = index.rows_of(texts.pop("context"))
    for k, text in texts.items():
        positions = positions[index.column(k)[positions] == text]
    return positions


def _column_token(column: pd.Series):
    """What identifies a column's data: the Arrow array object of a string column, the buffer
    address of a NumPy one (a column reassigned, or a frame rebuilt, gets a new one)."""
    array = column.array
    if isinstance(array, pd.arrays.ArrowStringArray):
        return array
    return column.to_numpy(copy=False).__array_interface__["data"][0]


def _same(token, column: pd.Series) -> bool:
    """``column`` still holds the data ``token`` was taken from."""
    now = _column_token(column)
    return token is now or (isinstance(token, int) and isinstance(now, int) and token == now)


class _RowIndex:
    """Row positions of each context of one ARD frame and its key columns as object arrays, kept
    while the frame lives; each column is checked against its data before use, so a column
    reassigned after a lookup is seen (an ARD frame is a value: no code edits one in place)."""
    _of_frame: dict[int, _RowIndex] = {}

    def __init__(self, ard: pd.DataFrame):
        self._ard = weakref.ref(ard)
        self._columns: dict[str, tuple] = {}
        contexts = self.column("context")
        order = np.argsort(contexts, kind="stable")
        names, starts = np.unique(contexts[order], return_index=True)
        self._rows = dict(zip(names.tolist(), np.split(order, starts[1:])))

    @classmethod
    def of(cls, ard: pd.DataFrame) -> _RowIndex:
        index = cls._of_frame.get(id(ard))
        if index is None or index._ard() is not ard or not _same(index._columns["context"][0], ard["context"]):
            index = cls(ard)
            cls._of_frame[id(ard)] = index
            weakref.finalize(ard, cls._of_frame.pop, id(ard), None)
        return index

    def rows_of(self, context: str) -> np.ndarray:
        return self._rows.get(context, np.array([], dtype=np.intp))

    def column(self, name: str) -> np.ndarray:
        column = self._ard()[name]
        cached = self._columns.get(name)
        if cached is None or not _same(cached[0], column):
            cached = self._columns[name] = (_column_token(column), column.to_numpy(dtype=object))
        return cached[1]


def lookup(ard: pd.DataFrame, **keys) -> float:
    """The one stat matching ``keys`` (context=..., param=..., stat_name=...); error if not one."""
    values = stat_values(ard, **keys)
    if len(values) != 1:
        raise KeyError(f"ARD lookup {keys}: {len(values)} rows")
    return float(values[0])


# --- comparing two ARDs ---------------------------------------------------------------------------

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


def with_occurrence(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Add '_occ' numbering duplicates of the key, so a non-unique key still joins 1:1."""
    df = df.copy()
    df["_occ"] = df.groupby(keys, dropna=False, sort=False).cumcount() if keys else range(len(df))
    return df


def as_number(text):
    if text is None:
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _is_integer_text(text) -> bool:
    return str(text).strip().lstrip("+-").isdigit()


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


def diff(old: pd.DataFrame, new: pd.DataFrame, rel_tol: float = REL_TOL) -> pd.DataFrame:
    """Every result of either ARD, joined on ``KEY_COLUMNS``: the keys, old, new, delta (new-old
    when numeric), status ('same' / 'changed' / 'added' / 'removed')."""
    keys = list(KEY_COLUMNS)
    o = with_occurrence(old[[*keys, VALUE]], keys).astype(object)
    n = with_occurrence(new[[*keys, VALUE]], keys).astype(object)
    for df in (o, n):
        for k in [*keys, VALUE]:
            df[k] = df[k].map(cell_text)
    m = o.merge(n, on=[*keys, "_occ"], how="outer", suffixes=("_old", "_new"), indicator=True)
    out = m[keys].copy()
    out["old"] = m[VALUE + "_old"]
    out["new"] = m[VALUE + "_new"]
    out["delta"] = [None if as_number(a) is None or as_number(b) is None else as_number(b) - as_number(a)
                    for a, b in zip(out["old"], out["new"])]
    status = {"left_only": "removed", "right_only": "added"}
    out["status"] = [status.get(how) or ("same" if stats_equal(a, b, rel_tol) else "changed")
                     for a, b, how in zip(out["old"], out["new"], m["_merge"])]
    return out.reset_index(drop=True)
