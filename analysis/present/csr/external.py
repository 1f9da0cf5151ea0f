"""Section 14.2.3 (shown by analysis/notebooks/06-external-control.qmd): the naive 2-year OS and
LFS comparison with the external allo-HSCT cohort."""

from __future__ import annotations

from analysis import conventions as C
from analysis.present import comparison_tables as CT
from analysis.present.csr.context import cut_line, named_method_lines
from analysis.present.table import Table


def ext_summary(inputs) -> Table:
    return CT.comparison_table(inputs.ard, "km", medians=True,
                               title="2-year overall and leukemia-free survival: sandwich versus external allo-HSCT",
                               subtitles=["Naive comparison, each cohort from its own time origin", cut_line(inputs)],
                               footnotes=named_method_lines(inputs, "km", "km_median", "km_diff", "logrank", "cox")
                               + [f"1 month = {C.DAYS_PER_MONTH:g} days; 2 years = {C.TIMEPOINT_2Y_DAYS:g} days."])
