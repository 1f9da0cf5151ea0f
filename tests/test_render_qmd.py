"""Reading .qmd files without Quarto: front matter, ``#|`` cell options, chunk lines, option
defaults (analysis.render.qmd, analysis.render.options). No kernel is started here."""

from __future__ import annotations

import textwrap
from pathlib import Path

import jupytext
import pytest

from analysis.errors import RenderError
from analysis.render.options import QUARTO_DEFAULTS, cell_options, document_defaults, load_yaml_mapping
from analysis.render.qmd import read_qmd, split_cell_options, split_front_matter

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "tests" / "fixtures" / "example-report.qmd"


def write(tmp_path: Path, text: str, name: str = "01-doc.qmd") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_split_cell_options_moves_option_lines_out_of_the_code():
    options, code = split_cell_options('#| label: fig-km\n#| fig-cap: "KM of OS"\n#| echo: true\nx = 1\n#| not an option any more\n')
    assert options == {"label": "fig-km", "fig-cap": "KM of OS", "echo": True}
    assert code == "x = 1\n#| not an option any more"


def test_split_cell_options_reads_yaml_continued_over_several_lines():
    options, code = split_cell_options("#| tags:\n#|   - parameters\n#|   - other\ncut = None")
    assert options == {"tags": ["parameters", "other"]}
    assert code == "cut = None"


def test_cell_without_options_is_unchanged():
    assert split_cell_options("# an ordinary comment\nx = 1") == ({}, "# an ordinary comment\nx = 1")


@pytest.mark.parametrize("source, message", [
    ("#| echo: [unclosed\nx = 1", "not valid YAML"),
    ("#| echo: sometimes\nx = 1", "'echo' must be bool"),
    ("#| output: verbose\nx = 1", "true, false or asis"),
    ("#| label: fig km\nx = 1", "letters, digits"),
    ("#| just text\nx = 1", "'key: value'"),
])
def test_bad_cell_options_are_errors_naming_the_chunk(source, message):
    with pytest.raises(RenderError, match=message) as info:
        split_cell_options(source, where="01-doc.qmd chunk 3 (line 12)")
    assert "01-doc.qmd chunk 3 (line 12)" in str(info.value)


def test_front_matter_is_split_and_counted():
    meta, body, offset = split_front_matter('---\ntitle: "T"\nparams:\n  cut: null\n---\n\n# H\n')
    assert meta == {"title": "T", "params": {"cut": None}}
    assert body == "\n# H\n"
    assert offset == 5


def test_unclosed_front_matter_is_an_error():
    with pytest.raises(RenderError, match="never closed"):
        split_front_matter("---\ntitle: T\n\n# H\n", source="01-doc.qmd")


def test_the_rmd_reader_trap_exists_and_read_qmd_avoids_it():
    """jupytext's Rmd reader keeps '#| tags: [parameters]' as code (the trap); read_qmd moves
    it to the cell's tags so the parameters cell can be found."""
    text = EXAMPLE.read_text(encoding="utf-8")
    raw = jupytext.reads(text, fmt="Rmd")
    raw_params = [c for c in raw.cells if c.cell_type == "code" and "parameters" in c.source]
    assert raw_params and raw_params[0].source.startswith("#| tags: [parameters]")
    assert "parameters" not in raw_params[0].metadata.get("tags", [])

    doc = read_qmd(EXAMPLE)
    tagged = [c for c in doc.notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert tagged[0].source == "cut = None\nroot = None"
    assert doc.title == "Example section of the report"
    assert doc.front_matter["params"] == {"cut": None, "root": None}


def test_read_qmd_records_chunk_numbers_lines_and_options(tmp_path):
    path = write(tmp_path, """
        ---
        title: "Doc"
        ---

        # Heading

        ```{python}
        #| tags: [parameters]
        cut = None
        ```

        ```python
        shown but never run
        ```

        ```{python}
        #| label: fig-x
        #| fig-cap: "Cap"
        1 + 1
        ```
        """)
    doc = read_qmd(path)
    code = [c for c in doc.notebook.cells if c.cell_type == "code"]
    assert [c.metadata["chunk"] for c in code] == [1, 2]
    # line numbers of the ```{python} fences in the file (counted by hand from the text above)
    assert [c.metadata["qmd_line"] for c in code] == [7, 16]
    assert code[1].metadata["quarto"] == {"label": "fig-x", "fig-cap": "Cap"}
    assert code[1].source == "1 + 1"
    assert any(c.cell_type == "markdown" and "shown but never run" in c.source for c in doc.notebook.cells)
    assert [c.id for c in doc.notebook.cells] == [f"cell-{i}" for i in range(1, len(doc.notebook.cells) + 1)]


def test_duplicate_label_and_foreign_language_chunks_are_errors(tmp_path):
    dup = write(tmp_path, """
        ```{python}
        #| label: tbl-a
        1
        ```

        ```{python}
        #| label: tbl-a
        2
        ```
        """, "01-dup.qmd")
    with pytest.raises(RenderError, match=r"01-dup.qmd chunk 2 \(line 6\): label 'tbl-a' is already used by chunk 1"):
        read_qmd(dup)
    r_chunk = write(tmp_path, "```{r}\n1\n```\n", "02-r.qmd")
    with pytest.raises(RenderError, match=r"02-r.qmd line 1: only \{python\} chunks"):
        read_qmd(r_chunk)


def test_option_precedence_quarto_then_project_then_document_then_cell():
    project = {"execute": {"echo": False, "warning": False, "freeze": False}}
    front = {"execute": {"warning": True}}
    defaults = document_defaults(project, front, "01-doc.qmd")
    assert defaults == {**QUARTO_DEFAULTS, "echo": False, "warning": True}
    opts = cell_options({"quarto": {"echo": True, "label": "tbl-ae", "tbl-cap": "AEs"}}, defaults)
    assert (opts.echo, opts.warning, opts.include, opts.crossref_kind, opts.caption) == (True, True, True, "tbl", "AEs")
    assert cell_options({"quarto": {"label": "fig-km"}}, defaults).crossref_kind == "fig"
    assert cell_options({"quarto": {"label": "setup"}}, defaults).crossref_kind is None


def test_project_file_hides_code_and_never_freezes():
    """The repository's _quarto.yml: the settings both engines rely on."""
    project = load_yaml_mapping(REPO / "_quarto.yml")
    assert project["execute"]["freeze"] is False
    assert project["execute"]["echo"] is False
    assert project["format"]["html"]["embed-resources"] is True
    assert document_defaults(project, {}, "x")["echo"] is False
