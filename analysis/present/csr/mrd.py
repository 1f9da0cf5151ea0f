"""Section 14.2.2 (shown by analysis/notebooks/04-mrd.qmd): MRD-negative rates, best status,
conversion, FC/NGS agreement and the duration of negativity."""

from __future__ import annotations

import pandas as pd

from analysis import ard as A
from analysis import conventions as C
from analysis.present import ard_views as AV
from analysis.present import cohort_style as CS
from analysis.present import formats as F
from analysis.present import maturity as M
from analysis.present.csr.context import method_of, methods_dict, synthetic_line
from analysis.present.layouts import format_rates
from analysis.present.table import Table

THRESHOLD_TEXT = {m: f"{t:.0e}".replace("e-0", "e-") for m, t in C.MRD_THRESHOLD.items()}   # SAP 4.1
METHOD_NAMES = {"FC": "Flow cytometry (FC)", "NGS": "IgH next-generation sequencing (NGS)"}
RATE_LABELS = {f"MRD-{m}": f"{METHOD_NAMES[m]}, negative < {THRESHOLD_TEXT[m]}" for m in C.MRD_THRESHOLD}
DURATION_PARAMS = {"MRDDURFC": "FC-MRD", "MRDDURNG": "NGS-MRD"}
POPULATION = "Safety population of the trial cohort (received CAR-T1)"


def mrd_rates(inputs) -> Table:
    frame = AV.mrd_rate_frame(inputs.ard, RATE_LABELS).assign(group=CS.COHORT_LABELS[C.COHORT_TRIAL])
    return format_rates(frame, by="group", label="label", title="MRD-negative rate after CAR-T1, by method",
                        subtitles=[POPULATION, synthetic_line(inputs)],
                        footnotes=[f"Method: {method_of(inputs, 'mrd_rate')}.",
                                   "A subject is MRD-negative by a method when at least one evaluable sample after "
                                   "CAR-T1 is negative (best status, SAP 4.3)."])


def mrd_best(inputs) -> Table:
    ard, params = inputs.ard, list(RATE_LABELS)
    by_param = {p: AV.ard_rows(ard, "mrd_best", p).set_index("level") for p in params}
    statuses = list(dict.fromkeys(s for rows in by_param.values() for s in rows.index))
    cells = [[F.fmt_n_pct(rows.at[s, "n"], rows.at[s, "pct"]) if s in rows.index else "0"
              for rows in by_param.values()] for s in statuses]
    frame = pd.DataFrame(cells, columns=params)
    frame.insert(0, "Best status", [s.capitalize() for s in statuses])
    n = {p: A.lookup(ard, context="mrd_rate", param=p, stat_name="n") for p in params}
    return Table(title="Best MRD status after CAR-T1, by method", frame=frame,
                 headers=["Best status", *[F.fmt_header(p.replace("MRD-", "") + "-MRD", n[p]) for p in params]],
                 subtitles=[POPULATION, synthetic_line(inputs)],
                 footnotes=[f"Method: {method_of(inputs, 'mrd_best')}; n (%) of N, the safety population.",
                            "Negative: at least one negative sample; positive: evaluable samples, none negative; "
                            "not evaluable: no evaluable sample (SAP 4.3)."])


def mrd_conversion(inputs) -> Table:
    return M.mrd_rates_table(inputs.ard, subtitles=[POPULATION, synthetic_line(inputs)], methods=methods_dict(inputs))


def mrd_agreement(inputs) -> Table:
    return M.mrd_agreement_table(inputs.ard, subtitles=["Paired FC and NGS samples of the same date, both evaluable, "
                                                        "before relapse", synthetic_line(inputs)],
                                 methods=methods_dict(inputs))


def mrd_duration(inputs) -> Table:
    return M.single_arm_km_table(
        inputs.ard, DURATION_PARAMS, title="Duration of MRD negativity by method: Kaplan-Meier summary",
        subtitles=["Trial subjects with a negative MRD sample after CAR-T1", synthetic_line(inputs)],
        footnotes=[f"Median: {method_of(inputs, 'km_median')}.",
                   "Recurrence needs confirmation (two consecutive positives, or a positive then relapse); "
                   "subjects without an event are censored at their last evaluable sample of the method "
                   "before relapse (SAP 4.4)."])
