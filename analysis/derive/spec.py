"""The dataset specification, declared once in code next to each derivation.

Each derivation module declares ``SPEC = DatasetSpec(...)`` listing its variables with label,
type, origin, source and derivation text. The writer (``analysis.derive.write``) applies the
labels to the SAS transport files, and ``spec.json`` (read by the Define-XML generator) is
produced from the same objects with the lengths measured on the data. Names and labels obey SAS
transport version 5 limits (names <= 8 characters, labels <= 40), checked when declared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analysis.derive.dates import DATE_DTYPE

ORIGINS = ("Collected", "Derived", "Assigned", "Predecessor")
TYPES = ("Char", "Num")
_NAME = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")


@dataclass(frozen=True)
class Variable:
    """One ADaM variable. ``date=True`` marks a numeric SAS date (DATE9. format)."""
    name: str
    label: str
    type: str
    origin: str
    source: str = ""
    derivation: str = ""
    date: bool = False

    def __post_init__(self):
        if not _NAME.match(self.name):
            raise ValueError(f"variable name {self.name!r}: must be 1-8 upper-case letters/digits "
                             "starting with a letter (SAS transport v5)")
        if not 0 < len(self.label) <= 40:
            raise ValueError(f"variable {self.name}: label {self.label!r} has {len(self.label)} "
                             "characters (SAS transport v5 allows 1-40)")
        if self.type not in TYPES:
            raise ValueError(f"variable {self.name}: type {self.type!r} not in {TYPES}")
        if self.origin not in ORIGINS:
            raise ValueError(f"variable {self.name}: origin {self.origin!r} not in {ORIGINS}")
        if self.date and self.type != "Num":
            raise ValueError(f"variable {self.name}: a date is a Num variable")


def char(name, label, origin, source="", derivation="") -> Variable:
    return Variable(name, label, "Char", origin, source, derivation)


def num(name, label, origin, source="", derivation="") -> Variable:
    return Variable(name, label, "Num", origin, source, derivation)


def date(name, label, origin, source="", derivation="") -> Variable:
    return Variable(name, label, "Num", origin, source, derivation, date=True)


def predecessors(source: DatasetSpec, *names: str) -> tuple[Variable, ...]:
    """Variables copied unchanged from another dataset (ADaM origin "Predecessor"): the label,
    type and date format of ``source``'s declaration, source "<DATASET>.<name>" -- declared once,
    in the dataset that derives them, so a copy can never carry another label."""
    declared = {v.name: v for v in source.variables}
    missing = [n for n in names if n not in declared]
    if missing:
        raise ValueError(f"{source.name} declares no {missing}: a predecessor must exist in its source")
    return tuple(Variable(n, declared[n].label, declared[n].type, "Predecessor", f"{source.name}.{n}",
                          date=declared[n].date) for n in names)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    label: str
    keys: tuple[str, ...]
    variables: tuple[Variable, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if not _NAME.match(self.name.upper()) or len(self.label) > 40:
            raise ValueError(f"dataset {self.name}: name <= 8 characters and label <= 40 required")
        names = [v.name for v in self.variables]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"dataset {self.name}: variables declared twice: {dup}")
        missing = [k for k in self.keys if k not in names]
        if missing:
            raise ValueError(f"dataset {self.name}: key variables not declared: {missing}")

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.variables]

    def variable(self, name: str) -> Variable:
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(f"{self.name}: no variable {name}")

    @property
    def labels(self) -> dict[str, str]:
        return {v.name: v.label for v in self.variables}


def _check_type(df: pd.DataFrame, v: Variable, dataset: str) -> None:
    col = df[v.name]
    if v.date:
        ok = str(col.dtype) == DATE_DTYPE
    elif v.type == "Num":
        ok = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
    else:
        ok = pd.api.types.is_string_dtype(col) or col.isna().all()
    if not ok:
        kind = "date" if v.date else v.type
        raise TypeError(f"{dataset}.{v.name}: declared {kind} but the derived column is {col.dtype}")


def conform(df: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """The derived frame with exactly the declared variables, in declared order, sorted by the
    keys, with a fresh index. Raises if a variable is missing, undeclared, of the wrong type, or
    if the keys do not identify rows uniquely: a spec that does not match the data is a defect."""
    extra = [c for c in df.columns if c not in spec.names]
    missing = [n for n in spec.names if n not in df.columns]
    if extra or missing:
        raise ValueError(f"{spec.name}: derived columns do not match the spec "
                         f"(undeclared: {extra}, missing: {missing})")
    for v in spec.variables:
        _check_type(df, v, spec.name)
        if v.type == "Char":
            df = df.assign(**{v.name: df[v.name].astype("string")})
    dup = df.duplicated(list(spec.keys), keep=False)
    if dup.any():
        first = df.loc[dup, list(spec.keys)].head(3).to_dict("records")
        raise ValueError(f"{spec.name}: keys {spec.keys} are not unique, e.g. {first}")
    return df[spec.names].sort_values(list(spec.keys), kind="mergesort").reset_index(drop=True)


def char_length(series: pd.Series) -> int:
    """Length in bytes (UTF-8) of the longest value; 1 when all missing (SAS minimum)."""
    # Distinct values only, measured by Arrow in one call: a per-value Python function here was
    # half of derive's time at 100x the study size.
    text = series.dropna().astype(str).unique()
    if len(text) == 0:
        return 1
    longest = pc.max(pc.binary_length(pa.array(text, type=pa.string()))).as_py()
    return int(max(1, longest))


def spec_to_dict(spec: DatasetSpec, df: pd.DataFrame) -> dict:
    """Machine-readable specification of one dataset; Char lengths measured on ``df``."""
    variables = []
    for v in spec.variables:
        entry = {"name": v.name, "label": v.label, "type": v.type,
                 "length": char_length(df[v.name]) if v.type == "Char" else 8,
                 "origin": v.origin, "source": v.source, "derivation": v.derivation}
        if v.date:
            entry["format"] = "DATE9."
        variables.append(entry)
    return {"name": spec.name.upper(), "label": spec.label, "keys": list(spec.keys),
            "records": int(len(df)), "variables": variables}


def typed(df: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """``df`` restricted to the spec's variables in declared order, each with its declared
    storage type (dates ``DATE_DTYPE``, Num ``Float64``, Char ``string``); a declared variable
    the derivation does not produce for these rows (e.g. DONOR for trial subjects) is missing."""
    out = {}
    for v in spec.variables:
        col = df[v.name] if v.name in df.columns else pd.Series(pd.NA, index=df.index)
        if v.date:
            out[v.name] = pd.to_datetime(col).astype(DATE_DTYPE) if col.notna().any() \
                else pd.Series(pd.NaT, index=df.index, dtype=DATE_DTYPE)
        elif v.type == "Num":
            out[v.name] = pd.to_numeric(col).astype("Float64") if col.notna().any() \
                else pd.Series(pd.NA, index=df.index, dtype="Float64")
        else:
            out[v.name] = col.astype("string")
    return pd.DataFrame(out, index=df.index)
