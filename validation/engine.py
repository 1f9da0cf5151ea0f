"""Run suites with Great Expectations 1.x and turn its results into readable outcomes.

One EPHEMERAL data context per validation run (nothing is written to disk), one pandas data
source, one dataframe asset and batch per suite frame. Results are requested with result_format
COMPLETE and ``unexpected_index_column_names = [ROW, <subject column>]`` so that every failing row
is recovered with its CSV row number and subject; the rule's ``detail`` then words the failure
from the check frame.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402

from analysis.messages import printable  # noqa: E402
from validation.frames import ROW  # noqa: E402
from validation.rules import Rule, Suite  # noqa: E402

PASSED, FAILED, NOT_EVALUATED = "passed", "failed", "not evaluated"
MAX_ROWS_KEPT = 200  # failing rows listed per rule (>= what the HTML report shows); the rest are counted


@dataclass
class FailedRow:
    row: int | None          # 1-based data row of the reported file
    subject: str | None
    detail: str


@dataclass
class Outcome:
    """The result of one rule."""
    suite: Suite
    rule: Rule
    status: str                                   # PASSED / FAILED / NOT_EVALUATED
    rows: list[FailedRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)   # table-level failures
    checked: int | None = None                    # rows the expectation looked at
    note: str = ""                                # why not evaluated / GX error
    more_rows: int = 0                            # failing rows beyond ``rows`` (counted, not listed)

    @property
    def failed(self) -> bool:
        return self.status == FAILED


def new_context():
    """An ephemeral GX context with progress bars off (they would flood the terminal)."""
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


def run_suites(suites: list[Suite], context=None, cache: dict | None = None) -> list[Outcome]:
    """Validate every suite's frame against its rules; one outcome per rule, in suite order.

    ``cache`` (optional, e.g. the fuzzing suite's): outcomes of a suite whose rules and frame are
    identical to a suite already run are reused (same rules on the same frame give the same
    outcomes), so a run that changes one form re-validates only the suites that form touches."""
    ctx, source = context, None
    outcomes: list[Outcome] = []
    for suite in suites:
        key = suite_fingerprint(suite) if cache is not None else None
        if key is not None and key in cache:
            outcomes.extend(_rebind(cache[key], suite))
            continue
        if source is None:
            ctx = ctx or new_context()
            source = ctx.data_sources.add_pandas(f"raw-{id(suites)}")
        result = _run_suite(ctx, source, suite)
        if key is not None:
            cache[key] = _rebind(result, suite)
        outcomes.extend(result)
    return outcomes


def suite_fingerprint(suite: Suite) -> str:
    """SHA-256 over the suite's name, every rule (id, statement, expectation configuration) and
    the content of its frame."""
    import hashlib
    h = hashlib.sha256(suite.name.encode())
    for r in suite.rules:
        h.update(f"{r.id}|{r.statement}|{r.needs}|".encode())
        if r.expectation is not None:
            h.update(r.expectation.json(exclude={"meta"}).encode())
    h.update(repr((suite.skipped, suite.missing_columns, suite.subject_column)).encode())
    if suite.frame is not None:
        h.update(repr([(c, str(t)) for c, t in suite.frame.dtypes.items()]).encode())
        h.update(pd.util.hash_pandas_object(suite.frame, index=True).values.tobytes())
    return h.hexdigest()


def _rebind(outcomes: list[Outcome], suite: Suite) -> list[Outcome]:
    """Copies of ``outcomes`` attached to ``suite``'s own rule objects (rows copied: callers edit them)."""
    by_id = {r.id: r for r in suite.rules}
    return [Outcome(suite, by_id[o.rule.id], o.status, [FailedRow(fr.row, fr.subject, fr.detail) for fr in o.rows],
                    list(o.problems), o.checked, o.note) for o in outcomes]


def _run_suite(ctx, source, suite: Suite) -> list[Outcome]:
    if suite.frame is None:
        return [Outcome(suite, r, NOT_EVALUATED, note=suite.skipped or "") for r in suite.rules]
    missing = set(suite.missing_columns)
    skipped = {r.id: Outcome(suite, r, NOT_EVALUATED, note="column(s) missing: " + ", ".join(sorted(set(r.needs) & missing)))
               for r in suite.rules if set(r.needs) & missing}
    runnable = [r for r in suite.rules if r.id not in skipped]
    by_id = {r.id: r for r in runnable}
    results = {}
    if runnable:
        gx_suite = gx.ExpectationSuite(name=suite.name)
        for rule in runnable:
            rule.expectation.meta = {**(rule.expectation.meta or {}), "rule_id": rule.id, "rule": rule.statement}
            gx_suite.add_expectation(rule.expectation)
        gx_suite = ctx.suites.add(gx_suite)
        asset = source.add_dataframe_asset(suite.name)
        batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(
            batch_parameters={"dataframe": suite.frame})
        index_cols = [c for c in (ROW, suite.subject_column) if c and c in suite.frame.columns]
        result_format = {"result_format": "COMPLETE"}
        if index_cols:
            result_format["unexpected_index_column_names"] = index_cols
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            validation = batch.validate(gx_suite, result_format=result_format)
        for r in validation.results:
            results[r.expectation_config.meta["rule_id"]] = r
    rows_by_number = suite.frame.set_index(ROW, drop=False) if ROW in suite.frame.columns else None
    out = []
    for rule in suite.rules:
        if rule.id in skipped:
            out.append(skipped[rule.id])
        else:
            out.append(_outcome(suite, by_id[rule.id], results[rule.id], rows_by_number))
    return out


def _outcome(suite: Suite, rule: Rule, res, rows_by_number: pd.DataFrame | None) -> Outcome:
    info = res.exception_info or {}
    if info.get("raised_exception"):
        msg = (info.get("exception_message") or "").strip().splitlines()
        return Outcome(suite, rule, FAILED, note="could not be evaluated: " + (msg[0] if msg else "GX error"),
                       problems=["could not be evaluated: " + (msg[0] if msg else "GX error")])
    result = res.result or {}
    checked = result.get("element_count")
    if res.success:
        return Outcome(suite, rule, PASSED, checked=checked)
    if rule.table_detail is not None:
        return Outcome(suite, rule, FAILED, problems=rule.table_detail(result), checked=checked)
    # Only the first MAX_ROWS_KEPT failing rows (by row number) are worded; the rest are
    # counted. Wording each of 10^5 failing rows was most of validate's time at 1000x the study.
    first_item: dict = {}
    for item in result.get("unexpected_index_list") or []:
        first_item.setdefault(int(item[ROW]) if ROW in item else None, item)
    numbers = sorted(first_item, key=lambda n: (n is None, n or 0))
    rows = []
    for number in numbers[:MAX_ROWS_KEPT]:
        item = first_item[number]
        subject = item.get(suite.subject_column) if suite.subject_column else None
        frame_row = rows_by_number.loc[number] if rows_by_number is not None and number is not None else pd.Series(item)
        rows.append(FailedRow(number, None if subject is None or pd.isna(subject) else printable(subject),
                              rule.detail(frame_row)))
    if not rows:  # failed without listing rows (should not happen for map expectations)
        return Outcome(suite, rule, FAILED, problems=[f"failed: {result.get('observed_value', result)}"], checked=checked)
    return Outcome(suite, rule, FAILED, rows=rows, checked=checked, more_rows=len(numbers) - len(rows))
