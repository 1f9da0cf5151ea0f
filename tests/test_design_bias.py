"""The design at a modest N (issue 17, SAP 9): under the planted measured confounding and no
effect, the naive comparison is biased upwards, and the bias is what ATT weighting removes.

Two null scenarios x 20 replicates of a 40 + 150 patient study (in this process, no Dask).
Why paired: the naive bias is about +0.18 on the log-HR scale with an empirical SE of about 0.34
per study (measured at N = 150, benchmarks/design.py), so at N = 20 its own Monte Carlo SE
(0.34 / sqrt(20) = 0.076) leaves it at about 2.4 MCSE: not reliable. The naive-minus-weighted
difference within the same replicates has a far smaller spread, so the same 20 replicates show it
reliably (threshold 3 MCSE of the paired difference). The primary's own bias is checked against its TRUE value (the counterfactual
simulation of analysis.simulate.truth, 4000 trial patients here, MCSE about 0.05) within 3 Monte
Carlo SEs; at N = 20 that only catches a gross bias (MCSE about 0.09): the large N is the
benchmark's (`python -m benchmarks.design`, 300 replicates, MCSE about 0.02).
"""

from __future__ import annotations

import math

import pytest

from analysis.cli_design import scenario_truth, simulate_raw
from analysis.design import runner
from analysis.design.performance import performance, performance_ard
from analysis.design.replicate import ENDPOINT, PRIMARY_COMPARISON
from analysis.design.scenarios import Scenario

N = 20
CONFOUNDED = Scenario(name="null_measured", effect="null", measured=1.0)
UNCONFOUNDED = Scenario(name="null_unconfounded", effect="null", measured=0.0)


@pytest.fixture(scope="module")
def long_records(tmp_path_factory):
    out = tmp_path_factory.mktemp("design_bias")
    return runner.run_design([CONFOUNDED, UNCONFOUNDED], N, simulate_raw, out, workers=0, progress=False)


@pytest.fixture(scope="module")
def records(long_records):
    return {s: g.pivot(index="replicate", columns="comparison", values="estimate")
            for s, g in long_records.groupby("scenario")}


def _paired(wide, a: str, b: str) -> tuple[float, float]:
    d = (wide[a] - wide[b]).dropna()
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))


def test_naive_is_biased_upwards_under_measured_confounding(records):
    wide = records["null_measured"]
    m = performance(wide["naive"], wide["naive"], wide["naive"], [math.nan] * N, truth=0.0)
    assert m["n_sim"] == N and m["bias"] > 0, m
    diff, mcse = _paired(wide, "naive", "weighted")
    assert diff > 3 * mcse, (diff, mcse)


def test_without_confounding_weighting_changes_little(records):
    """Control: with the registry's covariates drawn like the trial's, the naive-minus-weighted
    difference is within 3 MCSE of 0, and much smaller than under confounding."""
    diff, mcse = _paired(records["null_unconfounded"], "naive", "weighted")
    confounded, _ = _paired(records["null_measured"], "naive", "weighted")
    assert abs(diff) < 3 * mcse and abs(diff) < confounded / 2, (diff, mcse, confounded)


def test_the_primary_is_not_biased_against_its_truth(long_records):
    """Done-when of issue 17 at a modest N (the naive side: the tests above): under the planted
    measured confounding the primary's bias against the computed truth (measured confounding does
    not enter it, SAP 9.2) is within 3 MCSE (the MCSE includes the truth's); its coverage is not
    below 0.75 (nominal 0.95; 20 replicates). (The naive-minus-primary paired difference is too
    noisy at N = 20, MCSE about 0.06: the two use different time origins.)"""
    t = scenario_truth(CONFOUNDED, n=4000)
    a = performance_ard(long_records[long_records["scenario"] == "null_measured"],
                        {"null_measured": t.values}, ENDPOINT, {"null_measured": t.mcse})
    m = a[a["variable"] == PRIMARY_COMPARISON].set_index("stat_name")["stat"]
    assert m["n_sim"] >= N - 2 and abs(m["bias"]) < 3 * m["bias_mcse"], m.to_dict()
    assert m["coverage"] >= 0.75, m.to_dict()
