"""The weighting bootstrap spread over processes (issue 15) gives the replicates of one serial loop.

analysis.analyze.forked fills chunks of replicates in forked processes, each chunk starting from
the random-number state the serial loop reaches there; these tests compare W and ok bit for bit
with the serial computation (workers=1), including a replicate whose model cannot be fitted and a
worker that dies. The replicates themselves are checked against statsmodels in
tests/test_target_trial.py (test_bootstrap_replicate_is_a_refit_on_the_resampled_subjects).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from analysis.analyze import forked, target_trial
from analysis.analyze.external import DISCRETE_COVARIATES, PS_COVARIATES, TREATED


def subject_frame(n: int = 240, seed: int = 3) -> pd.DataFrame:
    """Hand-made subjects: numeric covariates normal, discrete ones two or three levels, treatment
    depending on age (so the propensity model has something to fit)."""
    rng = np.random.default_rng(seed)
    data = {}
    for c in PS_COVARIATES:
        data[c] = (rng.choice(["A", "B", "C"][: 2 + (c == "CYTORISK")], n) if c in DISCRETE_COVARIATES
                   else rng.normal(size=n))
    frame = pd.DataFrame(data)
    frame[TREATED] = (rng.random(n) < 1 / (1 + np.exp(-frame["AGE"]))).astype(int)
    return frame


@pytest.mark.parametrize("workers", [2, 3])
def test_parallel_replicates_equal_the_serial_loop(workers):
    frame = subject_frame()
    W1, ok1 = target_trial.bootstrap_weights(frame, 25, seed=11, workers=1)
    Wn, okn = target_trial.bootstrap_weights(frame, 25, seed=11, workers=workers)
    assert np.array_equal(W1, Wn) and np.array_equal(ok1, okn)
    assert ok1.all() and (W1.sum(axis=1) > 0).all()
    assert not np.array_equal(W1[0], W1[24]), "replicates differ: each chunk does not restart the generator"


def test_a_failed_replicate_stays_failed_in_parallel():
    frame = subject_frame(n=40, seed=5)
    frame.loc[frame[TREATED] == 1, "LOGWBC"] = 10.0   # near separation: some replicates cannot be fitted
    frame.loc[frame[TREATED] == 0, "LOGWBC"] = -10.0
    W1, ok1 = target_trial.bootstrap_weights(frame, 12, seed=2, workers=1)
    W2, ok2 = target_trial.bootstrap_weights(frame, 12, seed=2, workers=2)
    assert not ok1.all()
    assert np.array_equal(ok1, ok2) and np.array_equal(W1, W2)
    assert (W2[~ok2] == 0).all()


def test_a_dead_worker_is_replaced_by_this_process(monkeypatch, capfd):
    parent = os.getpid()
    real = target_trial._replicate_weights

    def dies_in_a_child(*args):
        if os.getpid() != parent:
            os._exit(9)   # as if killed by the system
        return real(*args)
    frame = subject_frame()
    W1, ok1 = target_trial.bootstrap_weights(frame, 10, seed=4, workers=1)
    monkeypatch.setattr(target_trial, "_replicate_weights", dies_in_a_child)
    W2, ok2 = target_trial.bootstrap_weights(frame, 10, seed=4, workers=2)
    assert np.array_equal(W1, W2) and np.array_equal(ok1, ok2)
    assert "bootstrap worker process (replicates 6-10) stopped" in capfd.readouterr().err


def test_chunks_cover_every_row_once():
    for n, w in ((10, 3), (1000, 2), (1, 4), (0, 2)):
        parts = forked.chunks(n, w)
        assert [i for a, b in parts for i in range(a, b)] == list(range(n))


def test_workers_setting(monkeypatch):
    monkeypatch.delenv(forked.WORKERS_ENV, raising=False)
    assert forked.default_workers(1000 * 190) == 1   # the shipped study: not worth a fork
    monkeypatch.setenv(forked.WORKERS_ENV, "3")
    assert forked.default_workers(10) == 3


def test_fixed_information_steps_reach_the_newton_fit(monkeypatch):
    """A large study's replicates are fitted with steps scaled by the full data's information
    matrix (target_trial.FIXED_HESSIAN_MIN_SUBJECTS): the same maximum as Newton-Raphson to the
    step tolerance (1e-10), so the weights agree to 1e-8 relative and the same replicates fail."""
    frame = subject_frame(n=600, seed=8)
    monkeypatch.setattr(target_trial, "FIXED_HESSIAN_MIN_SUBJECTS", 10**9)
    W_newton, ok_newton = target_trial.bootstrap_weights(frame, 20, seed=6, workers=1)
    monkeypatch.setattr(target_trial, "FIXED_HESSIAN_MIN_SUBJECTS", 0)
    W_fixed, ok_fixed = target_trial.bootstrap_weights(frame, 20, seed=6, workers=1)
    assert np.array_equal(ok_newton, ok_fixed) and ok_fixed.all()
    np.testing.assert_allclose(W_fixed, W_newton, rtol=1e-8, atol=1e-12)
    assert not np.array_equal(W_fixed, W_newton), "the fixed-information path was taken"


def test_fixed_information_fit_that_does_not_converge_falls_back_to_newton():
    rng = np.random.default_rng(1)
    x = np.column_stack([np.ones(300), rng.normal(size=300)])
    y = (rng.random(300) < 1 / (1 + np.exp(-2 * x[:, 1]))).astype(float)
    newton = target_trial._logistic_fit(x, y)
    with pytest.raises(FloatingPointError):   # a useless scaling: no convergence in the allowed steps
        target_trial._logistic_fit(x, y, np.zeros(2), np.ones(300), hessian_inv=np.eye(2) * 1e-6)
    w = target_trial._replicate_weights(x, y, np.ones(300), np.zeros(2), np.eye(2) * 1e-6)
    np.testing.assert_allclose(w, target_trial._att_from_design(x, y, newton), rtol=1e-9)


def _workers_seen_in_daemon(queue, n_cells):
    queue.put(forked.default_workers(n_cells))


def test_no_fork_inside_a_daemonic_worker(monkeypatch):
    """A Dask worker (analysis design) is daemonic and may not start children: the bootstrap must
    run in-process there even for a large matrix (defect: 'daemonic processes are not allowed to
    have children' at scenario sizes of 10^6 subject-replicates)."""
    import multiprocessing
    monkeypatch.delenv(forked.WORKERS_ENV, raising=False)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_workers_seen_in_daemon, args=(queue, 10**8), daemon=True)
    proc.start()
    seen = queue.get(timeout=30)
    proc.join()
    assert seen == 1


def test_replicates_do_not_depend_on_the_blas_threads():
    """Every bootstrap process computes with one BLAS thread (analysis.workers.one_blas_thread):
    the same digits whether the caller's BLAS runs one thread or several. At 50,000 subjects a
    matrix-vector product is split between OpenBLAS threads, and the sums' order changed the
    re-fitted weights in the 13th digit (and let two processes' threads compete for the cores)."""
    from threadpoolctl import threadpool_limits
    frame = subject_frame(n=50000, seed=7)
    results = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            results.append(target_trial.bootstrap_weights(frame, 4, seed=5, workers=1))
    (W1, ok1), (W2, ok2) = results
    assert ok1.all() and np.array_equal(ok1, ok2)
    assert np.array_equal(W1, W2)
