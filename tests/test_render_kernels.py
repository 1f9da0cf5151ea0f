"""A warm kernel reused for several notebooks starts each one as a fresh kernel would
(analysis.render.kernels, .kernel_state), and notebooks rendered side by side come back in
their order with the first failure reported."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import nbformat
import pytest

from analysis.errors import NotebookExecutionError, UsageError
from analysis.render.kernels import WarmKernel, default_workers, run_in_workers
from analysis.render.options import QUARTO_DEFAULTS

REPO = Path(__file__).resolve().parents[1]


def notebook(*sources: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def text_of(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.fixture(scope="module")
def kernel():
    k = WarmKernel(REPO)
    yield k
    k.shutdown()


def test_second_notebook_sees_nothing_the_first_left_behind(kernel):
    dirty = notebook(
        "left_over = 1",
        "import matplotlib, warnings, os, sys\nmatplotlib.rcParams['lines.linewidth'] = 9.0\n"
        "warnings.simplefilter('ignore')\nos.environ['SAP_LEFT_OVER'] = '1'\nsys.path.append('/nowhere')\n"
        "os.chdir('/')",
        "import matplotlib.pyplot as plt\nfig = plt.figure(); fig2 = plt.figure()",  # left open
        "import warnings\nwarnings.warn('once only?', UserWarning)",
    )
    kernel.execute(dirty, notebook="01-dirty.qmd", defaults=QUARTO_DEFAULTS)
    clean = notebook(
        "print('left_over' in globals())",
        "import matplotlib, os, sys\nprint(matplotlib.rcParams['lines.linewidth'], 'SAP_LEFT_OVER' in os.environ,"
        " '/nowhere' in sys.path, os.getcwd())",
        "import matplotlib.pyplot as plt\nprint(plt.get_fignums(), plt.figure().number)\nplt.close('all')",
        "import warnings\nwarnings.warn('once only?', UserWarning)",
        "plt.plot([0, 1], [0, 1]);",  # no show(): the inline backend must still draw it
    )
    kernel.execute(clean, notebook="02-clean.qmd", defaults=QUARTO_DEFAULTS)
    assert text_of(clean.cells[0]) == "False\n"
    assert text_of(clean.cells[1]) == f"1.5 False False {REPO}\n"
    assert text_of(clean.cells[2]) == "[] 1\n"
    assert "once only?" in text_of(clean.cells[3]), "a warning shows again in the next notebook"
    assert any("image/png" in o.get("data", {}) for o in clean.cells[4].outputs)


def test_failing_cell_is_reported_and_the_kernel_serves_the_next_notebook(kernel):
    with pytest.raises(NotebookExecutionError) as info:
        kernel.execute(notebook("x = 1", "1 / 0"), notebook="03-bad.qmd", defaults=QUARTO_DEFAULTS)
    assert str(info.value).startswith("notebook 03-bad.qmd failed in code cell 2")
    assert "ZeroDivisionError" in str(info.value)
    after = notebook("print('x' in globals())")
    kernel.execute(after, notebook="04-after.qmd", defaults=QUARTO_DEFAULTS)
    assert text_of(after.cells[0]) == "False\n"


def test_results_come_back_in_input_order_from_several_threads(tmp_path):
    seen_threads = set()

    def work(item, kernel):
        seen_threads.add(threading.current_thread().name)
        time.sleep(0.05 * (5 - item))  # later items finish first
        return item * 10

    assert run_in_workers(list(range(5)), work, workers=2, cwd=tmp_path) == [0, 10, 20, 30, 40]
    assert len(seen_threads) == 2


def test_first_error_stops_handing_out_work(tmp_path):
    done = []

    def work(item, kernel):
        if item == 0:
            raise ValueError("notebook 0 broke")
        done.append(item)
        return item

    with pytest.raises(ValueError, match="notebook 0 broke"):
        run_in_workers(list(range(20)), work, workers=1, cwd=tmp_path)
    assert done == []


def test_worker_count(monkeypatch):
    monkeypatch.setenv("SAP_RENDER_WORKERS", "4")
    assert default_workers(8) == 4 and default_workers(3) == 3
    monkeypatch.setenv("SAP_RENDER_WORKERS", "two")
    with pytest.raises(UsageError, match="SAP_RENDER_WORKERS"):
        default_workers(8)


def test_prestarted_pool_sees_the_environment_set_after_it_started(monkeypatch):
    from analysis.render import kernels
    monkeypatch.delenv("SAP_EXPORT_TEST", raising=False)
    kernels.prestart(REPO, workers=2)
    monkeypatch.setenv("SAP_EXPORT_TEST", "/tmp/tables-of-this-render")  # e.g. the tables folder
    pool = kernels.take_prestarted(2, REPO)
    assert pool is not None and kernels.take_prestarted(2, REPO) is None, "taken once"

    def work(i, kernel):
        nb = notebook("import os\nprint(os.environ.get('SAP_EXPORT_TEST'))")
        kernel.execute(nb, notebook=f"0{i}-env.qmd", defaults=QUARTO_DEFAULTS)
        return text_of(nb.cells[0])

    try:
        assert pool.map([1, 2, 3], work) == ["/tmp/tables-of-this-render\n"] * 3
    finally:
        pool.close()


def test_unused_prestarted_pool_is_stopped():
    from analysis.render import kernels
    kernels.prestart(REPO, workers=1)
    threads = list(kernels._PRESTARTED[0].threads)
    kernels.discard_prestarted()
    assert kernels._PRESTARTED == [] and not any(t.is_alive() for t in threads)
