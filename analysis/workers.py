"""How many processes a step may use: one reading of the $SAP_*_WORKERS settings and of the
machine, shared by validation (validation/parallel.py), the weighting bootstrap
(analysis/analyze/forked.py) and render (analysis/render/kernels.py); and the one BLAS thread per
process of analyze and its forked children."""

from __future__ import annotations

import multiprocessing
import os
from contextlib import contextmanager
from typing import Iterator

from analysis.errors import UsageError


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system says, else the count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def from_env(name: str) -> int | None:
    """The number of processes set in $``name``: None when unset or empty; a UsageError (exit 2)
    naming the setting when it is not a whole number of at least 1."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return None
    try:
        number = int(text)
    except ValueError:
        number = None
    if number is None or number < 1:
        raise UsageError(f"${name}={text!r}: set a whole number of processes, 1 or more (1: no extra "
                         f"processes), or unset it for the default (this machine's usable cores)")
    return number


def check_settings() -> None:
    """Every $SAP_*_WORKERS setting read once at the start of a command, so that a bad one stops
    the command before any step runs (a UsageError naming it), not midway through a report."""
    for name in sorted(k for k in os.environ if k.startswith("SAP_") and k.endswith("_WORKERS")):
        from_env(name)


def can_fork() -> bool:
    """Whether this process may start forked children: the platform forks, and the process is not
    daemonic (a Dask worker of `analysis design` or a pool worker may not start children)."""
    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Inside the block this process, and every child forked inside it, uses one BLAS thread.
    Two reasons (issue 15):
    - Speed beside forked children: OpenBLAS otherwise runs a thread per core in each process and
      its waiting threads spin. On 2 cores, two bootstrap processes of two BLAS threads each
      re-fitted 300 replicates of 190,000 subjects in 11.6 s, one thread each in 4.1 s, one
      process in 6.8 s.
    - Reproducibility: the number of BLAS threads changes the order of floating-point sums (OpenBLAS
      splits a large matrix-vector product between threads), so the re-fitted weights of 50,000
      subjects and more differed in the 11th-13th digit between machines with different numbers
      of cores, and between a serial and a forked bootstrap (tests/test_bootstrap_speed.py)."""
    from threadpoolctl import threadpool_limits   # imported here: only the steps that compute need it
    with threadpool_limits(limits=1, user_api="blas"):
        yield
