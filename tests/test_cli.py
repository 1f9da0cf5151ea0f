"""The command line: help for every subcommand, the default cut, exit codes (3 bad data, 1 bug)."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

import dataclasses

from analysis import build, cli
from analysis.errors import EXIT_BAD_DATA, EXIT_BUG, EXIT_OK, BadDataError
from tests.conftest import REPO

SUBCOMMANDS = ["simulate", *build.DEPENDENCIES, "report", "status", "lock", "reproduce", "compare"]


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert f"python -m analysis {command}" in out
    if command not in ("simulate", "compare"):
        assert "--cut" in out and "default: the latest" in out


def test_help_runs_as_a_module_without_heavy_imports():
    proc = subprocess.run([sys.executable, "-m", "analysis", "--help"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0 and "Exit codes" in proc.stdout


@pytest.fixture
def fake_steps(monkeypatch, tmp_path):
    """Replace every step by a fake that records (step, cut); `behaviour` can make one raise."""
    calls, behaviour = [], {}
    mod = types.ModuleType("fake_steps_for_cli")

    def make(step):
        def fn(cut, root=None):
            calls.append((step, cut))
            if step in behaviour:
                raise behaviour[step]
            (root / "fake" / cut).mkdir(parents=True, exist_ok=True)
            (root / "fake" / cut / f"{step}.out").write_text(step)
        return fn
    for step, deps in build.DEPENDENCIES.items():
        setattr(mod, f"{step}_fn", make(step))
        monkeypatch.setitem(build.DEPENDENCIES, step, dataclasses.replace(deps, entry=f"{mod.__name__}:{step}_fn"))
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    for cut in ("cut-2024-06-30", "cut-2025-06-30"):
        (tmp_path / "data" / "raw" / cut).mkdir(parents=True)
        (tmp_path / "data" / "raw" / cut / "dm.csv").write_text("SUBJID\n01-001\n")
    return tmp_path, calls, behaviour


def test_cut_defaults_to_the_latest(fake_steps):
    root, calls, _ = fake_steps
    assert cli.main(["--root", str(root), "report"]) == EXIT_OK
    assert {c for _, c in calls} == {"cut-2025-06-30"}
    assert [s for s, _ in calls] == list(cli.PIPELINE)


def test_report_twice_runs_nothing_the_second_time(fake_steps, capsys):
    root, calls, _ = fake_steps
    cli.main(["--root", str(root), "report", "--cut", "cut-2024-06-30"])
    calls.clear()
    assert cli.main(["--root", str(root), "report", "--cut", "cut-2024-06-30"]) == EXIT_OK
    assert calls == []
    err = capsys.readouterr().err
    assert all(f"[{s}] cut-2024-06-30 up to date" in err for s in cli.PIPELINE)


def test_force_reruns(fake_steps):
    root, calls, _ = fake_steps
    cli.main(["--root", str(root), "report"])
    calls.clear()
    cli.main(["--root", str(root), "report", "--force"])
    assert [s for s, _ in calls] == list(cli.PIPELINE)


def test_single_step_brings_its_upstream_up_to_date(fake_steps):
    root, calls, _ = fake_steps
    assert cli.main(["--root", str(root), "analyze"]) == EXIT_OK
    assert [s for s, _ in calls] == ["validate", "derive", "analyze"]


@pytest.mark.parametrize("bad", ["cut-2023-01-01", "2024-06-30", "../etc"])
def test_bad_cut_name_exits_3_with_a_clear_message(fake_steps, bad, capsys):
    root, calls, _ = fake_steps
    assert cli.main(["--root", str(root), "derive", "--cut", bad]) == EXIT_BAD_DATA
    err = capsys.readouterr().err
    assert bad in err and "cut-2024-06-30, cut-2025-06-30" in err or "not a data cut name" in err
    assert calls == []


def test_no_cut_at_all_is_bad_data(tmp_path, capsys):
    assert cli.main(["--root", str(tmp_path), "report"]) == EXIT_BAD_DATA
    assert "no data cut" in capsys.readouterr().err


def test_bad_data_exits_3_and_stops_the_pipeline(fake_steps, capsys):
    root, calls, behaviour = fake_steps
    behaviour["validate"] = BadDataError("dm.csv row 2, subject 01-001, column AGE: 9 below minimum 14")
    assert cli.main(["--root", str(root), "report"]) == EXIT_BAD_DATA
    assert [s for s, _ in calls] == ["validate"]
    assert "BAD DATA: dm.csv row 2, subject 01-001, column AGE" in capsys.readouterr().err


def test_a_bug_exits_1_with_traceback(fake_steps, capsys):
    root, calls, behaviour = fake_steps
    behaviour["analyze"] = ZeroDivisionError("division by zero")
    assert cli.main(["--root", str(root), "report"]) == EXIT_BUG
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err and "bug in the analysis package" in err


def test_missing_step_module_stops_report_quietly(fake_steps, monkeypatch, capsys):
    root, calls, _ = fake_steps
    monkeypatch.setitem(build.DEPENDENCIES, "render",
                        dataclasses.replace(build.DEPENDENCIES["render"], entry="analysis.no_such_module:render_cut"))
    assert cli.main(["--root", str(root), "report"]) == EXIT_OK
    assert [s for s, _ in calls] == ["validate", "derive", "define", "analyze", "rtf", "changes"]
    assert "not built yet" in capsys.readouterr().err


def test_usage_error_exits_2():
    with pytest.raises(SystemExit) as exc:
        cli.main(["no-such-command"])
    assert exc.value.code == 2


def test_status_lists_every_step_and_why_it_is_stale(fake_steps, capsys):
    root, calls, _ = fake_steps
    cli.main(["--root", str(root), "report"])
    capsys.readouterr()
    (root / "data" / "raw" / "cut-2025-06-30" / "dm.csv").write_text("SUBJID\n01-001\n01-002\n")
    assert cli.main(["--root", str(root), "status"]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in out] == list(cli.PIPELINE)
    assert out[0].startswith("validate") and "input data:data/raw/cut-2025-06-30/dm.csv changed" in out[0]
    assert all("STALE" in ln for ln in out)


def test_root_is_accepted_after_the_command_too(fake_steps):
    root, calls, _ = fake_steps
    assert cli.main(["report", "--root", str(root)]) == EXIT_OK
    assert {c for _, c in calls} == {"cut-2025-06-30"}
    assert (root / "fake" / "cut-2025-06-30" / "render.out").exists()


def test_simulate_refuses_to_overwrite_raw_data_as_a_usage_error(tmp_path, capsys):
    (tmp_path / "data" / "raw" / "cut-2024-06-30").mkdir(parents=True)
    assert cli.main(["--root", str(tmp_path), "simulate"]) == 2
    err = capsys.readouterr().err
    assert "read-only" in err and "--force" in err and "INTERNAL ERROR" not in err
    assert list((tmp_path / "data" / "raw").iterdir()) == [tmp_path / "data" / "raw" / "cut-2024-06-30"]


def test_render_failure_is_reported_without_an_internal_error_banner(fake_steps, capsys):
    from analysis.errors import RenderError

    root, _, behaviour = fake_steps
    behaviour["render"] = RenderError("notebook 03-efficacy.qmd failed in code cell 4 (label: fig-km)")
    assert cli.main(["--root", str(root), "report"]) == EXIT_BUG
    err = capsys.readouterr().err
    assert "03-efficacy.qmd failed in code cell 4" in err and "INTERNAL ERROR" not in err
