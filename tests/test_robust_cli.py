"""Issue 14: tracebacks where an exit code is promised, leftovers, locked cuts, changed raw bytes,
CSV injection. Each test fails on the code before the fix."""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import sys

import pandas as pd
import pytest

from analysis import atomic, build, cli, paths
from analysis.errors import EXIT_BAD_DATA, EXIT_MISMATCH, EXIT_OK, EXIT_USAGE, BadDataError

EXIT_ENVIRONMENT = 5   # analysis.errors.EXIT_ENVIRONMENT (a literal: the README documents the number)
from tests.conftest import REPO
from tests.fixtures import tiny_cut
from tests.test_cli import fake_steps  # noqa: F401  (fixture)

CUT = tiny_cut.CUT


# --- exit codes instead of tracebacks --------------------------------------------------------------

def test_empty_cut_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["status", "--cut", ""])
    assert exc.value.code == EXIT_USAGE
    assert "empty cut name" in capsys.readouterr().err


def test_compare_from_a_later_cut_is_a_usage_error(fake_steps, capsys):  # noqa: F811
    root, _, _ = fake_steps
    code = cli.main(["--root", str(root), "compare", "--from", "cut-2025-06-30", "--to", "cut-2024-06-30"])
    assert code == EXIT_USAGE
    assert "must be an EARLIER cut" in capsys.readouterr().err


def test_impossible_date_folder_is_never_the_latest_cut(fake_steps, capsys):  # noqa: F811
    root, calls, _ = fake_steps
    (root / "data" / "raw" / "cut-2025-02-30").mkdir()
    assert paths.latest_cut(root) == "cut-2025-06-30"
    (root / "data" / "raw" / "cut-2026-02-30").mkdir()     # sorts last by name
    assert cli.main(["--root", str(root), "report"]) == EXIT_OK
    assert {c for _, c in calls} == {"cut-2025-06-30"}
    assert "ignoring" in capsys.readouterr().err
    assert cli.main(["--root", str(root), "status", "--cut", "cut-2026-02-30"]) == EXIT_BAD_DATA


def test_symlinked_cut_folder_is_refused(fake_steps, tmp_path):  # noqa: F811
    root, calls, _ = fake_steps
    (root / "data" / "raw" / "cut-2026-01-31").symlink_to("/etc")
    assert "cut-2026-01-31" not in paths.list_cuts(root)
    assert cli.main(["--root", str(root), "validate", "--cut", "cut-2026-01-31"]) == EXIT_BAD_DATA
    assert calls == []


@pytest.mark.parametrize("err, name", [(errno.ENOSPC, "No space left on device"),
                                       (errno.EROFS, "Read-only file system"),
                                       (errno.EACCES, "Permission denied")])
def test_environment_errors_exit_5_naming_the_path(fake_steps, capsys, err, name):  # noqa: F811
    root, _, behaviour = fake_steps
    target = root / "reports" / "cut-2025-06-30" / "validation.html"
    behaviour["validate"] = OSError(err, os.strerror(err), str(target))
    assert cli.main(["--root", str(root), "report"]) == EXIT_ENVIRONMENT
    out = capsys.readouterr().err
    assert f"ENVIRONMENT ERROR: cannot write {target}: {os.strerror(err)} ({errno.errorcode[err]})" in out
    assert "Traceback" not in out and "bug" not in out


def test_file_size_limit_exits_5_and_keeps_earlier_outputs(tmp_path):
    """A real write over RLIMIT_FSIZE (SIGXFSZ ignored, so the write fails with EFBIG)."""
    root = tmp_path
    tiny_cut.write_tiny_cut(paths.raw_dir(CUT, root))
    report = paths.report_dir(CUT, root) / "validation.html"
    report.parent.mkdir(parents=True)
    report.write_text("earlier report\n")

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-m", "analysis", "--root", str(root), "validate", "--cut", CUT],
                          cwd=REPO, capture_output=True, text=True, preexec_fn=limit, env=env)
    assert proc.returncode == EXIT_ENVIRONMENT, proc.stderr[-2000:]
    assert "ENVIRONMENT ERROR: cannot write" in proc.stderr and "EFBIG" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert report.read_text() == "earlier report\n"
    assert [p.name for p in report.parent.iterdir()] == ["validation.html"]   # no scratch left


def test_status_into_a_closed_pipe_is_quiet(fake_steps):  # noqa: F811
    root, _, _ = fake_steps
    proc = subprocess.run(["bash", "-c", f"set -o pipefail; {sys.executable} -m analysis --root {root} status | true"],
                          cwd=REPO, capture_output=True, text=True)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert proc.returncode == 0


# --- messages -----------------------------------------------------------------------------------------

def test_printed_messages_escape_terminal_controls(capsys):
    cli._say("value \x1b[31mred\x1b[0m and \x00 and \r over\nnext line")
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x00" not in err and "\r" not in err
    assert "value \\x1b[31mred\\x1b[0m and \\x00 and \\x0d over\nnext line" in err
    from analysis.messages import printable
    assert printable("a\nb") == "a\\x0ab"


# --- leftovers ----------------------------------------------------------------------------------------

def test_scratch_of_killed_runs_is_swept_but_not_that_of_live_ones(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".cut-2024-06-30.tmp-{dead.pid}-abc"
    stale.mkdir()
    (stale / "half.parquet").write_text("x")
    live = tmp_path / f".cut-2024-06-30.tmp-{os.getpid()}-def"
    live.mkdir()
    backup = tmp_path / f".cut-2025-06-30.old-{dead.pid}"   # killed between the two renames
    backup.mkdir()
    (backup / "adsl.xpt").write_text("previous")
    with atomic.atomic_dir(tmp_path / "cut-2024-06-30") as scratch:
        (scratch / "new").write_text("y")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert stale.name not in names and live.name in names
    assert (tmp_path / "cut-2025-06-30" / "adsl.xpt").read_text() == "previous"


# --- raw bytes changed after validation ---------------------------------------------------------------

def test_derive_stops_when_raw_changed_after_validation(tmp_path):
    from analysis.derive.pipeline import derive_cut
    tiny_cut.write_tiny_cut(paths.raw_dir(CUT, tmp_path))
    rec = {"version": build.RECORD_VERSION, "step": "validate", "cut": CUT, "outputs": {},
           "inputs": {f"data:data/raw/{CUT}/{p.name}": build.sha256_file(p)
                      for p in paths.raw_dir(CUT, tmp_path).iterdir()}}
    build.record_path("validate", CUT, tmp_path).parent.mkdir(parents=True)
    build.record_path("validate", CUT, tmp_path).write_text(json.dumps(rec))
    ae = paths.raw_dir(CUT, tmp_path) / "ae.csv"
    ae.write_text(ae.read_text().replace(",2,2022-01-22", ",5,2022-01-22"))
    tiny_cut.write_manifest(paths.raw_dir(CUT, tmp_path))   # even with a consistent manifest
    with pytest.raises(BadDataError, match=r"ae.csv: SHA-256 .* is not that of the validated bytes"):
        derive_cut(CUT, tmp_path)
    assert not paths.derived_dir(CUT, tmp_path).exists()


def test_validate_refuses_to_record_when_raw_changes_while_it_runs(tmp_path):
    tiny_cut.write_tiny_cut(paths.raw_dir(CUT, tmp_path))

    def validate_while_someone_edits(cut, root):
        (paths.raw_dir(cut, root) / "dm.csv").write_text("changed\n")
    with pytest.raises(BadDataError, match="raw files changed while being validated"):
        build.build_step("validate", CUT, validate_while_someone_edits, root=tmp_path, say=lambda m: None)
    assert build.read_record("validate", CUT, tmp_path) is None


# --- locked cuts -----------------------------------------------------------------------------------------

def _lock_raw(root, cut):
    lock = root / "data" / "locked" / cut / "lock.json"
    lock.parent.mkdir(parents=True)
    raw = {p.name: build.sha256_file(p) for p in paths.raw_dir(cut, root).iterdir()}
    lock.write_text(json.dumps({"cut": cut, "raw": raw, "outputs": {}}))


def test_building_a_locked_cut_from_changed_raw_exits_4(fake_steps, capsys):  # noqa: F811
    root, calls, _ = fake_steps
    _lock_raw(root, "cut-2024-06-30")
    assert cli.main(["--root", str(root), "report", "--cut", "cut-2024-06-30"]) == EXIT_OK   # unchanged: builds
    calls.clear()
    (paths.raw_dir("cut-2024-06-30", root) / "dm.csv").write_text("SUBJID\n01-001\n01-002\n")
    assert cli.main(["--root", str(root), "derive", "--cut", "cut-2024-06-30"]) == EXIT_MISMATCH
    assert calls == []
    err = capsys.readouterr().err
    assert "LOCKED cut" in err and "data/raw/cut-2024-06-30/dm.csv: CHANGED" in err


def test_reproduce_after_a_locked_file_was_deleted_names_it(tmp_path):
    from analysis.errors import ReproductionMismatch
    from analysis.regulatory.reproduce import reproduce_cut
    tiny_cut.write_tiny_cut(paths.raw_dir(CUT, tmp_path))
    locked = tmp_path / "data" / "locked" / CUT
    (locked / "derived").mkdir(parents=True)
    (locked / "ard.csv").write_text("x\n")
    raw = {p.name: build.sha256_file(p) for p in paths.raw_dir(CUT, tmp_path).iterdir()}
    (locked / "lock.json").write_text(json.dumps({"cut": CUT, "raw": raw, "outputs": {
        "ard.csv": build.sha256_file(locked / "ard.csv"), "derived/adsl.xpt": "0" * 64}}))

    def rebuild(cut, scratch):
        out = paths.report_dir(cut, scratch)
        out.mkdir(parents=True)
        (out / "ard.csv").write_text("x\n")
        paths.derived_dir(cut, scratch).mkdir(parents=True)
        (paths.derived_dir(cut, scratch) / "adsl.xpt").write_text("y")
    with pytest.raises(ReproductionMismatch, match="derived/adsl.xpt .MISSING from the lock"):
        reproduce_cut(CUT, tmp_path, rebuild=rebuild, say=lambda m: None)


# --- CSV injection ------------------------------------------------------------------------------------------

def test_change_tables_neutralise_formulas_and_read_back_exactly(tmp_path):
    from analysis.regulatory.compare import TABLES, _empty, load_changes, write_changes
    tables = {n: _empty(n) for n in TABLES}
    evil = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "'quoted", "-0.25", "plain"]
    tables["raw_changes"] = pd.DataFrame({"form": "ae", "key": "SUBJID=01-001", "subject": "01-001",
                                          "field": "AETERM", "old": evil, "new": "x", "change": "value changed"})
    folder = write_changes(CUT, tables, tmp_path)
    cells = pd.read_csv(folder / "raw_changes.csv", dtype=str, keep_default_na=False)["old"].tolist()
    assert [c for c in cells if c[:1] in ("=", "+", "@", "\t") or (c[:1] == "-" and c != "-0.25")] == []
    assert cells[-2:] == ["-0.25", "plain"]            # a number is not a formula: unchanged
    assert load_changes(CUT, tmp_path)["raw_changes"]["old"].tolist() == evil


def test_readme_exit_codes_list_the_environment_error():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert "5 an environment error" in text


@pytest.mark.parametrize("name, value", [("SAP_ANALYZE_WORKERS", "abc"), ("SAP_BOOTSTRAP_WORKERS", "0"),
                                         ("SAP_VALIDATE_WORKERS", "-2"), ("SAP_RENDER_WORKERS", "1.5")])
def test_a_bad_workers_setting_is_a_usage_error_before_any_step(fake_steps, monkeypatch, capsys, name, value):  # noqa: F811
    """$SAP_*_WORKERS that is not a whole number >= 1: exit 2 naming the setting, no step run
    (it was a traceback and exit 1 from inside the step that read it; 0 and negatives passed)."""
    root, calls, _ = fake_steps
    monkeypatch.setenv(name, value)
    assert cli.main(["--root", str(root), "report"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"${name}={value!r}" in err and "Traceback" not in err
    assert calls == []
