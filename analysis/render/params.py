"""Notebook parameters, injected the way papermill and Quarto do it.

The cell tagged ``parameters`` holds the defaults (``cut = None``); a new cell tagged
``injected-parameters`` is inserted right after it, assigning the values of this render, so the
defaults stay visible in the source and the injected values win. A parameter that the notebook
does not declare (neither assigned in its parameters cell nor listed under ``params:`` in its
front matter) is an error: a misspelt name would otherwise be silently ignored.

Reference: papermill "Parameterize" (https://papermill.readthedocs.io/en/latest/usage-parameterize.html);
Quarto "Parameters" (https://quarto.org/docs/computations/parameters.html).
"""

from __future__ import annotations

import ast
import copy

import nbformat

from analysis.errors import RenderError

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


def parameters_cell_index(nb: nbformat.NotebookNode, notebook: str) -> int:
    """Index of the one code cell tagged ``parameters``."""
    found = [i for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and PARAMETERS_TAG in cell.metadata.get("tags", [])]
    if not found:
        raise RenderError(f"notebook {notebook} has no cell tagged 'parameters' "
                          "(add '#| tags: [parameters]' to the chunk holding the defaults, e.g. cut = None)")
    if len(found) > 1:
        raise RenderError(f"notebook {notebook} has {len(found)} cells tagged 'parameters'; exactly one is allowed")
    return found[0]


def assigned_names(code: str, where: str) -> list[str]:
    """Names bound at top level by plain assignments in ``code`` (``a = 1``, ``a: int = 1``)."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise RenderError(f"{where}: the parameters cell is not valid Python: {exc}") from None
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def declared_parameters(nb: nbformat.NotebookNode, front_matter: dict, notebook: str) -> set[str]:
    cell = nb.cells[parameters_cell_index(nb, notebook)]
    declared = set(assigned_names(cell.source, f"notebook {notebook}"))
    params = front_matter.get("params") or {}
    if isinstance(params, dict):
        declared |= set(params)
    return declared


def python_literal(name: str, value) -> str:
    """``name = <literal>``; only values that Python reads back equal (str, numbers, bool, None,
    lists/dicts of those) can be parameters, so the injected cell is plain, reviewable code."""
    if not name.isidentifier():
        raise RenderError(f"parameter name {name!r} is not a Python identifier")
    text = repr(value)
    try:
        ok = ast.literal_eval(text) == value
    except (ValueError, SyntaxError):
        ok = False
    if not ok:
        raise RenderError(f"parameter {name}={value!r}: only str, int, float, bool, None and "
                          "lists/dicts of them can be injected")
    return f"{name} = {text}"


def injected_cell_source(params: dict) -> str:
    lines = ["# Injected parameters: the values of this render (they override the defaults above)"]
    lines += [python_literal(name, value) for name, value in params.items()]
    return "\n".join(lines)


def check_parameters(nb: nbformat.NotebookNode, params: dict, front_matter: dict, notebook: str) -> None:
    """The notebook has one parameters cell and declares every parameter in ``params``, and
    every value can be injected. Run for all notebooks before any is executed (both engines)."""
    unknown = sorted(set(params) - declared_parameters(nb, front_matter, notebook))
    if unknown:
        raise RenderError(f"notebook {notebook} does not declare parameter(s) {', '.join(unknown)} "
                          "in its parameters cell or front matter 'params:'")
    injected_cell_source(params)


def inject_parameters(nb: nbformat.NotebookNode, params: dict, front_matter: dict,
                      notebook: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` with a cell assigning ``params`` inserted after the parameters cell.

    The injected cell takes the display options of the parameters cell (so it is hidden when
    that one is), never its label.
    """
    check_parameters(nb, params, front_matter, notebook)
    out = copy.deepcopy(nb)
    index = parameters_cell_index(out, notebook)
    parent = out.cells[index]
    options = {k: v for k, v in parent.metadata.get("quarto", {}).items() if k != "label"}
    cell = nbformat.v4.new_code_cell(injected_cell_source(params))
    cell.id = f"{parent.id}-injected" if parent.get("id") else "injected-parameters"
    cell.metadata = {"quarto": options, "qmd_line": parent.metadata.get("qmd_line"), "chunk": None,
                     "tags": [INJECTED_TAG]}
    out.cells.insert(index + 1, cell)
    return out
