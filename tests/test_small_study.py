"""A small study (an early interim of few patients): the simulator writes every cut, and a cut
whose propensity model separates the cohorts stops analyze with a named NOT ESTIMABLE message
and exit 3, not a traceback and exit 1 (both were defects: `simulate --n-trial 1` raised a
RuntimeError on a correction target not yet enrolled; analyze raised the model's ValueError)."""

from __future__ import annotations

import pytest

from analysis import cli
from analysis.errors import EXIT_BAD_DATA
from analysis.raw_io import read_form
from analysis.simulate.study import CUTS, write_cuts


@pytest.mark.parametrize("n_trial", [1, 3, 5])
def test_simulator_writes_every_cut_of_a_small_study(tmp_path, n_trial):
    assert write_cuts(tmp_path, n_trial=n_trial, n_external=10) == list(CUTS)
    for cut in CUTS:
        dm = read_form(tmp_path / cut, "dm")
        assert len(dm) <= n_trial
    assert len(read_form(tmp_path / CUTS[-1], "dm")) == n_trial   # all enrolled by the last cut


def test_a_separating_propensity_model_is_not_estimable_not_a_bug(tmp_path, capsys):
    write_cuts(tmp_path / "data" / "raw", n_trial=1, n_external=20)
    code = cli.main(["--root", str(tmp_path), "analyze"])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_DATA, err
    assert "NOT ESTIMABLE: the propensity model of the external comparison (SAP 6.5)" in err
    assert "1 infused trial patient (SAFFL = Y) and 20 controls" in err
    assert "separat" in err and "Traceback" not in err and "INTERNAL ERROR" not in err
    assert not list((tmp_path / "reports").glob("*/ard.csv"))
