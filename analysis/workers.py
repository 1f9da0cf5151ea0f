"""How many processes a step may use: one reading of the $SAP_*_WORKERS settings and of the
machine, shared by validation (validation/parallel.py), the weighting bootstrap
(analysis/analyze/forked.py) and render (analysis/render/kernels.py)."""

from __future__ import annotations

import multiprocessing
import os


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system says, else the count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def from_env(name: str) -> int | None:
    """The whole number set in $``name``, None when unset or empty; a clear error otherwise."""
    text = os.environ.get(name)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a whole number") from None


def can_fork() -> bool:
    """Whether this process may start forked children: the platform forks, and the process is not
    daemonic (a Dask worker of `analysis design` or a pool worker may not start children)."""
    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon
