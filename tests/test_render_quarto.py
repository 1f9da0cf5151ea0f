"""The Quarto engine, with a fake ``quarto`` on PATH (tests/fixtures/fake_quarto.py; the Quarto
CLI cannot be installed here) that records how it was called and, like Quarto 1.7, executes the
notebook in the kernel it finds, fails without papermill for -P, and loads require.js/jQuery from
a CDN when a cell outputs text/html. What is checked is our side of the contract: the command line
(``quarto render <file> --to html -P cut:<cut> -P root:<root> --execute-dir <repo>
--no-execute-daemon``), the work folder's _quarto.yml (never frozen, self-contained HTML),
the environment and kernel, pages without text/html outputs, and what we do with Quarto's
output and failures."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from analysis.errors import RenderError
from analysis.render.html import parse_page
from analysis.render.pipeline import choose_engine, render_cut
from analysis.render.quarto import param_args

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "tests" / "fixtures" / "example-report.qmd"
CUT = "cut-2025-06-30"

FAKE_QUARTO = REPO / "tests" / "fixtures" / "fake_quarto.py"  # what it stands in for: its docstring


@pytest.fixture
def fake_quarto(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "quarto"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_QUARTO}" "$@"\n')
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
    assert f"Rendered for data cut: {CUT}" in page.find(".//main").text_content(), "executed with the parameter"
    assert call["kernel_python"] == sys.executable, "the kernel is this interpreter (the project's .venv)"
    assert page.find(".//script") is None, "no text/html output: Quarto adds no require.js/jQuery"
    assert len(page.findall(".//table")) == 2, "both tables shown as HTML (raw blocks), not as code"
    assert json.loads((out / "render.json").read_text())["engine"] == "quarto"


def test_default_root_is_not_passed(fake_quarto, notebooks, tmp_path, monkeypatch):
    (notebooks / "02-second.qmd").unlink()
    from analysis import paths
    monkeypatch.setattr(paths, "ROOT", tmp_path / "root")
    render_cut(CUT, notebooks_dir=notebooks)
    argv = fake_quarto()[0]["argv"]
    assert "-P" in argv and f"cut:{CUT}" in argv
    assert not any(a.startswith("root:") for a in argv), "root None: the notebook's default applies"


@pytest.mark.parametrize("previous_build", [True, False], ids=["after-a-build", "clean-state"])
def test_quarto_failure_is_reported_and_keeps_previous_pages(fake_quarto, notebooks, tmp_path, monkeypatch,
                                                             previous_build):
    root = tmp_path / "root"
    report = root / "reports" / CUT
    if previous_build:
        report.mkdir(parents=True)
        (report / "01-example.html").write_text("OLD")
    monkeypatch.setenv("FAKE_QUARTO_MODE", "fail")
    with pytest.raises(RenderError) as info:
        render_cut(CUT, root=root, notebooks_dir=notebooks)
    message = str(info.value)
    assert message.startswith("notebook 01-example.qmd: quarto render failed (exit 1)")
    assert "An error occurred while executing the following cell: fig-km" in message
    if previous_build:
        assert (report / "01-example.html").read_text() == "OLD"
        assert sorted(p.name for p in report.iterdir()) == ["01-example.html"]
    else:
        assert not report.exists(), "a failed first render leaves no (half) report folder"
    assert [p.name for p in report.parent.iterdir()] == ([CUT] if previous_build else []), "no scratch left"


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


WIDGET = """
---
title: "Widget"
---

```{python}
#| tags: [parameters]
cut = None
root = None
```

```{python}
from IPython.display import HTML
HTML("<table><tr><td>1</td></tr></table>")
```
"""


def test_a_text_html_output_makes_quarto_load_scripts_and_the_page_is_refused(fake_quarto, tmp_path):
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    (notebooks / "01-widget.qmd").write_text(WIDGET.lstrip())
    with pytest.raises(RenderError, match=r"01-widget.qmd: the Quarto page is not self-contained \(a cell has a "
                                          r"text/html output.*cdnjs.cloudflare.com/ajax/libs/require.js"):
        render_cut(CUT, root=tmp_path / "root", notebooks_dir=notebooks)
    # the fallback refuses the same notebook, naming the cell and what to use instead
    with pytest.raises(RenderError, match=r"01-widget.qmd: code cell 2 \(label: None, line 11\) outputs text/html.*"
                                          r"HtmlBlock"):
        render_cut(CUT, root=tmp_path / "root", notebooks_dir=notebooks, engine="jupyter")


def test_quarto_needs_papermill_where_its_jupyter_engine_runs(fake_quarto, notebooks, tmp_path, monkeypatch):
    """The fake fails as Quarto does when papermill cannot be imported; here it is hidden from
    the interpreter by a module that raises ImportError first on PYTHONPATH."""
    blocker = tmp_path / "no-papermill" / "papermill"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text('raise ImportError("papermill hidden by the test")\n')
    monkeypatch.setenv("PYTHONPATH", str(blocker.parent))
    with pytest.raises(RenderError, match="The papermill package is required for processing --execute-params"):
        render_cut(CUT, root=tmp_path / "root", notebooks_dir=notebooks)


def test_a_python3_kernel_of_the_user_on_another_python_is_not_used(fake_quarto, notebooks, tmp_path, monkeypatch):
    """A ``python3`` kernelspec in the user's Jupyter folder comes before the environment's in
    jupyter_client's search whenever the environment is not preferred (outside a virtualenv, e.g.
    a conda or system Python, or JUPYTER_PREFER_ENV_PATH=0, set here); if Quarto used it, the
    notebooks would run on a Python without papermill or our packages. Our own kernelspec goes
    first on JUPYTER_PATH."""
    user_dir = tmp_path / "user-jupyter"
    decoy = user_dir / "kernels" / "python3"
    decoy.mkdir(parents=True)
    other_python = shutil.which("python3", path="/usr/bin") or "/usr/bin/python3"
    (decoy / "kernel.json").write_text(json.dumps({
        "argv": [other_python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "someone else's python3", "language": "python"}))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(user_dir))
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "0")
    (notebooks / "02-second.qmd").unlink()
    render_cut(CUT, root=tmp_path / "root", notebooks_dir=notebooks)
    assert fake_quarto()[0]["kernel_python"] == sys.executable
