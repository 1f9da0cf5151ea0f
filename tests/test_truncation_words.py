"""The weight truncation rule is worded in one place (conventions.weight_truncation_words) and
every text that states it (the ARD methods table, the propensity-weight footnote, the
target-trial table's sensitivity row) follows the configured rule (SAP 6.5, 6.7)."""

from __future__ import annotations

import pytest

from analysis import conventions as C
from analysis.analyze.pipeline import methods_table


@pytest.mark.parametrize("rule, words", [
    (None, "weights not truncated"),
    ((0, 99), "weights above the 99th percentile of all weights set to it"),
    ((1, 97.5), "weights truncated at the 1st and 97.5th percentiles of all weights"),
    ((2, 93), "weights truncated at the 2nd and 93rd percentiles of all weights"),
    ((11, 99), "weights truncated at the 11th and 99th percentiles of all weights"),
])
def test_rule_in_words(rule, words):
    assert C.weight_truncation_words(rule) == words


def test_methods_text_follows_the_configured_rules(monkeypatch):
    monkeypatch.setattr(C, "IPTW_TRUNCATE_PERCENTILES", (2, 98))
    monkeypatch.setattr(C, "IPTW_SENSITIVITY_TRUNCATE_PERCENTILES", (0, 95))
    methods = dict(methods_table().itertuples(index=False))
    assert "weights truncated at the 2nd and 98th percentiles of all weights" in methods["ps_weights"]
    assert methods["tte_cox_trunc"].endswith("weights above the 95th percentile of all weights set to it")
