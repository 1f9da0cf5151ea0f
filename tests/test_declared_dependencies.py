"""Everything the code uses is installed by the project's own set-up, not by luck of the machine.

R: the R code that tests and benchmarks run (strings handed to ``tests.rref.run_r`` or to
``Rscript``, and any ``.R`` file) is scanned for the packages it loads (``library(x)``,
``require(x)``, ``requireNamespace("x")``, ``x::f``); each must be installed by
``tools/system-deps.sh`` (Debian ``r-cran-<x>``), which installs with --no-install-recommends, so
nothing arrives unless it is listed. Exempt: R's base packages, which r-base-core itself ships
(R_BASE_PACKAGES below: the packages R reports with priority "base").

Python: every module imported anywhere in analysis/, validation/, tests/, benchmarks/, tools/
and in the notebooks' Python chunks (top-level name; the standard library and our own packages
excluded) must belong to a distribution pinned in requirements.lock, and, being imported by our
code directly, be declared in pyproject.toml (not only arrive as someone else's dependency).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO, SYSTEM_DEPS, r_packages
from tests.test_environment import lock_pins

# R's base packages (installed.packages(priority = "base") of R 4.x): part of r-base-core.
R_BASE_PACKAGES = frozenset({"base", "compiler", "datasets", "graphics", "grDevices", "grid", "methods",
                             "parallel", "splines", "stats", "stats4", "tcltk", "tools", "utils"})
SCANNED_DIRS = ("analysis", "validation", "tests", "benchmarks", "tools")
OWN_PACKAGES = frozenset(SCANNED_DIRS)

R_NAME = r"[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]"
R_USES = (
    re.compile(rf"\b(?:library|require)\(\s*['\"]?({R_NAME})"),
    re.compile(rf"\brequireNamespace\(\s*['\"]({R_NAME})['\"]"),
    re.compile(rf"(?<![\w.:])({R_NAME}):::?(?=[A-Za-z.])"),
)
# a pytest/warnings filter ("ignore::pandas.errors.X") is not R
WARNING_FILTER = re.compile(r"^\s*(ignore|error|default|always|module|once)::")


def r_packages_used(code: str) -> set[str]:
    """R packages that a piece of R code loads or calls into."""
    if WARNING_FILTER.match(code):
        return set()
    return {m.group(1) for pattern in R_USES for m in pattern.finditer(code)}


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def python_string_literals(source: str) -> list[str]:
    """Every string literal of a Python module except docstrings; an f-string's literal parts
    joined (its {fields} left out), so ``f"library({pkg})"`` is not mistaken for a package."""
    tree = ast.parse(source)
    docstrings = _docstring_nodes(tree)
    inside_fstrings = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            out.append("".join(v.value if isinstance(v, ast.Constant) else " " for v in node.values))
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in docstrings and id(node) not in inside_fstrings):
            out.append(node.value)
    return out


def files_running_r() -> list[Path]:
    """Python files that run R code (call run_r or Rscript), and R scripts."""
    found = []
    for folder in SCANNED_DIRS:
        for path in sorted((REPO / folder).rglob("*")):
            if path == Path(__file__).resolve():
                continue  # this file's R snippets are test data for the scanner
            runs_r = path.suffix == ".py" and re.search(r"\brun_r\b|Rscript", path.read_text(encoding="utf-8"))
            if path.suffix.lower() == ".r" or runs_r:
                found.append(path)
    return found


def r_packages_used_in(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    chunks = [text] if path.suffix.lower() == ".r" else python_string_literals(text)
    return set().union(*(r_packages_used(c) for c in chunks)) if chunks else set()


def test_scanner_reads_r_code_not_prose_or_warning_filters():
    source = '''
"""Compared with MASS::ginv and pilot::fn in a docstring (prose, not code)."""
CODE = """library(cmprsk)
suppressPackageStartupMessages(library("survival"))
if (!requireNamespace('tableone', quietly = TRUE)) stop()
x <- MASS::ginv(S); y <- stats::median(1)"""
pkg = "zzz"
probe = f'quit(status = !requireNamespace("{pkg}"))'
MARK = "ignore::pandas.errors.Pandas4Warning"
'''
    used = set().union(*(r_packages_used(s) for s in python_string_literals(source)))
    assert used == {"cmprsk", "survival", "tableone", "MASS", "stats"}


def test_every_r_package_the_tests_use_is_installed_by_system_deps():
    listed = set(r_packages())
    used = {pkg: sorted(p.relative_to(REPO).as_posix() for p in files_running_r() if pkg in r_packages_used_in(p))
            for pkg in set().union(*(r_packages_used_in(p) for p in files_running_r()))}
    assert {"survival", "cmprsk", "MASS"} <= set(used), f"scanner found only {sorted(used)}"
    missing = {pkg: where for pkg, where in used.items() if pkg not in listed | R_BASE_PACKAGES}
    assert not missing, ("R packages used by tests/benchmarks but not installed by tools/system-deps.sh "
                         f"(add them to R_PACKAGES): {missing}")


def test_system_deps_installs_each_r_package_as_its_debian_package(tmp_path):
    """With an R that has none of the packages, the script would install r-cran-<name> for each
    (Debian lower-cases the R name: MASS -> r-cran-mass), and only with --no-install-recommends."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "Rscript").write_text("#!/bin/sh\nexit 1\n")
    (fake_bin / "Rscript").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["bash", str(SYSTEM_DEPS), "--dry-run"], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    expected = [f"r-cran-{p.lower()}" for p in r_packages()]
    assert [p for p in out if p.startswith("r-cran-")] == expected
    assert "r-cran-mass" in expected
    assert "--no-install-recommends" in SYSTEM_DEPS.read_text()


@pytest.mark.needs_r
def test_r_base_package_exemptions_are_r_base_packages():
    proc = subprocess.run(["Rscript", "-e", 'cat(rownames(installed.packages(priority = "base")), sep = "\\n")'],
                          capture_output=True, text=True, check=True)
    assert R_BASE_PACKAGES <= set(proc.stdout.split())


# --- Python ------------------------------------------------------------------------------------------

PYTHON_CHUNK = re.compile(r"^```+\s*\{python[^}]*\}\s*\n(.*?)^```+\s*$", re.MULTILINE | re.DOTALL)


def top_level_imports(source: str) -> set[str]:
    """Top-level module names imported anywhere in ``source`` (absolute imports only)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def python_sources() -> dict[str, str]:
    """{file: python code} of every .py file and every notebook's Python chunks (``#|`` option
    lines are comments to Python)."""
    out = {}
    for folder in SCANNED_DIRS:
        for path in sorted((REPO / folder).rglob("*")):
            rel = path.relative_to(REPO).as_posix()
            if "__pycache__" in rel:
                continue
            if path.suffix == ".py":
                out[rel] = path.read_text(encoding="utf-8")
            elif path.suffix == ".qmd":
                out[rel] = "\n".join(m.group(1) for m in PYTHON_CHUNK.finditer(path.read_text(encoding="utf-8")))
    return out


def third_party_imports() -> dict[str, list[str]]:
    """{top-level module: [files importing it]} outside the standard library and our packages."""
    found: dict[str, list[str]] = {}
    for rel, code in python_sources().items():
        for name in top_level_imports(code):
            if name in sys.stdlib_module_names or name in OWN_PACKAGES:
                continue
            found.setdefault(name, []).append(rel)
    return found


def declared_names() -> set[str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    return {canonicalize_name(Requirement(r).name) for r in data["project"]["dependencies"]}


def test_import_scanner_sees_notebook_chunks_and_skips_relative_imports():
    assert top_level_imports("import a.b as c\nfrom d.e import f\nfrom . import g\nfrom .h import i\n") == {"a", "d"}
    sources = python_sources()
    assert "IPython" in top_level_imports(sources["analysis/notebooks/06-external-control.qmd"])


def test_every_imported_module_is_locked_and_declared_in_pyproject():
    distributions = metadata.packages_distributions()
    pins, declared = lock_pins(), declared_names()
    problems = []
    for module, files in sorted(third_party_imports().items()):
        dists = {canonicalize_name(d) for d in distributions.get(module, [])}
        where = ", ".join(files[:3]) + (" ..." if len(files) > 3 else "")
        if not dists:
            problems.append(f"{module} (imported by {where}): no installed distribution provides it")
        elif not dists & set(pins):
            problems.append(f"{module} (imported by {where}): distribution {sorted(dists)} not in requirements.lock")
        elif not dists & declared:
            problems.append(f"{module} (imported by {where}): distribution {sorted(dists & set(pins))} is locked "
                            "only as another package's dependency; declare it in pyproject.toml")
    assert not problems, "\n".join(problems)
