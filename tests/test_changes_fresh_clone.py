"""The change report of the latest cut in a fresh clone: the previous (interim) cut exists only as
its committed lock, data/locked/<cut>/ (ard.csv and define.xml at the top, the ADaM datasets in
derived/); there is no working build of it.

Once per module: a scratch tree gets the shipped data/raw/ and data/locked/ only; derive and
analyze run for the latest cut, then the pipeline's changes step, then notebook 08 is rendered
(Jupyter fallback). The comparison must be record by record on the ADaM datasets of the locked
interim cut (never "dataset added / removed" because the locked folder's ARD was read as a
dataset), find the ADTTE events new since the interim cut, and say which copy it read.
"""

from __future__ import annotations

import os
import shutil
import sys

import lxml.html
import pytest

from analysis import cli, paths
from analysis.regulatory import common, compare

ADAM = {"ADSL", "ADTTE", "ADMRD", "ADAE"}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    from analysis.analyze.pipeline import analyze_cut
    from analysis.derive.pipeline import derive_cut
    from analysis.render.pipeline import render_cut

    root = tmp_path_factory.mktemp("fresh-clone")
    shutil.copytree(paths.raw_root(), paths.raw_root(root))
    shutil.copytree(paths.ROOT / "data" / common.LOCKED_DIRNAME, root / "data" / common.LOCKED_DIRNAME)
    cut = paths.latest_cut(root)
    previous = paths.previous_cut(cut, root)
    assert common.is_locked(previous, root), "the shipped previous cut is locked"
    assert not paths.derived_dir(previous, root).exists() and not paths.report_dir(previous, root).exists()
    derive_cut(cut, root=root)
    analyze_cut(cut, root=root)
    compare.changes_step(cut, root=root)
    notebooks = root / "notebooks"
    notebooks.mkdir()
    shutil.copyfile(paths.NOTEBOOKS_DIR / "08-changes.qmd", notebooks / "08-changes.qmd")
    out = render_cut(cut, root, notebooks_dir=notebooks, engine="jupyter")
    return root, cut, previous, compare.load_changes(cut, root), out / "08-changes.html"


def test_compare_reads_the_locked_adam_datasets_record_by_record(fresh):
    _, cut, previous, tables, _ = fresh
    derived = tables["derived_changes"]
    assert set(derived["dataset"]) <= ADAM and "ADSL" in set(derived["dataset"])
    assert not derived["change"].isin(["dataset added", "dataset removed"]).any(), \
        derived[derived["change"].str.startswith("dataset")]
    assert {"added record", "value changed"} <= set(derived["change"])
    summary = dict(zip(tables["summary"]["item"], tables["summary"]["value"]))
    assert summary["derived data of from cut"] == f"data/locked/{previous}/derived/ (locked copy)"
    assert summary["derived data of to cut"] == f"data/derived/{cut}/ (working build)"
    assert summary["ARD of from cut"] == f"data/locked/{previous}/ard.csv (locked copy)"
    assert int(summary["derived differences"]) == len(derived)


def test_new_adtte_events_against_the_locked_interim_cut(fresh):
    root, cut, previous, tables, _ = fresh
    adtte = tables["events"][tables["events"]["source"] == "ADTTE"]
    assert len(adtte), "no ADTTE event found new since the locked interim cut"
    # independently: an ADTTE event of this cut whose (subject, parameter) was censored or absent
    # in the locked interim ADTTE
    old = common.read_dataset(common.locked_derived_dir(previous, root) / "adtte.parquet")
    new = common.read_dataset(paths.derived_dir(cut, root) / "adtte.parquet")
    was_event = {(u, p) for u, p, c in zip(old["USUBJID"], old["PARAMCD"], old["CNSR"]) if c == 0}
    expected = {(u, p) for u, p, c in zip(new["USUBJID"], new["PARAMCD"], new["CNSR"])
                if c == 0 and (u, p) not in was_event}
    found = {(s, e.removesuffix(" event")) for s, e in zip(adtte["subject"], adtte["event"])}
    assert found == expected


def test_compare_command_in_the_fresh_clone(fresh, capsys):
    root, cut, previous, _, _ = fresh
    assert cli.main(["--root", str(root), "compare", "--from", previous, "--to", cut, "--no-write"]) == 0
    out = capsys.readouterr().out
    assert f"data/locked/{previous}/derived/ (locked copy)" in out
    assert "== Derived data differences" in out and "dataset added" not in out and "dataset removed" not in out


def _table(page, caption_start: str) -> list[list[str]]:
    for table in page.iter("table"):
        caption = table.find("caption")
        if caption is not None and caption_start in caption.text_content():
            return [[" ".join(c.text_content().split()) for c in tr.iter("td")] for tr in table.iter("tr")
                    if tr.find("td") is not None and tr.getparent().tag == "tbody"]
    raise AssertionError(f"no table {caption_start!r} on the page")


def test_page_08_shows_record_level_adam_changes_and_new_events(fresh):
    _, cut, previous, _, page_path = fresh
    page = lxml.html.fromstring(page_path.read_text(encoding="utf-8"))
    text = " ".join(page.text_content().split())
    assert f"Compared: {cut} (this cut) with {previous} (previous cut, locked)" in text
    by_dataset = _table(page, "Derived-data differences by dataset")
    assert {row[0] for row in by_dataset} <= ADAM and "ADSL" in {row[0] for row in by_dataset}
    assert not [row for row in by_dataset if row[1].startswith("dataset ")]
    events = _table(page, "New events by type")
    assert any(row[0] == "ADTTE" and int(row[2]) > 0 for row in events), events
    summary = dict(row[:2] for row in _table(page, "summary"))
    assert summary["derived data of from cut"] == f"data/locked/{previous}/derived/ (locked copy)"


def test_real_notebooks_through_the_fake_quarto_load_nothing_from_a_cdn(fresh, tmp_path, monkeypatch):
    """Notebooks with the report's tables (02: the Tables of analysis.present.csr; 08: printed HTML)
    rendered by the stand-in for Quarto 1.7 (tests/fixtures/fake_quarto.py), which adds
    require.js/jQuery from cdnjs for any text/html output: the pages must have none."""
    from analysis.render.html import external_references
    from analysis.render.pipeline import render_cut

    root, cut, _, _, _ = fresh
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = paths.REPO_ROOT / "tests" / "fixtures" / "fake_quarto.py"
    (bin_dir / "quarto").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{fake}" "$@"\n')
    (bin_dir / "quarto").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_QUARTO_LOG", str(tmp_path / "calls.jsonl"))
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    for name in ("02-population.qmd", "08-changes.qmd"):
        shutil.copyfile(paths.NOTEBOOKS_DIR / name, notebooks / name)
    out = render_cut(cut, root, notebooks_dir=notebooks, engine="quarto")
    for name in ("02-population.html", "08-changes.html"):
        text = (out / name).read_text(encoding="utf-8")
        assert "QUARTO PAGE" in text and external_references(text) == []
        assert "<table" in text and "{=html}" not in text
