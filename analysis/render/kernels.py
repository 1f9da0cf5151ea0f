"""Render several notebooks in one warm kernel, and several kernels side by side.

A kernel costs about 1 s to start and a notebook's set-up imports (pandas, matplotlib, scipy,
the analysis package) about 3 s more; over 8 notebooks that was most of the render step. A
``WarmKernel`` is started once per worker, imports those modules once
(analysis.render.kernel_state.warm_up) and, before each notebook, is put back into the state of
a fresh kernel (kernel_state.reset: namespace, figures, rcParams, warning filters, working
directory, environment). Execution, errors and their messages are those of
analysis.render.execute (one NotebookClient per notebook; only the kernel is shared).

``run_in_workers`` renders independent notebooks on ``workers`` threads, each with its own warm
kernel; results come back in the order of the input, whatever order they finished in.
"""

from __future__ import annotations

import os
import queue
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import nbformat
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from traitlets.config import Config

from analysis.render.execute import (DEFAULT_CELL_TIMEOUT_S, ThisInterpreterKernelManager, kernel_environment,
                                     run_client, tag_cells_for_execution)

WORKERS_ENV = "SAP_RENDER_WORKERS"
WARM_UP_CODE = "from analysis.render import kernel_state as _sap_ks\n_sap_ks.warm_up()\ndel _sap_ks"
RESET_CODE = "from analysis.render import kernel_state as _sap_ks\n_sap_ks.reset()"

T = TypeVar("T")
R = TypeVar("R")


def default_workers(n_items: int) -> int:
    """$SAP_RENDER_WORKERS, else 2 (or 1 on a one-core machine); never more than the items."""
    text = os.environ.get(WORKERS_ENV)
    if text:
        try:
            wanted = int(text)
        except ValueError:
            raise ValueError(f"{WORKERS_ENV}={text!r} is not a whole number") from None
    else:
        wanted = min(2, os.cpu_count() or 1)
    return max(1, min(wanted, n_items))


class WarmKernel:
    """One ipykernel on this interpreter, reused for several notebooks (see module docstring)."""

    def __init__(self, cwd: Path, env: dict[str, str] | None = None):
        self.cwd = Path(cwd)
        self.env = env if env is not None else kernel_environment(self.cwd)
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

    def _prepare(self, notebook: str) -> None:
        code = RESET_CODE if self.warm else WARM_UP_CODE
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        self._run(self._client(nb, DEFAULT_CELL_TIMEOUT_S), nb, f"{notebook} (kernel set-up)", {"index": 0})
        self.warm = True

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


def run_in_workers(items: Sequence[T], work: Callable[[T, WarmKernel], R], *, workers: int, cwd: Path,
                   env: dict[str, str] | None = None) -> list[R]:
    """``work(item, kernel)`` for every item on ``workers`` threads, each with its own WarmKernel.

    The first exception stops the hand-out of further items (running ones finish) and is
    re-raised once every thread has stopped; otherwise the results, in the order of ``items``.
    """
    todo: queue.Queue = queue.Queue()
    for i, item in enumerate(items):
        todo.put((i, item))
    results: dict[int, R] = {}
    errors: list[BaseException] = []
    stop = threading.Event()

    def worker() -> None:
        kernel = WarmKernel(cwd, env)
        try:
            while not stop.is_set():
                try:
                    i, item = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    results[i] = work(item, kernel)
                except BaseException as exc:  # handed to the caller's thread below
                    errors.append(exc)
                    stop.set()
        finally:
            try:
                kernel.shutdown()
            except Exception as exc:  # a kernel that will not stop must not hide the result
                print(f"[render] could not shut a kernel down cleanly: {exc}", file=sys.stderr, flush=True)

    threads = [threading.Thread(target=worker, name=f"render-{k + 1}", daemon=True) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(items))]
