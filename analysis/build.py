"""Incremental, never-stale builds.

Every pipeline step is declared once, in the table ``DEPENDENCIES`` below: what runs it and
what it reads. The command line (analysis.cli) builds its step commands from this table too.

- ``entry``: ``"module:function"`` that runs it (``function(cut, root=root)``; imported only when
             the step has to run),
- ``help``:  one line for ``python -m analysis <step> --help``,
- ``code``:  source files of the modules / notebooks it runs (globs relative to the repository),
- ``reads``: data files (templates relative to the data root: ``{cut}`` the cut being built,
             ``{prev}`` the cut before it; a template ending in ``/`` means a whole folder),
- ``after``: the steps whose outputs it consumes,
- ``outputs``: what it writes (same template syntax; a file belongs to the step whose pattern
             matches it most specifically, so render owning ``reports/{cut}/`` does not own the
             ARD that analyze writes in the same folder),

plus ``requirements.lock`` for every step. After a step succeeds its *build record* (SHA-256 of
every input, fingerprint of every upstream record, SHA-256 of every output) is written atomically
to ``data/derived/.build/<cut>/<step>.json``. A step is up to date when its record exists, all
inputs hash the same and its outputs are still the bytes it wrote; otherwise it re-runs, and
because a downstream step's inputs include its upstream record's fingerprint, exactly the steps
downstream of a change re-run. The record lives outside the step's own output folders so a step
that swaps its folder atomically (analysis.atomic.atomic_dir) cannot destroy it.

This module deliberately imports nothing heavy (no pandas / Great Expectations): the
"everything up to date" path of ``make report`` has to finish in a few seconds.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from analysis import paths
from analysis.atomic import atomic_write_text
from analysis.errors import BadDataError
from analysis.messages import say

RECORD_DIR = ".build"           # under data/derived/: data/derived/.build/<cut>/<step>.json
RECORD_VERSION = 1
LOCKFILE = "requirements.lock"  # the pinned environment: every step depends on it

# Modules every step imports (paths, atomic writes, error types): a change there re-runs all.
COMMON_CODE = ("analysis/__init__.py", "analysis/paths.py", "analysis/ard.py", "analysis/atomic.py", "analysis/errors.py",
               "analysis/messages.py", "analysis/workers.py")
# Steps whose result means nothing if their data inputs changed while they ran: no record is
# written and the build stops (validating one version of a file and recording another would let
# derive work on bytes nobody validated).
STRICT_INPUT_STEPS = ("validate",)


@dataclass(frozen=True)
class StepDeps:
    """One step: what runs it, and what it reads and writes (see the module docstring)."""
    entry: str
    help: str
    code: tuple[str, ...]
    reads: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()


# THE table of step dependencies. Order = pipeline order.
DEPENDENCIES: dict[str, StepDeps] = {
    "validate": StepDeps(
        entry="validation.runner:validate_cut",
        help="check every raw form of the cut (Great Expectations)",
        code=("validation/**", "analysis/raw_spec.py", "analysis/raw_io.py", "analysis/conventions.py",
              # identifier withholding in failure lines (one marker, one function)
              "analysis/regulatory/compare.py", "analysis/regulatory/identifiers.py",
              "analysis/regulatory/__init__.py", "analysis/regulatory/common.py", "analysis/regulatory/guard.py",
              "analysis/build.py"),
        reads=("data/raw/{cut}/",),
        outputs=("reports/{cut}/validation.html",),
    ),
    "derive": StepDeps(
        entry="analysis.derive.pipeline:derive_cut",
        help="build ADaM datasets in data/derived/<cut>/",
        code=("analysis/derive/**", "analysis/raw_io.py", "analysis/raw_spec.py", "analysis/conventions.py",
              "validation/__init__.py", "validation/manifest.py", "analysis/build.py"),
        reads=("data/raw/{cut}/",),
        after=("validate",),
        outputs=("data/derived/{cut}/",),
    ),
    # Define-XML 2.0 from the derive step's spec.json (written before render so the report's
    # index lists it on every run).
    "define": StepDeps(
        entry="analysis.regulatory.define_xml:define_step",
        help="write Define-XML 2.0 of the derived datasets -> reports/<cut>/define.xml",
        code=("analysis/regulatory/define_xml.py", "analysis/raw_spec.py"),
        after=("derive",),
        outputs=("reports/{cut}/define.xml",),
    ),
    "analyze": StepDeps(
        entry="analysis.analyze.pipeline:analyze_cut",
        help="compute the SAP analyses -> reports/<cut>/ard.csv",
        code=("analysis/stats/**", "analysis/analyze/**", "analysis/conventions.py"),
        after=("derive",),
        outputs=("reports/{cut}/ard.*", "reports/{cut}/ard_*", "reports/{cut}/ard/"),
    ),
    # The numbered tables and listings of the report as RTF, from the ARD (listings: derived data),
    # by the same builders whose Table the notebooks show (analysis/present/csr/).
    "rtf": StepDeps(
        entry="analysis.present.csr.step:rtf_cut",
        help="write every numbered table and listing as RTF from the ARD -> reports/<cut>/tables/",
        code=("analysis/present/**", "analysis/provenance.py", "analysis/analyze/**", "analysis/stats/**",
              "analysis/conventions.py", "analysis/build.py", "analysis/raw_io.py", "analysis/raw_spec.py",
              "analysis/regulatory/__init__.py", "analysis/regulatory/common.py", "analysis/regulatory/compare.py",
              "analysis/regulatory/guard.py", "validation/__init__.py", "validation/manifest.py"),
        after=("derive", "analyze"),
        outputs=("reports/{cut}/tables/",),
    ),
    # "Changes since the previous cut": raw of both cuts, derived data / ARD of the previous cut
    # where built, and lock manifests (a change to a locked cut is called out).
    "changes": StepDeps(
        entry="analysis.regulatory.compare:changes_step",
        help="changes since the previous cut -> reports/<cut>/changes/",
        code=("analysis/regulatory/__init__.py", "analysis/regulatory/compare.py", "analysis/regulatory/common.py",
              "analysis/regulatory/guard.py", "analysis/raw_io.py", "analysis/raw_spec.py", "analysis/conventions.py",
              "analysis/build.py", "validation/__init__.py", "validation/manifest.py"),
        reads=("data/raw/{cut}/", "data/raw/{prev}/", "data/derived/{prev}/", "reports/{prev}/ard.csv",
               "data/locked/{prev}/", "data/locked/{cut}/"),
        after=("derive", "analyze"),
        outputs=("reports/{cut}/changes/",),
    ),
    "render": StepDeps(
        entry="analysis.render.pipeline:render_cut",
        help="render the Quarto notebooks -> reports/<cut>/ (index links the RTF tables of the rtf step)",
        code=("analysis/notebooks/**", "analysis/render/**", "analysis/present/**", "analysis/provenance.py",
              "docs/sap-notes.md", "_quarto.yml",
              # what the notebooks import besides present: the ARD reader and loaders of
              # analysis.analyze (and through them the statistics), the change tables' reader
              "analysis/analyze/**", "analysis/stats/**", "analysis/conventions.py", "analysis/raw_io.py",
              "analysis/raw_spec.py", "analysis/build.py", "analysis/regulatory/__init__.py",
              "analysis/regulatory/common.py", "analysis/regulatory/compare.py", "analysis/regulatory/guard.py",
              "validation/__init__.py", "validation/manifest.py"),
        after=("validate", "derive", "define", "analyze", "rtf", "changes"),
        outputs=("reports/{cut}/",),
    ),
    # Last: no directly identifying column or value of raw in any output (raises BadDataError).
    "identifiers": StepDeps(
        entry="analysis.regulatory.identifiers:identifiers_step",
        help="check that no identifying column or value of raw reached any output",
        code=("analysis/regulatory/__init__.py", "analysis/regulatory/identifiers.py", "analysis/regulatory/common.py",
              "analysis/regulatory/compare.py", "analysis/regulatory/guard.py", "analysis/raw_io.py",
              "analysis/raw_spec.py", "analysis/conventions.py", "analysis/build.py", "validation/__init__.py",
              "validation/manifest.py"),
        reads=("data/raw/{cut}/",),
        after=("derive", "define", "analyze", "rtf", "changes", "render"),
    ),
}

PIPELINE = tuple(DEPENDENCIES)

# Never inputs or outputs: caches, editor / atomic-write scratch files, our own records.
_IGNORED_PARTS = ("__pycache__", ".ipynb_checkpoints", ".pytest_cache", RECORD_DIR, "_freeze")
_IGNORED_NAMES = ("*.pyc", ".*.tmp-*", ".*.old-*", ".DS_Store", "*~")


# --- running a step -----------------------------------------------------------------------------------

class StepMissing(Exception):
    """A step's module does not exist (yet)."""


def load_step(step: str, table: dict[str, StepDeps] | None = None) -> Callable:
    """The function that runs ``step`` (its ``entry``), imported now."""
    module, _, func = (table or DEPENDENCIES)[step].entry.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == module or module.startswith(exc.name + ".")):
            raise StepMissing(f"step '{step}' is not built yet ({module} does not exist)") from None
        raise
    return getattr(mod, func)


def step_runner(step: str) -> Callable[[str, Path], None]:
    """The build engine's runner: resolves the step function only when the step must run."""
    def run(cut: str, root: Path) -> None:
        load_step(step)(cut, root=root)
    return run


# --- hashing --------------------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_json(obj) -> str:
    """SHA-256 of a canonical JSON rendering (sorted keys): fingerprints of records."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _ignored(rel: str) -> bool:
    parts = rel.split("/")
    if any(p in _IGNORED_PARTS for p in parts):
        return True
    return any(fnmatch.fnmatch(parts[-1], pat) for pat in _IGNORED_NAMES)


def _files_under(base: Path) -> Iterable[Path]:
    if base.is_file():
        yield base
    elif base.is_dir():
        yield from (p for p in base.rglob("*") if p.is_file())


def expand(base: Path, patterns: Iterable[str]) -> dict[str, Path]:
    """Files matched by ``patterns`` under ``base``: 'dir/' (whole folder), 'dir/**' (same),
    a glob ('reports/x/ard.*') or a plain file path. Returns {posix path relative to base: path}."""
    found: dict[str, Path] = {}
    for pat in patterns:
        if pat.endswith("/**"):
            pat = pat[:-2]
        if pat.endswith("/"):
            candidates = _files_under(base / pat)
        elif any(ch in pat for ch in "*?["):
            candidates = (p for p in base.glob(pat) if p.is_file())
        else:
            candidates = _files_under(base / pat)
        for p in candidates:
            rel = p.relative_to(base).as_posix()
            if not _ignored(rel):
                found[rel] = p
    return dict(sorted(found.items()))


def hash_files(files: dict[str, Path]) -> dict[str, str]:
    return {rel: sha256_file(p) for rel, p in files.items()}


# --- templates --------------------------------------------------------------------------------------

def _fill(templates: Iterable[str], cut: str, prev: str | None) -> list[str]:
    """Substitute {cut} / {prev}; templates naming {prev} are dropped for the first cut."""
    out = []
    for t in templates:
        if "{prev}" in t and prev is None:
            continue
        out.append(t.format(cut=cut, prev=prev))
    return out


def _specificity(pattern: str) -> tuple[int, int]:
    """More specific patterns win ownership of a file: the longer literal prefix (before any
    wildcard), then fewer wildcards. 'reports/c/ard.*' beats 'reports/c/'."""
    literal = len(pattern)
    for i, ch in enumerate(pattern):
        if ch in "*?[":
            literal = i
            break
    return (literal, -sum(pattern.count(c) for c in "*?["))


def _matches(rel: str, pattern: str) -> bool:
    if pattern.endswith("/**"):
        pattern = pattern[:-2]
    if pattern.endswith("/"):
        return rel.startswith(pattern)
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(rel, pattern)
    return rel == pattern or rel.startswith(pattern + "/")


def owned_outputs(step: str, cut: str, root: Path, table: dict[str, StepDeps] | None = None) -> dict[str, Path]:
    """The files ``step`` wrote for ``cut``: those under its output patterns that no other step
    claims with a more specific pattern."""
    table = table or DEPENDENCIES
    prev = paths.previous_cut(cut, root)
    mine = _fill(table[step].outputs, cut, prev)
    others = [(pat, name) for name, deps in table.items() if name != step
              for pat in _fill(deps.outputs, cut, prev)]
    result = {}
    for rel, p in expand(root, mine).items():
        best_mine = max((_specificity(pat) for pat in mine if _matches(rel, pat)), default=None)
        if best_mine is None:
            continue
        if any(_matches(rel, pat) and _specificity(pat) > best_mine for pat, _ in others):
            continue
        result[rel] = p
    return result


# --- records -----------------------------------------------------------------------------------------

def record_path(step: str, cut: str, root: Path | None = None) -> Path:
    return paths.derived_root(root) / RECORD_DIR / cut / f"{step}.json"


def read_record(step: str, cut: str, root: Path | None = None) -> dict | None:
    p = record_path(step, cut, root)
    try:
        rec = json.loads(p.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return rec if rec.get("version") == RECORD_VERSION else None


def fingerprint(record: dict) -> str:
    """What a downstream step depends on: the upstream step's inputs and outputs."""
    return sha256_json({"inputs": record["inputs"], "outputs": record["outputs"]})


@dataclass
class Plan:
    """Where code lives and what each step depends on (tests substitute their own)."""
    table: dict[str, StepDeps] = field(default_factory=lambda: DEPENDENCIES)
    code_root: Path = paths.REPO_ROOT

    def steps(self) -> tuple[str, ...]:
        return tuple(self.table)

    def upstream_closure(self, step: str) -> list[str]:
        """``step`` and everything it depends on, in pipeline order."""
        need, todo = set(), [step]
        while todo:
            s = todo.pop()
            if s not in need:
                need.add(s)
                todo.extend(self.table[s].after)
        return [s for s in self.table if s in need]


def current_inputs(step: str, cut: str, root: Path, plan: Plan) -> dict[str, str]:
    """SHA-256 of every input of ``step`` now: keys 'code:<path>', 'data:<path>', 'env:<lock>',
    'after:<step>' (fingerprint of that step's record, 'missing' if it has none)."""
    deps = plan.table[step]
    prev = paths.previous_cut(cut, root)
    inputs: dict[str, str] = {}
    code = expand(plan.code_root, (*COMMON_CODE, *deps.code))
    inputs.update({f"code:{rel}": h for rel, h in hash_files(code).items()})
    data = expand(root, _fill(deps.reads, cut, prev))
    inputs.update({f"data:{rel}": h for rel, h in hash_files(data).items()})
    lock = plan.code_root / LOCKFILE
    inputs[f"env:{LOCKFILE}"] = sha256_file(lock) if lock.exists() else "missing"
    for up in deps.after:
        rec = read_record(up, cut, root)
        inputs[f"after:{up}"] = fingerprint(rec) if rec else "missing"
    return inputs


@dataclass
class Status:
    step: str
    up_to_date: bool
    reasons: list[str]
    inputs: dict[str, str]


def _diff_keys(old: dict, new: dict, what: str) -> list[str]:
    changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    out = []
    for k in changed:
        state = "new" if k not in old else "removed" if k not in new else "changed"
        out.append(f"{what} {k} {state}")
    return out


def status(step: str, cut: str, root: Path | None = None, plan: Plan | None = None,
           upstream: bool = True) -> Status:
    """Is ``step`` of ``cut`` up to date? ``reasons`` says what changed when it is not. With
    ``upstream`` (the default) a step is also stale when a step it depends on is stale, since
    that step will re-run first (the build itself checks in pipeline order and skips this)."""
    plan = plan or Plan()
    root = Path(root or paths.ROOT)
    inputs = current_inputs(step, cut, root, plan)
    rec = read_record(step, cut, root)
    reasons = []
    if upstream:
        reasons += [f"upstream step {s} is stale" for s in plan.upstream_closure(step)
                    if s != step and not status(s, cut, root, plan, upstream=False).up_to_date]
    if rec is None:
        return Status(step, False, reasons + ["never built (no build record)"], inputs)
    reasons += _diff_keys(rec["inputs"], inputs, "input")
    outs_now = hash_files(owned_outputs(step, cut, root, plan.table))
    reasons += _diff_keys(rec["outputs"], outs_now, "output")
    return Status(step, not reasons, reasons, inputs)


def write_record(step: str, cut: str, root: Path, plan: Plan, inputs: dict[str, str], seconds: float) -> dict:
    rec = {
        "version": RECORD_VERSION,
        "step": step,
        "cut": cut,
        "inputs": inputs,
        "outputs": hash_files(owned_outputs(step, cut, root, plan.table)),
        "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
    }
    atomic_write_text(record_path(step, cut, root), json.dumps(rec, indent=1, sort_keys=True) + "\n")
    return rec


def _summarise(reasons: list[str], limit: int = 3) -> str:
    head = "; ".join(reasons[:limit])
    return head + (f"; and {len(reasons) - limit} more" if len(reasons) > limit else "")


def build_step(step: str, cut: str, run: Callable[[str, Path], None], root: Path | None = None,
               plan: Plan | None = None, force: bool = False, say: Callable[[str], None] = say) -> bool:
    """Run ``step`` of ``cut`` unless it is up to date. ``run(cut, root)`` does the work and
    raises on failure, in which case no record is written (the old one is removed first, so a
    half-finished run is never taken for a finished one). Returns True when the step ran."""
    plan = plan or Plan()
    root = Path(root or paths.ROOT)
    st = status(step, cut, root, plan, upstream=False)
    if st.up_to_date and not force:
        say(f"[{step}] {cut} up to date")
        return False
    why = "forced" if force and st.up_to_date else _summarise(st.reasons)
    say(f"[{step}] {cut} running ({why}) ...")
    record_path(step, cut, root).unlink(missing_ok=True)
    t0 = time.perf_counter()
    run(cut, root)
    seconds = time.perf_counter() - t0
    # Inputs are re-hashed after the run: a file edited while the step ran makes the next build
    # re-run it rather than trust a record of inputs the step may not have seen.
    inputs_after = current_inputs(step, cut, root, plan)
    if inputs_after != st.inputs:
        changed = [k for k in sorted(set(st.inputs) | set(inputs_after))
                   if k.startswith("data:") and st.inputs.get(k) != inputs_after.get(k)]
        if step in STRICT_INPUT_STEPS and changed:
            raise BadDataError(f"[{step}] {cut}: raw files changed while being validated ({', '.join(changed)}); "
                               f"the result cannot be trusted and nothing was recorded. Run again on a "
                               f"stable export.")
        say(f"[{step}] {cut} inputs changed while it ran; it will run again next time")
        inputs_after = {**inputs_after, "note:changed-during-run": "yes"}
    write_record(step, cut, root, plan, inputs_after, seconds)
    say(f"[{step}] {cut} done in {seconds:.1f} s")
    return True


def build(target_steps: Iterable[str], cut: str, runner: Callable[[str], Callable[[str, Path], None]],
          root: Path | None = None, plan: Plan | None = None, force: Iterable[str] = (),
          say: Callable[[str], None] = say) -> list[str]:
    """Bring ``target_steps`` (and what they depend on) up to date, in pipeline order.
    ``runner(step)`` returns the step function; ``force`` names steps to re-run regardless.
    Returns the steps that ran."""
    plan = plan or Plan()
    force = set(force)
    need: list[str] = []
    for t in target_steps:
        for s in plan.upstream_closure(t):
            if s not in need:
                need.append(s)
    order = [s for s in plan.steps() if s in need]
    ran = []
    for s in order:
        if build_step(s, cut, runner(s), root, plan, force=s in force, say=say):
            ran.append(s)
    return ran


def code_fingerprints(plan: Plan | None = None) -> dict[str, str]:
    """Per step, one SHA-256 over the source files it runs (recorded in lock manifests)."""
    plan = plan or Plan()
    out = {}
    for step, deps in plan.table.items():
        files = hash_files(expand(plan.code_root, (*COMMON_CODE, *deps.code)))
        out[step] = sha256_json(files)
    return out
