"""The build engine, lock and reproduce with the REAL steps on a simulated scratch tree.

The steps run from this repository's modules; the build engine hashes a copy of the source tree
(``Plan(code_root=copy)``) so that a test can edit "a derivation source file" or "a notebook"
without touching the repository. Every edit is semantically neutral (a comment), so the test
checks exactly the dependency tracking: which steps re-run, and that nothing else does.
Slow (real validation / derivation / analysis / rendering): marked ``slow``."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis import build, paths
from analysis.errors import ReproductionMismatch
from analysis.regulatory import common, lock, reproduce
from tests.conftest import REPO

pytestmark = pytest.mark.slow
CUT = "cut-2024-06-30"
CODE_DIRS = ("analysis", "validation", "docs")
CODE_FILES = ("requirements.lock", "_quarto.yml")


def _quiet(msg: str) -> None:
    pass


def _ran(root: Path, plan: build.Plan, targets=build.PIPELINE) -> list[str]:
    return build.build(targets, CUT, build.step_runner, root=root, plan=plan, say=_quiet)


def _edit_raw_value(raw_dir: Path, form: str, subject: str, column: str, new: str) -> str:
    """Change one cell of a raw form and keep manifest.json consistent (a corrected re-export).
    Returns the old value."""
    import pandas as pd
    path = raw_dir / f"{form}.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    row = df.index[df["SUBJID"] == subject][0]
    old = df.at[row, column]
    df.at[row, column] = new
    df.to_csv(path, index=False, lineterminator="\n")
    manifest = json.loads((raw_dir / "manifest.json").read_text())
    manifest["files"][path.name]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (raw_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return old


@pytest.fixture(scope="module")
def real_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    proc = subprocess.run([sys.executable, "-m", "analysis", "--root", str(root), "simulate"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    code = root / "code"
    for d in CODE_DIRS:
        if (REPO / d).is_dir():
            shutil.copytree(REPO / d, code / d, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for f in CODE_FILES:
        if (REPO / f).exists():
            shutil.copy2(REPO / f, code / f)
    plan = build.Plan(code_root=code)
    t0 = time.perf_counter()
    ran = _ran(root, plan)
    first = time.perf_counter() - t0
    assert ran == list(build.PIPELINE)
    print(f"first build of {CUT}: {first:.1f} s")
    return root, code, plan


def test_nothing_changed_nothing_runs_and_the_cli_answers_within_3_seconds(real_tree):
    root, code, plan = real_tree
    assert _ran(root, plan) == []
    # A fresh interpreter, as `make report` starts one: imports + hashing every input and output.
    # (It hashes the code copy: the repository itself may be edited while this test runs.)
    script = (
        "import sys; from pathlib import Path; from analysis import build, cli\n"
        f"plan = build.Plan(code_root=Path({str(code)!r}))\n"
        f"ran = build.build(build.PIPELINE, {CUT!r}, build.step_runner, root=Path({str(root)!r}), plan=plan)\n"
        "assert ran == [], ran\n"
        "assert 'pandas' not in sys.modules\n"
    )
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("up to date") == len(build.PIPELINE), proc.stderr
    assert seconds <= 3.0, f"no-op report took {seconds:.2f} s"
    print(f"no-op build in a fresh interpreter: {seconds:.2f} s")


def test_changed_notebook_reruns_render_and_the_identifier_check_only(real_tree):
    root, code, plan = real_tree
    notebooks = sorted((code / "analysis" / "notebooks").glob("*.qmd"))
    assert notebooks, "no notebook to edit"
    with open(notebooks[0], "a") as fh:
        fh.write("\n<!-- reviewer note: no effect on results -->\n")
    assert _ran(root, plan) == ["render", "identifiers"]


def test_changed_derivation_source_reruns_derive_and_what_follows(real_tree):
    root, code, plan = real_tree
    with open(code / "analysis" / "derive" / "adsl.py", "a") as fh:
        fh.write("\n# a comment: the derivation code changed\n")
    assert _ran(root, plan, targets=["analyze"]) == ["derive", "analyze"]
    assert build.status("validate", CUT, root, plan).up_to_date
    for step in ("define", "changes", "render", "identifiers"):
        assert not build.status(step, CUT, root, plan).up_to_date, step
    # (not rendered again here: rendering is the slow step and the notebook test covers it)


def test_changed_raw_value_makes_every_step_stale(real_tree):
    root, code, plan = real_tree
    _edit_raw_value(paths.raw_dir(CUT, root), "dm", "01-001", "WEIGHTKG", "66.6")
    assert all(not build.status(s, CUT, root, plan).up_to_date for s in build.PIPELINE)
    assert _ran(root, plan, targets=["analyze"]) == ["validate", "derive", "analyze"]
    assert _ran(root, plan, targets=["analyze"]) == []


def test_lock_then_reproduce_matches_then_a_changed_raw_value_fails_naming_what_moved(real_tree, capsys):
    root, code, plan = real_tree
    manifest = lock.lock_cut(CUT, root)
    assert {"derived/adsl.xpt", "derived/adtte.xpt", "derived/spec.json", "ard.csv", "define.xml"} <= set(
        manifest["outputs"])
    lines: list[str] = []
    verdicts = reproduce.reproduce_cut(CUT, root, say=lines.append)
    assert all(v.ok for v in verdicts), "\n".join(lines)
    # a regulator's scratch copy with one raw value changed (AGE of subject 01-002)
    scratch = root / "scratch-copy"
    shutil.copytree(paths.raw_dir(CUT, root), paths.raw_dir(CUT, scratch))
    shutil.copytree(common.locked_dir(CUT, root), common.locked_dir(CUT, scratch))
    old = _edit_raw_value(paths.raw_dir(CUT, scratch), "dm", "01-002", "AGE", "70")
    lines.clear()
    with pytest.raises(ReproductionMismatch) as exc:
        reproduce.reproduce_cut(CUT, scratch, say=lines.append)
    text = "\n".join(lines)
    assert "FAIL raw/dm.csv: raw export CHANGED since lock" in text
    assert f"variable AGE (USUBJID SWCART-01-01-002): locked '{old}' -> rebuilt '70'" in text, text
    assert "FAIL ard.csv: DIFFERENT" in text
    assert "raw/dm.csv" in str(exc.value)


def test_identifier_check_on_the_shipped_raw_identifiers(real_tree):
    """The simulated raw export carries INITIALS / BRTHDTC / HOSPRN; the built outputs pass, and a
    report page quoting one hospital record number fails naming column, subject and file."""
    import pandas as pd
    from analysis.errors import BadDataError
    from analysis.regulatory import identifiers
    root, code, plan = real_tree
    dm = pd.read_csv(paths.raw_dir(CUT, root) / "dm.csv", dtype=str)
    assert dm["HOSPRN"].notna().all() and dm["BRTHDTC"].notna().any()
    identifiers.check_identifiers(CUT, root)
    leak = paths.report_dir(CUT, root) / "leak-test.html"
    leak.write_text(f"<html><p>see record {dm.at[3, 'HOSPRN']}</p></html>")
    try:
        with pytest.raises(BadDataError) as exc:
            identifiers.check_identifiers(CUT, root)
        assert f"reports/{CUT}/leak-test.html: identifier HOSPRN (subject {dm.at[3, 'SUBJID']})" in str(exc.value)
    finally:
        leak.unlink()
