"""Run the validation suites over several processes (issue 15: validate was a third of a cold report).

Great Expectations spends its time in pure-Python bookkeeping per expectation (metric graphs,
pydantic models), not in the data, so one process per core validates that many suites at once.
The workers are FORKED from this process after Great Expectations and the suites' frames are
loaded: the import (about 3 s) and the frames are paid for once, and nothing is pickled on the
way in. Each worker keeps one ephemeral context for all the suites it runs. What comes back is
plain data (status, failing rows as (row, subject, detail), problems, counts), rebuilt by
validation.engine into ``Outcome`` objects bound to this process's suites and rules; the
outcomes, their order and so the messages, the HTML report and the exit code are those of a
serial run (tests/test_validation_speed.py compares both). This module knows nothing of Great
Expectations: it maps a function over indices in forked processes.

A worker that dies (killed by the OS, out of memory) does not hang the run or end it with a
traceback: the suites it had not finished are run again in this process, after a message that
says so.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, TypeVar

T = TypeVar("T")

from analysis.workers import can_fork, from_env, usable_cores
from analysis.messages import say

WORKERS_ENV = "SAP_VALIDATE_WORKERS"


def default_workers(n_items: int) -> int:
    """$SAP_VALIDATE_WORKERS, else the machine's cores; never more than the items; 1 where fork
    is not available (the workers inherit the suites by forking)."""
    wanted = from_env(WORKERS_ENV)
    if wanted is None:
        wanted = usable_cores()
    if not can_fork():
        wanted = 1
    return max(1, min(wanted, n_items))


def fork_map(work: Callable[[int], T], n_items: int, workers: int, costs: list[float] | None = None) -> list[T]:
    """[work(0), ..., work(n_items - 1)], computed by ``workers`` forked processes (the most costly
    items handed out first); results in index order whatever order they finished in. ``work``
    must return picklable plain data. Items left unfinished by a worker that died are computed
    in this process, after a message."""
    order = sorted(range(n_items), key=lambda i: -(costs[i] if costs else 0))
    results: dict[int, T] = {}
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {i: pool.submit(work, i) for i in order}
        for i in order:
            try:
                results[i] = futures[i].result()
            except BrokenProcessPool:
                break
    lost = [i for i in range(n_items) if i not in results]
    if lost:
        say(f"[validate] a validation worker process stopped unexpectedly (killed by the system, e.g. out of "
            f"memory); the {len(lost)} suite(s) it left unfinished are validated again in this process")
        for i in lost:
            results[i] = work(i)
    return [results[i] for i in range(n_items)]
