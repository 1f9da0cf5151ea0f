"""Render several notebooks in one warm kernel, and several kernels side by side.

A kernel costs about 1 s to start and a notebook's set-up imports (pandas, matplotlib, scipy,
the analysis package) about 3 s more; over 8 notebooks that was most of the render step. A
``WarmKernel`` is started once per worker, imports those modules once
(analysis.render.kernel_state.warm_up) and, before each notebook, is put back into the state of
a fresh kernel (kernel_state.reset: namespace, figures, rcParams, warning filters, working
directory, environment). Execution, errors and their messages are those of
analysis.render.execute (one NotebookClient per notebook; only the kernel is shared).

``KernelPool`` runs independent notebooks on ``workers`` threads, each with its own warm kernel;
results come back in the order of the input, whatever order they finished in. A pool can be
started before the notebooks are known (``prestart``: ``python -m analysis report`` does so
when the first step runs, so that the kernels start and import while validation runs on the
other core); the render step then takes it (``take_prestarted``). Environment variables set
after a kernel started (e.g. the folder for exported tables) are passed on before each notebook.
"""

from __future__ import annotations

import logging
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import nbformat
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from traitlets.config import Config

from analysis.workers import from_env
from analysis.messages import say
from analysis.render.execute import (DEFAULT_CELL_TIMEOUT_S, ThisInterpreterKernelManager, kernel_environment,
                                     run_client, tag_cells_for_execution)

WORKERS_ENV = "SAP_RENDER_WORKERS"
WARM_UP_CODE = "from analysis.render import kernel_state as _sap_ks\n_sap_ks.warm_up()\ndel _sap_ks"

T = TypeVar("T")
R = TypeVar("R")


def default_workers(n_items: int | None = None) -> int:
    """$SAP_RENDER_WORKERS, else 2 (or 1 on a one-core machine); never more than the items."""
    wanted = from_env(WORKERS_ENV)
    if wanted is None:
        wanted = min(2, os.cpu_count() or 1)
    return max(1, wanted if n_items is None else min(wanted, n_items))


def reset_code(env: dict[str, str], drop: list[str]) -> str:
    return (f"from analysis.render import kernel_state as _sap_ks\n"
            f"_sap_ks.reset(env={env!r}, drop={drop!r})")


class WarmKernel:
    """One ipykernel on this interpreter, reused for several notebooks (see module docstring).
    Used from one thread only (its client lives on that thread's event loop)."""

    def __init__(self, cwd: Path, env: dict[str, str] | None = None):
        self.cwd = Path(cwd)
        self.fixed_env = env
        self.env = env if env is not None else kernel_environment(self.cwd)  # the kernel's at start
        self._sockets = tempfile.TemporaryDirectory(prefix="sap-kernel-")
        config = Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(self._sockets.name, "k"),
                                           "connection_file": os.path.join(self._sockets.name, "kernel.json")}})
        self.config = config
        self.km = ThisInterpreterKernelManager(kernel_name="python3", config=config)
        self.warm = False

    def _client(self, nb: nbformat.NotebookNode, timeout: int, on_cell_start=None) -> NotebookClient:
        return NotebookClient(nb, km=self.km, kernel_name="python3", config=self.config, timeout=timeout,
                              allow_errors=False, record_timing=False,
                              resources={"metadata": {"path": str(self.cwd)}}, on_cell_start=on_cell_start)

    def _run(self, client: NotebookClient, nb, notebook: str, current: dict) -> None:
        try:
            run_client(client, nb, notebook, current, self.env)
        finally:
            if client.kc is not None:  # the kernel stays; this notebook's channels go
                client.kc.stop_channels()
                client.kc = None

    def _run_code(self, code: str, notebook: str) -> None:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        self._run(self._client(nb, DEFAULT_CELL_TIMEOUT_S), nb, f"{notebook} (kernel set-up)", {"index": 0})

    def start(self, notebook: str = "kernel") -> None:
        """Start the kernel and import the report's modules in it (once)."""
        if not self.warm:
            self._run_code(WARM_UP_CODE, notebook)
            self.warm = True

    def _prepare(self, notebook: str) -> None:
        """Warm (once), then reset to a fresh kernel's state with today's environment."""
        self.start(notebook)
        now = self.fixed_env if self.fixed_env is not None else kernel_environment(self.cwd)
        changed = {k: v for k, v in now.items() if self.env.get(k) != v}
        self._run_code(reset_code(changed, sorted(set(self.env) - set(now))), notebook)

    def execute(self, nb: nbformat.NotebookNode, *, notebook: str, defaults: dict,
                timeout: int = DEFAULT_CELL_TIMEOUT_S) -> nbformat.NotebookNode:
        """Run every code cell of ``nb`` (in place) as execute.execute_notebook does; return ``nb``."""
        self._prepare(notebook)
        tag_cells_for_execution(nb, defaults)
        current = {"index": None}

        def on_cell_start(cell, cell_index, **_):
            current["index"] = cell_index

        self._run(self._client(nb, timeout, on_cell_start), nb, notebook, current)
        return nb

    def shutdown(self) -> None:
        try:
            if self.km.has_kernel:
                run_sync(self.km.shutdown_kernel)(now=False)
        finally:
            self._sockets.cleanup()


class _Batch:
    """One ``KernelPool.map`` call: its items' results, the first error, and how many are left."""

    def __init__(self, n: int, work: Callable):
        self.work, self.results, self.errors = work, {}, []
        self.left = n
        self.done = threading.Condition()

    def finish(self, i: int, result=None, error: BaseException | None = None) -> None:
        with self.done:
            if error is not None:
                self.errors.append(error)
            else:
                self.results[i] = result
            self.left -= 1
            self.done.notify_all()


class KernelPool:
    """``workers`` threads, each owning one WarmKernel, started (and warming up) at once."""

    def __init__(self, workers: int, cwd: Path, env: dict[str, str] | None = None):
        self.workers, self.cwd = workers, Path(cwd)
        self.jobs: queue.Queue = queue.Queue()
        self.threads = [threading.Thread(target=self._worker, args=(cwd, env), name=f"render-{k + 1}", daemon=True)
                        for k in range(workers)]
        for t in self.threads:
            t.start()

    def _worker(self, cwd: Path, env) -> None:
        kernel = WarmKernel(cwd, env)
        try:
            try:
                kernel.start()
            except Exception:  # noqa: BLE001  (raised again, with the notebook's name, by its first job)
                pass
            while (job := self.jobs.get()) is not None:
                batch, i, item = job
                if batch.errors:  # a notebook failed: the rest of the batch is not started
                    batch.finish(i, result=None)
                    continue
                try:
                    batch.finish(i, result=batch.work(item, kernel))
                except BaseException as exc:  # noqa: BLE001  (handed to the caller's thread)
                    batch.finish(i, error=exc)
        finally:
            try:
                kernel.shutdown()
            except Exception as exc:  # noqa: BLE001  (a kernel that will not stop must not hide the result)
                say(f"[render] could not shut a kernel down cleanly: {exc}", logging.WARNING)

    def map(self, items: Sequence[T], work: Callable[[T, WarmKernel], R]) -> list[R]:
        """``work(item, kernel)`` for every item; the results in the order of ``items``. The first
        exception stops the hand-out of further items (running ones finish) and is raised."""
        batch = _Batch(len(items), work)
        for i, item in enumerate(items):
            self.jobs.put((batch, i, item))
        with batch.done:
            batch.done.wait_for(lambda: batch.left == 0)
        if batch.errors:
            raise batch.errors[0]
        return [batch.results[i] for i in range(len(items))]

    def close(self) -> None:
        """Stop the threads and their kernels (waits for running work)."""
        for _ in self.threads:
            self.jobs.put(None)
        for t in self.threads:
            t.join()


def run_in_workers(items: Sequence[T], work: Callable[[T, WarmKernel], R], *, workers: int, cwd: Path,
                   env: dict[str, str] | None = None) -> list[R]:
    """``KernelPool(workers, cwd, env).map(items, work)``, the pool closed afterwards."""
    pool = KernelPool(workers, cwd, env)
    try:
        return pool.map(items, work)
    finally:
        pool.close()


_PRESTARTED: list[KernelPool] = []


def prestart(cwd: Path, workers: int | None = None) -> None:
    """Start a pool now for a render that will come later in this process (idempotent)."""
    if not _PRESTARTED:
        _PRESTARTED.append(KernelPool(workers or default_workers(), cwd))


def take_prestarted(workers: int, cwd: Path) -> KernelPool | None:
    """The prestarted pool if it fits (same size and folder), now owned by the caller."""
    if _PRESTARTED:
        pool = _PRESTARTED.pop()
        if pool.workers == workers and pool.cwd == Path(cwd):
            return pool
        pool.close()
    return None


def discard_prestarted() -> None:
    """Stop a prestarted pool nobody took (e.g. validation stopped the report)."""
    while _PRESTARTED:
        _PRESTARTED.pop().close()
