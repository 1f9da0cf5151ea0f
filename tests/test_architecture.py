"""The shape of the code (issue 16): no import cycles, every step's code inputs declared, the lint
gate in `make test`, small files and functions.

The import graph is computed from the source (tests/import_graph.py), never declared by hand.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from analysis import build
from tests import import_graph as G
from tests.conftest import REPO

MAX_FILE_LINES = 600       # COMMON standards: files < 600 lines, functions < 80
MAX_FUNCTION_LINES = 80


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return G.module_graph(REPO)


# --- the graph helper itself, on a hand-made tree -------------------------------------------------

def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_graph_finds_a_lazy_cycle_and_a_package_init_cycle(tmp_path):
    repo = _tree(tmp_path, {
        "analysis/__init__.py": "",
        "analysis/a.py": "def f():\n    from analysis import b\n",      # lazy import: still an edge
        "analysis/b.py": "import analysis.a\n",
        "analysis/pkg/__init__.py": "from analysis.pkg.m import x\n",   # package imports its module ...
        "analysis/pkg/m.py": "from analysis.pkg import n\nx = 1\n",    # ... which imports the package
        "analysis/pkg/n.py": "import os\n",
        "analysis/ok.py": "from analysis.pkg.n import os\n",
        "validation/__init__.py": "",
    })
    found = G.cycles(G.module_graph(repo))
    assert ["analysis.a", "analysis.b"] in found
    assert ["analysis.pkg", "analysis.pkg.m"] in found
    assert not any("analysis.ok" in c or "analysis.pkg.n" in c for c in found)


def test_graph_reads_relative_imports_and_notebook_cells(tmp_path):
    repo = _tree(tmp_path, {
        "analysis/__init__.py": "", "validation/__init__.py": "",
        "analysis/p/__init__.py": "", "analysis/p/x.py": "from . import y\nfrom .y import z\n",
        "analysis/p/y.py": "z = 1\n",
        "analysis/nb.qmd": "text\n```{python}\n#| echo: false\nfrom analysis.p import x\n```\nmore\n",
    })
    g = G.module_graph(repo)
    assert g["analysis.p.x"] == {"analysis", "analysis.p", "analysis.p.y"}
    assert G.notebook_imports(repo / "analysis/nb.qmd", repo) == {"analysis", "analysis.p", "analysis.p.x"}


# --- the repository ---------------------------------------------------------------------------------

def test_no_import_cycle_among_modules(graph):
    assert G.cycles(graph) == [], "import cycles (each line one cycle's modules)"


def test_no_cycle_between_packages(graph):
    """analysis.cli, analysis.present, analysis.render, validation, ...: dependencies point one way."""
    assert G.cycles(G.package_graph(graph)) == []


def test_statistics_know_no_trial_and_only_the_command_line_imports_the_simulator(graph):
    stats = {m for m in graph if m.startswith("analysis.stats")}
    assert all(t.startswith("analysis.stats") or t == "analysis" for m in stats for t in graph[m]), \
        {m: sorted(graph[m]) for m in stats}
    importers = {m for m, ts in graph.items() if any(t.startswith("analysis.simulate") for t in ts)
                 and not m.startswith("analysis.simulate")}
    assert importers <= {"analysis.cli", "analysis.cli_design"}   # the command line (design: issue 17)


def _declared(step: str) -> set[str]:
    deps = build.DEPENDENCIES[step]
    return set(build.expand(REPO, (*build.COMMON_CODE, *deps.code)))


def _module_path(module: str, modules: dict[str, Path]) -> str:
    return modules[module].relative_to(REPO).as_posix()


@pytest.mark.parametrize("step", list(build.DEPENDENCIES))
def test_each_step_declares_every_module_it_runs(step, graph):
    """The step's entry module and everything it imports (transitively; for render also what the
    notebooks import) are code inputs of the step, so editing any of them re-runs it."""
    modules = G.module_files(REPO)
    entry = build.DEPENDENCIES[step].entry.partition(":")[0]
    starts = {entry}
    declared = _declared(step)
    for rel in declared:
        if rel.endswith(".qmd"):
            starts |= G.notebook_imports(REPO / rel, REPO)
    needed = {_module_path(m, modules) for m in G.closure(starts, graph)}
    assert sorted(needed - declared) == [], f"step {step!r} runs modules it does not declare in build.DEPENDENCIES"


def test_an_undeclared_module_is_caught(graph, monkeypatch):
    """The check above can fail: drop analyze's statistics from its declaration."""
    import dataclasses
    deps = build.DEPENDENCIES["analyze"]
    monkeypatch.setitem(build.DEPENDENCIES, "analyze",
                        dataclasses.replace(deps, code=tuple(c for c in deps.code if "stats" not in c)))
    with pytest.raises(AssertionError, match="analysis/stats/"):
        test_each_step_declares_every_module_it_runs("analyze", graph)


# --- the lint gate ------------------------------------------------------------------------------------

def test_ruff_is_configured_with_pyflakes_bugbear_and_a_complexity_limit():
    conf = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["ruff"]
    assert {"F", "E9", "B", "C90"} <= set(conf["lint"]["select"])
    assert conf["lint"]["mccabe"]["max-complexity"] <= 15


def test_make_test_runs_the_lint_gate_before_pytest():
    proc = subprocess.run(["make", "-n", "test"], cwd=REPO, capture_output=True, text=True, check=True)
    lines = proc.stdout.splitlines()
    ruff = next(i for i, ln in enumerate(lines) if "ruff check" in ln)
    pytest_line = next(i for i, ln in enumerate(lines) if "-m pytest" in ln)
    assert ruff < pytest_line


def test_the_tree_passes_the_lint_gate():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]


# --- small rooms ------------------------------------------------------------------------------------

def _sources() -> list[Path]:
    return sorted(p for pkg in G.PACKAGES for p in (REPO / pkg).rglob("*.py") if "__pycache__" not in p.parts)


def test_no_source_file_over_600_lines():
    long = {p.relative_to(REPO).as_posix(): n for p in _sources()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES}
    assert long == {}


def test_no_function_over_80_lines():
    long = {}
    for p in _sources():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{p.relative_to(REPO).as_posix()}:{node.name}"] = n
    assert long == {}


# --- one message helper -------------------------------------------------------------------------------

def _writes_to_stderr(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            text = ast.unparse(node.func)
            if text == "print" and any(k.arg == "file" and "stderr" in ast.unparse(k.value) for k in node.keywords):
                lines.append(node.lineno)
            elif text.startswith("sys.stderr.write"):
                lines.append(node.lineno)
    return lines


def test_only_the_message_helper_writes_to_stderr():
    found = {p.relative_to(REPO).as_posix(): lines for p in _sources()
             if (lines := _writes_to_stderr(ast.parse(p.read_text(encoding="utf-8"))))}
    assert set(found) == {"analysis/messages.py"}, found


def test_say_goes_through_logging_and_escapes_control_characters(capsys):
    import logging

    from analysis import messages
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())
    keep = Keep()
    messages.logger().addHandler(keep)
    try:
        messages.say("value \x1b[31m red")
    finally:
        messages.logger().removeHandler(keep)
    assert seen == ["value \x1b[31m red"]
    assert capsys.readouterr().err == "value \\x1b[31m red\n"


def test_one_errors_module_owns_the_exceptions_the_cli_maps():
    """Issue 16: the renderer's errors were a second errors module (analysis/render/errors.py)
    beside analysis/errors.py; the exceptions the command line maps to exit codes have one owner."""
    from analysis import errors

    assert sorted(p.relative_to(REPO).as_posix() for p in (REPO / "analysis").rglob("errors.py")) == \
        ["analysis/errors.py"]
    assert issubclass(errors.NotebookExecutionError, errors.RenderError)
