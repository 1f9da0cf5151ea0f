"""Failure lines for the terminal and the self-contained HTML validation report.

A failure line names file, row, subject, column, what is wrong and the expectation, e.g.
``dm.csv row 5 (SUBJID 01-005) AGE: 212 not in [14, 75] [expect_column_values_to_be_between]``.
At most ``MAX_LINES_PER_RULE`` rows are listed per expectation on the terminal, then
``... and N more``; the HTML report lists up to ``MAX_HTML_ROWS_PER_RULE``. The report carries no
timestamp or timing so that re-running on the same raw data gives the same file.
"""

from __future__ import annotations

import html
import re
from collections import OrderedDict

import great_expectations as gx

from validation.dates import PARTIAL_DATE_RULE
from validation.engine import FAILED, NOT_EVALUATED, PASSED, FailedRow, Outcome

MAX_LINES_PER_RULE = 5
NAMES_A_COLUMN = re.compile(r"^[A-Za-z0-9_.]+: ")  # "AGE: column missing"
MAX_HTML_ROWS_PER_RULE = 200


def row_line(o: Outcome, fr: FailedRow) -> str:
    where = o.rule.file
    if fr.row is not None:
        where += f" row {fr.row}"
    if fr.subject is not None and o.suite.subject_column:
        where += f" ({o.suite.subject_column} {fr.subject})"
    return f"{where} {o.rule.column}: {fr.detail} [{o.rule.expectation_type}]"


def problem_line(o: Outcome, problem: str) -> str:
    """Custom checks word a whole sentence starting with the file; a table-level expectation
    gives "<column>: <problem>" and the file is put in front."""
    if o.rule.expectation is None:
        return f"{problem} [{o.rule.expectation_type}]"
    sep = " " if NAMES_A_COLUMN.match(problem) else ": "
    return f"{o.rule.file}{sep}{problem} [{o.rule.expectation_type}]"


def failure_lines(outcomes: list[Outcome], cap: int = MAX_LINES_PER_RULE) -> list[str]:
    """One line per failed expectation and row (capped per expectation)."""
    lines = []
    for o in outcomes:
        if o.status != FAILED:
            continue
        items = [problem_line(o, p) for p in o.problems] + [row_line(o, fr) for fr in o.rows]
        lines.extend(items[:cap])
        total = len(items) + o.more_rows  # more_rows: failing rows counted, not collected
        if total > cap:
            lines.append(f"  ... and {total - min(cap, len(items))} more for {o.rule.file} {o.rule.column} "
                         f"[{o.rule.expectation_type}] (see the validation report)")
    return lines


CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:.85em;margin:.4em 0}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3} .passed{color:#1a7f37} .failed{color:#b42318;font-weight:bold}
.notevaluated{color:#8a6d00} .summary td{font-size:1em} code{font-size:.95em}
details{margin:.2em 0} .note{color:#555}
"""


def _e(x) -> str:
    return html.escape(str(x))


def _status_cell(status: str) -> str:
    return f'<td class="{status.replace(" ", "")}">{_e(status)}</td>'


def _rows_html(o: Outcome) -> str:
    parts = [f"<li>{_e(p)}</li>" for p in o.problems]
    shown = o.rows[:MAX_HTML_ROWS_PER_RULE]
    subj = o.suite.subject_column or "subject"
    for fr in shown:
        where = f"row {fr.row}" if fr.row is not None else ""
        if fr.subject is not None:
            where += f" ({subj} {fr.subject})"
        parts.append(f"<li>{_e(where)}: {_e(fr.detail)}</li>")
    if len(o.rows) + o.more_rows > len(shown):
        parts.append(f"<li>... and {len(o.rows) + o.more_rows - len(shown)} more rows</li>")
    if not parts:
        return _e(o.note)
    n = len(o.problems) + len(o.rows) + o.more_rows
    return f"<details{' open' if n <= 10 else ''}><summary>{n} failing</summary><ul>{''.join(parts)}</ul></details>"


def render_html(cut: str, cut_dir: str, outcomes: list[Outcome], files: list[tuple[str, str]]) -> str:
    """The validation report: summary, the partial-date rule, the raw files with their SHA-256,
    then every suite with every expectation, its result and its failing rows."""
    by_suite: OrderedDict[str, list[Outcome]] = OrderedDict()
    for o in outcomes:
        by_suite.setdefault(o.suite.name, []).append(o)
    count = {s: sum(o.status == s for o in outcomes) for s in (PASSED, FAILED, NOT_EVALUATED)}
    verdict = "PASSED" if count[FAILED] == 0 else "FAILED"
    out = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Validation of {_e(cut)}</title>",
           f"<style>{CSS}</style></head><body>",
           f"<h1>Raw data validation: {_e(cut)} — <span class='{verdict.lower()}'>{verdict}</span></h1>",
           "<p>SYNTHETIC data. Checked with Great Expectations "
           f"{_e(gx.__version__)} (ephemeral context), suites generated from the raw export contract "
           "<code>analysis/raw_spec.py</code>. Folder: <code>" + _e(cut_dir) + "</code>.</p>",
           "<table class='summary'><tr><th>suites</th><th>expectations / checks</th><th>passed</th>"
           "<th>failed</th><th>not evaluated</th></tr>",
           f"<tr><td>{len(by_suite)}</td><td>{len(outcomes)}</td><td class='passed'>{count[PASSED]}</td>"
           f"<td class='failed'>{count[FAILED]}</td><td class='notevaluated'>{count[NOT_EVALUATED]}</td></tr></table>",
           f"<h2>Partial-date rule</h2><p>{_e(PARTIAL_DATE_RULE)}</p>",
           "<p class='note'>Row numbers are 1-based data rows of the CSV file (the header is not counted). "
           "Values of identifying columns are never shown.</p>"]
    lines = failure_lines(outcomes, cap=MAX_HTML_ROWS_PER_RULE)
    if lines:
        out.append(f"<h2>Failures</h2><ol>{''.join(f'<li><code>{_e(ln)}</code></li>' for ln in lines)}</ol>")
    out.append("<h2>Suites</h2><table><tr><th>suite</th><th>checks</th><th>passed</th><th>failed</th>"
               "<th>not evaluated</th></tr>")
    for name, items in by_suite.items():
        n = {s: sum(o.status == s for o in items) for s in (PASSED, FAILED, NOT_EVALUATED)}
        out.append(f"<tr><td><a href='#{_e(name)}'>{_e(name)}</a></td><td>{len(items)}</td>"
                   f"<td class='passed'>{n[PASSED]}</td><td class='failed'>{n[FAILED] or ''}</td>"
                   f"<td class='notevaluated'>{n[NOT_EVALUATED] or ''}</td></tr>")
    out.append("</table>")
    if files:
        out.append("<h2>Raw files</h2><table><tr><th>file</th><th>SHA-256</th></tr>")
        out += [f"<tr><td>{_e(n)}</td><td><code>{_e(h)}</code></td></tr>" for n, h in files]
        out.append("</table>")
    for name, items in by_suite.items():
        suite = items[0].suite
        failed = sum(o.failed for o in items)
        out.append(f"<h2 id='{_e(name)}'>{_e(name)} — {_e(suite.title)} "
                   f"<span class='{'failed' if failed else 'passed'}'>({failed} failed of {len(items)})</span></h2>")
        if suite.skipped:
            out.append(f"<p class='notevaluated'>{_e(suite.skipped)}</p>")
        out.append("<table><tr><th>#</th><th>expectation</th><th>column</th><th>rule</th><th>result</th>"
                   "<th>rows checked</th><th>failures</th></tr>")
        for i, o in enumerate(items, 1):
            out.append(f"<tr><td>{i}</td><td><code>{_e(o.rule.expectation_type)}</code></td><td>{_e(o.rule.column)}</td>"
                       f"<td>{_e(o.rule.statement)}</td>{_status_cell(o.status)}"
                       f"<td>{'' if o.checked is None else o.checked}</td><td>{_rows_html(o) if o.status != PASSED else ''}</td></tr>")
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)
