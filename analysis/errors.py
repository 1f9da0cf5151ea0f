"""Exceptions that the command line maps to distinct exit codes: the one module of the package's
errors (the report renderer's too: ``RenderError``, ``NotebookExecutionError``)."""

from __future__ import annotations

import errno

EXIT_OK = 0
EXIT_BUG = 1          # an unexpected exception: a defect in this package
EXIT_USAGE = 2        # bad command line (argparse, an empty --cut, compare --from later --to earlier)
EXIT_BAD_DATA = 3     # the raw data broke a validation rule or the raw contract
EXIT_MISMATCH = 4     # reproduce/compare found a difference; a LOCKED cut's raw data differ from its lock
EXIT_ENVIRONMENT = 5  # the machine refused: read-only or forbidden output folder, disk full, file-size
#                       limit, quota. Not a defect and not bad data; outputs were written whole or not
#                       at all (analysis.atomic), so earlier outputs are intact.

# OS errors that are the environment's, not a defect's: the message names the path and the reason.
ENVIRONMENT_ERRNOS = {
    errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system", errno.ENOSPC: "no space left on device",
    errno.EFBIG: "file too large (file-size limit)", errno.EDQUOT: "disk quota exceeded",
    errno.EMFILE: "too many open files", errno.ENFILE: "too many open files in the system",
}
# Libraries that wrap the OS error in their own exception keep only its text.
_ENVIRONMENT_TEXTS = ("No space left on device", "File too large", "Read-only file system",
                      "Permission denied", "Disk quota exceeded")


class BadDataError(Exception):
    """Raw data breaks a rule. The message names file, subject/row, column and rule."""


class NotEstimableError(BadDataError):
    """The data of a cut cannot support a planned analysis (exit 3), e.g. a propensity model
    that separates the cohorts of a small interim cut. The message names the cut, the analysis,
    the numbers of subjects and the covariates."""


class UsageError(Exception):
    """The command line asks for something that cannot be meant (exit 2)."""


class ValidationFailed(BadDataError):
    def __init__(self, cut: str, failures: list[str], report_path=None):
        self.cut = cut
        self.failures = failures
        self.report_path = report_path
        head = f"validation of {cut} failed; nothing was derived. Broken rules (file, row/subject, column, rule):"
        if report_path:
            head += f" (report: {report_path})"
        super().__init__(head + "\n" + "\n".join(failures))


class ReproductionMismatch(Exception):
    """A rebuilt output differs from the locked one."""


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


def environment_error(exc: BaseException) -> str | None:
    """A plain sentence when ``exc`` (or an exception it was raised from) is an environment error
    of ``ENVIRONMENT_ERRNOS``, naming the path and the OS's reason; None otherwise."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS:
            where = exc.filename if exc.filename is not None else "an output file"
            also = f" -> {exc.filename2}" if exc.filename2 is not None else ""
            return (f"cannot write {where}{also}: {exc.strerror or ENVIRONMENT_ERRNOS[exc.errno]} "
                    f"({errno.errorcode.get(exc.errno, exc.errno)})")
        text = str(exc)
        if any(t in text for t in _ENVIRONMENT_TEXTS):
            return f"cannot write an output file: {text.splitlines()[0] if text else type(exc).__name__}"
        exc = exc.__cause__ or exc.__context__
    return None
