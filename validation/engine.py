"""Run suites with Great Expectations 1.x and turn its results into readable outcomes.

One EPHEMERAL data context per validation run (nothing is written to disk), one pandas data
source, one dataframe asset and batch per suite frame (per worker process when the suites run in
parallel: validation.parallel). A suite is validated with result_format BASIC; a suite with a
failure again with COMPLETE and ``unexpected_index_column_names = [ROW, <subject column>]`` so
that every failing row is recovered with its CSV row number and subject; the rule's ``detail``
then words the failure from the check frame.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402
from great_expectations.expectations.expectation import Expectation  # noqa: E402

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


@contextmanager
def configurations_memoised():
    """Within one ``batch.validate``: an expectation's ``configuration`` built once per object.

    GX 1.x (requirements.lock) rebuilds it (pydantic ``dict()`` and a new ExpectationConfiguration)
    on EVERY access, about 50,000 times for the 424 checks of the shipped cut: a third of
    validate's time. During a validation run the expectation objects are not changed, so the same
    object gives the same configuration; the property is restored on leaving. Outcomes are the
    same with and without it (tests/test_validation_speed.py)."""
    original = Expectation.configuration
    built: dict[int, tuple] = {}

    def configuration(self):
        hit = built.get(id(self))
        if hit is None or hit[0] is not self:  # the object is kept in ``built``: its id is not reused
            hit = built[id(self)] = (self, original.fget(self))
        return hit[1]
    Expectation.configuration = property(configuration)
    try:
        yield
    finally:
        Expectation.configuration = original


def new_context():
    """An ephemeral GX context with progress bars off (they would flood the terminal)."""
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


def run_suites(suites: list[Suite], context=None, cache: dict | None = None,
               workers: int | None = None) -> list[Outcome]:
    """Validate every suite's frame against its rules; one outcome per rule, in suite order.

    ``cache`` (optional, e.g. the fuzzing suite's): outcomes of a suite whose rules and frame are
    identical to a suite already run are reused (same rules on the same frame give the same
    outcomes), so a run that changes one form re-validates only the suites that form touches.
    ``workers``: processes the suites are spread over (default: validation.parallel.default_workers,
    i.e. $SAP_VALIDATE_WORKERS or the machine's cores); outcomes and their order do not depend on it."""
    from validation.parallel import default_workers
    keys = [suite_fingerprint(s) if cache is not None else None for s in suites]
    todo = [i for i, key in enumerate(keys) if key is None or key not in cache]
    workers = default_workers(len(todo)) if workers is None else max(1, min(workers, len(todo)))
    if workers > 1 and context is None:
        fresh = _run_in_workers([suites[i] for i in todo], workers)
    else:
        fresh = _run_serially([suites[i] for i in todo], context)
    done = dict(zip(todo, fresh))
    outcomes: list[Outcome] = []
    for i, (suite, key) in enumerate(zip(suites, keys)):
        if i not in done:
            outcomes.extend(_rebind(cache[key], suite))
            continue
        if key is not None:
            cache[key] = _rebind(done[i], suite)
        outcomes.extend(done[i])
    return outcomes


_PENDING: list[Suite] = []   # the suites of a parallel run, set before the workers are forked
_WORKER_GX: list = []        # a worker's (context, data source), made on its first suite


def _run_in_workers(suites: list[Suite], workers: int) -> list[list[Outcome]]:
    """Each suite's outcomes, in order, from ``workers`` forked processes (validation.parallel);
    the workers send plain data back, rebuilt here into outcomes bound to ``suites``' rules."""
    from validation.parallel import fork_map
    _PENDING[:] = suites
    _WORKER_GX.clear()   # a context made here by an earlier run's fallback is not the workers' to reuse
    try:
        plain = fork_map(_plain_outcomes_of_pending, len(suites), workers,
                         costs=[len(s.rules) * (100 + (0 if s.frame is None else len(s.frame))) for s in suites])
    finally:
        _PENDING.clear()
        _WORKER_GX.clear()
    return [[Outcome(suite, rule, status, [FailedRow(*row) for row in rows], problems, checked, note, more)
             for rule, (status, rows, problems, checked, note, more) in zip(suite.rules, outcomes)]
            for suite, outcomes in zip(suites, plain)]


def _plain_outcomes_of_pending(index: int) -> list[tuple]:
    """In a worker (or, after a worker died, here): suite ``index`` of _PENDING's outcomes as plain data."""
    suite = _PENDING[index]
    if not _WORKER_GX and suite.frame is not None:
        ctx = new_context()
        _WORKER_GX.append((ctx, ctx.data_sources.add_pandas(f"raw-worker-{os.getpid()}")))
    ctx, source = _WORKER_GX[0] if _WORKER_GX else (None, None)
    return [(o.status, [(r.row, r.subject, r.detail) for r in o.rows], o.problems, o.checked, o.note, o.more_rows)
            for o in _run_suite(ctx, source, suite)]


def _run_serially(suites: list[Suite], context=None) -> list[list[Outcome]]:
    """Each suite's outcomes, in order, in this process (one context and data source for all)."""
    ctx, source, out = context, None, []
    for suite in suites:
        if source is None and suite.frame is not None:
            ctx = ctx or new_context()
            source = ctx.data_sources.add_pandas(f"raw-{id(suites)}")
        out.append(_run_suite(ctx, source, suite))
    return out


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
                    list(o.problems), o.checked, o.note, o.more_rows) for o in outcomes]


def _run_suite(ctx, source, suite: Suite) -> list[Outcome]:
    if suite.frame is None:
        return [Outcome(suite, r, NOT_EVALUATED, note=suite.skipped or "") for r in suite.rules]
    missing = set(suite.missing_columns)
    skipped = {r.id: Outcome(suite, r, NOT_EVALUATED, note="column(s) missing: " + ", ".join(sorted(set(r.needs) & missing)))
               for r in suite.rules if set(r.needs) & missing}
    runnable = [r for r in suite.rules if r.id not in skipped]
    by_id = {r.id: r for r in runnable}
    results: dict = {}
    if runnable:
        gx_suite = gx.ExpectationSuite(name=suite.name)
        for rule in runnable:
            rule.expectation.meta = {**(rule.expectation.meta or {}), "rule_id": rule.id, "rule": rule.statement}
            gx_suite.add_expectation(rule.expectation)
        gx_suite = ctx.suites.add(gx_suite)
        asset = source.add_dataframe_asset(suite.name)
        batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(
            batch_parameters={"dataframe": suite.frame})
        results = _validate_batch(batch, gx_suite, suite)
    rows_by_number = suite.frame.set_index(ROW, drop=False) if ROW in suite.frame.columns else None
    out = []
    for rule in suite.rules:
        if rule.id in skipped:
            out.append(skipped[rule.id])
        else:
            out.append(_outcome(suite, by_id[rule.id], results[rule.id], rows_by_number))
    return out


def _validate_batch(batch, gx_suite, suite: Suite) -> dict:
    """rule id -> GX result. First with result format BASIC (counts only; a third less of GX's
    bookkeeping per expectation than COMPLETE); only when an expectation of the suite failed (or
    raised), the suite again with COMPLETE and the index columns, which the failure lines need.
    So a passing suite gives the same outcomes as before (status, rows checked) in less time, and
    a failing one exactly the results of a COMPLETE run."""
    index_cols = [c for c in (ROW, suite.subject_column) if c and c in suite.frame.columns]
    complete = {"result_format": "COMPLETE"}
    if index_cols:
        complete["unexpected_index_column_names"] = index_cols
    with warnings.catch_warnings(), configurations_memoised():
        warnings.simplefilter("ignore")
        validation = batch.validate(gx_suite, result_format={"result_format": "BASIC"})
        if not all(r.success and not (r.exception_info or {}).get("raised_exception") for r in validation.results):
            validation = batch.validate(gx_suite, result_format=complete)
    return {r.expectation_config.meta["rule_id"]: r for r in validation.results}


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
