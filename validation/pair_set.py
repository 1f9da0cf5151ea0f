"""``ExpectColumnPairValuesToBeInSet`` with a vectorised pandas metric (issue 15).

Great Expectations 1.x computes ``column_pair_values.in_set`` on pandas with ``DataFrame.iterrows``
(a Series built per row): the two CTCAE pair rules of ae.csv took about 80 of validation's 100 s
on a 200,000-row AE export, and put the 10^6-row export over its budget. This expectation is the
same check -- a row passes when ``(A, B)``, a missing value read as None, is one of
``value_pairs_set`` (Python equality, so a number 3.0 matches the pair value 3) -- computed over
the columns' values in one pass, and is reported under the GX name of the original
(``Rule.expectation_type``), since it checks exactly that expectation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.core.expect_column_pair_values_to_be_in_set import (
    ExpectColumnPairValuesToBeInSet,
)
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnPairMapMetricProvider,
    column_pair_condition_partial,
)

REPORTED_AS = "expect_column_pair_values_to_be_in_set"   # the GX expectation this one computes


def _as_python(values: pd.Series) -> np.ndarray:
    """The values as Python objects, a missing one (None, NaN, pd.NA) as None (as GX's loop)."""
    out = values.astype(object).to_numpy(copy=True)
    out[values.isna().to_numpy()] = None
    return out


def pairs_in_set(column_a: pd.Series, column_b: pd.Series, value_pairs_set) -> np.ndarray:
    """Per row: whether (A, B) is one of ``value_pairs_set`` (GX's rule, see the module doc)."""
    if value_pairs_set is None:   # vacuously true, as GX
        return np.ones(len(column_a), dtype=bool)
    allowed = {(a, b) for a, b in value_pairs_set}
    a, b = _as_python(column_a), _as_python(column_b)
    return np.fromiter(((x, y) in allowed for x, y in zip(a, b)), dtype=bool, count=len(a))


class ColumnPairValuesInSetVectorised(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.in_set_vectorised"
    condition_value_keys = ("value_pairs_set",)
    condition_domain_keys = ("batch_id", "table", "column_A", "column_B", "ignore_row_if")

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, **kwargs):  # noqa: N803 (GX's argument names)
        return pd.Series(pairs_in_set(column_A, column_B, kwargs.get("value_pairs_set")), index=column_A.index)


class ExpectColumnPairValuesToBeInSetVectorised(ExpectColumnPairValuesToBeInSet):
    """``ExpectColumnPairValuesToBeInSet`` computed by ``column_pair_values.in_set_vectorised``."""
    map_metric = "column_pair_values.in_set_vectorised"
