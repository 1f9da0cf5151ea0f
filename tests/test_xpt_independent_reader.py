"""The SAS transport files a regulator receives, read back with an independent reader.

pyreadstat writes the .xpt files; pandas' own XPORT parser (pandas.io.sas.sas_xport, a separate
implementation of the IBM-float transport format) reads them here and every value must equal the
Parquet dataset of the same cut. Data: the committed locked interim cut (data/locked/), so no
derivation runs in this test. Tolerances: numbers 1e-12 absolute (pandas' IBM-float conversion
turns an exact 0 into ~5e-79); SAS dates are days since 1960-01-01; text exact (blank = missing).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO

LOCKED = REPO / "data" / "locked" / "cut-2024-06-30" / "derived"
DATASETS = ("adsl", "adtte", "admrd", "adae")
SAS_EPOCH = pd.Timestamp("1960-01-01")


@pytest.mark.parametrize("name", DATASETS)
def test_xpt_equals_parquet_when_read_by_pandas(name):
    xpt = pd.read_sas(LOCKED / f"{name}.xpt", format="xport", encoding="utf-8")
    ref = pd.read_parquet(LOCKED / f"{name}.parquet")
    assert list(xpt.columns) == list(ref.columns), name
    assert all(len(c) <= 8 for c in xpt.columns), "SAS v5 names are at most 8 characters"
    assert len(xpt) == len(ref)
    for col in ref.columns:
        want, got = ref[col], xpt[col]
        if pd.api.types.is_datetime64_any_dtype(want):
            days = (want - SAS_EPOCH).dt.days.astype("float64")
            np.testing.assert_allclose(got.to_numpy(float), days.to_numpy(float), atol=1e-12, err_msg=f"{name}.{col}")
        elif pd.api.types.is_numeric_dtype(want):
            np.testing.assert_allclose(got.to_numpy(float), want.astype("float64").to_numpy(float), atol=1e-12,
                                       err_msg=f"{name}.{col}")
        else:
            norm = lambda s: s.astype(object).where(s.notna() & (s.astype(str).str.strip() != ""), None)  # noqa: E731
            assert norm(got).tolist() == norm(want).tolist(), f"{name}.{col}"
