"""analysis.ard (the one owner of the analysis results dataset) and analysis.stats.cards (the
statistics layer's rows in the cards shape), on small hand-written frames."""

import io

import numpy as np
import pandas as pd
import pytest

from analysis import ard
from analysis.stats import cards

TRIAL = "SANDWICH"


def _small() -> pd.DataFrame:
    return ard.concat([
        ard.rows("km", "OS", TRIAL, "AVAL", 730.5, {"surv": 0.8125, "n_risk": 12, "lcl": float("nan")}),
        ard.rows("cut_status", "CUT", "cut-2024-06-30", "status", "interim", {"status_code": 1}, group1="CUT"),
        ard.rows("ae", "any grade", TRIAL, "AEDECOD", "Pyrexia", {"n_subj": 3, "pct": 100 / 3},
                 group2="AEBODSYS", group2_level="General disorders"),
    ])


def test_rows_fill_the_cards_columns_and_labels():
    a = _small()
    assert list(a.columns) == ard.ARD_COLUMNS
    assert {"group1", "group1_level", "group2", "group2_level", "variable", "variable_level", "stat_name",
            "stat_label", "stat", "context"} <= set(a.columns)
    km = a[a["context"] == "km"].set_index("stat_name")
    assert km.loc["surv", "group1"] == "COHORT" and km.loc["surv", "group1_level"] == TRIAL
    assert km.loc["surv", "variable_level"] == "730.5"
    assert km.loc["n_risk", "stat_label"] == "Number at risk" and km.loc["lcl", "stat_label"] == "CI lower"
    assert a.loc[a["context"] == "cut_status", "group1"].item() == "CUT"
    term = a[(a["context"] == "ae") & (a["stat_name"] == "pct")].iloc[0]
    # the hierarchy sits in its own columns: nothing to parse back
    assert (term["group2"], term["group2_level"], term["variable_level"]) == ("AEBODSYS", "General disorders", "Pyrexia")
    assert term["stat_label"] == "%"


def test_csv_round_trip_is_exact_and_byte_deterministic(tmp_path):
    a = _small()
    first = ard.to_csv_bytes(a)
    back = ard.read(io.BytesIO(first))
    pd.testing.assert_frame_equal(back, ard.check(a.astype({c: str for c in ard.TEXT_COLUMNS})))
    assert back.loc[back["stat_name"] == "pct", "stat"].item() == 100 / 3       # 17 significant digits
    assert np.isnan(back.loc[back["stat_name"] == "lcl", "stat"].item())
    assert ard.to_csv_bytes(back) == first                                      # read -> write: same bytes
    written = ard.write(a, tmp_path, pd.DataFrame({"analysis": ["km"], "method": ["Kaplan-Meier"]}))
    assert written.read_bytes() == first
    pd.testing.assert_frame_equal(ard.read(tmp_path / ard.ARD_PARQUET), back)
    assert ard.read_methods(tmp_path / ard.ARD_METHODS)["analysis"].tolist() == ["km"]


def test_check_rejects_duplicate_keys_missing_columns_and_text_stats():
    a = _small()
    with pytest.raises(ard.ArdSchemaError, match="keys not unique"):
        ard.check(pd.concat([a, a.head(1)], ignore_index=True))
    with pytest.raises(ard.ArdSchemaError, match=r"missing \['group2_level'\]"):
        ard.check(a.drop(columns="group2_level"))
    with pytest.raises(ard.ArdSchemaError, match="numeric"):
        ard.check(a.assign(stat=["x"] * len(a)))
    # the same key under another group2 level is a different result, not a duplicate
    ard.check(pd.concat([a, a.tail(1).assign(group2_level="Other SOC")], ignore_index=True))


def test_a_schema_1_ard_is_named_as_such(tmp_path):
    legacy = tmp_path / "ard.csv"
    legacy.write_text("analysis,param,group,variable,level,stat_name,stat\nkm,OS,SANDWICH,AVAL,730.5,surv,0.8\n")
    with pytest.raises(ard.ArdSchemaError) as err:
        ard.read(legacy)
    text = str(err.value)
    assert str(legacy) in text and "schema version 1" in text
    assert f"reads schema version {ard.ARD_SCHEMA_VERSION}" in text and "re-lock" in text
    with pytest.raises(ard.ArdSchemaError, match="schema version 1"):
        ard.read_text(legacy)
    assert ard.schema_of(legacy) == "1"
    current = tmp_path / "current.csv"
    current.write_bytes(ard.to_csv_bytes(_small()))
    assert ard.schema_of(current) == ard.ARD_SCHEMA_VERSION
    schema_2 = tmp_path / "schema2.csv"      # before the grade scope got its own columns (group3)
    _small()[ard.EARLIER_COLUMNS["2"]].to_csv(schema_2, index=False)
    assert ard.schema_of(schema_2) == "2" != ard.ARD_SCHEMA_VERSION


def test_lookup_and_select():
    a = _small()
    assert ard.lookup(a, context="km", variable_level=730.5, stat_name="n_risk") == 12
    with pytest.raises(KeyError, match="2 rows"):
        ard.lookup(a, context="ae")
    with pytest.raises(KeyError, match="no column 'level'"):
        ard.select(a, level="730.5")


def test_select_through_the_context_index_equals_a_mask_and_sees_a_reassigned_column():
    """``select`` / ``stat_values`` find a context's rows through an index built once per frame
    (issue 15, rtf step): every (context, stat_name) selection equals the plain boolean mask, in
    the ARD's row order and index; a column reassigned after a lookup, and a rebuilt frame, are
    looked up afresh, never through a stale index."""
    a = ard.concat([_small(), ard.rows("km", "OS", "ALLO_EXT", "AVAL", 730.5, {"surv": 0.5, "n_risk": 3})])
    for context, stat_name in a[["context", "stat_name"]].drop_duplicates().itertuples(index=False):
        mask = a[(a["context"] == context) & (a["stat_name"] == stat_name)]
        pd.testing.assert_frame_equal(ard.select(a, context=context, stat_name=stat_name), mask)
        np.testing.assert_array_equal(ard.stat_values(a, context=context, stat_name=stat_name), mask["stat"])
    assert ard.select(a, context="absent").empty and len(ard.stat_values(a, context="km", param="LFS")) == 0
    assert ard.stat_values(a, context="km", group1_level="ALLO_EXT", stat_name="surv").tolist() == [0.5]
    a["group1_level"] = a["group1_level"].str.replace("ALLO_EXT", "CONTROL")
    assert ard.stat_values(a, context="km", group1_level="CONTROL", stat_name="surv").tolist() == [0.5]
    a["context"] = a["context"].str.replace("km", "kaplan_meier")
    assert ard.select(a, context="km").empty and len(ard.select(a, context="kaplan_meier")) == 5
    b = a.astype({c: object for c in ard.TEXT_COLUMNS})   # NumPy-backed text columns
    b["param"] = b["param"].replace("OS", "PFS")
    assert len(ard.select(b, context="kaplan_meier", param="PFS")) == 5


def test_diff_states_and_tolerance():
    old = ard.read(io.BytesIO(ard.to_csv_bytes(_small())))
    new = old.copy()
    new.loc[new["stat_name"] == "n_risk", "stat"] = 13                           # a count: exact
    new.loc[new["stat_name"] == "surv", "stat"] = 0.8125 * (1 + 1e-12)          # within 1e-9 relative
    new = new[new["context"] != "cut_status"]
    d = ard.diff(ard.read_text(io.BytesIO(ard.to_csv_bytes(old))), ard.read_text(io.BytesIO(ard.to_csv_bytes(new))))
    status = d.set_index("stat_name")["status"]
    assert status["n_risk"] == "changed" and status["surv"] == "same" and status["status_code"] == "removed"
    assert d.set_index("stat_name").loc["n_risk", "delta"] == 1


def test_with_context_completes_stats_rows():
    rows = pd.DataFrame({"group1": "ARM", "group1_level": "A", "variable": "AGE", "variable_level": "",
                         "stat_name": ["mean", "sd"], "stat": [50.0, 10.0]})
    out = ard.with_context(rows, "table1", "ADSL")
    assert list(out.columns) == ard.ARD_COLUMNS
    assert out["context"].unique().tolist() == ["table1"] and out["param"].unique().tolist() == ["ADSL"]
    assert out["stat_label"].tolist() == ["Mean", "SD"] and out["group2"].unique().tolist() == [""]


# --- analysis.stats.cards: hand-counted incidence in the cards shape ----------------------------------

def _adae_adsl():
    adsl = pd.DataFrame({"USUBJID": ["S1", "S2", "S3", "S4"], "ARM": ["A", "A", "A", "B"], "SAFFL": "Y"})
    adae = pd.DataFrame({"USUBJID": ["S1", "S1", "S2", "S4"],
                         "AEBODSYS": ["Infections", "Infections", "Infections", "Cardiac"],
                         "AEDECOD": ["Pneumonia", "Pneumonia", "Sepsis", "Tachycardia"],
                         "TRTEMFL": "Y", "ATOXGR": ["2", "3", "4", "1"]})
    return adae, adsl


def test_ae_summary_cards_carry_the_soc_of_a_term_in_group2():
    adae, adsl = _adae_adsl()
    rows = cards.ae_summary_cards(adae, adsl, "ARM", grade=None)
    assert list(rows.columns) == cards.CARDS_COLUMNS and set(rows["group3"]) == {""}   # no grade scope
    n = rows[rows["stat_name"] == "n_subj"]
    term = n[(n["variable"] == "AEDECOD") & (n["group1_level"] == "A")].set_index("variable_level")
    # arm A (N = 3): pneumonia in S1 only (two events, one subject), sepsis in S2
    assert term.loc["Pneumonia", "stat"] == 1 and term.loc["Sepsis", "stat"] == 1
    assert term.loc["Tachycardia", "stat"] == 0                       # a term of arm B only: 0 in arm A
    assert set(term["group2"]) == {"AEBODSYS"}
    assert term["group2_level"].to_dict() == {"Pneumonia": "Infections", "Sepsis": "Infections", "Tachycardia": "Cardiac"}
    soc = n[(n["variable"] == "AEBODSYS") & (n["group1_level"] == "A")].set_index("variable_level")
    assert soc.loc["Infections", "stat"] == 2 and soc.loc["Infections", "group2"] == ""
    pct = rows[(rows["stat_name"] == "pct") & (rows["variable_level"] == "Infections") & (rows["group1_level"] == "A")]
    assert pct["stat"].item() == pytest.approx(200 / 3)
    events = rows[(rows["stat_name"] == "n_events") & (rows["variable"] == "ANY") & (rows["group1_level"] == "A")]
    assert events["stat"].item() == 3
    assert set(rows["group1"]) == {"ARM"}


def test_ae_grade_scope_is_its_own_column_not_text_in_param():
    """Issue 16: schema 2 packed the grade scope into param ("worst grade 3"); now it is group3 =
    the grade variable with the scope as its level. Hand counts: arm A worst grades S1 3, S2 4."""
    adae, adsl = _adae_adsl()
    rows = cards.ae_summary_cards(adae, adsl, "ARM", grade="ATOXGR")
    assert set(rows["group3"]) == {"", "ATOXGR"} and "param" not in rows
    any_a = rows[(rows["variable"] == "ANY") & (rows["group1_level"] == "A") & (rows["stat_name"] == "n_subj")]
    by_scope = any_a.set_index("group3_level")["stat"]
    assert by_scope[""] == 2 and by_scope["3"] == 1 and by_scope["4"] == 1 and by_scope[">=3"] == 2
    assert by_scope["1"] == 0 and by_scope["2"] == 0        # S1's grade 2 event is not its worst
    assert set(any_a.loc[any_a["group3_level"] == "", "group3"]) == {""}


def test_the_statistics_layer_names_the_reference_group_as_the_ard_does():
    assert cards.REFERENCE_GROUP == ard.REFERENCE_GROUP
