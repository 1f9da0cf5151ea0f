"""Issue 16: the statistics layer emits ARD rows (cards shape) for its estimates directly, so the
analysis layer only names the analysis (``ard.with_context``) and no longer converts result
frames by hand (``ard.from_frame`` is gone).

Small hand-made data with results computed by hand (Kaplan-Meier product limit, Aalen-Johansen
with one competing event); tolerance 1e-12 (exact arithmetic in floating point).
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import ard
from analysis.stats import cards, competing, survival

TOL = 1e-12


@pytest.fixture
def adtte() -> pd.DataFrame:
    # group A: events at 1, 3, 4, censored at 2 -> S(1) = 3/4, S(3) = 3/4 * 1/2 = 3/8
    # group B: events at 2, censored at 5, 6    -> S(1) = 1, S(3) = 2/3
    return pd.DataFrame({"GRP": ["A"] * 4 + ["B"] * 3, "AVAL": [1, 2, 3, 4, 2, 5, 6],
                         "CNSR": [0, 1, 0, 0, 0, 1, 1]})


def test_km_cards_one_row_per_statistic_in_the_order_of_the_estimates(adtte):
    km = survival.km_estimates(adtte, "GRP", [1, 3])
    rows = cards.km_cards(km, "GRP", ("n_risk", "surv"))
    assert list(rows.columns) == cards.CARDS_COLUMNS
    assert list(rows["stat_name"]) == ["n_risk", "surv"] * 4
    assert list(rows["group1"].unique()) == ["GRP"] and list(rows["variable"].unique()) == ["AVAL"]
    surv = rows[rows["stat_name"] == "surv"]
    assert list(surv["group1_level"]) == ["A", "A", "B", "B"]
    assert [float(t) for t in surv["variable_level"]] == [1.0, 3.0, 1.0, 3.0]
    assert surv["stat"].tolist() == pytest.approx([3 / 4, 3 / 8, 1.0, 2 / 3], abs=TOL)
    assert rows.loc[rows["stat_name"] == "n_risk", "stat"].tolist() == [4, 2, 3, 2]   # at risk just before t


def test_km_cards_become_ard_rows_with_only_the_analysis_named(adtte):
    km = survival.km_estimates(adtte, "GRP", [1, 3])
    rows = ard.check(ard.with_context(cards.km_cards(km, "GRP"), "km", "OS"))
    assert ard.lookup(rows, context="km", param="OS", group1_level="A", variable_level="3",
                      stat_name="surv") == pytest.approx(3 / 8, abs=TOL)
    assert set(rows["stat_label"]) >= {"Survival probability", "Number at risk"}
    assert not hasattr(ard, "from_frame")   # the hand conversion is gone


def test_km_quantile_cards_name_the_median(adtte):
    # A: 1 - S(t) >= 0.5 first at t = 3 (S = 3/8); B: S never falls to 0.5 -> median not reached
    med = survival.km_quantiles(adtte, "GRP", probs=(0.5,))
    rows = cards.km_quantile_cards(med, "GRP")
    assert set(rows["variable_level"]) == {"median"} and list(rows["stat_name"]) == ["median", "lcl", "ucl"] * 2
    median = rows[rows["stat_name"] == "median"].set_index("group1_level")["stat"]
    assert median["A"] == 3 and pd.isna(median["B"])


def test_cif_cards_take_one_cause():
    # one group, causes 1 and 2: event of cause 1 at 1, cause 2 at 2, censored at 3, cause 1 at 4
    data = pd.DataFrame({"G": ["X"] * 4, "AVAL": [1, 2, 3, 4], "EVNTTYPE": [1, 2, 0, 1]})
    cif = competing.cumulative_incidence(data, "G", [2, 4], event_type="EVNTTYPE")
    rows = cards.cif_cards(cif, "G", cause=1)
    value = rows[rows["stat_name"] == "cif"]["stat"].tolist()
    # Aalen-Johansen: F1(2) = 1/4; F1(4) = 1/4 + S(4-) * 1/1 = 1/4 + 3/4 * 2/3 = 3/4 (n_event: cumulative)
    assert value == pytest.approx([1 / 4, 3 / 4], abs=TOL)
    assert rows[rows["stat_name"] == "n_event"]["stat"].tolist() == [1, 2]


def test_balance_cards_carry_the_comparison_and_the_covariate_level():
    """The compared level is group1_level, the reference level has its own column (group2
    REFERENCE), never "T vs C" in one string."""
    bal = pd.DataFrame({"covariate": ["AGE", "SEX"], "level": ["", "F"], "smd_unweighted": [0.5, -0.2],
                        "smd_weighted": [0.05, 0.01], "mean_treated": [40.0, 0.5], "mean_control": [35.0, 0.6],
                        "mean_control_weighted": [39.5, 0.51]})
    rows = cards.balance_cards(bal, "ARM", "T", "C")
    assert set(rows["group1_level"]) == {"T"} and set(rows["group1"]) == {"ARM"}
    assert set(rows["group2"]) == {cards.REFERENCE_GROUP} and set(rows["group2_level"]) == {"C"}
    sex = rows[(rows["variable"] == "SEX") & (rows["variable_level"] == "F")].set_index("stat_name")["stat"]
    assert sex["smd_unweighted"] == -0.2 and sex["mean_control_weighted"] == 0.51
    assert len(rows) == 2 * len(cards.BALANCE_STATS)


def test_table1_cards_put_the_smd_reference_group_in_its_own_column():
    """Table 1 SMD rows of groups A and B: group1_level A, group2 REFERENCE at level B; the other
    rows have no group2. SMD of AGE by hand: |mean_A - mean_B| / sqrt((var_A + var_B) / 2) with
    A = 20, 30 (mean 25, var 50) and B = 40, 60 (mean 50, var 200): 25 / sqrt(125)."""
    adsl = pd.DataFrame({"ARM": ["A", "A", "B", "B"], "AGE": [20.0, 30.0, 40.0, 60.0]})
    rows = cards.table1_cards(adsl, "ARM", ["AGE"], total=False)
    smd = rows[rows["stat_name"] == "smd"]
    assert smd[["group1_level", "group2", "group2_level"]].values.tolist() == [["A", cards.REFERENCE_GROUP, "B"]]
    assert smd["stat"].item() == pytest.approx(25 / 125 ** 0.5, abs=1e-12)
    assert set(rows.loc[rows["stat_name"] != "smd", "group2"]) == {""}
    assert not rows.apply(lambda c: c.astype(str).str.contains(" vs ")).any().any()


def test_ard_rows_of_a_comparison_keep_both_levels_in_their_own_columns():
    rows = ard.rows("cox", "OS", ard.Comparison("T", "C"), "ARM", "", {"hr": 0.5})
    assert rows[["group1", "group1_level", "group2", "group2_level"]].values.tolist() == [
        [ard.DEFAULT_GROUP1, "T", ard.REFERENCE_GROUP, "C"]]
