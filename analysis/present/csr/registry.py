"""Every numbered table and listing of the report -> the one function that builds it from the
section inputs (ARD, method texts, derived datasets for the listings). The keys are those of the
numbering registry (analysis/present/numbering.py) whose kind is Table or Listing; a test keeps
the two in agreement."""

from __future__ import annotations

from typing import Callable

from analysis.present import numbering as NB
from analysis.present.csr import efficacy, external, mrd, overview, population, safety, sensitivity
from analysis.present.table import Table

_SECTIONS = (overview, population, efficacy, mrd, safety, external, sensitivity)

# key (tables/<key>.rtf, numbering registry key) -> builder(inputs) -> Table (not yet numbered),
# looked up by name in the module of the notebook that shows it (numbering: Output.maker)
BUILDERS: dict[str, Callable] = {}
for _entry in NB.OUTPUTS:
    if _entry.kind != "Figure":
        _module = next(m for m in _SECTIONS if _entry.maker.endswith(f"/{m.__name__.rsplit('.', 1)[1]}.py"))
        BUILDERS[_entry.key] = getattr(_module, _entry.key)


def show(key: str, inputs) -> Table:
    """The table ``key`` numbered (title, population, program / cut / commit footer) from
    ``inputs``: exactly what the rtf step writes, for a notebook to display as HTML."""
    return NB.number(BUILDERS[key](inputs), key, inputs.cut)
