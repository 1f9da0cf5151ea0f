"""Many failing rows: the first ones (by row number) are worded with file, row, subject, column
and rule; the rest are counted, not collected (validation.engine MAX_ROWS_KEPT, validation.report)."""

from __future__ import annotations

import great_expectations as gx
import pandas as pd

from validation.engine import MAX_ROWS_KEPT, run_suites
from validation.frames import ROW
from validation.report import _rows_html, failure_lines
from validation.rules import Rule, Suite

N_BAD = MAX_ROWS_KEPT + 300


def test_many_failing_rows_are_listed_up_to_the_cap_and_counted_beyond_it():
    n = N_BAD + 10
    # rows 1..10 are fine; the rest have AGE 212, in reverse order of row number in the frame
    frame = pd.DataFrame({ROW: range(n, 0, -1), "SUBJID": [f"S{i:04d}" for i in range(n, 0, -1)],
                          "AGE": [212 if i > 10 else 40 for i in range(n, 0, -1)]})
    suite = Suite("raw.dm", "demographics", frame, "SUBJID")
    suite.add(Rule("dm.csv", "AGE", "AGE in [14, 75]",
                   gx.expectations.ExpectColumnValuesToBeBetween(column="AGE", min_value=14, max_value=75),
                   detail=lambda row: f"{row['AGE']} not in [14, 75]", needs=("AGE",)))
    (outcome,) = run_suites([suite])
    assert outcome.failed
    assert len(outcome.rows) == MAX_ROWS_KEPT and outcome.more_rows == N_BAD - MAX_ROWS_KEPT
    assert [r.row for r in outcome.rows] == list(range(11, 11 + MAX_ROWS_KEPT)), "the first rows by number"
    assert outcome.rows[0].subject == "S0011" and outcome.rows[0].detail == "212 not in [14, 75]"
    lines = failure_lines([outcome], cap=5)
    assert lines[0] == "dm.csv row 11 (SUBJID S0011) AGE: 212 not in [14, 75] [expect_column_values_to_be_between]"
    assert lines[5].startswith(f"  ... and {N_BAD - 5} more for dm.csv AGE [expect_column_values_to_be_between]")
    page = _rows_html(outcome)
    assert f"<summary>{N_BAD} failing</summary>" in page
    assert f"... and {N_BAD - MAX_ROWS_KEPT} more rows" in page
