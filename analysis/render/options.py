"""Effective execution/display options of a cell: Quarto's defaults, overridden by the project's
``_quarto.yml`` ``execute:`` block, then the document's front matter ``execute:`` block, then the
cell's own ``#|`` options (Quarto's precedence; https://quarto.org/docs/computations/execution-options.html).

Both engines read the same ``_quarto.yml``, so e.g. "code hidden" (``echo: false``) is set once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from analysis.errors import RenderError
from analysis.render.qmd import check_option_types

# Quarto's own defaults for documents rendered to HTML.
QUARTO_DEFAULTS = {"echo": True, "eval": True, "include": True, "output": True, "warning": True,
                   "error": False}
CROSSREF_KINDS = {"fig": ("Figure", "fig-cap"), "tbl": ("Table", "tbl-cap")}


@dataclass(frozen=True)
class CellOptions:
    echo: bool
    eval: bool
    include: bool
    output: bool | str
    warning: bool
    error: bool
    label: str | None = None
    caption: str | None = None
    alt: str | None = None

    @property
    def crossref_kind(self) -> str | None:
        """'fig' or 'tbl' when the label makes the cell a numbered float (Quarto's prefixes)."""
        if self.label:
            prefix = self.label.split("-", 1)[0]
            if prefix in CROSSREF_KINDS and "-" in self.label:
                return prefix
        return None


def load_yaml_mapping(path: Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        raise RenderError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RenderError(f"{path}: must be a YAML mapping")
    return data


def execute_block(meta: dict, where: str) -> dict:
    """The ``execute:`` mapping of a project file or front matter, type-checked."""
    block = meta.get("execute") or {}
    if not isinstance(block, dict):
        raise RenderError(f"{where}: 'execute' must be a mapping of options, got {block!r}")
    check_option_types(block, f"{where} (execute:)")
    return block


def document_defaults(project_meta: dict, front_matter: dict, where: str) -> dict:
    """Defaults for every cell of one document (Quarto < project < front matter)."""
    merged = dict(QUARTO_DEFAULTS)
    merged.update({k: v for k, v in execute_block(project_meta, "_quarto.yml").items() if k in QUARTO_DEFAULTS})
    merged.update({k: v for k, v in execute_block(front_matter, where).items() if k in QUARTO_DEFAULTS})
    return merged


def cell_options(cell_meta: dict, defaults: dict) -> CellOptions:
    """The effective options of one code cell (its ``#|`` options over the document defaults)."""
    own = cell_meta.get("quarto", {})
    values = {key: own.get(key, default) for key, default in defaults.items()}
    label = own.get("label")
    kind = label.split("-", 1)[0] if label and "-" in label else None
    caption = own.get(CROSSREF_KINDS[kind][1]) if kind in CROSSREF_KINDS else None
    return CellOptions(label=label, caption=caption, alt=own.get("fig-alt"), **values)
