"""Validation run fast (issue 15) gives the same outcomes as validation run plainly.

Three speed-ups of validation.engine / validation.parallel are each compared with the plain way on
the same corrupted copy of the shipped cut (failures in several suites, so failing rows, their
wording and the counts beyond the cap are all compared, not only "passed"):
suites spread over forked worker processes vs one process; the expectation configuration memoised
vs rebuilt on every access; and a worker that dies is replaced by a run in this process, with a
message, not a hang or a traceback.
"""

from __future__ import annotations

import contextlib
import os

import pandas as pd
import pytest

from analysis import paths
from analysis.errors import UsageError
from tests.fixtures.corrupt import copy_cut, refresh_manifest, write_text
from tests.validation_cut import frame, shipped_cut
from validation import engine, parallel
from validation.engine import FailedRow, Outcome
from validation.runner import build_suites
from validation.frames import load_form
from analysis.raw_spec import FORMS

SUITES = ("raw.dm", "raw.ae", "raw.cart", "cross.cart", "cross.ae")


def plain(outcomes: list[Outcome]) -> list[tuple]:
    return [(o.suite.name, o.rule.id, o.status, [(r.row, r.subject, r.detail) for r in o.rows], o.problems,
             o.checked, o.note, o.more_rows) for o in outcomes]


@pytest.fixture(scope="module")
def broken_suites(tmp_path_factory):
    """The suites of a copy of the shipped cut with failures in demographics (ages out of range in
    more rows than engine.MAX_ROWS_KEPT) and a duplicate adverse-event key."""
    src, cut = shipped_cut()
    work = copy_cut(src, tmp_path_factory.mktemp("speed"), cut)
    dm = frame(work, "dm")
    dm = pd.concat([dm] * (engine.MAX_ROWS_KEPT // len(dm) + 2), ignore_index=True)
    write_text(work, "dm", dm.assign(AGE="200"))
    ae = frame(work, "ae")
    write_text(work, "ae", pd.concat([ae, ae.iloc[[0]]], ignore_index=True))
    refresh_manifest(work)

    def make():
        loaded = {name: load_form(work, form) for name, form in FORMS.items()}
        return [s for s in build_suites(loaded, paths.cut_date(cut)) if s.name in SUITES]
    return make


@pytest.fixture(scope="module")
def serial(broken_suites):
    return plain(engine.run_suites(broken_suites(), workers=1))


def test_the_comparison_has_failures_to_compare(serial):
    failed = [o for o in serial if o[2] == engine.FAILED]
    assert {o[0] for o in failed} >= {"raw.dm", "raw.ae"}
    assert any(o[7] > 0 for o in failed), "a rule with more failing rows than are kept"


def test_parallel_outcomes_equal_serial_ones(broken_suites, serial):
    assert plain(engine.run_suites(broken_suites(), workers=2)) == serial


def test_memoised_configuration_gives_the_same_outcomes(broken_suites, serial, monkeypatch):
    monkeypatch.setattr(engine, "configurations_memoised", contextlib.nullcontext)
    assert plain(engine.run_suites(broken_suites(), workers=1)) == serial


def test_memoisation_is_undone_after_the_run(broken_suites):
    before = engine.Expectation.configuration
    engine.run_suites(broken_suites()[:1], workers=1)
    assert engine.Expectation.configuration is before


def test_a_dead_worker_is_replaced_by_this_process(broken_suites, serial, monkeypatch, capfd):
    parent = os.getpid()
    run_suite = engine._run_suite

    def dies_in_a_worker(ctx, source, suite):
        if os.getpid() != parent and suite.name == "raw.dm":
            os._exit(9)  # as if killed by the system
        return run_suite(ctx, source, suite)
    monkeypatch.setattr(engine, "_run_suite", dies_in_a_worker)
    got = plain(engine.run_suites(broken_suites(), workers=2))
    assert got == serial
    assert "a validation worker process stopped unexpectedly" in capfd.readouterr().err


def test_cached_outcomes_keep_the_count_of_rows_beyond_the_cap(broken_suites, serial):
    # defect: engine._rebind (the cache of unchanged suites) dropped ``more_rows``, so a re-run
    # from the cache reported fewer failing rows than the first run
    cache: dict = {}
    engine.run_suites(broken_suites(), cache=cache, workers=1)
    again = plain(engine.run_suites(broken_suites(), cache=cache, workers=1))
    assert again == serial


def test_rebind_copies_every_field():
    rule = engine.Rule("dm.csv", "AGE", "AGE in range", None)
    suite = engine.Suite("raw.dm", "demographics", None, None)
    suite.add(rule)
    original = Outcome(suite, rule, engine.FAILED, [FailedRow(1, "S1", "bad")], ["p"], 10, "n", 7)
    (copy,) = engine._rebind([original], suite)
    assert (copy.status, copy.rows[0].detail, copy.problems, copy.checked, copy.note, copy.more_rows) == \
        (engine.FAILED, "bad", ["p"], 10, "n", 7)


def test_workers_setting(monkeypatch):
    monkeypatch.setenv(parallel.WORKERS_ENV, "3")
    assert parallel.default_workers(10) == 3 and parallel.default_workers(2) == 2
    monkeypatch.setenv(parallel.WORKERS_ENV, "many")
    with pytest.raises(UsageError, match="SAP_VALIDATE_WORKERS"):
        parallel.default_workers(10)
