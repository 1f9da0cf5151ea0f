"""Run the validation suites over several processes (issue 15: validate was a third of a cold report).

Great Expectations spends its time in pure-Python bookkeeping per expectation (metric graphs,
pydantic models), not in the data, so one process per core validates that many suites at once.
The workers are FORKED from this process after Great Expectations and the suites' frames are
loaded: the import (about 3 s) and the frames are paid for once, and nothing is pickled on the
way in. Each worker keeps one ephemeral context for all the suites it runs. What comes back is
plain data (status, failing rows as (row, subject, detail), problems, counts), rebuilt here
into ``Outcome`` objects bound to this process's suites and rules; the outcomes, their order and
so the messages, the HTML report and the exit code are those of a serial run
(tests/test_validation_speed.py compares both).

A worker that dies (killed by the OS, out of memory) does not hang the run or end it with a
traceback: the suites it had not finished are run again in this process, after a message that
says so.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from analysis.messages import say
from validation import engine
from validation.rules import Suite

WORKERS_ENV = "SAP_VALIDATE_WORKERS"

_SUITES: list[Suite] = []   # set before the workers are forked; read by them by index
_WORKER_CONTEXT: list = []  # the worker's (context, data source), made on its first suite


def default_workers(n_suites: int) -> int:
    """$SAP_VALIDATE_WORKERS, else the machine's cores; never more than the suites; 1 where fork
    is not available (the workers inherit the suites by forking)."""
    text = os.environ.get(WORKERS_ENV)
    if text:
        try:
            wanted = int(text)
        except ValueError:
            raise ValueError(f"{WORKERS_ENV}={text!r} is not a whole number") from None
    else:
        wanted = os.cpu_count() or 1
    if "fork" not in multiprocessing.get_all_start_methods():
        wanted = 1
    return max(1, min(wanted, n_suites))


def _plain(outcomes: list[engine.Outcome]) -> list[tuple]:
    return [(o.status, [(r.row, r.subject, r.detail) for r in o.rows], o.problems, o.checked, o.note, o.more_rows)
            for o in outcomes]


def _rebuilt(suite: Suite, plain: list[tuple]) -> list[engine.Outcome]:
    return [engine.Outcome(suite, rule, status, [engine.FailedRow(*row) for row in rows], problems, checked, note,
                           more_rows)
            for rule, (status, rows, problems, checked, note, more_rows) in zip(suite.rules, plain)]


def _run_one(index: int) -> list[tuple]:
    """In a worker: the outcomes of suite ``index`` of _SUITES, as plain data."""
    suite = _SUITES[index]
    if not _WORKER_CONTEXT and suite.frame is not None:
        ctx = engine.new_context()
        _WORKER_CONTEXT.append((ctx, ctx.data_sources.add_pandas(f"raw-worker-{os.getpid()}")))
    ctx, source = _WORKER_CONTEXT[0] if _WORKER_CONTEXT else (None, None)
    return _plain(engine._run_suite(ctx, source, suite))


def _cost(suite: Suite) -> int:
    """A rough cost (rules x rows), to hand out the longest suites first."""
    rows = 0 if suite.frame is None else len(suite.frame)
    return len(suite.rules) * (rows + 100)


def run_parallel(suites: list[Suite], workers: int) -> list[list[engine.Outcome]]:
    """Each suite's outcomes, in the order of ``suites``, computed by ``workers`` forked processes."""
    _SUITES[:] = suites
    results: dict[int, list[tuple]] = {}
    order = sorted(range(len(suites)), key=lambda i: -_cost(suites[i]))
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = {i: pool.submit(_run_one, i) for i in order}
            for i in order:
                try:
                    results[i] = futures[i].result()
                except BrokenProcessPool:
                    break
    finally:
        _SUITES.clear()
    lost = [i for i in range(len(suites)) if i not in results]
    if lost:
        say(f"[validate] a validation worker process stopped unexpectedly (killed by the system, e.g. out of "
            f"memory); the {len(lost)} suite(s) it left unfinished are validated again in this process")
        for i, outcomes in zip(lost, engine._run_serially([suites[i] for i in lost])):
            results[i] = _plain(outcomes)
    return [_rebuilt(suite, results[i]) for i, suite in enumerate(suites)]
