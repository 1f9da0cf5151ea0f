"""Column rules shared by the derivations: USUBJID of each cohort, raw date columns (errors naming
file, subject and column), known and unique subjects, Y/N flags, lookups."""

from __future__ import annotations

import pandas as pd

from analysis.derive.dates import impute_start_dates, parse_dates
from analysis.errors import BadDataError
from analysis.raw_spec import FORMS, STUDYID

EXTERNAL_STUDYID = "ALLOREG"  # the registry extract's study identifier (USUBJID = ALLOREG-PATID)


def trial_usubjid(subjid: pd.Series) -> pd.Series:
    """USUBJID of a trial subject: STUDYID-SUBJID (e.g. SWCART-01-01-003)."""
    return (STUDYID + "-" + subjid.astype("string")).astype("string")


def external_usubjid(patid: pd.Series) -> pd.Series:
    """USUBJID of an external-control patient: ALLOREG-PATID (e.g. ALLOREG-R0001)."""
    return (EXTERNAL_STUDYID + "-" + patid.astype("string")).astype("string")


def raw_dates(df: pd.DataFrame, form: str, column: str) -> pd.Series:
    """A complete-date column of a raw form as dates; errors name the file, subject and column."""
    subj = FORMS[form].subject_column
    return parse_dates(df[column], where=f"{FORMS[form].file} column {column}",
                       subjects=df[subj] if subj in df.columns else None)


def raw_start_dates(df: pd.DataFrame, form: str, column: str, **kwargs) -> tuple[pd.Series, pd.Series]:
    """A possibly partial start-type date column, imputed by the SAP 2.3 start rule."""
    subj = FORMS[form].subject_column
    return impute_start_dates(df[column], where=f"{FORMS[form].file} column {column}",
                              subjects=df[subj] if subj in df.columns else None, **kwargs)


def require_known_subjects(df: pd.DataFrame, form: str, known: pd.Series) -> None:
    """Every subject of ``form`` must be enrolled (in dm); otherwise a BadDataError naming them."""
    subj = FORMS[form].subject_column
    unknown = sorted(set(df[subj].dropna()) - set(known.dropna()))
    if unknown:
        raise BadDataError(f"{FORMS[form].file} column {subj}: subject(s) {unknown[:5]} not in "
                           f"dm.csv (rule: every subject of a form must be enrolled)")


def require_unique(df: pd.DataFrame, form: str, columns: list[str]) -> None:
    """The raw form's key must be unique (the validation step checks it too; derivations rely
    on it, so they check it again rather than silently pick one row)."""
    dup = df.duplicated(columns, keep=False)
    if dup.any():
        rows = df.loc[dup, columns].head(3).to_dict("records")
        raise BadDataError(f"{FORMS[form].file} columns {columns}: duplicate key, e.g. {rows} "
                           "(rule: one row per key)")


def yn(mask: pd.Series) -> pd.Series:
    """Boolean -> "Y"/"N" (all flags of these datasets are Y/N, never blank; SAP 1)."""
    return pd.Series(mask.fillna(False).astype(bool).map({True: "Y", False: "N"}),
                     index=mask.index, dtype="string")


def lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """``table[key]`` for each key (missing when absent), keeping ``table``'s dtype. Unlike
    ``Series.map`` this also works for an empty table of dates."""
    values = table.reindex(keys.to_numpy()).to_numpy()
    return pd.Series(values, index=keys.index, dtype=table.dtype)
