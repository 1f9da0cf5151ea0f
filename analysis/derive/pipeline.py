"""The derive step: raw forms of one cut -> ADSL, ADMRD, ADTTE, ADAE in data/derived/<cut>/.

``derive_cut(cut, root=None)`` reads every raw form (contract analysis/raw_spec.py) from exactly
the bytes that were validated (analysis.raw_io.read_form_checked: checksums re-checked at
read, exit 3 if a file changed since validation), derives the four datasets, and writes, whole or not at all
(analysis.atomic.atomic_dir): adsl/adtte/admrd/adae as .parquet and SAS transport v5 .xpt, and
spec.json (the dataset specification with lengths measured on this cut, and the sha256 of every
raw file read). A failure leaves the previous derived files of the cut untouched.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import paths
from analysis.atomic import atomic_dir
from analysis.derive import adae, admrd, adsl, adtte
from analysis.derive.write import write_dataset, write_spec_json
from analysis.errors import BadDataError
from analysis.raw_io import read_form_checked, validated_sha256
from analysis.raw_spec import EXTERNAL_FORMS, FORMS, STUDYID, TRIAL_FORMS

SPEC_VERSION = "1"


def read_raw_forms(raw_dir: Path, expected: dict[str, str] | None = None, source: str = "manifest.json",
                   sha: dict[str, str] | None = None) -> dict[str, pd.DataFrame]:
    """Every form of the contract, typed, read from exactly the bytes that were validated
    (``expected``: file -> SHA-256, analysis.raw_io.validated_sha256; default: manifest.json);
    the SHA-256 of the bytes read go into ``sha``. A missing, changed or unreadable file is bad data."""
    if expected is None:
        expected, source = validated_sha256("", raw_dir)
    forms, sha = {}, ({} if sha is None else sha)
    for name in TRIAL_FORMS + EXTERNAL_FORMS:
        path = raw_dir / FORMS[name].file
        if not path.is_file():
            raise BadDataError(f"{path}: raw form missing (rule: every form of the raw contract is exported)")
        try:
            forms[name], sha[FORMS[name].file] = read_form_checked(raw_dir, name, expected, source)
        except (ValueError, TypeError, OverflowError) as exc:
            raise BadDataError(f"{path}: cannot be read as the contract's types ({exc}); "
                               "run `python -m analysis validate` for the details") from exc
    return forms


def derive_datasets(forms: dict[str, pd.DataFrame], cut_date: str) -> dict[str, pd.DataFrame]:
    """The four datasets from typed raw forms, in dependency order (pure: no file access)."""
    sl = adsl.derive_adsl(forms, cut_date)
    mrd = admrd.derive_admrd(forms["mrd"], sl)
    return {
        "adsl": sl,
        "adtte": adtte.derive_adtte(sl, mrd),
        "admrd": mrd,
        "adae": adae.derive_adae(forms["ae"], sl),
    }


SPECS = {"adsl": adsl.SPEC, "adtte": adtte.SPEC, "admrd": admrd.SPEC, "adae": adae.SPEC}


def derive_cut(cut: str, root: Path | None = None) -> Path:
    """Derive one data cut; returns data/derived/<cut>/ (under ``root`` when given)."""
    cut_date = paths.cut_date(cut)
    raw = paths.raw_dir(cut, root)
    if not raw.is_dir():
        raise BadDataError(f"{raw}: no raw data for cut {cut}")
    raw_files: dict[str, str] = {}
    forms = read_raw_forms(raw, *validated_sha256(cut, raw, root), sha=raw_files)
    datasets = derive_datasets(forms, cut_date)
    stamp = pd.Timestamp(cut_date)
    target = paths.derived_dir(cut, root)
    with atomic_dir(target) as scratch:
        entries = [write_dataset(datasets[name], SPECS[name], scratch, stamp) for name in SPECS]
        write_spec_json(entries, scratch, {
            "spec_version": SPEC_VERSION, "study": STUDYID, "cut": cut, "cut_date": cut_date,
            "standard": "CDISC ADaM-style (ADaMIG 1.3 naming)", "raw_sha256": raw_files,
        })
    return target
