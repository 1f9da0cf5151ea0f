"""Command line: ``python -m analysis <command> [--cut cut-YYYY-MM-DD]``.

Steps run in the fixed order validate -> derive -> define -> analyze -> changes -> render ->
identifiers (declared once, with their entry points and help, in analysis.build.DEPENDENCIES);
``report`` brings them all up to date, re-running only what is stale (analysis.build). A step
command (e.g. ``analyze``) brings that step and what it depends on up to date. ``--cut`` defaults
to the latest cut in data/raw/.

Exit codes (analysis.errors): 0 success, 1 a defect (unexpected exception), 2 bad command
line, 3 bad data (validation failed, unknown cut, identifier leak: nothing further was built),
4 a reproduction/comparison mismatch (also: building a LOCKED cut whose raw data differ from the
lock), 5 an environment error (read-only or forbidden output folder, disk full, file-size limit:
the message names the path and the OS error; earlier outputs are intact).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("MPLBACKEND", "Agg")

# Only light imports here: the "everything up to date" path must not load pandas or GX.
from analysis import build, paths  # noqa: E402
from analysis.errors import (  # noqa: E402
    EXIT_BAD_DATA, EXIT_BUG, EXIT_ENVIRONMENT, EXIT_MISMATCH, EXIT_OK, EXIT_USAGE, BadDataError,
    NotEstimableError, RenderError, ReproductionMismatch, UsageError, environment_error,
)
from analysis.messages import say, tell  # noqa: E402
from analysis.workers import check_settings  # noqa: E402
from analysis.regulatory import guard  # noqa: E402  (light: json and hashing)

# The steps, their order, entry points and help: the one table of analysis.build.
PIPELINE = build.PIPELINE
StepMissing = build.StepMissing


_say = say   # the one message helper: logging to stderr, control characters escaped (analysis.messages)


def _prestarting_runner(step: str):
    """``build.step_runner``; and when a step before render has to run, render's kernels are started at
    once to start up and import on the other core meanwhile (analysis.render.kernels.prestart)."""
    run = build.step_runner(step)

    def run_after_prestart(cut: str, root: Path) -> None:
        if PIPELINE.index(step) < PIPELINE.index("render"):
            from analysis.render.pipeline import prestart_kernels
            prestart_kernels()
        run(cut, root)
    return run_after_prestart


def _discard_prestarted() -> None:
    kernels = sys.modules.get("analysis.render.kernels")  # imported only if kernels were started
    if kernels is not None:
        kernels.discard_prestarted()


def _root(args) -> Path:
    return paths.project_root(args.root)


def _cut_of(args) -> str:
    return paths.resolve_cut(args.cut, args.root)


def cmd_simulate(args) -> int:
    from analysis.simulate.study import write_cuts  # the only place that imports the simulator
    out = args.out if args.out is not None else paths.raw_root(args.root)
    try:
        written = write_cuts(out, seed=args.seed, force=args.force, n_trial=args.n_trial,
                             n_external=args.n_external)
    except (FileExistsError, ValueError) as exc:  # read-only raw data, impossible size: usage errors
        _say(f"simulate: {exc}")
        return EXIT_USAGE
    for cut in written:
        _say(f"[simulate] wrote {Path(out) / cut}")
    return EXIT_OK


def cmd_step(args) -> int:
    cut = _cut_of(args)
    guard.prepare_build(cut, _root(args))
    build.build([args.command], cut, build.step_runner, root=_root(args),
                force=[args.command] if args.force else (), say=_say)
    return EXIT_OK


def cmd_report(args) -> int:
    cut = _cut_of(args)
    t0 = time.perf_counter()
    targets = PIPELINE[: PIPELINE.index(args.until) + 1] if args.until else PIPELINE
    guard.prepare_build(cut, _root(args))
    runner = _prestarting_runner if "render" in targets else build.step_runner
    try:
        build.build(targets, cut, runner, root=_root(args), force=targets if args.force else (), say=_say)
    except StepMissing as exc:
        _say(f"{exc}; stopping here.")
        return EXIT_OK
    finally:
        _discard_prestarted()
    _say(f"report of {cut}: {paths.report_dir(cut, args.root)} ({time.perf_counter() - t0:.1f} s)")
    return EXIT_OK


def cmd_status(args) -> int:
    cut = _cut_of(args)
    for step in PIPELINE:
        st = build.status(step, cut, _root(args))
        tell(f"{step:11s} {'up to date' if st.up_to_date else 'STALE: ' + '; '.join(st.reasons[:5])}")
    return EXIT_OK


def cmd_extra(args) -> int:
    """lock / reproduce / compare live in analysis.regulatory."""
    from analysis.regulatory import commands
    return getattr(commands, f"cmd_{args.command}")(args)


def cut_name(value: str) -> str:
    """argparse type of --cut/--from/--to: an empty name is a usage error, never 'the latest'."""
    if not value.strip():
        raise argparse.ArgumentTypeError("an empty cut name; give cut-YYYY-MM-DD or leave the option out "
                                         "for the latest cut")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m analysis", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    root_help = "project tree to read and write (default: this repository, or $ANALYSIS_ROOT)"
    p.add_argument("--root", type=Path, default=None, help=root_help)
    # --root is also accepted after the command; SUPPRESS keeps a value given before it
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("--root", type=Path, default=argparse.SUPPRESS, help=root_help)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, help_, func, cut=True):
        sp = sub.add_parser(name, help=help_, description=help_, parents=[after])
        if cut:
            sp.add_argument("--cut", default=None, type=cut_name,
                            help="data cut folder name, e.g. cut-2025-06-30 (default: the latest in data/raw/)")
        sp.set_defaults(func=func)
        return sp

    sp = add("simulate", "write the SYNTHETIC raw exports of every data cut into data/raw/", cmd_simulate, cut=False)
    sp.add_argument("--seed", type=int, default=20221101, help="random seed (default: %(default)s)")
    sp.add_argument("--force", action="store_true", help="overwrite existing raw cuts")
    sp.add_argument("--n-trial", type=int, default=40, help="trial patients (default: %(default)s, the shipped study)")
    sp.add_argument("--n-external", type=int, default=150,
                    help="external-control registry patients (default: %(default)s)")
    sp.add_argument("--out", type=Path, default=None,
                    help="folder that receives the cut folders (default: data/raw/ of --root); "
                         "e.g. --out /tmp/big/data/raw, then --root /tmp/big for the other commands")
    for name, deps in build.DEPENDENCIES.items():
        sp = add(name, deps.help + " (and bring the steps it needs up to date)", cmd_step)
        sp.add_argument("--force", action="store_true", help="re-run this step even if it is up to date")
    sp = add("report", "bring every step up to date, in order: " + " -> ".join(PIPELINE), cmd_report)
    sp.add_argument("--force", action="store_true", help="re-run every step even if up to date")
    sp.add_argument("--until", choices=PIPELINE, default=None, help="stop after this step")
    add("status", "show which steps of the cut are up to date and, if not, why", cmd_status)
    sp = add("lock", "freeze an official cut: derived data, ARD, define.xml and provenance -> data/locked/<cut>/",
             cmd_extra)
    sp.add_argument("--force", action="store_true", help="replace an existing lock whose outputs changed")
    sp.add_argument("--reason", default=None,
                    help="why an existing lock is replaced (implies --force); recorded in lock.json with the "
                         "previous lock's sha256 and git commit")
    sp = add("reproduce", "rebuild a locked cut from raw in a scratch tree and compare with the lock "
                          "(exit 4 on any difference)", cmd_extra)
    sp.add_argument("--keep", action="store_true", help="keep the scratch tree and print where it is")
    sp = sub.add_parser("compare", parents=[after], help="changes between two data cuts (subjects, events, values, ARD)",
                        description="changes between two data cuts: subjects added, new events, raw values "
                                    "changed, ARD results moved; tables in reports/<to>/changes/")
    sp.add_argument("--from", dest="from_cut", default=None, type=cut_name, help="earlier cut (default: the one before --to)")
    sp.add_argument("--to", dest="to_cut", default=None, type=cut_name, help="later cut (default: the latest)")
    sp.add_argument("--no-write", action="store_true", help="print only; do not write reports/<to>/changes/")
    sp.set_defaults(func=cmd_extra)
    from analysis import cli_design   # the `design` subcommand, issue 17 (SAP 9)
    cli_design.add_parser(sub, after)
    return p


def _quiet_broken_pipe() -> int:
    """The reader of our stdout went away (``status | head``): stop quietly. Later writes (and
    the interpreter's final flush) go to /dev/null instead of raising again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.root is not None:
        args.root = args.root.resolve()
    if hasattr(signal, "SIGXFSZ"):
        # over a file-size limit the write fails with EFBIG (reported, exit 5) instead of the
        # process being killed by the signal with a core dump
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        return _dispatch(args)
    except BrokenPipeError:
        return _quiet_broken_pipe()


def _dispatch(args) -> int:
    try:
        check_settings()   # $SAP_*_WORKERS: a bad value stops here, before any step (exit 2)
        return args.func(args)
    except BrokenPipeError:
        raise
    except UsageError as exc:
        _say(f"usage error: {exc}")
        return EXIT_USAGE
    except NotEstimableError as exc:   # the data are valid but cannot support the analysis
        _say(f"NOT ESTIMABLE: {exc}")
        return EXIT_BAD_DATA
    except BadDataError as exc:
        _say(f"BAD DATA: {exc}")
        return EXIT_BAD_DATA
    except ReproductionMismatch as exc:
        _say(f"MISMATCH: {exc}")
        return EXIT_MISMATCH
    except StepMissing as exc:
        _say(str(exc))
        return EXIT_BUG
    except RenderError as exc:  # the message names notebook, cell and traceback already
        env = environment_error(exc)
        if env is not None:
            _say(f"ENVIRONMENT ERROR while rendering: {env}. Earlier outputs are intact.")
            return EXIT_ENVIRONMENT
        _say(f"RENDER FAILED: {exc}")
        return EXIT_BUG
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a defect, not bad data: show the traceback
        env = environment_error(exc)
        if env is not None:   # the machine refused a write: not a defect, no traceback
            _say(f"ENVIRONMENT ERROR: {env}. Nothing was replaced: outputs are written whole or not at all, "
                 f"so earlier outputs are intact. Free space, lift the limit or fix permissions, then run again.")
            return EXIT_ENVIRONMENT
        traceback.print_exc()
        _say("INTERNAL ERROR: this is a bug in the analysis package, not a data problem.")
        return EXIT_BUG
