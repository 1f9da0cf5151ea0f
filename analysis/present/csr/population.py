"""Section 14.1.1-14.1.2 (shown by analysis/notebooks/02-population.qmd): disposition and Table 1."""

from __future__ import annotations

from analysis import conventions as C
from analysis.analyze import sap
from analysis.present import ard_views as AV
from analysis.present import cohort_style as CS
from analysis.present import safety_tables as ST
from analysis.present.csr.context import method_of, synthetic_line, with_subtitles
from analysis.present.layouts import format_table1
from analysis.present.table import Table


def disposition(inputs) -> Table:
    return with_subtitles(ST.disposition_table(inputs.ard, method_of(inputs, "disposition")), synthetic_line(inputs))


def table1(inputs) -> Table:
    labels = CS.COHORT_LABELS
    frame = AV.table1_frame(inputs.ard, sap.TABLE1_VARIABLES, sap.TABLE1_NONNORMAL, labels)
    return format_table1(frame, groups=[labels[C.COHORT_TRIAL], labels[C.COHORT_EXTERNAL], "Total"],
                         raw_decimals={"WBCDIAG": 1},
                         title="Demographic and baseline characteristics by cohort",
                         subtitles=["All subjects: trial cohort (enrolled) and external allo-HSCT controls",
                                    synthetic_line(inputs)],
                         footnotes=[f"Method: {method_of(inputs, 'table1')}.",
                                    "WBC at diagnosis is summarised by median (Q1, Q3) first (skewed distribution)."])
