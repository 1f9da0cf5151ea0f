"""Section 14.2.1 (shown by analysis/notebooks/03-efficacy.qmd): OS and LFS summaries by cohort."""

from __future__ import annotations

from analysis.present import maturity as M
from analysis.present.csr.context import methods_dict, synthetic_line
from analysis.present.table import Table

ENDPOINTS = {"OS": "Overall survival", "LFS": "Leukemia-free survival"}
ORIGIN_NOTE = ("Time origin: trial cohort, CAR-T1 (OS) and the first remission documented after CAR-T1 (LFS); "
               "external controls, the allo-HSCT (both endpoints).")


def _survival(inputs, paramcd: str) -> Table:
    """Rates with numbers at risk, follow-up, RMST; unreliable rates shown as such (SAP 3.5)."""
    return M.efficacy_table(inputs.ard, paramcd, ENDPOINTS[paramcd], ORIGIN_NOTE,
                            subtitles=[f"ADTTE PARAMCD = {paramcd}", synthetic_line(inputs)],
                            methods=methods_dict(inputs))


def survival_os(inputs) -> Table:
    return _survival(inputs, "OS")


def survival_lfs(inputs) -> Table:
    return _survival(inputs, "LFS")
