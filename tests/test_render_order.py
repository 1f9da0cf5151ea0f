"""Notebooks are handed to the render workers longest first (issue 15), pages stay in file order."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from analysis.render.pipeline import longest_first


def docs(*names: str) -> list:
    return [SimpleNamespace(name=n, path=Path(n)) for n in names]


def test_measured_table_puts_the_longest_notebook_first(tmp_path):
    d = docs("01-overview.qmd", "07-external-sensitivity.qmd", "08-changes.qmd", "99-new.qmd")
    assert longest_first(d, tmp_path) == [1, 0, 2, 3]   # 5.5 s, 1.6 s, 1.0 s, unknown (0) last


def test_previous_render_of_the_cut_overrides_the_table(tmp_path):
    (tmp_path / "render.json").write_text(json.dumps({"notebooks": [
        {"source": "08-changes.qmd", "seconds": 30.0}, {"source": "99-new.qmd", "seconds": 5.0}]}))
    d = docs("01-overview.qmd", "07-external-sensitivity.qmd", "08-changes.qmd", "99-new.qmd")
    assert longest_first(d, tmp_path) == [2, 1, 3, 0]


def test_unreadable_previous_render_falls_back_to_the_table(tmp_path):
    (tmp_path / "render.json").write_text("{not json")
    d = docs("02-population.qmd", "03-efficacy.qmd")
    assert longest_first(d, tmp_path) == [1, 0]
