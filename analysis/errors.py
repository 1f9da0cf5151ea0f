"""Exceptions that the command line maps to distinct exit codes."""

EXIT_OK = 0
EXIT_BUG = 1          # an unexpected exception: a defect in this package
EXIT_USAGE = 2        # bad command line (argparse)
EXIT_BAD_DATA = 3     # the raw data broke a validation rule or the raw contract
EXIT_MISMATCH = 4     # reproduce/compare found a difference


class BadDataError(Exception):
    """Raw data breaks a rule. The message names file, subject/row, column and rule."""


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
