"""The import graph of this repository's own Python code, computed from the source (ast), for
tests/test_architecture.py.

Nodes are modules of the packages ``analysis`` and ``validation`` (a package is its
``__init__``). An edge M -> T for every ``import`` / ``from ... import`` in M, at module level
or inside a function (a lazy import runs too, only later), that names T or something defined in
T; plus M -> every package above T, because importing ``a.b.c`` first executes ``a/__init__``
and ``a/b/__init__`` (a package whose ``__init__`` imports its own modules, which import the
package, is a cycle). Imports of anything else (the standard library, pandas) are not edges.
Quarto notebooks (``analysis/notebooks/*.qmd``) are read too: the Python of their code cells.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGES = ("analysis", "validation")
CELL = re.compile(r"^```\{python\}[^\n]*\n(.*?)^```", re.S | re.M)


def module_files(repo: Path) -> dict[str, Path]:
    """{dotted module name: source file} of every module of PACKAGES."""
    found = {}
    for package in PACKAGES:
        for path in sorted((repo / package).rglob("*.py")):
            parts = list(path.relative_to(repo).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if "__pycache__" in parts:
                continue
            found[".".join(parts)] = path
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module that defines ``name`` (a module, or a name inside one)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _ancestors(module: str, modules: dict[str, Path]) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in modules]


def imports_of(tree: ast.AST, module: str, is_package: bool, modules: dict[str, Path]) -> set[str]:
    """Modules of ``modules`` that the code ``tree`` (of ``module``) imports, with their packages."""
    package = module if is_package else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            names = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name, modules)
            if target is not None:
                targets.add(target)
                targets.update(_ancestors(target, modules))
    targets.discard(module)
    return targets


def module_graph(repo: Path) -> dict[str, set[str]]:
    """{module: modules it imports} over the repository's own modules."""
    modules = module_files(repo)
    return {m: imports_of(ast.parse(p.read_text(encoding="utf-8"), str(p)), m, p.name == "__init__.py", modules)
            for m, p in modules.items()}


def notebook_imports(qmd: Path, repo: Path) -> set[str]:
    """The repository modules the Python cells of a Quarto notebook import."""
    modules = module_files(repo)
    code = "\n".join(CELL.findall(qmd.read_text(encoding="utf-8")))
    return imports_of(ast.parse(code, str(qmd)), "__notebook__", False, modules)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between the parts of ``analysis``: its sub-packages (``analysis.stats``,
    ``analysis.render``, ...) and top-level modules (``analysis.cli``); modules of ``validation``
    (the expectation suites, a plug-in of the validate step) stay single nodes."""
    def unit(m: str) -> str:
        return ".".join(m.split(".")[:2]) if m.startswith("analysis.") else m
    out: dict[str, set[str]] = {}
    for m, targets in graph.items():
        out.setdefault(unit(m), set()).update(unit(t) for t in targets
                                              if unit(t) != unit(m) and t not in PACKAGES)
    return out


def closure(starts: set[str], graph: dict[str, set[str]]) -> set[str]:
    """Every module reachable from ``starts`` (them included)."""
    seen, todo = set(), list(starts)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(graph.get(m, ()))
    return seen
