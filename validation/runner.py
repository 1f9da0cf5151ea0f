"""Entry point of the ``validate`` step: ``validate_cut(cut, root) -> ValidationResult``.

Order: the files (present, readable) and manifest.json (SHA-256 of every file, unlisted files),
then per form the structure suite ``raw.<form>.structure`` and the value suite ``raw.<form>``
(validation.form_suites), then the cross-form suites ``cross.<form>`` (validation.cross). All GX
suites run in one ephemeral context. The report reports/<cut>/validation.html is written
atomically in every case; nothing else is written (no data/derived, no other cut). Any failure
raises ``analysis.errors.ValidationFailed`` listing one line per failing row (capped per rule).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from analysis import paths  # noqa: E402
from analysis.atomic import atomic_write_text  # noqa: E402
from analysis.errors import BadDataError, ValidationFailed  # noqa: E402
from analysis.messages import say  # noqa: E402
from analysis.raw_io import sha256_file  # noqa: E402
from analysis.raw_spec import FORMS  # noqa: E402
from validation.cross import cross_suites  # noqa: E402
from validation.engine import FAILED, NOT_EVALUATED, PASSED, Outcome, run_suites  # noqa: E402
from validation.form_suites import structure_suite, value_suite  # noqa: E402
from validation.frames import LoadedForm, load_form  # noqa: E402
from validation.manifest import manifest_problems  # noqa: E402
from validation.report import failure_lines, render_html  # noqa: E402
from validation.rules import Rule, Suite  # noqa: E402

REPORT_NAME = "validation.html"


@dataclass
class ValidationResult:
    cut: str
    outcomes: list[Outcome]
    failures: list[str]                  # terminal lines (capped per rule)
    report_path: Path
    seconds: float
    suites: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.failures

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    def summary(self) -> str:
        return (f"validation of {self.cut}: {len(self.suites)} suites, {len(self.outcomes)} expectations/checks, "
                f"{self.count(PASSED)} passed, {self.count(FAILED)} failed, {self.count(NOT_EVALUATED)} not evaluated "
                f"({self.seconds:.1f} s); report: {self.report_path}")


def _custom_outcome(suite: Suite, check: str, file: str, statement: str, problems: list[str]) -> Outcome:
    rule = suite.add(Rule(file, "", statement, None, custom=check))
    return Outcome(suite, rule, FAILED if problems else PASSED, problems=problems)


def file_outcomes(cut_dir: Path, loaded: dict[str, LoadedForm]) -> list[Outcome]:
    """Custom checks: each contract file present and readable; manifest.json agrees."""
    files = Suite("files", "raw files: present, readable, as listed in manifest.json", None, None)
    out = [_custom_outcome(files, "file_present_and_readable", lf.form.file, f"{lf.form.file} present and readable as UTF-8 CSV",
                           [f"{lf.form.file}: {lf.error}"] if lf.error else [])
           for lf in loaded.values()]
    out.append(_custom_outcome(files, "manifest_sha256", "manifest.json",
                               "every file listed in manifest.json exists with the same SHA-256; no unlisted file",
                               manifest_problems(cut_dir)))
    return out


def build_suites(loaded: dict[str, LoadedForm], cut_date: str) -> list[Suite]:
    """Structure and value suites of every readable form, then the cross-form suites."""
    suites: list[Suite] = []
    frames: dict = {}
    missing: dict[str, tuple[str, ...]] = {}
    for name, lf in loaded.items():
        if not lf.ok:
            frames[name] = None
            continue
        values = value_suite(lf.form, lf.text, cut_date)
        suites += [structure_suite(lf.form, lf.text), values]
        frames[name] = values.frame
        missing[name] = values.missing_columns
    return suites + cross_suites(frames, missing)


def check_cut(cut_dir: Path, cut_date: str, only: set[str] | None = None, cache: dict | None = None) -> list[Outcome]:
    """Every outcome for the raw folder ``cut_dir`` (cut date ``YYYY-MM-DD``), without writing
    anything. ``only``: names of the GX suites to run (e.g. {"raw.dm", "cross.cart"}); the file
    and manifest checks always run. Tests use it to run just the suites a corruption touches.
    ``cache``: see validation.engine.run_suites (outcomes of unchanged suites reused)."""
    loaded = {name: load_form(cut_dir, form) for name, form in FORMS.items()}
    suites = build_suites(loaded, cut_date)
    if only is not None:
        unknown = set(only) - {s.name for s in suites}
        if unknown:
            raise ValueError(f"no such suite(s): {', '.join(sorted(unknown))}")
        suites = [s for s in suites if s.name in only]
    return withhold_identifiers(file_outcomes(cut_dir, loaded) + run_suites(suites, cache=cache), loaded)


def withhold_identifiers(outcomes: list[Outcome], loaded: dict[str, LoadedForm]) -> list[Outcome]:
    """An identifying value of the export (analysis.regulatory.identifiers: a hospital record
    number, a full birth date) found in ANY column of a failure line (e.g. a HOSPRN pasted into
    SUBJID or AETERM) is replaced by the one withheld-identifier marker, in the terminal lines
    and validation.html alike."""
    from analysis.regulatory.identifiers import identifiers_of_form, withhold_in_text
    values = {}
    for lf in loaded.values():
        if lf.ok:
            values.update(identifiers_of_form(lf.text, lf.form))
    if not values:
        return outcomes
    for o in outcomes:
        o.problems = [withhold_in_text(p, values) for p in o.problems]
        for fr in o.rows:
            fr.detail = withhold_in_text(fr.detail, values)
            fr.subject = None if fr.subject is None else withhold_in_text(fr.subject, values)
    return outcomes


def validate_cut(cut: str, root: Path | None = None, cache: dict | None = None) -> ValidationResult:
    """Validate the raw cut ``data/raw/<cut>`` of ``root`` (default: analysis.paths.ROOT).

    Returns the result when every rule holds; otherwise raises ValidationFailed(cut, lines,
    report_path). Writes reports/<cut>/validation.html in both cases (and nothing else)."""
    t0 = time.perf_counter()
    try:
        cut_date = paths.cut_date(cut)
    except ValueError as exc:
        raise BadDataError(str(exc)) from None
    cut_dir = paths.raw_dir(cut, root)
    report_path = paths.report_dir(cut, root) / REPORT_NAME
    if cut_dir.is_symlink():
        raise BadDataError(f"{cut_dir}: the cut folder is a symbolic link (to {cut_dir.resolve()}); refused: "
                           f"a raw cut is a plain folder in {paths.raw_root(root)}")
    if not cut_dir.is_dir():
        raise BadDataError(f"{cut_dir}: data cut folder not found")
    outcomes = check_cut(cut_dir, cut_date, cache=cache)
    failures = failure_lines(outcomes)
    listed = [(p.name, sha256_file(p)) for p in sorted(cut_dir.iterdir())
              if p.is_file() and not p.is_symlink() and not p.name.startswith(".")]
    atomic_write_text(report_path, render_html(cut, f"data/raw/{cut}", outcomes, listed))
    suites = list(dict.fromkeys(o.suite.name for o in outcomes))
    result = ValidationResult(cut, outcomes, failures, report_path, time.perf_counter() - t0, suites=suites)
    say(result.summary())
    if failures:
        raise ValidationFailed(cut, failures, report_path)
    return result
