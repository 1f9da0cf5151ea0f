"""Errors of the report renderer."""

from __future__ import annotations


class RenderError(Exception):
    """The report could not be rendered. The message names the notebook (and the chunk, option
    or cell where that applies) and says what is wrong."""


class NotebookExecutionError(RenderError):
    """A cell raised an exception while a notebook was executed for a data cut."""

    def __init__(self, notebook: str, cell_number: int, label: str | None, qmd_line: int | None,
                 traceback: str):
        self.notebook = notebook
        self.cell_number = cell_number
        self.label = label
        self.qmd_line = qmd_line
        self.traceback = traceback
        where = f"code cell {cell_number}"
        if label:
            where += f" (label: {label})"
        if qmd_line:
            where += f", chunk starting at line {qmd_line}"
        super().__init__(f"notebook {notebook} failed in {where}:\n{traceback}")
