"""Runs INSIDE a render kernel that executes several notebooks one after another
(analysis.render.kernels.WarmKernel): imports the report's heavy modules once, and puts the
kernel back into the state of a fresh one before each notebook.

What a notebook can leave behind and a fresh kernel would not have, and how it is undone:
the user namespace and history (IPython ``reset``), open figures (``plt.close("all")``, which
also restarts figure numbers at 1), matplotlib rcParams (restored to the values right after
the inline backend was set up), warning filters and the "already shown" registries (so a
warning shows again in the next notebook, as it would in a new process), the working
directory, environment variables and ``sys.path``. Modules stay imported: that is the point.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings

# What the notebooks' set-up cells import (directly or through analysis.present); imported
# once per kernel instead of once per notebook.
WARM_MODULES = (
    "numpy", "pandas", "matplotlib.pyplot", "scipy.stats", "pyarrow.parquet",
    "analysis.present", "analysis.present.figures", "analysis.present.ard_views", "analysis.present.forest",
    "analysis.present.comparison_tables", "analysis.present.propensity", "analysis.present.curves",
    "analysis.ard", "analysis.analyze.pipeline", "analysis.render.style",
)

_SNAPSHOT: dict = {}


def warm_up(modules: tuple[str, ...] = WARM_MODULES) -> None:
    """Import ``modules`` and remember the state a fresh kernel starts notebooks in."""
    for name in modules:
        importlib.import_module(name)
    import matplotlib
    import matplotlib.pyplot as plt
    # matplotlib loads its backend at the first figure, and only then does the inline backend
    # switch interactive mode on and load its rcParams: do it now, so the snapshot has them.
    plt.close(plt.figure())
    _SNAPSHOT.update(
        rc={k: v for k, v in matplotlib.rcParams.items() if k != "backend"},
        filters=list(warnings.filters), cwd=os.getcwd(), environ=dict(os.environ), path=list(sys.path))


def _restore_rc(saved: dict) -> None:
    import matplotlib
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a deprecated key being put back must not warn
        for key, value in saved.items():
            if matplotlib.rcParams[key] != value:
                matplotlib.rcParams[key] = value


def reset(env: dict[str, str] | None = None, drop: list[str] | tuple[str, ...] = ()) -> None:
    """Undo what the previous notebook changed (see the module docstring); then set ``env`` and
    remove ``drop`` from the environment (what the renderer's environment changed since this
    kernel started)."""
    if not _SNAPSHOT:
        raise RuntimeError("kernel_state.reset() before warm_up()")
    import matplotlib.pyplot as plt
    plt.close("all")
    _restore_rc(_SNAPSHOT["rc"])
    warnings.filters[:] = _SNAPSHOT["filters"]
    warnings._filters_mutated()  # invalidates every module's "warning already shown" registry
    warnings.onceregistry.clear()
    os.chdir(_SNAPSHOT["cwd"])
    os.environ.clear()
    os.environ.update(_SNAPSHOT["environ"])
    os.environ.update(env or {})
    for name in drop:
        os.environ.pop(name, None)
    sys.path[:] = _SNAPSHOT["path"]
    from IPython import get_ipython
    shell = get_ipython()
    if shell is not None:
        shell.reset(new_session=True)
