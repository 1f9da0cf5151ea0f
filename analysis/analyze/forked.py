"""Fill the rows of a matrix in forked processes (issue 15: the weighting bootstrap's 1,000
propensity re-fits were most of analyze at 100x the study).

``fill_rows(shape, fill, workers)`` splits the rows 0..n into contiguous chunks, one per
process; ``fill(matrix, ok, first, stop)`` writes rows first..stop-1 of ``matrix`` and ``ok``.
Both live in anonymous SHARED memory made before the fork, so the children write into the
parent's arrays and nothing is pickled. The parent fills the first chunk itself. ``fill`` must
be deterministic and its rows independent of the chunking (the caller hands each chunk the
random-number state it would have had in one serial loop), so the result does not depend on the
number of processes; its caller (target_trial.bootstrap_weights) runs it inside
analysis.workers.one_blas_thread, so that every process computes with one BLAS thread and the
result does not depend on the machine's cores either. A child that fails or is killed is not fatal:
its chunk is filled again in the parent (where an error in ``fill`` surfaces as itself), after a
message.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import traceback
from typing import Callable

import numpy as np

from analysis.workers import can_fork, from_env, usable_cores
from analysis.messages import say

WORKERS_ENV = "SAP_BOOTSTRAP_WORKERS"
MIN_CELLS = 10**6   # below this (e.g. 1,000 replicates x 190 subjects) a fork costs more than it saves


def default_workers(n_cells: int) -> int:
    """$SAP_BOOTSTRAP_WORKERS, else the machine's cores (1 for a small matrix or without fork)."""
    wanted = from_env(WORKERS_ENV)
    if wanted is not None:
        return max(1, wanted)
    # where fork is not allowed (a Dask worker of `analysis design` is daemonic; forking a
    # threaded worker is unsafe), the replicates run in-process
    if n_cells < MIN_CELLS or not can_fork():
        return 1
    return usable_cores()


def shared_zeros(shape: tuple[int, ...], dtype=float) -> np.ndarray:
    """A zero array in anonymous shared memory (writes of forked children are seen here)."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return np.frombuffer(mmap.mmap(-1, max(size, 1)), dtype=dtype, count=int(np.prod(shape))).reshape(shape)


def chunks(n: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous (first, stop) ranges covering 0..n, as even as possible."""
    edges = np.linspace(0, n, max(1, min(workers, n)) + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges, edges[1:])]


def fill_rows(shape: tuple[int, int], fill: Callable[[np.ndarray, np.ndarray, int, int], None],
              parts: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(matrix, ok) of ``shape`` / ``shape[0]`` filled by ``fill`` over ``parts`` (see module doc)."""
    if len(parts) <= 1:
        matrix, ok = np.zeros(shape), np.ones(shape[0], bool)
        for first, stop in parts:
            fill(matrix, ok, first, stop)
        return matrix, ok
    matrix, ok = shared_zeros(shape), shared_zeros((shape[0],), bool)
    ok[:] = True
    ctx = multiprocessing.get_context("fork")
    children = [(ctx.Process(target=_child, args=(fill, matrix, ok, first, stop), daemon=True), first, stop)
                for first, stop in parts[1:]]
    for proc, _, _ in children:
        proc.start()
    fill(matrix, ok, *parts[0])
    for proc, first, stop in children:
        proc.join()
        if proc.exitcode != 0:
            say(f"[analyze] a bootstrap worker process (replicates {first + 1}-{stop}) stopped "
                f"(exit {proc.exitcode}); those replicates are computed again in this process")
            matrix[first:stop], ok[first:stop] = 0.0, True
            fill(matrix, ok, first, stop)
    return matrix, ok


def _child(fill, matrix, ok, first, stop) -> None:
    try:
        fill(matrix, ok, first, stop)
    except BaseException:  # reported by the parent, which computes the chunk again
        traceback.print_exc()
        os._exit(1)
    os._exit(0)
