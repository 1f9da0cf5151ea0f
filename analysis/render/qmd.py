"""Read a Quarto document (.qmd) into a Jupyter notebook without the Quarto CLI.

jupytext's own "qmd" format shells out to ``quarto convert``, so the R Markdown reader
(``fmt="Rmd"``) splits the chunks instead. That reader leaves Quarto's ``#|`` option comments in
the cell source (the known trap: a ``#| tags: [parameters]`` line would be *code*, and the cell
would not be found as the parameters cell). ``split_cell_options`` moves them out: the options go
to ``cell.metadata["quarto"]``, ``tags`` to the standard ``cell.metadata["tags"]``, and the
chunk's line in the .qmd to ``cell.metadata["qmd_line"]`` for error messages.

Reference: Quarto, "Code cells: Jupyter" (https://quarto.org/docs/reference/cells/cells-jupyter.html)
for the option names and their YAML syntax; Quarto "Front Matter" for the document header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
import yaml

from analysis.errors import RenderError

OPTION_PREFIX = re.compile(r"^#\|\s?(.*)$")
FRONT_MATTER_FENCE = "---"
# An executable chunk opens with ```{lang ...}; a plain ```lang fence is a displayed code block.
CHUNK_FENCE = re.compile(r"^\s*```+\s*\{\s*([A-Za-z0-9_]+)[^}]*\}\s*$")
LABEL_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")

# Cell options this renderer honours, with the types Quarto accepts for them. Any other option
# (fig-width, code-fold, ...) is kept in the metadata and has no effect in the fallback engine.
OPTION_TYPES: dict[str, tuple[type, ...]] = {
    "echo": (bool,),
    "eval": (bool,),
    "include": (bool,),
    "output": (bool, str),     # true / false / "asis"
    "warning": (bool,),
    "error": (bool,),
    "label": (str,),
    "fig-cap": (str,),
    "tbl-cap": (str,),
    "fig-alt": (str,),
    "tags": (list,),
}


@dataclass
class QmdDocument:
    """A parsed .qmd: its YAML front matter and its cells as a notebook (options in metadata)."""

    path: Path
    front_matter: dict
    notebook: nbformat.NotebookNode

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def title(self) -> str:
        return str(self.front_matter.get("title") or self.path.stem)


def split_front_matter(text: str, source: str = "<qmd>") -> tuple[dict, str, int]:
    """Split a document into (front matter dict, body text, number of lines before the body).

    The front matter is the YAML block between a first line ``---`` and the next ``---`` line
    (Pandoc/Quarto convention). A document without one has an empty front matter.
    """
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != FRONT_MATTER_FENCE:
        return {}, text, 0
    for end in range(1, len(lines)):
        if lines[end].strip() in (FRONT_MATTER_FENCE, "..."):
            break
    else:
        raise RenderError(f"{source}: the YAML front matter opened on line 1 is never closed with '---'")
    try:
        meta = yaml.safe_load("".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        raise RenderError(f"{source}: the YAML front matter is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise RenderError(f"{source}: the YAML front matter must be a mapping (key: value), "
                          f"found {type(meta).__name__}")
    return meta, "".join(lines[end + 1:]), end + 1


def split_cell_options(source: str, where: str = "<chunk>") -> tuple[dict, str]:
    """Split a chunk's leading ``#|`` comment lines off its code and parse them as YAML.

    Returns (options, code without the option lines). ``where`` names the chunk in errors.
    Options must come first in the chunk, one ``#| key: value`` per line (YAML may continue
    on further ``#|`` lines, e.g. a list); this is Quarto's rule.
    """
    lines = source.splitlines()
    option_lines: list[str] = []
    for line in lines:
        m = OPTION_PREFIX.match(line)
        if not m:
            break
        option_lines.append(m.group(1))
    code = "\n".join(lines[len(option_lines):])
    if not option_lines:
        return {}, code
    try:
        options = yaml.safe_load("\n".join(option_lines)) or {}
    except yaml.YAMLError as exc:
        raise RenderError(f"{where}: the '#|' cell options are not valid YAML: {exc}") from None
    if not isinstance(options, dict):
        raise RenderError(f"{where}: the '#|' cell options must be 'key: value' lines, got {option_lines!r}")
    check_option_types(options, where)
    return options, code


def check_option_types(options: dict, where: str) -> None:
    """Reject an honoured option whose value has the wrong type (e.g. ``echo: yes please``)."""
    for key, value in options.items():
        allowed = OPTION_TYPES.get(key)
        if allowed is None:
            continue
        if not isinstance(value, allowed):
            names = " or ".join(t.__name__ for t in allowed)
            raise RenderError(f"{where}: cell option '{key}' must be {names}, got {value!r}")
    if isinstance(options.get("output"), str) and options["output"] != "asis":
        raise RenderError(f"{where}: cell option 'output' must be true, false or asis, got {options['output']!r}")
    if "label" in options and not LABEL_PATTERN.match(options["label"]):
        raise RenderError(f"{where}: cell label {options['label']!r} may contain only letters, digits, '_' and '-'")
    if "tags" in options and not all(isinstance(t, str) for t in options["tags"]):
        raise RenderError(f"{where}: cell option 'tags' must be a list of strings, got {options['tags']!r}")


def chunk_lines(body: str, first_line: int) -> list[tuple[int, str]]:
    """(1-based line in the .qmd, language) of every executable chunk fence ```{lang}, in order."""
    found = []
    for offset, line in enumerate(body.splitlines()):
        m = CHUNK_FENCE.match(line)
        if m:
            found.append((first_line + offset + 1, m.group(1).lower()))
    return found


def read_qmd(path: Path) -> QmdDocument:
    """Parse a .qmd file into a QmdDocument (see the module docstring).

    Only Python chunks are executable here; a chunk in another language is an error, as is a
    label used twice.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RenderError(f"notebook {path} does not exist") from None
    front_matter, body, body_offset = split_front_matter(text, source=path.name)
    fences = chunk_lines(body, body_offset)
    for line, lang in fences:
        if lang != "python":
            raise RenderError(f"{path.name} line {line}: only {{python}} chunks can be executed, found {{{lang}}}")
    nb = jupytext.reads(body, fmt="Rmd")
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    lines_known = len(code_cells) == len(fences)
    labels: dict[str, int] = {}
    for number, cell in enumerate(code_cells, start=1):
        qmd_line = fences[number - 1][0] if lines_known else None
        where = f"{path.name} chunk {number}" + (f" (line {qmd_line})" if qmd_line else "")
        options, code = split_cell_options(cell.source, where)
        cell.source = code
        cell.metadata = {"quarto": options, "qmd_line": qmd_line, "chunk": number,
                         "tags": list(options.pop("tags", []))}
        label = options.get("label")
        if label:
            if label in labels:
                raise RenderError(f"{where}: label {label!r} is already used by chunk {labels[label]}")
            labels[label] = number
    for index, cell in enumerate(nb.cells, start=1):
        cell.id = f"cell-{index}"  # deterministic ids: the same .qmd renders to the same HTML
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"},
                   "quarto": {"front_matter": front_matter, "source": path.name}}
    return QmdDocument(path=path, front_matter=front_matter, notebook=nb)
