"""Issue 15 after the merges (the target-trial bootstrap at scale) and issue 12's remaining gaps.

(a) The replicates' weighted product-limit curves (analysis.stats.rmst.product_limit_matrix) equal
    a brute-force risk-set sum written here (1e-12), also with delayed entry, a column map and
    replicates taken a few at a time; and their memory grows with the rows, not rows x times.
(b) RMST with delayed entry counts the not-yet-entered subjects without a rows x times matrix and
    equals a by-hand risk set (1e-12).
(c) weighted_km_difference gives no interval from a silently reduced set of replicates.
(d) Every rendered page says whether the cut is an interim or the final analysis.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest

from analysis import conventions as C
from analysis.render import html
from analysis.stats import rmst
from analysis.stats.weighting import weighted_km_difference


def _brute_force_curves(stop, event, weights, start):
    """S(t) = prod over event times of 1 - d_w / n_w, every sum written out row by row."""
    times = np.unique(stop[event > 0])
    out = np.ones((weights.shape[0], len(times)))
    for b, w in enumerate(weights):
        s = 1.0
        for k, t in enumerate(times):
            n_w = sum(w[i] for i in range(len(stop)) if start[i] < t <= stop[i])
            d_w = sum(w[i] for i in range(len(stop)) if stop[i] == t and event[i] > 0)
            s *= 1 - d_w / n_w if n_w > 0 else 1.0
            out[b, k] = s
    return times, out


def _case(seed: int, n: int = 40, n_boot: int = 5):
    rng = np.random.default_rng(seed)
    stop = rng.integers(2, 30, n).astype(float)
    start = np.where(rng.random(n) < 0.5, 0.0, rng.integers(0, 25, n)).clip(max=stop - 1)
    event = (rng.random(n) < 0.6).astype(float)
    weights = rng.integers(0, 3, (n_boot, n)) * rng.uniform(0.5, 2.0, (n_boot, n))
    return stop, event, weights, start


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_product_limit_matrix_equals_the_risk_sets_written_out(seed):
    stop, event, weights, start = _case(seed)
    times, surv, last = rmst.product_limit_matrix(stop, event, weights, start, chunk=2)
    want_times, want = _brute_force_curves(stop, event, weights, start)
    np.testing.assert_array_equal(times, want_times)
    np.testing.assert_allclose(surv, want, rtol=0, atol=1e-12)
    for b, w in enumerate(weights):
        assert last[b] == (stop[w > 0].max() if (w > 0).any() else -np.inf)
    # a column map: row i takes column cols[i] of a wider, shuffled weight matrix
    perm = np.random.default_rng(seed).permutation(len(stop))
    wide = np.zeros((weights.shape[0], len(stop) + 3))
    wide[:, perm] = weights
    _, mapped, _ = rmst.product_limit_matrix(stop, event, wide, start, columns=perm)
    np.testing.assert_allclose(mapped, want, rtol=0, atol=1e-12)


def test_product_limit_matrix_memory_grows_with_rows_not_rows_times_event_times():
    """6,000 rows with about 6,000 distinct event times: a rows x times matrix would take
    6,000^2 x 8 bytes = 288 MB; the risk sets built from entry and exit indices need a few MB."""
    rng = np.random.default_rng(7)
    n = 6000
    stop = rng.permutation(n).astype(float) + 1
    event = np.ones(n)
    weights = rng.uniform(0.5, 2.0, (8, n))
    tracemalloc.start()
    try:
        times, surv, _ = rmst.product_limit_matrix(stop, event, weights, np.zeros(n))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(times) == n and surv.shape == (8, n)
    assert peak < 40 * 2 ** 20, f"peak {peak / 2 ** 20:.0f} MB"


def test_rmst_with_delayed_entry_counts_late_entrants_by_hand_and_in_linear_memory():
    d = pd.DataFrame({"AVAL": [2.0, 3, 5, 6, 8], "CNSR": [0, 1, 0, 0, 1], "ENTRY": [0.0, 2, 1, 4, 0]})
    # risk sets (entry < t <= stop): t=2: {0,2,4} -> 1 - 1/3; t=5: {2,3,4} -> * (1 - 1/3);
    # t=6: {3,4} -> * (1 - 1/2); area to tau 8: 2*1 + 3*(2/3) + 1*(4/9) + 2*(2/9)
    want = 2 + 3 * (2 / 3) + 1 * (4 / 9) + 2 * (2 / 9)
    assert rmst.rmst(d, None, 8.0, entry="ENTRY").iloc[0]["rmst"] == pytest.approx(want, abs=1e-12)
    rng = np.random.default_rng(3)
    n = 10000  # a times x rows comparison would hold 10^8 booleans (95 MB)
    big = pd.DataFrame({"AVAL": rng.permutation(n) + 10.0, "CNSR": 0, "ENTRY": rng.uniform(0, 9, n)})
    tracemalloc.start()
    try:
        rmst.rmst(big, None, 3000.0, entry="ENTRY")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2 ** 20, f"peak {peak / 2 ** 20:.0f} MB"


def test_weighted_km_difference_gives_no_interval_from_a_reduced_set_of_replicates():
    """One long-followed subject in group B: replicates that leave it out cannot estimate B's
    curve at day 100, so the interval is not estimable unless the caller asks for the reduced set."""
    d = pd.DataFrame({"TRT": ["A"] * 6 + ["B"] * 6,
                      "AVAL": [120.0, 130, 140, 150, 160, 170, 10, 20, 30, 40, 50, 150],
                      "CNSR": [1] * 6 + [0, 0, 0, 0, 0, 1]})
    strict = weighted_km_difference(d, "TRT", 100, reference="A", n_boot=200, seed=4).iloc[0]
    assert 0 < strict["n_boot_valid"] < 200
    assert np.isnan(strict["lcl"]) and np.isnan(strict["ucl"]) and np.isnan(strict["boot_se"])
    assert strict["difference"] == pytest.approx(1 / 6 - 1.0, abs=1e-12)  # the estimate itself stays
    loose = weighted_km_difference(d, "TRT", 100, reference="A", n_boot=200, seed=4, all_replicates=False).iloc[0]
    assert np.isfinite(loose["lcl"]) and loose["n_boot_valid"] == strict["n_boot_valid"]


@pytest.mark.parametrize("cut", sorted(C.CUT_STATUS))
def test_every_page_header_says_interim_or_final(cut):
    page = html.Page(title="Safety", cut=cut, engine="fallback")
    report = html.page_resources(page)["report"]
    word = f"{C.CUT_STATUS[cut]} analysis"
    assert word in report["meta_html"] and word in report["footer_html"]


def test_page_header_of_an_undeclared_cut_says_so(monkeypatch):
    monkeypatch.setattr(C, "CUT_STATUS", {"cut-2027-12-31": "final"})
    final = html.page_resources(html.Page(title="T", cut="cut-2027-12-31", engine="fallback"))["report"]
    assert "final analysis" in final["meta_html"]
    other = html.page_resources(html.Page(title="T", cut="cut-2024-06-30", engine="fallback"))["report"]
    assert "not declared" in other["meta_html"] and "interim" not in other["meta_html"].replace("interim/final", "")


def test_percentiles_of_repeated_values_equal_numpy_on_the_repeated_array():
    from analysis.analyze.target_trial import percentiles_of_repeated
    rng = np.random.default_rng(0)
    for _ in range(200):
        values = rng.choice(rng.uniform(0, 5, 6), rng.integers(1, 25))
        counts = rng.integers(1, 5, len(values))
        for pcts in ((0, 99), (2.5, 97.5), (50,), (100,)):
            assert percentiles_of_repeated(values, counts, pcts) == list(np.percentile(np.repeat(values, counts), pcts))


def test_identifier_isin_answers_as_python_set_membership():
    from analysis.analyze.members import isin
    ids = pd.Series(["01-001", "01-002", None, "02-001", "01-002"], dtype="string[pyarrow]", index=[5, 6, 7, 8, 9])
    got = isin(ids, pd.Series(["01-002", "02-001", "09-009"], dtype="string[pyarrow]"))
    assert got.index.tolist() == [5, 6, 7, 8, 9]
    assert got.tolist() == [False, True, False, True, True]  # a missing identifier matches nothing
    assert isin(ids, {"01-001"}).tolist() == [True, False, False, False, False]


def test_worst_astct_grade_per_subject_ignores_unrecorded_grades():
    from analysis.analyze.safety import _worst_per_subject
    sub = pd.DataFrame({"USUBJID": ["a", "a", "b", "c", "c"], "ASTCTGR": ["1", "3", None, "2", "not graded"]})
    worst = _worst_per_subject(sub, "ASTCTGR")
    assert worst["a"] == 3 and np.isnan(worst["b"]) and worst["c"] == 2


def test_bench_prints_each_scale_target_with_its_verdict():
    from benchmarks.pipeline_scale import STEPS, target_lines
    ok = {step: [(1.0, 190, 0, 100.0), (9.5, 19000, 0, 900.0), (60.0, 190000, 0, 5000.0)] for step in STEPS}
    lines = target_lines([1, 100, 1000], ok)
    assert "-> met" in lines[0] and "-> met" in lines[1]
    slow = {**ok, "analyze": [(1.0, 190, 0, 100.0), (10.5, 19000, 0, 900.0), (60.0, 190000, 0, 5000.0)]}
    assert "NOT met" in target_lines([1, 100, 1000], slow)[0]
    failed = {**ok, "render": [(1.0, 190, 0, 100.0), (5.0, 19000, 0, 900.0), (900.0, 190000, "timeout", 3000.0)]}
    assert "did NOT complete" in target_lines([1, 100, 1000], failed)[1]
    big = {**ok, "derive": [(1.0, 190, 0, 100.0), (5.0, 19000, 0, 900.0), (95.0, 190000, 0, 9000.0)]}
    assert "NOT met" in target_lines([1, 100, 1000], big)[1]


def test_no_significance_wording_in_notebooks_or_presentation_code():
    """Issue 12 / SAP 3.7: every p-value is nominal; no page text says "significant" or "at the
    5% level" (the notebooks and every module that writes report text)."""
    from pathlib import Path
    repo = Path(__file__).resolve().parent.parent
    files = sorted((repo / "analysis" / "notebooks").glob("*.qmd")) + sorted((repo / "analysis" / "present").rglob("*.py"))
    assert len(files) > 8
    for f in files:
        text = f.read_text().lower()
        for phrase in ("significan", "5% level", "5 % level"):
            assert phrase not in text, f"{f.relative_to(repo)}: {phrase!r}"
