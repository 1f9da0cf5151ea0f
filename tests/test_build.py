"""The incremental build engine (analysis.build) with small fake steps.

The fake steps read and write the same places as the real ones, and the dependency table is the
real ``build.DEPENDENCIES``; only the code lives in a scratch "repository" so that the tests can
edit a derivation source file or a notebook. Each test changes one thing and checks that exactly
the steps depending on it re-run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import build
from tests.conftest import REPO

CUT1, CUT2 = "cut-2024-06-30", "cut-2025-06-30"
ALL = list(build.PIPELINE)


def _write(p: Path, text: str) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


class FakePipeline:
    """Fake steps that record their calls and derive their outputs from their inputs."""

    def __init__(self, root: Path):
        self.root = root
        self.calls: list[str] = []
        self.fail: set[str] = set()

    def runner(self, step: str):
        def run(cut: str, root: Path) -> None:
            self.calls.append(step)
            if step in self.fail:
                raise RuntimeError(f"{step} failed on purpose")
            getattr(self, step)(cut, root)
        return run

    def validate(self, cut, root):
        raw = (root / "data/raw" / cut / "dm.csv").read_text()
        _write(root / "reports" / cut / "validation.html", json.dumps({"rows": raw.count("\n")}))

    def derive(self, cut, root):
        raw = (root / "data/raw" / cut / "dm.csv").read_text()
        _write(root / "data/derived" / cut / "adsl.csv", raw.upper())
        _write(root / "data/derived" / cut / "spec.json", "{}")

    def analyze(self, cut, root):
        adsl = (root / "data/derived" / cut / "adsl.csv").read_text()
        _write(root / "reports" / cut / "ard.csv", f"n\n{adsl.count(chr(10)) - 1}\n")

    def rtf(self, cut, root):
        ard = (root / "reports" / cut / "ard.csv").read_text()
        _write(root / "reports" / cut / "tables" / "t.rtf", "{\\rtf1 " + ard + "}")

    def changes(self, cut, root):
        _write(root / "reports" / cut / "changes" / "summary.csv", "item,value\n")

    def render(self, cut, root):
        ard = (root / "reports" / cut / "ard.csv").read_text()
        _write(root / "reports" / cut / "report.html", f"<html>{ard}</html>")

    def define(self, cut, root):
        spec = (root / "data/derived" / cut / "spec.json").read_text()
        _write(root / "reports" / cut / "define.xml", f"<ODM>{spec}</ODM>")

    def identifiers(self, cut, root):
        assert "01-001" not in (root / "reports" / cut / "report.html").read_text()


@pytest.fixture
def tree(tmp_path):
    code = tmp_path / "code"
    for rel in ("validation/suites.py", "analysis/raw_spec.py", "analysis/raw_io.py",
                "analysis/derive/adsl.py", "analysis/conventions.py", "analysis/stats/km.py",
                "analysis/analyze/pipeline.py", "analysis/notebooks/report.qmd", "analysis/render/pipeline.py",
                "analysis/regulatory/compare.py", "analysis/regulatory/define_xml.py",
                "analysis/regulatory/identifiers.py", "analysis/paths.py"):
        _write(code / rel, f"# {rel}\n")
    _write(code / "requirements.lock", "pandas==3.1.1\n")
    data = tmp_path / "data"
    _write(data / "data/raw" / CUT1 / "dm.csv", "SUBJID,AGE\n01-001,34\n01-002,51\n")
    fake = FakePipeline(data)
    plan = build.Plan(code_root=code)
    return code, data, fake, plan


def run_all(tree, cut=CUT1, **kw):
    code, data, fake, plan = tree
    fake.calls.clear()
    build.build(ALL, cut, fake.runner, root=data, plan=plan, say=lambda m: None, **kw)
    return list(fake.calls)


def test_first_build_runs_every_step_then_nothing(tree):
    assert run_all(tree) == ALL
    assert run_all(tree) == []
    _, data, _, plan = tree
    assert all(build.status(s, CUT1, data, plan).up_to_date for s in ALL)


def test_changed_raw_value_reruns_everything_that_reads_raw(tree):
    _, data, _, _ = tree
    run_all(tree)
    dm = data / "data/raw" / CUT1 / "dm.csv"
    dm.write_text(dm.read_text().replace("01-002,51", "01-002,52"))
    assert run_all(tree) == ALL
    assert run_all(tree) == []


def test_changed_derivation_source_reruns_derive_and_downstream_only(tree):
    code, *_ = tree
    run_all(tree)
    _write(code / "analysis/derive/adsl.py", "# adsl v2: new derivation\n")
    assert run_all(tree) == ["derive", "define", "analyze", "rtf", "changes", "render", "identifiers"]


def test_changed_notebook_reruns_render_and_submission_only(tree):
    code, *_ = tree
    run_all(tree)
    _write(code / "analysis/notebooks/report.qmd", "# new text\n")
    assert run_all(tree) == ["render", "identifiers"]


def test_changed_statistics_code_reruns_analysis_downstream(tree):
    code, *_ = tree
    run_all(tree)
    _write(code / "analysis/stats/km.py", "# faster KM\n")
    assert run_all(tree) == ["analyze", "rtf", "changes", "render", "identifiers"]


def test_changed_validation_suite_reruns_validate_and_downstream(tree):
    code, *_ = tree
    run_all(tree)
    _write(code / "validation/suites.py", "# stricter\n")
    assert run_all(tree) == ALL


def test_changed_lockfile_reruns_everything(tree):
    code, *_ = tree
    run_all(tree)
    _write(code / "requirements.lock", "pandas==3.1.2\n")
    assert run_all(tree) == ALL


def test_new_code_file_in_a_step_package_counts_as_a_change(tree):
    code, *_ = tree
    run_all(tree)
    _write(code / "analysis/render/helpers.py", "x = 1\n")
    assert run_all(tree) == ["render", "identifiers"]


def test_bytecode_caches_are_not_code(tree):
    code, *_ = tree
    run_all(tree)
    _write(code / "analysis/derive/__pycache__/adsl.cpython-311.pyc", "junk")
    assert run_all(tree) == []


def test_tampered_output_reruns_its_step_and_nothing_else_when_it_comes_back_identical(tree):
    _, data, _, _ = tree
    run_all(tree)
    (data / "reports" / CUT1 / "ard.csv").write_text("n\n999\n")
    # analyze re-runs and writes the same bytes as before, so its record fingerprint is unchanged
    # and nothing downstream is stale.
    assert run_all(tree) == ["analyze"]
    assert (data / "reports" / CUT1 / "ard.csv").read_text() == "n\n2\n"


def test_deleted_output_reruns_its_step(tree):
    _, data, _, _ = tree
    run_all(tree)
    (data / "reports" / CUT1 / "define.xml").unlink()
    # define re-runs; it writes the same bytes, so nothing downstream is stale
    assert run_all(tree) == ["define"]


def test_output_ownership_most_specific_pattern_wins(tree):
    _, data, _, plan = tree
    run_all(tree)
    render = set(build.owned_outputs("render", CUT1, data, plan.table))
    analyze = set(build.owned_outputs("analyze", CUT1, data, plan.table))
    assert render == {f"reports/{CUT1}/report.html"}
    assert analyze == {f"reports/{CUT1}/ard.csv"}
    assert set(build.owned_outputs("changes", CUT1, data, plan.table)) == {f"reports/{CUT1}/changes/summary.csv"}
    assert set(build.owned_outputs("validate", CUT1, data, plan.table)) == {f"reports/{CUT1}/validation.html"}
    assert set(build.owned_outputs("define", CUT1, data, plan.table)) == {f"reports/{CUT1}/define.xml"}


@pytest.mark.parametrize("previous_build", [True, False], ids=["after-a-build", "clean-state"])
def test_failed_step_leaves_no_record_and_stops_the_build(tree, previous_build):
    """After a full build (its records present) or from a clean state (no record, no output of
    any step yet): the failed step writes no record, nothing after it runs, and the next build
    runs exactly the failed step and what follows."""
    _, data, fake, plan = tree
    if previous_build:
        run_all(tree)
        previous = {p: p.read_bytes() for p in sorted((data / "reports").rglob("*")) if p.is_file()}
        _write(tree[0] / "analysis/stats/km.py", "# broken\n")
    fake.fail = {"analyze"}
    with pytest.raises(RuntimeError, match="analyze failed on purpose"):
        run_all(tree)
    assert fake.calls == (["analyze"] if previous_build else ALL[:ALL.index("analyze") + 1])
    assert not build.record_path("analyze", CUT1, data).exists()
    for later in ("changes", "render", "identifiers"):
        assert not build.record_path(later, CUT1, data).exists() or previous_build
    if previous_build:
        assert {p: p.read_bytes() for p in sorted((data / "reports").rglob("*")) if p.is_file()} == previous
    else:
        assert not (data / "reports" / CUT1 / "ard.csv").exists()
        assert build.record_path("derive", CUT1, data).exists(), "the steps that succeeded are recorded"
    fake.fail = set()
    assert run_all(tree) == ["analyze", "rtf", "changes", "render", "identifiers"]
    assert run_all(tree) == []


def test_force_reruns_named_steps_and_then_their_dependants_stay_consistent(tree):
    run_all(tree)
    assert run_all(tree, force=ALL) == ALL
    assert run_all(tree) == []


def test_new_cut_builds_independently_and_its_changes_step_tracks_the_previous_cut(tree):
    _, data, _, _ = tree
    run_all(tree)
    _write(data / "data/raw" / CUT2 / "dm.csv", "SUBJID,AGE\n01-001,34\n01-002,51\n01-003,40\n")
    assert run_all(tree, cut=CUT2) == ALL
    assert run_all(tree, cut=CUT1) == []
    # a correction to the previous cut's raw data changes what 'changes since the previous cut'
    # of the new cut shows, and nothing else of the new cut
    dm1 = data / "data/raw" / CUT1 / "dm.csv"
    dm1.write_text(dm1.read_text().replace("01-001,34", "01-001,35"))
    assert run_all(tree, cut=CUT2) == ["changes", "render", "identifiers"]


def test_targets_bring_only_their_upstream_up_to_date(tree):
    code, data, fake, plan = tree
    fake.calls.clear()
    build.build(["analyze"], CUT1, fake.runner, root=data, plan=plan, say=lambda m: None)
    assert fake.calls == ["validate", "derive", "analyze"]


def test_status_explains_what_changed(tree):
    code, data, _, plan = tree
    run_all(tree)
    _write(code / "analysis/derive/adsl.py", "# v3\n")
    st = build.status("derive", CUT1, data, plan)
    assert not st.up_to_date
    assert st.reasons == ["input code:analysis/derive/adsl.py changed"]
    # analyze's own inputs are unchanged until derive re-runs, but it is reported stale already
    analyze = build.status("analyze", CUT1, data, plan)
    assert not analyze.up_to_date and analyze.reasons == ["upstream step derive is stale"]
    assert build.status("validate", CUT1, data, plan).up_to_date


def test_record_written_atomically_only_after_success(tree, monkeypatch):
    _, data, fake, plan = tree
    seen = []

    def spy_run(step):
        inner = fake.runner(step)

        def run(cut, root):
            seen.append(build.record_path(step, cut, root).exists())
            inner(cut, root)
        return run
    build.build(ALL, CUT1, spy_run, root=data, plan=plan, say=lambda m: None)
    assert seen == [False] * len(ALL)
    rec = json.loads(build.record_path("derive", CUT1, data).read_text())
    assert rec["outputs"][f"data/derived/{CUT1}/adsl.csv"] == build.sha256_file(data / "data/derived" / CUT1 / "adsl.csv")
    assert f"data:data/raw/{CUT1}/dm.csv" in rec["inputs"]
    assert "env:requirements.lock" in rec["inputs"]


def test_the_cli_step_commands_are_the_steps_of_the_one_table():
    """The command line is built from build.DEPENDENCIES: one subcommand per step, its help
    line the table's, in pipeline order (report's help lists them)."""
    from analysis import cli
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for step, deps in build.DEPENDENCIES.items():
        assert step in sub.choices, step
        assert sub.choices[step].description.startswith(deps.help), step
    assert " -> ".join(build.PIPELINE) in sub.choices["report"].description


def test_every_step_declares_an_entry_and_its_dependencies():
    for step, deps in build.DEPENDENCIES.items():
        assert deps.code, f"{step} declares no code"
        assert set(deps.after) <= set(build.DEPENDENCIES), step
        assert list(build.DEPENDENCIES).index(step) > max(
            (list(build.DEPENDENCIES).index(a) for a in deps.after), default=-1), f"{step} runs before its inputs"


def test_up_to_date_check_imports_no_heavy_library(tmp_path):
    """The 'nothing changed' path must stay fast: importing the CLI and checking status must not
    import pandas, numpy or Great Expectations."""
    code = (
        "import sys, analysis.cli as c, analysis.build as b\n"
        "from pathlib import Path\n"
        f"root = Path({str(tmp_path)!r}); (root/'data/raw/{CUT1}').mkdir(parents=True)\n"
        f"[b.status(s, '{CUT1}', root) for s in b.PIPELINE]\n"
        "heavy = [m for m in ('pandas', 'numpy', 'great_expectations', 'scipy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_changed_table_builder_reruns_rtf_and_render_only(tree):
    """The RTF tables are a step of their own: a change to a table builder re-runs the rtf step
    and the pages that show the same tables, never the analysis."""
    code, *_ = tree
    run_all(tree)
    _write(code / "analysis/present/csr/mrd.py", "# a new footnote\n")
    assert run_all(tree) == ["rtf", "render", "identifiers"]
