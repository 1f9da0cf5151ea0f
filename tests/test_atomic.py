"""Outputs are written whole or not at all, with ordinary permissions."""

import os
import stat

import pytest

from analysis.atomic import atomic_dir, atomic_write_text


@pytest.mark.parametrize("previous_build", [True, False], ids=["after-a-build", "clean-state"])
def test_failed_build_leaves_previous_directory_untouched(tmp_path, previous_build):
    """With an earlier build its folder stays as it was; from a clean state (no folder, not even
    its parent) a failure leaves no folder and no scratch behind."""
    parent = tmp_path / "reports"
    target = parent / "out"
    if previous_build:
        target.mkdir(parents=True)
        (target / "old.txt").write_text("previous")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as scratch:
            (scratch / "new.txt").write_text("half")
            raise RuntimeError("step failed mid-way")
    if previous_build:
        assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
        assert (target / "old.txt").read_text() == "previous"
        assert [p.name for p in parent.iterdir()] == ["out"], "scratch directory left behind"
    else:
        assert not target.exists(), "a failed first build must not leave a (half) folder"
        assert list(parent.iterdir()) == [], "scratch directory left behind"


def test_successful_build_replaces_and_keeps_named_files(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.csv").write_text("kept")
    (target / "stale.html").write_text("stale")
    with atomic_dir(target, keep=("keep.csv",)) as scratch:
        (scratch / "new.html").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["keep.csv", "new.html"]
    assert (target / "keep.csv").read_text() == "kept"


def test_outputs_follow_the_umask_not_private_temp_modes(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_dir(tmp_path / "d") as scratch:
            (scratch / "f").write_text("x")
        atomic_write_text(tmp_path / "file.txt", "y")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "file.txt").stat().st_mode) == 0o644
