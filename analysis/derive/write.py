"""Writing derived datasets: Parquet, SAS transport v5 (.xpt) with labels, and spec.json.

Deterministic by construction, so that the same raw cut gives byte-identical files on every run:
- Parquet: written by pyarrow from a fixed schema, no index, no timestamps (the only metadata are
  the pandas schema and the library's version string, both fixed by the pinned environment).
- XPT: pyreadstat stamps the creation/modification time into the library and member headers;
  those stamps are overwritten with the data cut-off date (``ddMMMyy:00:00:00``).
- spec.json: keys sorted, fixed indentation, newline at the end.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat

from analysis.derive.spec import DatasetSpec, char_length, conform, spec_to_dict
from analysis.errors import BadDataError
from analysis.raw_spec import IDENTIFIER_COLUMNS

SAS_EPOCH = pd.Timestamp("1960-01-01")
XPT_RECORD = 80
_XPT_STAMP = re.compile(rb"\d{2}[A-Z]{3}\d{2}:\d{2}:\d{2}:\d{2}")
_OBS_HEADER = b"HEADER RECORD*******OBS     HEADER RECORD"


def check_no_identifiers(df: pd.DataFrame, name: str) -> None:
    """Direct identifiers (raw_spec.IDENTIFIER_COLUMNS) never reach a derived dataset."""
    leaked = sorted(set(df.columns) & set(IDENTIFIER_COLUMNS))
    if leaked:
        raise ValueError(f"{name}: identifier column(s) {leaked} must not be written")


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Parquet without the index; dates stay timestamps (day precision) for pandas readers."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, path, compression="zstd", write_statistics=False, store_schema=True)


def sas_stamp(day: pd.Timestamp) -> bytes:
    """SAS transport header time stamp for ``day`` at midnight, e.g. b"30JUN25:00:00:00"."""
    return day.strftime("%d%b%y").upper().encode("ascii") + b":00:00:00"


def fix_xpt_timestamps(data: bytes, day: pd.Timestamp) -> bytes:
    """Replace the creation/modification stamps of the XPT headers (everything before the OBS
    header record) by ``day``, leaving the observations untouched."""
    end = data.find(_OBS_HEADER)
    if end < 0 or end % XPT_RECORD:
        raise ValueError("not a SAS transport file: no OBS header record on a record boundary")
    head = _XPT_STAMP.sub(sas_stamp(day), data[:end])
    return head + data[end:]


def xpt_frame(df: pd.DataFrame, spec: DatasetSpec) -> tuple[pd.DataFrame, dict[str, str]]:
    """The frame as SAS sees it: dates as day numbers since 1960-01-01 (DATE9.), other numbers
    float, characters with missing as empty strings. Returns (frame, formats)."""
    out, formats = {}, {}
    for v in spec.variables:
        col = df[v.name]
        if v.date:
            out[v.name] = (col - SAS_EPOCH).dt.days.astype("float64")
            formats[v.name] = "DATE9."
        elif v.type == "Num":
            out[v.name] = col.astype("Float64").to_numpy(dtype="float64", na_value=float("nan"))
        else:
            out[v.name] = col.astype("string").fillna("").astype(object)
    return pd.DataFrame(out), formats


XPT_V5_MAX_CHAR = 200  # SAS transport v5: character variables hold at most 200 bytes


def write_xpt(df: pd.DataFrame, spec: DatasetSpec, path: Path, stamp_day: pd.Timestamp) -> None:
    """SAS transport version 5 with the spec's dataset label and variable labels."""
    for v in spec.variables:
        if v.type == "Char" and char_length(df[v.name]) > XPT_V5_MAX_CHAR:
            raise BadDataError(f"{spec.name}.{v.name}: a value is longer than {XPT_V5_MAX_CHAR} bytes "
                               "(rule: SAS transport v5 character limit)")
    frame, formats = xpt_frame(df, spec)
    pyreadstat.write_xport(frame, str(path), file_label=spec.label, column_labels=spec.labels,
                           table_name=spec.name.upper(), file_format_version=5, variable_format=formats)
    path.write_bytes(fix_xpt_timestamps(path.read_bytes(), stamp_day))


def write_dataset(df: pd.DataFrame, spec: DatasetSpec, folder: Path, stamp_day: pd.Timestamp) -> dict:
    """Conform ``df`` to its spec and write <name>.parquet and <name>.xpt into ``folder``.
    Returns the dataset's entry for spec.json."""
    check_no_identifiers(df, spec.name)
    df = conform(df, spec)
    stem = spec.name.lower()
    write_parquet(df, folder / f"{stem}.parquet")
    write_xpt(df, spec, folder / f"{stem}.xpt", stamp_day)
    return spec_to_dict(spec, df)


def write_spec_json(entries: list[dict], folder: Path, meta: dict) -> None:
    doc = {**meta, "datasets": entries}
    (folder / "spec.json").write_text(json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
