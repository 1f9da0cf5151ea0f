"""The design runner (issue 17, SAP 9): Monte Carlo SE formulas against a hand computation, the
scenario file's errors, seeds, the simulator adapter, resume and the command line. The Dask and
statistical checks are in tests/test_design_dask.py."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis import ard, cli
from analysis.design import output, runner
from analysis.design.performance import performance
from analysis.design.scenarios import CUTS, Scenario, load_scenarios
from analysis.errors import EXIT_USAGE, UsageError

SMALL = Scenario(name="small", effect="null", n_trial=12, n_external=40)


def test_monte_carlo_se_formulas_against_a_hand_computation():
    # 4 replicates, truth 0. Hand: mean 0.15; squared deviations 0.0025 + 0.0225 + 0.1225 + 0.0625
    # = 0.21; empSE = sqrt(0.21 / 3) = 0.264575; MCSE(bias) = empSE / sqrt(4) = 0.132288;
    # MCSE(empSE) = empSE / sqrt(2 * 3) = 0.108012. Intervals cover 0 in 3 of 4: coverage 0.75,
    # MCSE sqrt(0.75 * 0.25 / 4) = 0.216506. p < 0.05 in 1 of 4: 0.25, same MCSE.
    m = performance([0.1, 0.3, -0.2, 0.4], lcl=[-0.1, 0.05, -0.5, -0.1], ucl=[0.3, 0.6, 0.1, 0.9],
                    p=[0.4, 0.01, 0.2, 0.3], truth=0.0)
    assert m["mean"] == pytest.approx(0.15, abs=1e-12)
    assert m["bias"] == pytest.approx(0.15, abs=1e-12)
    assert m["empse"] == pytest.approx(0.2645751311, abs=1e-9)
    assert m["bias_mcse"] == pytest.approx(0.1322875656, abs=1e-9)
    assert m["empse_mcse"] == pytest.approx(0.1080123450, abs=1e-9)
    assert m["coverage"] == 0.75 and m["coverage_mcse"] == pytest.approx(0.2165063509, abs=1e-9)
    assert m["rejection"] == 0.25 and m["rejection_mcse"] == pytest.approx(0.2165063509, abs=1e-9)
    assert (m["n_sim"], m["n_failed"], m["n_ci"], m["n_p"]) == (4, 0, 4, 4)


def test_not_estimable_replicates_are_counted_and_unknown_truth_gives_no_bias():
    m = performance([0.2, math.nan, 0.4], lcl=[0.0, math.nan, math.nan], ucl=[0.5, math.nan, math.nan],
                    p=[0.01, math.nan, 0.5], truth=math.nan)
    assert (m["n_sim"], m["n_failed"], m["n_ci"], m["n_p"]) == (2, 1, 1, 2)
    assert math.isnan(m["bias"]) and math.isnan(m["coverage"])
    assert m["mean"] == pytest.approx(0.3) and m["rejection"] == 0.5


def test_the_shipped_scenario_file_loads_and_its_cuts_are_the_simulators():
    from analysis.cli_design import DEFAULT_SCENARIOS
    from analysis.simulate import params
    assert CUTS == params.CUTS
    scenarios = load_scenarios(DEFAULT_SCENARIOS)
    names = [s.name for s in scenarios]
    assert "null_measured" in names and "planted" in names and len(set(names)) == len(names)


@pytest.mark.parametrize("text, words", [
    ("[[scenario]]\nname = 'a'\nmeasurd = 1\n", ["scenario 1", "measurd"]),
    ("[[scenario]]\nname = 'a'\nn_trial = 'forty'\n", ["scenario 1", "n_trial"]),
    ("[[scenario]]\nname = 'a'\n[[scenario]]\nname = 'a'\n", ["repeated", "a"]),
    ("[[scenario]]\nname = 'a'\neffect = 'huge'\n", ["effect", "huge"]),
    ("[[scenario]]\nname = 'a'\ncut = 'cut-2030-01-01'\n", ["cut-2030-01-01"]),
    ("name = 'a'\n", ["no [[scenario]]"]),
    ("[[scenario\n", ["not valid TOML"]),
])
def test_a_bad_scenario_file_is_a_usage_error_naming_file_scenario_and_key(tmp_path, text, words):
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as exc:
        load_scenarios(path)
    assert str(path) in str(exc.value) and all(w in str(exc.value) for w in words)


def test_cli_exit_code_2_on_a_bad_scenario_file(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text("[[scenario]]\nname = 'a'\nbogus = 1\n")
    assert cli.main(["design", "--scenarios", str(path), "--replicates", "2", "--out", str(tmp_path / "o")]) \
        == EXIT_USAGE
    assert "bogus" in capsys.readouterr().err


def test_replicate_seeds_are_spawned_per_scenario_and_replicate_and_do_not_depend_on_n():
    seeds = runner.replicate_seeds(7, 2, 5)
    expected = [int(r.generate_state(1, np.uint64)[0]) for r in np.random.SeedSequence(7).spawn(2)[1].spawn(5)]
    assert seeds[1] == expected
    assert runner.replicate_seeds(7, 2, 3)[1] == seeds[1][:3]   # growing N keeps the first replicates
    assert len({s for row in seeds for s in row}) == 10


def test_the_adapter_with_the_shipped_settings_reproduces_the_shipped_simulator_and_restores_it():
    from analysis.cli_design import simulate_raw
    from analysis.simulate import outcomes, params
    from analysis.simulate.study import cut_files, simulate_study
    before = (params.OUTCOME_MODEL, outcomes.draw_outcome.__defaults__, params.EXTERNAL_COVARIATES)
    shipped = Scenario(name="shipped", effect="planted", measured=1.0, unmeasured_shift_sd=-0.3,
                       unmeasured_log_hr_per_sd=math.log(1.5), n_trial=15, n_external=30, cut=CUTS[-1])
    assert simulate_raw(shipped, 11) == cut_files(simulate_study(11, n_trial=15, n_external=30), CUTS[-1])
    null = simulate_raw(Scenario(name="n", effect="null", measured=0.0, n_trial=15, n_external=30), 11)
    assert null != cut_files(simulate_study(11, n_trial=15, n_external=30), CUTS[-1])
    assert (params.OUTCOME_MODEL, outcomes.draw_outcome.__defaults__, params.EXTERNAL_COVARIATES) == before


def test_measured_zero_gives_the_registry_the_trials_covariate_distribution():
    from analysis.cli_design import _scenario_models
    from analysis.simulate import params
    _, trial, ext, site_hr, unmeasured = _scenario_models(Scenario(name="a", measured=0.0))
    assert (ext.age_mean, ext.cr2, ext.mrd_positive) == (trial.age_mean, trial.cr2, trial.mrd_positive)
    assert site_hr == {} and not unmeasured.enabled
    _, _, ext2, _, _ = _scenario_models(Scenario(name="b", measured=2.0))
    shipped = params.EXTERNAL_COVARIATES
    assert ext2.mrd_positive == pytest.approx(2 * shipped.mrd_positive - trial.mrd_positive)


def _counting_simulate(calls):
    from analysis.cli_design import simulate_raw

    def simulate(scenario, seed):
        calls.append(seed)
        return simulate_raw(scenario, seed)
    return simulate


def test_an_interrupted_run_resumes_from_the_chunks_written_and_gives_the_same_result(tmp_path):
    calls: list[int] = []
    sim = _counting_simulate(calls)
    whole = runner.run_design([SMALL], 4, sim, tmp_path / "a", chunk_size=2, workers=0, progress=False)
    assert len(calls) == 4
    # a run killed after its first chunk: only the second chunk is computed again
    (tmp_path / "b").mkdir()
    runner.run_design([SMALL], 2, sim, tmp_path / "b", chunk_size=2, workers=0, progress=False)
    calls.clear()
    resumed = runner.run_design([SMALL], 4, sim, tmp_path / "b", chunk_size=2, workers=0, progress=False,
                                say=lambda m: None)
    assert len(calls) == 2
    pd.testing.assert_frame_equal(whole, resumed)
    assert runner.records_bytes(whole) == runner.records_bytes(resumed)
    with pytest.raises(UsageError, match="other settings"):
        runner.run_design([SMALL], 4, sim, tmp_path / "b", chunk_size=2, n_boot=5, workers=0, progress=False)


def test_outputs_are_an_ard_a_table_a_figure_and_a_page(tmp_path):
    records = pd.DataFrame({"scenario": "small", "replicate": [0, 1, 2], "comparison": "naive",
                            "estimand": "log_hr", "estimate": [0.1, 0.3, 0.2], "se": 0.1,
                            "lcl": [-0.1, 0.1, -0.2], "ucl": [0.3, 0.5, 0.6], "p": [0.3, 0.01, 0.2]})
    written = output.write_outputs(tmp_path, records, [SMALL], {"replicates": 3}, truths={"small": {"log_hr": 0.0}},
                                   truth_mcse={"small": {"log_hr": 0.0}})
    ard_ = pd.read_csv(tmp_path / "design_ard.csv", keep_default_na=False, na_values={"stat": ["nan"]})
    assert list(ard_.columns) == ard.ARD_COLUMNS
    row = ard_.set_index("stat_name")["stat"]
    assert row["bias"] == pytest.approx(0.2) and row["coverage"] == pytest.approx(2 / 3)
    assert written["table"].loc[0, "rejection is"] == "type I error"
    page = (tmp_path / "index.html").read_text()
    assert "<svg" in page and "Naive Cox" in page and "0.200 (0.058)" in page


def test_one_replicate_gives_every_comparison_and_a_bootstrap_rmst_interval_when_asked():
    from analysis.cli_design import simulate_raw
    from analysis.design.replicate import COMPARISONS, run_replicate
    from analysis.paths import cut_date
    scenario = Scenario(name="one", effect="planted", n_trial=30, n_external=90)
    files = simulate_raw(scenario, 3)
    plain = run_replicate(files, cut_date(scenario.cut)).set_index("comparison")
    boot = run_replicate(files, cut_date(scenario.cut), n_boot=20, seed=3).set_index("comparison")
    assert list(plain.index) == list(COMPARISONS)
    assert plain[["estimate", "lcl", "ucl", "p"]].drop(index="rmst").notna().all(axis=None)
    naive = plain.loc["naive"]
    assert naive["lcl"] < naive["estimate"] < naive["ucl"] and 0 <= naive["p"] <= 1
    assert math.isnan(plain.loc["rmst", "lcl"]) and boot.loc["rmst", "estimate"] == plain.loc["rmst", "estimate"]
    r = boot.loc["rmst"]
    assert r["lcl"] < r["ucl"] and r["p"] == float(not r["lcl"] <= 0 <= r["ucl"])
