"""Issue 16: the README's layout table matches the tree. Every folder or module it names exists,
and every package folder (one with ``__init__.py``), every top-level module of ``analysis/`` and
every top-level folder under version control is named in it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import REPO

# Files that are entry points of a package rather than modules a newcomer looks for.
NOT_LISTED_MODULES = ("__init__.py", "__main__.py")


def layout_entries(readme: str) -> list[str]:
    """The paths of the first column of the table headed ``| folder | contents |``: each backticked
    item; a bare name (``paths.py``) after a path with a folder is taken in that folder."""
    table = readme[readme.index("| folder | contents |"):]
    entries = []
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        folder = ""
        for item in re.findall(r"`([^`]+)`", line.split("|")[1]):
            if "/" in item.rstrip("/"):
                folder = item.rstrip("/").rsplit("/", 1)[0] + "/" if not item.endswith("/") else ""
            entries.append(item if "/" in item or not folder else folder + item)
    return entries


def test_layout_entries_reads_bare_names_in_the_folder_of_the_first_path():
    readme = ("| folder | contents |\n|---|---|\n| `analysis/paths.py`, `conventions.py` | x |\n"
              "| `tests/`, `benchmarks/` | y |\n\nafter\n")
    assert layout_entries(readme) == ["analysis/paths.py", "analysis/conventions.py", "tests/", "benchmarks/"]


def _entries() -> list[str]:
    return layout_entries((REPO / "README.md").read_text(encoding="utf-8"))


def _listed_folders() -> set[str]:
    return {e.rstrip("/") for e in _entries() if e.endswith("/")}


def test_every_path_in_the_layout_table_exists():
    ignored = set((REPO / ".gitignore").read_text(encoding="utf-8").split())
    missing = []
    for entry in _entries():
        if "<cut>" in entry:
            # outputs of a cut (data/derived/<cut>/, reports/<cut>/) exist once built; on a fresh
            # clone their folder is absent, so it must be declared a pipeline output in .gitignore
            path = entry.split("<cut>")[0]
            if not (REPO / path).exists() and f"/{path}*" not in ignored:
                missing.append(entry)
        elif not (REPO / entry).exists():
            missing.append(entry)
    assert missing == []


def test_every_package_folder_is_in_the_layout_table():
    packages = sorted(p.parent.relative_to(REPO).as_posix() for p in REPO.glob("**/__init__.py")
                      if ".venv" not in p.parts and p.parent != REPO / "analysis")
    assert [p for p in packages if p not in _listed_folders()] == []


def test_every_top_level_module_of_the_package_is_in_the_layout_table():
    modules = sorted(f"analysis/{p.name}" for p in (REPO / "analysis").glob("*.py") if p.name not in NOT_LISTED_MODULES)
    assert [m for m in modules if m not in _entries()] == []


def test_every_top_level_folder_under_version_control_is_in_the_layout_table():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    folders = sorted({Path(f).parts[0] for f in tracked.splitlines()
                      if len(Path(f).parts) > 1 and not f.startswith(".")})   # hidden: CI configuration
    top = {e.split("/")[0] for e in _entries()}
    assert [f for f in folders if f not in top] == []
