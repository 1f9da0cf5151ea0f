"""Command-line entry points of lock / reproduce / compare (called by analysis.cli).

They use the build engine and the cut resolution of analysis.paths directly; nothing here
imports the command line back (no cycle).
"""

from __future__ import annotations

from analysis import build, paths
from analysis.errors import EXIT_MISMATCH, EXIT_OK, BadDataError, UsageError
from analysis.messages import say as _say
from analysis.messages import tell
from analysis.regulatory.guard import prepare_build


def cmd_lock(args) -> int:
    """Bring every step of the cut up to date (the identifier check included), then lock it."""
    from analysis.regulatory.lock import lock_cut
    cut = paths.resolve_cut(args.cut, args.root)
    root = paths.project_root(args.root)
    if not args.force:   # --force is the deliberate re-lock of changed raw data
        prepare_build(cut, root)
    reason = getattr(args, "reason", None)
    build.build(build.PIPELINE, cut, build.step_runner, root=root, say=_say)
    manifest = lock_cut(cut, args.root, force=args.force, reason=reason)
    if "relock" in manifest:
        _say(f"re-locked {cut}: reason {manifest['relock']['reason']!r}; previous lock.json sha256 "
             f"{manifest['relock']['previous_lock_sha256']} (git commit {manifest['relock']['previous_git_commit']})")
    target = paths.ROOT if args.root is None else args.root
    _say(f"locked {cut} at {manifest['locked_utc']}: {len(manifest['outputs'])} outputs, {len(manifest['raw'])} raw files -> "
         f"{(target / 'data' / 'locked' / cut).as_posix()} (commit it); git commit "
         f"{manifest['code']['commit']}{' (DIRTY work tree)' if manifest['code']['dirty'] else ''}")
    return EXIT_OK


def cmd_reproduce(args) -> int:
    from analysis.regulatory.reproduce import reproduce_cut
    cut = paths.resolve_cut(args.cut, args.root)
    reproduce_cut(cut, args.root, keep=args.keep, say=tell)   # raises ReproductionMismatch -> exit 4
    return EXIT_OK


def cmd_compare(args) -> int:
    """Print the changes between two cuts; write them to reports/<to>/changes/ unless --no-write.
    Exit 4 when a locked cut's raw export or outputs no longer match its lock."""
    from analysis.regulatory.compare import compare_cuts, listing, write_changes
    to_cut = paths.resolve_cut(args.to_cut, args.root)
    from_cut = paths.check_cut(args.from_cut, args.root) if args.from_cut else paths.previous_cut(to_cut, args.root)
    if from_cut is None:
        raise BadDataError(f"{to_cut} is the first data cut: nothing to compare it with (give --from)")
    if paths.cut_date(from_cut) >= paths.cut_date(to_cut):
        raise UsageError(f"--from {from_cut} must be an EARLIER cut than --to {to_cut}; "
                         f"changes are listed from the earlier to the later cut")
    tables = compare_cuts(from_cut, to_cut, args.root)
    tell(f"Changes from {from_cut} to {to_cut}\n")
    tell(listing(tables))
    if not args.no_write:
        _say(f"\ntables written to {write_changes(to_cut, tables, args.root)}")
    if not tables["locked_alerts"].empty:
        _say(f"LOCKED cut data changed: {len(tables['locked_alerts'])} file(s), see locked_alerts above")
        return EXIT_MISMATCH
    return EXIT_OK
