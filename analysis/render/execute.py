"""Execute a notebook in a fresh IPython kernel (nbclient). The report itself runs its notebooks
in warm kernels reset between notebooks (analysis.render.kernels), on the same client code here.

The kernel is this interpreter (the project's .venv), whatever ``python3`` kernelspec a user
may have installed elsewhere, and its working directory is the repository root so that
``import analysis`` works. A cell that raises stops the render with a NotebookExecutionError
naming the notebook, the chunk (number, label, line in the .qmd) and the traceback, unless the
cell has ``#| error: true``; a cell with ``#| eval: false`` is not run.

Reference: nbclient "Executing notebooks" (https://nbclient.readthedocs.io/en/latest/client.html).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from traitlets import default
from traitlets.config import Config

from analysis.errors import NotebookExecutionError, RenderError
from analysis.render.options import cell_options

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SKIP_TAG = "skip-execution"        # nbclient's NotebookClient.skip_cells_with_tag default
ALLOW_ERROR_TAG = "raises-exception"  # nbclient lets a cell with this tag raise
DEFAULT_CELL_TIMEOUT_S = 900
# matplotlib's inline backend (headless, Agg-based) is what turns figures into image/png
# outputs. MPLBACKEND=Agg, which the CLI sets for itself, would make every figure vanish from
# the report, so the kernel gets this one instead.
KERNEL_MPLBACKEND = "module://matplotlib_inline.backend_inline"


class ThisInterpreterKernelSpecs(KernelSpecManager):
    """Resolves every kernel name to an ipykernel running on ``sys.executable``."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        from ipykernel.kernelspec import get_kernel_dict
        spec = get_kernel_dict()
        return KernelSpec(argv=spec["argv"], display_name=spec["display_name"], language="python",
                          metadata=spec.get("metadata", {}), resource_dir="")


class ThisInterpreterKernelManager(AsyncKernelManager):
    """nbclient's kernel manager, looking kernels up in ThisInterpreterKernelSpecs."""

    @default("kernel_spec_manager")
    def _kernel_spec_manager_default(self):
        return ThisInterpreterKernelSpecs(data_dir=self.data_dir)


def kernel_environment(repo_root: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The kernel's environment: ours, plus the settings every notebook run needs."""
    env = dict(os.environ)
    env["GX_ANALYTICS_ENABLED"] = "False"
    env["MPLBACKEND"] = KERNEL_MPLBACKEND
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONPATH"] = os.pathsep.join([str(repo_root)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.update(extra or {})
    return env


def strip_ansi(text: str) -> str:
    return ANSI_ESCAPE.sub("", text)


def tag_cells_for_execution(nb: nbformat.NotebookNode, defaults: dict) -> None:
    """Translate ``eval: false`` and ``error: true`` into the tags nbclient acts on."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        opts = cell_options(cell.metadata, defaults)
        tags = [t for t in cell.metadata.get("tags", []) if t not in (SKIP_TAG, ALLOW_ERROR_TAG)]
        if not opts.eval:
            tags.append(SKIP_TAG)
        if opts.error:
            tags.append(ALLOW_ERROR_TAG)
        cell.metadata["tags"] = tags


def describe_cell(cell) -> tuple[int | None, str | None, int | None]:
    meta = cell.metadata
    return meta.get("chunk"), meta.get("quarto", {}).get("label"), meta.get("qmd_line")


def execute_notebook(nb: nbformat.NotebookNode, *, notebook: str, cwd: Path, defaults: dict,
                     timeout: int = DEFAULT_CELL_TIMEOUT_S,
                     env: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """Run every code cell of ``nb`` (in place) in a new kernel started in ``cwd``; return ``nb``."""
    tag_cells_for_execution(nb, defaults)
    current = {"index": None}

    def on_cell_start(cell, cell_index, **_):
        current["index"] = cell_index

    with tempfile.TemporaryDirectory(prefix="sap-kernel-") as sockets:
        # Local IPC sockets (files only this user can open) rather than TCP ports on localhost;
        # the connection file goes there too, not to ~/.local/share/jupyter (HOME may be read-only).
        config = Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(sockets, "k"),
                                           "connection_file": os.path.join(sockets, "kernel.json")}})
        client = NotebookClient(nb, kernel_manager_class=ThisInterpreterKernelManager, config=config,
                                kernel_name="python3", timeout=timeout, allow_errors=False,
                                record_timing=False, resources={"metadata": {"path": str(cwd)}},
                                on_cell_start=on_cell_start)
        run_client(client, nb, notebook, current, env if env is not None else kernel_environment(Path(cwd)))
    return nb


def run_client(client: NotebookClient, nb, notebook: str, current: dict, env: dict) -> None:
    """Execute, turning nbclient's exceptions into RenderErrors that say where it failed."""
    try:
        client.execute(env=env)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        index = current["index"]
        chunk, label, line = describe_cell(nb.cells[index]) if index is not None else (None, None, None)
        if isinstance(exc, CellExecutionError):
            detail = strip_ansi(exc.traceback or f"{exc.ename}: {exc.evalue}")
        else:
            detail = f"{type(exc).__name__}: {strip_ansi(str(exc))}"
        raise NotebookExecutionError(notebook, chunk if chunk is not None else (index or 0) + 1,
                                     label, line, detail) from None
    except RuntimeError as exc:  # kernel failed to start
        raise RenderError(f"notebook {notebook}: the Python kernel could not be started ({exc}); "
                          f"interpreter {sys.executable}") from exc
