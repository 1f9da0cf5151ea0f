"""Issue 16: RTF export is a step of its own (``rtf``), from the ARD, not a side channel of rendering.

Every numbered table and listing of the registry has one builder (analysis/present/csr/); the
``rtf`` step writes it, the notebook shows the same Table. On a scratch copy of the shipped latest
cut (derive -> analyze -> rtf, once per module) the RTF files are read back as text by a small RTF
parser written here (not rtflite): each has the number and title of its registry entry and of the
table the notebook shows, the same cells and footnotes, the cut's interim/final status in the page
header, and (three tables checked cell by cell) the values of the ARD, formatted here by hand.
"""

from __future__ import annotations

import inspect
import re
import shutil
from pathlib import Path

import pytest

from analysis import ard as A
from analysis import build
from analysis import conventions as C
from analysis import paths
from analysis.present import numbering as NB
from analysis.present.csr import context as CX
from analysis.present.csr import registry as CSR
from analysis.present.csr import step as RTF
from tests.conftest import REPO

NUMBERED = [o.key for o in NB.OUTPUTS if o.kind != "Figure"]


# --- a small RTF reader (independent of rtflite) ----------------------------------------------------

def _plain(fragment: str) -> str:
    r"""Text of an RTF fragment: \uN* -> character, escaped braces/backslash kept, control words dropped."""
    text = re.sub(r"\\u(-?\d+)\*?", lambda m: chr(int(m.group(1)) % 65536), fragment)
    text = text.replace("\\\\", "\x00").replace("\\{", "\x01").replace("\\}", "\x02")
    text = re.sub(r"\{\\\*[^{}]*\}", "", text)                 # destinations such as {\*\fldinst ...}
    text = re.sub(r"\\line ?", "\n", text)
    text = re.sub(r"\\[a-zA-Z]+-?\d* ?", "", text).replace("{", "").replace("}", "")
    return text.replace("\x00", "\\").replace("\x01", "{").replace("\x02", "}")


def rtf_lines(rtf: str) -> list[str]:
    """Non-empty text lines of the document from the page header on (paragraphs and cells)."""
    body = rtf[rtf.index("{\\header"):]
    body = re.sub(r"\\(par|cell|row)\b ?", "\n", body)
    return [line.strip() for line in _plain(body).splitlines() if line.strip()]


def rtf_rows(rtf: str) -> list[list[str]]:
    """The table rows (``\\row``) as lists of cell texts (``\\cell``)."""
    body = rtf[rtf.index("{\\header"):]
    rows = [row.split("\\trowd")[-1] for row in body.split("\\row")[:-1]]   # a row starts at \trowd
    return [[_plain(cell).strip() for cell in re.split(r"\\cell(?![a-z])", row)[:-1]] for row in rows]


def row_of(rows: list[list[str]], label: str) -> list[str]:
    found = [r for r in rows if r and r[0].strip() == label]
    assert len(found) == 1, (label, len(found))
    return found[0]


def test_reader_reads_a_known_document():
    rtf = ("{\\rtf1{\\header{\\pard Interim \\line Page \\chpgn of {\\field{\\*\\fldinst NUMPAGES }}\\par}}"
           "{\\pard Table 1: A \\{b\\} \\u233* \\par}\\trowd{\\pard x\\cell}{\\pard 3 (7.5)\\cell}\\row}")
    assert rtf_lines(rtf)[:3] == ["Interim", "Page of", "Table 1: A {b} é"]
    assert rtf_rows(rtf)[-1] == ["x", "3 (7.5)"]


# --- the registry and the builders ------------------------------------------------------------------

def test_every_numbered_table_and_listing_has_one_builder_in_the_module_the_guide_names():
    assert list(CSR.BUILDERS) == NUMBERED
    for key, builder in CSR.BUILDERS.items():
        source = Path(inspect.getsourcefile(builder)).resolve().relative_to(REPO).as_posix()
        assert source == NB.output(key).maker, key


def test_the_rtf_step_is_declared_after_analyze_and_before_render():
    steps = list(build.DEPENDENCIES)
    rtf = build.DEPENDENCIES["rtf"]
    assert rtf.entry == "analysis.present.csr.step:rtf_cut" and "analyze" in rtf.after
    assert steps.index("analyze") < steps.index("rtf") < steps.index("render")
    assert "rtf" in build.DEPENDENCIES["render"].after and rtf.outputs == ("reports/{cut}/tables/",)


@pytest.mark.parametrize("cut, status, expected", [
    ("cut-2025-06-30", None, "Interim analysis, data cut cut-2025-06-30 (SYNTHETIC data)"),
    ("cut-2031-01-31", "final", "Final analysis, data cut cut-2031-01-31 (SYNTHETIC data)"),
    ("cut-2031-02-28", None, "Analysis status undeclared, data cut cut-2031-02-28 (SYNTHETIC data)"),
])
def test_status_header_reads_the_declared_status(monkeypatch, cut, status, expected):
    if status:
        monkeypatch.setitem(C.CUT_STATUS, cut, status)
    assert RTF.status_header(cut) == expected


# --- the step on the shipped latest cut ----------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(inputs, tables folder) of a scratch tree: derive, analyze and rtf of the latest cut."""
    from analysis.analyze.pipeline import analyze_cut
    from analysis.derive.pipeline import derive_cut

    root = tmp_path_factory.mktemp("rtf-step")
    cut = paths.latest_cut(REPO)
    shutil.copytree(paths.raw_dir(cut, REPO), paths.raw_dir(cut, root))
    derive_cut(cut, root=root)
    analyze_cut(cut, root=root)
    folder = RTF.rtf_cut(cut, root=root)
    return CX.load_inputs(cut, root), folder


def test_every_numbered_table_has_its_rtf_and_nothing_else(built):
    _, folder = built
    assert sorted(p.stem for p in folder.glob("*.rtf")) == sorted(NUMBERED)


@pytest.mark.parametrize("key", NUMBERED)
def test_rtf_has_the_number_title_cells_footnotes_and_status_of_the_shown_table(built, key):
    inputs, folder = built
    rtf = (folder / f"{key}.rtf").read_text(encoding="utf-8")
    assert rtf.startswith("{\\rtf1") and rtf.count("{") - rtf.count("\\{") == rtf.count("}") - rtf.count("\\}")
    lines = rtf_lines(rtf)
    shown = CSR.show(key, inputs)            # what the notebook displays as HTML
    assert lines[0] == RTF.status_header(inputs.cut) and lines[1] == "Page of"   # every page's header
    assert lines[2] == shown.title and shown.title.startswith(f"{NB.output(key).label}: ")
    text = "\n".join(lines)
    for note in [*shown.subtitles, *shown.footnotes, shown.source]:
        assert " ".join(note.split()) in " ".join(text.split()), (key, note)
    # the body: every row of the shown table, cell for cell, in order (the column headers repeat
    # on each page of a long table and are set aside)
    squeeze = lambda cells: [" ".join(str(c).split()) for c in cells]  # noqa: E731
    headers = squeeze(shown.headers)
    rows = [squeeze(r) for r in rtf_rows(rtf) if len(r) == shown.frame.shape[1]]
    assert rows and rows[0] == headers, key
    assert [r for r in rows if r != headers] == [squeeze(r) for r in shown.frame.itertuples(index=False)], key


def test_disposition_rtf_counts_are_the_ard(built):
    inputs, folder = built
    rows = rtf_rows((folder / "disposition.rtf").read_text(encoding="utf-8"))
    flow = inputs.ard[(inputs.ard["context"] == "disposition") & (inputs.ard["param"] == "FLOW")]
    assert len(flow) == 6
    for step, n in zip(flow["variable_level"], flow["stat"]):
        assert row_of(rows, step)[1] == str(int(n)), step


def test_ae_overview_rtf_is_the_ard_n_pct_events(built):
    inputs, folder = built
    rows = rtf_rows((folder / "ae_overview.rtf").read_text(encoding="utf-8"))
    ard = inputs.ard[inputs.ard["context"] == "ae_overview"]
    checked = 0
    for category in ("Any TEAE", "Any serious TEAE", "Any TEAE of grade >= 3"):
        stat = lambda name: A.lookup(ard, variable_level=category, stat_name=name)  # noqa: E731
        n, pct, events = int(stat("n_subj")), stat("pct"), int(stat("n_events"))
        expected = "0" if n == 0 else f"{n} ({pct:.1f}) [{events}]"      # n (%) [E], one decimal
        assert row_of(rows, category)[1] == expected, category
        checked += n > 0
    assert checked >= 2


def test_mrd_best_rtf_is_the_ard_n_pct(built):
    inputs, folder = built
    rows = rtf_rows((folder / "mrd_best.rtf").read_text(encoding="utf-8"))
    ard = inputs.ard[inputs.ard["context"] == "mrd_best"]
    for column, param in ((1, "MRD-FC"), (2, "MRD-NGS")):
        for status in ard.loc[ard["param"] == param, "variable_level"].unique():
            n = A.lookup(ard, param=param, variable_level=status, stat_name="n")
            pct = A.lookup(ard, param=param, variable_level=status, stat_name="pct")
            assert row_of(rows, status.capitalize())[column] == f"{int(n)} ({pct:.1f})", (param, status)
