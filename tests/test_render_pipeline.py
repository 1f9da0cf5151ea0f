"""render_cut with the Jupyter fallback, end to end (real kernels; small notebooks):
parameters reach the kernel, cell options act on real outputs, an erroring cell fails the
render with notebook/cell/traceback, and a failed render leaves the previous pages untouched."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest

from analysis.errors import NotebookExecutionError, RenderError
from analysis.render.html import parse_page
from analysis.render.pipeline import render_cut

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "tests" / "fixtures" / "example-report.qmd"
CUT = "cut-2025-06-30"

TINY = """
---
title: "Tiny"
---

```{python}
#| tags: [parameters]
cut = None
root = None
```

```{python}
import os
print("cut", cut, "gx", os.environ.get("GX_ANALYTICS_ENABLED"), "cwd", os.getcwd())
```

```{python}
#| eval: false
#| echo: true
raise RuntimeError("EVAL-FALSE-MUST-NOT-RUN")
```
"""

BROKEN = """
---
title: "Broken"
---

```{python}
#| tags: [parameters]
cut = None
root = None
```

```{python}
#| label: tbl-ok
x = 1
```

```{python}
#| label: fig-broken
def compute():
    return 1 / 0
compute()
```
"""


def write_notebook(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def example_report(tmp_path_factory) -> Path:
    """The example notebook rendered once for the tests of this module."""
    base = tmp_path_factory.mktemp("render")
    notebooks = base / "notebooks"
    notebooks.mkdir()
    shutil.copy(EXAMPLE, notebooks / "01-example.qmd")
    shutil.copy(EXAMPLE, notebooks / "_draft-not-in-report.qmd")
    return render_cut(CUT, root=base / "root", notebooks_dir=notebooks, engine="jupyter")


def page_text(path: Path) -> str:
    return " ".join(parse_page(path.read_text(encoding="utf-8")).find(".//main").text_content().split())


def test_render_writes_one_page_per_notebook_plus_index_and_manifest(example_report):
    assert example_report.name == CUT
    assert sorted(p.name for p in example_report.iterdir()) == ["01-example.html", "index.html", "render.json"]
    manifest = json.loads((example_report / "render.json").read_text())
    assert manifest["cut"] == CUT and manifest["engine"] == "jupyter"
    umask = os.umask(0)
    os.umask(umask)
    assert example_report.stat().st_mode & 0o777 == 0o777 & ~umask, "folder readable as any new folder"
    assert [n["source"] for n in manifest["notebooks"]] == ["01-example.qmd"]
    index = page_text(example_report / "index.html")
    assert "Example section of the report" in index and "01-example.qmd" in index


def test_injected_parameter_reaches_the_kernel(example_report):
    text = page_text(example_report / "01-example.html")
    assert f"Rendered for data cut: {CUT}" in text
    assert "Rendered for data cut: None" not in text


def test_cell_options_act_on_real_outputs(example_report):
    html = (example_report / "01-example.html").read_text(encoding="utf-8")
    text = page_text(example_report / "01-example.html")
    for hidden in ("HIDDEN-INCLUDE-FALSE-OUTPUT", "HIDDEN-OUTPUT-FALSE", "HIDDEN-WARNING-TEXT"):
        assert hidden not in html, hidden
    assert "visible despite the warning" in text
    assert "shown_code_marker = 6 * 7" in text, "echo: true shows the code"
    assert "use_report_style()" not in html, "code is hidden by default (_quarto.yml echo: false)"
    assert "EXPECTED-ERROR-SHOWN" in text, "error: true shows the traceback and the render goes on"
    doc = parse_page(html)
    asis = [h for h in doc.iter("h3") if "Printed heading from asis" in h.text_content()]
    assert asis, "output: asis printed markdown becomes a real heading"
    assert doc.get_element_by_id("fig-curve").find(".//img") is not None
    assert "Figure 1: A step curve" in " ".join(doc.get_element_by_id("fig-curve").find("figcaption").text_content().split())
    assert "The survival curve is in Figure 1 and the counts are in Table 1" in text


def test_same_inputs_give_byte_identical_pages(example_report, tmp_path):
    """Deterministic output (fixed cell ids, no timestamps, PNGs without dates): a reviewer who
    re-renders a cut can compare pages by checksum. Another root, same cut and notebook."""
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    shutil.copy(EXAMPLE, notebooks / "01-example.qmd")
    again = render_cut(CUT, root=tmp_path / "root", notebooks_dir=notebooks, engine="jupyter")
    for name in ("01-example.html", "index.html"):
        assert (again / name).read_bytes() == (example_report / name).read_bytes(), name


def test_kernel_environment_and_working_directory(tmp_path):
    notebooks = tmp_path / "nb"
    write_notebook(notebooks, "01-tiny.qmd", TINY)
    out = render_cut(CUT, root=tmp_path / "root", notebooks_dir=notebooks, engine="jupyter")
    text = page_text(out / "01-tiny.html")
    assert f"cut {CUT} gx False cwd {REPO}" in text
    assert 'raise RuntimeError("EVAL-FALSE-MUST-NOT-RUN")' in text, "eval: false shows the code ..."
    assert "Traceback" not in text, "... and does not run it"


def test_error_in_a_cell_names_notebook_cell_and_traceback(tmp_path):
    notebooks = tmp_path / "nb"
    write_notebook(notebooks, "01-broken.qmd", BROKEN)
    with pytest.raises(NotebookExecutionError) as info:
        render_cut(CUT, root=tmp_path / "root", notebooks_dir=notebooks, engine="jupyter")
    err = info.value
    assert (err.notebook, err.cell_number, err.label, err.qmd_line) == ("01-broken.qmd", 3, "fig-broken", 16)
    message = str(err)
    assert message.startswith("notebook 01-broken.qmd failed in code cell 3 (label: fig-broken), "
                              "chunk starting at line 16")
    assert "ZeroDivisionError" in message and "compute()" in message
    assert "\x1b[" not in message, "terminal colour codes are stripped"


@pytest.mark.parametrize("previous_build", [True, False], ids=["after-a-build", "clean-state"])
def test_failed_render_leaves_previous_pages_and_other_steps_files(tmp_path, previous_build):
    """After a build, the pages and other steps' files stay as they were; from a clean state
    (no reports/ folder at all) a failed render leaves no report folder and no scratch."""
    root = tmp_path / "root"
    report = root / "reports" / CUT
    previous = {"01-tiny.html": "OLD TINY", "index.html": "OLD INDEX", "ard.csv": "a,b\n1,2\n",
                "validation.html": "VALIDATION", "09-retired.html": "RETIRED NOTEBOOK"} if previous_build else {}
    if previous_build:
        report.mkdir(parents=True)
    for name, text in previous.items():
        (report / name).write_text(text)
    notebooks = tmp_path / "nb"
    write_notebook(notebooks, "01-tiny.qmd", TINY)
    write_notebook(notebooks, "02-broken.qmd", BROKEN)

    with pytest.raises(NotebookExecutionError, match="02-broken.qmd"):
        render_cut(CUT, root=root, notebooks_dir=notebooks, engine="jupyter")
    if previous_build:
        assert {p.name: p.read_text() for p in report.iterdir()} == previous, "nothing changed, nothing added"
    else:
        assert not report.exists(), "a failed first render leaves no (half) report folder"
    assert not [p for p in report.parent.iterdir() if p.name != CUT], "no scratch folder left behind"
    if not previous_build:
        return

    (notebooks / "02-broken.qmd").unlink()
    render_cut(CUT, root=root, notebooks_dir=notebooks, engine="jupyter")
    after = {p.name: p.read_text() for p in report.iterdir()}
    assert after["ard.csv"] == previous["ard.csv"] and after["validation.html"] == "VALIDATION"
    assert "OLD" not in after["01-tiny.html"] and "OLD" not in after["index.html"]
    assert "09-retired.html" not in after, "pages of notebooks that no longer exist are dropped"
    index = page_text(report / "index.html")
    assert "ard.csv" in index and "validation.html" in index, "index links the other steps' outputs"


def test_bad_inputs_fail_before_any_kernel_starts(tmp_path):
    with pytest.raises(RenderError, match="no report notebooks"):
        render_cut(CUT, root=tmp_path, notebooks_dir=tmp_path / "empty", engine="jupyter")
    with pytest.raises(ValueError, match="not a data cut name"):
        render_cut("latest", root=tmp_path, notebooks_dir=tmp_path, engine="jupyter")
    notebooks = tmp_path / "nb"
    write_notebook(notebooks, "01-tiny.qmd", TINY)
    write_notebook(notebooks, "02-bad.qmd", "```{python}\n#| echo: maybe\n1\n```\n")
    with pytest.raises(RenderError, match=r"02-bad.qmd chunk 1 \(line 1\): cell option 'echo'"):
        render_cut(CUT, root=tmp_path / "root", notebooks_dir=notebooks, engine="jupyter")
    assert not (tmp_path / "root").exists()
    (notebooks / "02-bad.qmd").unlink()
    with pytest.raises(RenderError, match="unknown render engine"):
        render_cut(CUT, root=tmp_path / "root", notebooks_dir=notebooks, engine="pandoc")


def test_preview_command_renders_a_single_draft(tmp_path, capsys):
    from analysis.render.__main__ import main
    draft = write_notebook(tmp_path, "_draft.qmd", TINY)
    out = tmp_path / "preview" / "draft.html"
    assert main([str(draft), "--cut", CUT, "--out", str(out), "--engine", "jupyter"]) == 0
    assert f"cut {CUT}" in page_text(out)
    assert main([str(tmp_path / "missing.qmd"), "--cut", CUT]) == 1
    assert "RENDER FAILED: notebook" in capsys.readouterr().err


@pytest.mark.parametrize("code, expected", [
    ("import time\ntime.sleep(30)", "CellTimeoutError"),
    ("import os\nos._exit(1)", "DeadKernelError"),
])
def test_hung_or_dead_kernel_is_reported_with_the_cell(tmp_path, code, expected):
    from analysis.render.execute import execute_notebook
    from analysis.render.options import QUARTO_DEFAULTS
    from analysis.render.qmd import read_qmd
    qmd = write_notebook(tmp_path, "01-hang.qmd", f"```{{python}}\n#| label: tbl-slow\n{code}\n```\n")
    doc = read_qmd(qmd)
    with pytest.raises(NotebookExecutionError) as info:
        execute_notebook(doc.notebook, notebook=doc.name, cwd=REPO, defaults=QUARTO_DEFAULTS, timeout=3)
    assert str(info.value).startswith("notebook 01-hang.qmd failed in code cell 1 (label: tbl-slow), "
                                      "chunk starting at line 1:")
    assert expected in str(info.value)


def test_the_tables_folder_is_the_rtf_steps_output_kept_and_linked_by_number(tmp_path):
    """Issue 16: tables/ is written by the rtf step, not by the notebooks: render carries it over
    untouched and the index links each RTF under its number (not as a bare folder link)."""
    from analysis.render.pipeline import carried_over, write_index
    report = tmp_path / "report"
    report.mkdir()
    for name in ("ard.csv", "validation.html", "index.html", "render.json", "01-overview.html"):
        (report / name).write_text("x")
    (report / "tables").mkdir()
    (report / "tables" / "ae_overview.rtf").write_text("{\\rtf1 }")
    (report / "changes").mkdir()
    others = carried_over(report)
    assert others == ("ard.csv", "changes", "tables", "validation.html")
    scratch = tmp_path / "scratch"     # render's scratch folder: tables/ reaches it only on replacement
    scratch.mkdir()
    write_index(scratch, "cut-2025-06-30", [], others, [], "jupyter", report / "tables")
    index = (scratch / "index.html").read_text(encoding="utf-8")
    assert 'href="tables/ae_overview.rtf"' in index and "Table 14.3.1.1" in index
    assert 'href="tables"' not in index and 'href="changes"' in index
