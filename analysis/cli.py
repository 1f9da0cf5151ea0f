"""Command line: ``python -m analysis <step> [--cut cut-YYYY-MM-DD]``.

Steps run in the fixed order raw -> validate -> derive -> analyze -> render; ``report`` runs them
all. Exit codes (analysis.errors): 0 success, 1 a defect (unexpected exception), 2 bad command
line, 3 bad data (validation failed: nothing was derived), 4 a reproduction/comparison mismatch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("MPLBACKEND", "Agg")

from analysis import paths  # noqa: E402
from analysis.errors import (  # noqa: E402
    EXIT_BAD_DATA, EXIT_BUG, EXIT_MISMATCH, EXIT_OK, BadDataError, ReproductionMismatch,
)

# step name -> (module, function, one-line description). The function takes (cut, root) and
# raises BadDataError for bad data.
STEPS = {
    "validate": ("validation.runner", "validate_cut", "check every raw form of the cut (Great Expectations)"),
    "derive": ("analysis.derive.pipeline", "derive_cut", "build ADaM datasets in data/derived/<cut>/"),
    "analyze": ("analysis.analyze.pipeline", "analyze_cut", "compute the SAP analyses -> reports/<cut>/ard.csv"),
    "render": ("analysis.render.pipeline", "render_cut", "render the Quarto notebooks -> reports/<cut>/"),
}
PIPELINE = ("validate", "derive", "analyze", "render")


class StepMissing(Exception):
    pass


def _load(step: str):
    module, func, _ = STEPS[step]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == module or module.startswith(exc.name + ".")):
            raise StepMissing(f"step '{step}' is not built yet ({module} does not exist)") from None
        raise
    return getattr(mod, func)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_step(step: str, cut: str, root: Path | None) -> None:
    fn = _load(step)
    t0 = time.perf_counter()
    _say(f"[{step}] {cut} ...")
    fn(cut, root=root)
    _say(f"[{step}] {cut} done in {time.perf_counter() - t0:.1f} s")


def _cut_of(args) -> str:
    root = args.root
    if args.cut:
        if args.cut not in paths.list_cuts(root):
            raise BadDataError(f"data cut {args.cut!r} not found in {paths.raw_root(root)}; "
                               f"available: {', '.join(paths.list_cuts(root)) or 'none'}")
        return args.cut
    return paths.latest_cut(root)


def cmd_simulate(args) -> int:
    from analysis.simulate import write_cuts  # the only place that imports the simulator
    written = write_cuts(paths.raw_root(args.root), seed=args.seed, force=args.force)
    for cut in written:
        _say(f"[simulate] wrote {paths.raw_dir(cut, args.root)}")
    return EXIT_OK


def cmd_step(args) -> int:
    run_step(args.command, _cut_of(args), args.root)
    return EXIT_OK


def cmd_report(args) -> int:
    cut = _cut_of(args)
    for step in PIPELINE:
        try:
            run_step(step, cut, args.root)
        except StepMissing as exc:
            _say(f"[{step}] {exc}; stopping here.")
            return EXIT_OK
    _say(f"report of {cut}: {paths.report_dir(cut, args.root)}")
    return EXIT_OK


def cmd_extra(args) -> int:
    """lock / reproduce / compare live in analysis.regulatory."""
    try:
        mod = importlib.import_module("analysis.regulatory")
    except ModuleNotFoundError:
        _say(f"'{args.command}' is not built yet (analysis.regulatory does not exist)")
        return EXIT_BUG
    return getattr(mod, f"cmd_{args.command}")(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m analysis", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=None,
                   help="project tree to read and write (default: this repository)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, help_, func, cut=True):
        sp = sub.add_parser(name, help=help_, description=help_)
        if cut:
            sp.add_argument("--cut", default=None,
                            help="data cut folder name, e.g. cut-2025-06-30 (default: the latest in data/raw/)")
        sp.set_defaults(func=func)
        return sp

    sp = add("simulate", "write the SYNTHETIC raw exports of every data cut into data/raw/", cmd_simulate, cut=False)
    sp.add_argument("--seed", type=int, default=20221101, help="random seed (default: %(default)s)")
    sp.add_argument("--force", action="store_true", help="overwrite existing raw cuts")
    for name, (_, _, desc) in STEPS.items():
        add(name, desc, cmd_step)
    add("report", "run every step in order: " + " -> ".join(PIPELINE), cmd_report)
    add("lock", "freeze an official cut: commit derived data, ARD and provenance", cmd_extra)
    sp = add("reproduce", "rebuild a locked cut from raw in a scratch tree and compare", cmd_extra)
    sp = sub.add_parser("compare", help="changes between two data cuts", description="changes between two data cuts")
    sp.add_argument("--from", dest="from_cut", required=True)
    sp.add_argument("--to", dest="to_cut", required=True)
    sp.set_defaults(func=cmd_extra)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.root is not None:
        args.root = args.root.resolve()
    try:
        return args.func(args)
    except BadDataError as exc:
        _say(f"BAD DATA: {exc}")
        return EXIT_BAD_DATA
    except ReproductionMismatch as exc:
        _say(f"MISMATCH: {exc}")
        return EXIT_MISMATCH
    except StepMissing as exc:
        _say(str(exc))
        return EXIT_BUG
    except KeyboardInterrupt:
        return 130
    except Exception:  # a defect, not bad data: show the traceback
        traceback.print_exc()
        _say("INTERNAL ERROR: this is a bug in the analysis package, not a data problem.")
        return EXIT_BUG
