"""Issue 11: every table / figure / listing numbered once (registry), the same number in HTML and
RTF, an RTF footer with program, cut and commit and "Page x of y", the index linking every RTF,
and the reviewer's checklist listing exactly the registry."""

from __future__ import annotations

import re

import lxml.html
import pandas as pd

from analysis.paths import REPO_ROOT
from analysis.present import numbering as NB
from analysis.present.table import Table, rtf_string, to_html
from analysis.render.html import number_table_captions


def _table() -> Table:
    return Table(title="Treatment-emergent adverse events by period at onset",
                 frame=pd.DataFrame({"Period": ["CAR-T1"], "n": ["3 (75.0)"]}), headers=["Period", "n"])


def test_numbers_are_unique_and_well_formed():
    labels = [o.label for o in NB.OUTPUTS]
    assert len(labels) == len(set(labels))
    assert all(re.fullmatch(r"\d+(\.\d+)+", o.number) for o in NB.OUTPUTS)


def test_the_same_number_in_html_and_rtf_with_program_cut_and_commit(monkeypatch):
    monkeypatch.setenv(NB.COMMIT_ENV, "abc123def456")
    t = NB.number(_table(), "ae_period", "cut-2025-06-30", ["Data cut cut-2025-06-30."])
    assert t.title == "Table 14.3.1.5: Treatment-emergent adverse events by period at onset"
    html, rtf = to_html(t), rtf_string(t)
    assert "Table 14.3.1.5: Treatment-emergent" in html and "Table 14.3.1.5: Treatment-emergent" in rtf
    footer = ("Program: analysis/present/csr/safety.py, shown in analysis/notebooks/05-safety.qmd; "
              "data cut: cut-2025-06-30; commit: abc123def456.")
    assert footer in html and footer in rtf
    assert "NUMPAGES" in rtf and "PAGE" in rtf    # "Page x of y" fields
    assert "Subjects who entered each period" in t.subtitles   # the population


def test_unregistered_output_is_an_error():
    try:
        NB.number(_table(), "no_such_table", "cut-2025-06-30")
    except KeyError as exc:
        assert "numbering registry" in str(exc)
    else:
        raise AssertionError("an unregistered output must not get a number")


def test_index_links_every_rtf_in_number_order():
    text = NB.rtf_index_markdown(["deaths", "ae_overview", "extra_table"])
    links = re.findall(r"\]\(tables/([a-z_]+)\.rtf\)", text)
    assert links == ["ae_overview", "deaths", "extra_table"]
    assert "| Table 14.3.1.1 |" in text and "(not numbered)" in text


def test_html_page_does_not_add_a_second_number_to_a_numbered_table():
    page = lxml.html.fromstring(
        '<div><figure class="report-tbl"><figcaption><span class="float-number">Table 3</span></figcaption>'
        '<table><caption>Table 14.3.1.5: AEs by period</caption></table></figure></div>')
    number_table_captions(page)
    assert page.find(".//figcaption") is None
    assert page.find(".//caption").text_content() == "Table 14.3.1.5: AEs by period"


def test_reviewers_checklist_lists_every_registered_output_with_the_program_that_makes_it():
    guide = (REPO_ROOT / "docs" / "reviewers-guide.md").read_text(encoding="utf-8")
    assert NB.checklist_markdown() in guide, "regenerate with analysis.present.numbering.checklist_markdown()"
    rows = re.findall(r"^\| ((?:Table|Figure|Listing) [\d.]+) \| [^|]+ \| ([^|]+) \| `([^`]+)` \| `([^`]+)` \|",
                      guide, re.MULTILINE)
    assert rows == [(o.label, o.population, o.maker, o.program) for o in NB.OUTPUTS]
    # every table / listing is made by a builder module of the rtf step, a figure by its notebook
    assert all(m.startswith("analysis/present/csr/") for label, _, m, _ in rows if not label.startswith("Figure"))


def test_html_page_does_not_add_a_second_number_to_a_numbered_figure():
    from analysis.render.html import drop_numbers_of_csr_figures
    page = lxml.html.fromstring('<div><figure><figcaption><span class="float-number">Figure 1:</span> '
                                '<p>Figure 14.1.1: CONSORT flow</p></figcaption></figure>'
                                '<figure><figcaption><span class="float-number">Figure 2:</span> '
                                '<p>KM curves</p></figcaption></figure></div>')
    drop_numbers_of_csr_figures(page)
    captions = [" ".join(f.text_content().split()) for f in page.iter("figcaption")]
    assert captions == ["Figure 14.1.1: CONSORT flow", "Figure 2: KM curves"]


def test_rtf_columns_are_wide_enough_for_every_header_word():
    """Issue 11: a wide AE table (long SOC/term labels, seven count columns) must not break a header
    word: the label column gives way, every other column keeps at least its longest line."""
    import rtflite as rtf

    from analysis.present.table import _column_widths, _page_capacity
    headers = ["System organ class / preferred term"] + [f"Worst grade {g}\nSandwich (trial)\nN = 40" for g in range(7)]
    frame = pd.DataFrame([["Blood and lymphatic system disorders / Febrile neutropenia " * 2] + ["40 (100.0)"] * 7])
    t = Table(title="AEs", frame=frame, headers=headers)
    capacity = _page_capacity(rtf.RTFPage(orientation="landscape"))
    widths = _column_widths(t, capacity)
    scale = capacity / sum(widths)
    for width, header in zip(widths[1:], headers[1:]):
        longest_line = max(len(line) for line in header.split("\n"))
        assert width * scale >= longest_line, (width * scale, header)
    assert widths[0] < 60   # the label column wrapped instead
