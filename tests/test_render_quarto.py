"""The Quarto engine, with a fake ``quarto`` on PATH that records how it was called (the Quarto
CLI cannot be installed here). What is checked is our side of the contract: the command line
(``quarto render <file> --to html -P cut:<cut> -P root:<root> --execute-dir <repo>
--no-execute-daemon``), the work folder's _quarto.yml (never frozen, self-contained HTML),
the environment, and what we do with Quarto's output and failures."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from analysis.render.errors import RenderError
from analysis.render.html import parse_page
from analysis.render.pipeline import choose_engine, render_cut
from analysis.render.quarto import param_args

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "tests" / "fixtures" / "example-report.qmd"
CUT = "cut-2025-06-30"

FAKE_QUARTO = """\
#!{python}
# Fake Quarto CLI for tests: records argv, cwd, some environment and the work folder's files,
# then behaves as FAKE_QUARTO_MODE says: ok (writes <stem>.html), fail, remote (page loads a CDN script).
import json, os, sys, pathlib
cwd = pathlib.Path.cwd()
record = {{"argv": sys.argv[1:], "cwd": str(cwd),
          "files": sorted(p.name for p in cwd.iterdir()),
          "quarto_yml": (cwd / "_quarto.yml").read_text() if (cwd / "_quarto.yml").exists() else None,
          "QUARTO_PYTHON": os.environ.get("QUARTO_PYTHON"),
          "GX_ANALYTICS_ENABLED": os.environ.get("GX_ANALYTICS_ENABLED")}}
with open(os.environ["FAKE_QUARTO_LOG"], "a") as log:
    log.write(json.dumps(record) + "\\n")
mode = os.environ.get("FAKE_QUARTO_MODE", "ok")
if mode == "fail":
    print("An error occurred while executing the following cell: fig-km", file=sys.stderr)
    sys.exit(1)
stem = pathlib.Path(sys.argv[2]).stem
script = '<script src="https://cdn.example.org/x.js"></script>' if mode == "remote" else ""
params = [a for a in sys.argv if ":" in a and not a.startswith("/")]
(cwd / f"{{stem}}.html").write_text(
    f"<!DOCTYPE html><html><head><title>{{stem}}</title>{{script}}</head>"
    f"<body class='quarto'><main><h1>QUARTO PAGE {{stem}}</h1><p>{{' '.join(params)}}</p></main></body></html>")
"""


@pytest.fixture
def fake_quarto(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "quarto"
    exe.write_text(FAKE_QUARTO.format(python=sys.executable))
    exe.chmod(0o755)
    log = tmp_path / "quarto-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_QUARTO_LOG", str(log))
    monkeypatch.delenv("SAP_RENDER_ENGINE", raising=False)

    def calls() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return calls


@pytest.fixture
def notebooks(tmp_path) -> Path:
    folder = tmp_path / "nb"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "01-example.qmd")
    shutil.copy(EXAMPLE, folder / "02-second.qmd")
    shutil.copy(EXAMPLE, folder / "_scratch.qmd")
    return folder


def test_quarto_is_chosen_when_on_path_and_called_per_notebook(fake_quarto, notebooks, tmp_path):
    root = tmp_path / "root"
    out = render_cut(CUT, root=root, notebooks_dir=notebooks)  # engine chosen automatically
    calls = fake_quarto()
    assert [c["argv"][1] for c in calls] == ["01-example.qmd", "02-second.qmd"], "in order, '_' files skipped"
    assert calls[0]["argv"] == ["render", "01-example.qmd", "--to", "html",
                                "-P", f"cut:{CUT}", "-P", f"root:{root.resolve()}",
                                "--execute-dir", str(REPO), "--no-execute-daemon"]
    call = calls[0]
    assert call["QUARTO_PYTHON"] == sys.executable
    assert call["GX_ANALYTICS_ENABLED"] == "False"
    assert not call["cwd"].startswith(str(REPO)), "rendered in a private work folder, not the source tree"
    assert call["files"] == ["01-example.qmd", "_quarto.yml"]
    project = yaml.safe_load(call["quarto_yml"])
    assert project["execute"]["freeze"] is False, "a frozen result would belong to an earlier cut"
    assert project["format"]["html"]["embed-resources"] is True
    assert project["project"] == {"type": "default"}, "no repository paths (render list, execute-dir) in the work folder"
    assert project["jupyter"] == "python3"

    assert sorted(p.name for p in out.iterdir()) == ["01-example.html", "02-second.html", "index.html", "render.json"]
    page = parse_page((out / "01-example.html").read_text())
    body = page.find("body")
    assert body[0].tag == "nav" and [a.get("href") for a in body[0].iter("a")] == [
        "index.html", "01-example.html", "02-second.html"]
    assert f"cut:{CUT}" in page.find(".//main").text_content()
    assert json.loads((out / "render.json").read_text())["engine"] == "quarto"


def test_default_root_is_not_passed(fake_quarto, notebooks, tmp_path, monkeypatch):
    (notebooks / "02-second.qmd").unlink()
    from analysis import paths
    monkeypatch.setattr(paths, "ROOT", tmp_path / "root")
    render_cut(CUT, notebooks_dir=notebooks)
    argv = fake_quarto()[0]["argv"]
    assert "-P" in argv and f"cut:{CUT}" in argv
    assert not any(a.startswith("root:") for a in argv), "root None: the notebook's default applies"


def test_quarto_failure_is_reported_and_keeps_previous_pages(fake_quarto, notebooks, tmp_path, monkeypatch):
    root = tmp_path / "root"
    report = root / "reports" / CUT
    report.mkdir(parents=True)
    (report / "01-example.html").write_text("OLD")
    monkeypatch.setenv("FAKE_QUARTO_MODE", "fail")
    with pytest.raises(RenderError) as info:
        render_cut(CUT, root=root, notebooks_dir=notebooks)
    message = str(info.value)
    assert message.startswith("notebook 01-example.qmd: quarto render failed (exit 1)")
    assert "An error occurred while executing the following cell: fig-km" in message
    assert (report / "01-example.html").read_text() == "OLD"
    assert sorted(p.name for p in report.iterdir()) == ["01-example.html"]


def test_quarto_page_that_would_fetch_from_the_network_is_rejected(fake_quarto, notebooks, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_QUARTO_MODE", "remote")
    with pytest.raises(RenderError, match=r"01-example.qmd: the Quarto page is not self-contained.*cdn.example.org/x.js> \(network\)"):
        render_cut(CUT, root=tmp_path / "root", notebooks_dir=notebooks)


def test_notebook_without_parameters_cell_fails_before_quarto_runs(fake_quarto, notebooks, tmp_path):
    text = (notebooks / "02-second.qmd").read_text().replace("#| tags: [parameters]\n", "")
    (notebooks / "02-second.qmd").write_text(text)
    with pytest.raises(RenderError, match="notebook 02-second.qmd has no cell tagged 'parameters'"):
        render_cut(CUT, root=tmp_path / "root", notebooks_dir=notebooks)
    assert fake_quarto() == [], "checked before any notebook is rendered"


def test_engine_choice(fake_quarto, monkeypatch):
    assert choose_engine() == "quarto"
    monkeypatch.setenv("SAP_RENDER_ENGINE", "jupyter")
    assert choose_engine() == "jupyter"
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("SAP_RENDER_ENGINE")
    assert choose_engine() == "jupyter"
    with pytest.raises(RenderError, match="quarto is not on PATH"):
        choose_engine("quarto")


def test_param_args():
    assert param_args({"cut": CUT, "root": None, "alpha": 0.05}) == ["-P", f"cut:{CUT}", "-P", "alpha:0.05"]


@pytest.mark.parametrize("value", ["/data/trial: v2", "yes", "it's", "2025-06-30", "123", "[x]", "#x", True, 7])
def test_param_values_read_back_unchanged_as_quarto_reads_them(value):
    """Quarto splits ``-P`` at the first ':' and parses the rest as YAML (flags.ts,
    parseMetadataFlagValue); PyYAML stands in for its YAML reader here."""
    (arg,) = param_args({"p": value})[1:]
    name, text = arg.split(":", 1)
    assert name == "p" and yaml.safe_load(text) == value
    with pytest.raises(RenderError, match="only scalars"):
        param_args({"arms": ["A", "B"]})
