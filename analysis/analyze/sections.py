"""Compute a group of ARD sections in a forked process while this process computes the others
(issue 15: the descriptive sections -- safety, Table 1, MRD, AE summaries -- and the survival /
external-comparison sections are independent, and the machine has two cores).

``Forked(fn)`` starts ``fn`` (no arguments, returns a picklable value, e.g. a list of ARD frames)
in a forked child at once; ``.result()`` returns its value. The child computes exactly what
``fn()`` computes here (same data, same code, no random state shared with the parent: every
random draw of analyze is seeded in place), so the ARD does not depend on whether it forked.
Where a fork is not allowed (a Dask worker of ``analysis design``), on one core, or with
$SAP_ANALYZE_WORKERS=1, ``fn`` runs in this process when its result is asked for. When the child
fails (an error in ``fn``: bad data) or is killed, ``fn`` is run again here, so an error
surfaces as itself, with its message, in the process that reports it.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
from typing import Callable

from analysis.messages import say
from analysis.workers import can_fork, from_env, usable_cores

WORKERS_ENV = "SAP_ANALYZE_WORKERS"


def may_fork() -> bool:
    """Whether the sections may run in a second process ($SAP_ANALYZE_WORKERS, cores, fork)."""
    wanted = from_env(WORKERS_ENV)
    if wanted is not None:
        return wanted > 1 and can_fork()
    return usable_cores() > 1 and can_fork()


class Forked:
    """``fn()`` computed in a forked child (see the module doc)."""

    def __init__(self, fn: Callable[[], object], label: str = "sections"):
        self.fn, self.label, self.proc, self.conn = fn, label, None, None
        if not may_fork():
            return
        for stream in (sys.stdout, sys.stderr):  # nothing buffered here is written twice
            stream.flush()
        ctx = multiprocessing.get_context("fork")
        self.conn, child_end = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_child, args=(fn, child_end), daemon=True)
        self.proc.start()
        child_end.close()   # the child holds the only writing end: its exit ends the pipe (EOFError)

    def result(self):
        if self.proc is None:
            return self.fn()
        try:
            status, value = self.conn.recv()
        except EOFError:
            status, value = "stopped", None
        self.conn.close()
        self.proc.join()
        if status == "ok":
            return value
        if status == "stopped":
            say(f"[analyze] the process computing the {self.label} stopped (exit {self.proc.exitcode}); "
                "they are computed again in this process")
        return self.fn()


def _child(fn: Callable[[], object], conn) -> None:
    try:
        payload = ("ok", fn())
    except BaseException:   # the parent computes it again, where the error surfaces as itself
        payload = ("error", None)
    try:
        conn.send(payload)
    except BaseException:   # e.g. a value that cannot be pickled: the parent computes it
        traceback.print_exc()
        conn.send(("error", None))
    conn.close()
    os._exit(0)
