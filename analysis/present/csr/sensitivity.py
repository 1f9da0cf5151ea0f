"""Section 14.2.4 (shown by analysis/notebooks/07-external-sensitivity.qmd): the target trial,
the primary comparison, competing risks, propensity weighting, the time-zero views and the bias
each view carries."""

from __future__ import annotations

from analysis.present import ard_views as AV
from analysis.present import comparison_tables as CT
from analysis.present import formats as F
from analysis.present import forest as FO
from analysis.present import propensity as PS
from analysis.present import target_trial as TT
from analysis.present.csr.context import cut_line, named_method_lines
from analysis.present.table import Table


def landmark_day(ard) -> float:
    return AV.ard_stat(ard, context="landmark", param="LANDMARK", stat_name="day")


def target_trial(inputs) -> Table:
    return TT.protocol_table()


def intercurrent(inputs) -> Table:
    return TT.intercurrent_table()


def tte_primary(inputs) -> Table:
    return TT.primary_table(inputs.ard, subtitles=["Target-trial emulation (SAP 6.7)", cut_line(inputs)],
                            footnotes=named_method_lines(inputs, "tte_km", "tte_rmst", "tte_rmst_diff", "tte_diff",
                                                         "tte_cox", "tte_cox_trunc", "tte_evalue"))


def competing_risks(inputs) -> Table:
    return CT.competing_risk_table(inputs.ard, footnotes=named_method_lines(inputs, "cif", "gray", "finegray"))


def ps_balance(inputs) -> Table:
    return PS.balance_table(inputs.ard, footnotes=named_method_lines(inputs, "ps_balance", "ps_model"))


def ps_weights(inputs) -> Table:
    return PS.weights_table(inputs.ard, footnotes=named_method_lines(inputs, "ps_weights"))


def iptw(inputs) -> Table:
    n_boot = AV.ard_stat(inputs.ard, context="iptw_diff", param="OS", stat_name="n_boot")
    seed = AV.ard_stat(inputs.ard, context="iptw_diff", param="OS", stat_name="seed")
    return CT.comparison_table(inputs.ard, "iptw", counts=None, title="Propensity-score weighted (ATT) 2-year OS and LFS",
                               subtitles=["Controls weighted to the trial cohort", cut_line(inputs)],
                               footnotes=[f"Bootstrap: {F.fmt_int(n_boot)} replicates, seed {F.fmt_int(seed)}; subjects "
                                          "resampled within cohort and the propensity model re-fitted in every replicate. "
                                          "The 2-year difference has an interval only when every replicate reaches 2 "
                                          "years in both cohorts; the RMST difference uses every fitted replicate."]
                               + named_method_lines(inputs, "iptw_km", "iptw_diff", "iptw_cox"))


def delayed_entry(inputs) -> Table:
    return CT.comparison_table(inputs.ard, "delayed_entry",
                               title="Common origin (remission before therapy) with delayed entry: 2-year OS and LFS",
                               subtitles=["Risk sets left-truncated at CAR-T1 (trial) or allo-HSCT (controls)",
                                          cut_line(inputs)],
                               footnotes=named_method_lines(inputs, "delayed_entry_n", "delayed_entry_km",
                                                            "delayed_entry_diff", "delayed_entry_cox"))


def landmark(inputs) -> Table:
    day = F.fmt_int(landmark_day(inputs.ard))
    return CT.comparison_table(inputs.ard, "landmark",
                               title="Landmark analysis: 2-year OS and LFS among subjects alive and relapse-free at "
                                     "the landmark",
                               subtitles=[f"Landmark day {day} after the remission before therapy; time re-counted "
                                          "from it", cut_line(inputs)],
                               footnotes=named_method_lines(inputs, "landmark", "landmark_n", "landmark_km",
                                                            "landmark_diff", "landmark_cox"))


def per_protocol(inputs) -> Table:
    return CT.comparison_table(inputs.ard, "per_protocol",
                               title="Per-protocol view: trial completers from CAR-T2 versus controls from allo-HSCT",
                               subtitles=["Descriptive; favours the trial cohort", cut_line(inputs)],
                               footnotes=named_method_lines(inputs, "per_protocol_n", "per_protocol_km",
                                                            "per_protocol_diff", "per_protocol_cox"))


def bias(inputs) -> Table:
    return FO.bias_table()
