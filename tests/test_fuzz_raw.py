"""The raw-export fuzzing property (tests/fuzz_raw.py) on a modest number of examples in
`make test` (FUZZ_RAW_EXAMPLES, default 25); `make fuzz-raw` runs 1,000 and prints counts."""

from __future__ import annotations

import os

from tests import fuzz_raw


def test_every_mutated_export_is_rejected_with_a_named_rule_or_derived_faithfully():
    messages = []
    counts = fuzz_raw.fuzz(int(os.environ.get("FUZZ_RAW_EXAMPLES", "25")), report=messages.append)
    assert sum(counts.values()) > 0
    assert counts.get(fuzz_raw.TRACEBACK, 0) == 0 and counts.get(fuzz_raw.SILENT, 0) == 0, "\n".join(messages)


def test_the_reference_judge_catches_a_silent_change(tmp_path):
    """The judge itself can fail: derived data that differ from the bytes are a SILENT change."""
    files = fuzz_raw.base_files()
    cache: dict = {}
    assert fuzz_raw.run_one(files, True, tmp_path, cache)[0] == fuzz_raw.ACCEPTED
    from analysis.derive import adae
    original = adae.derive_adae

    def drop_one_grade(ae, sl):
        out = original(ae, sl)
        out.loc[out.index[0], "ATOXGR"] = out.loc[out.index[0], "ATOXGR"] + 1
        return out
    adae.derive_adae = drop_one_grade
    try:
        import analysis.derive.pipeline as pipeline
        saved = pipeline.adae.derive_adae
        pipeline.adae.derive_adae = drop_one_grade
        outcome, detail = fuzz_raw.run_one(files, True, tmp_path, cache)
    finally:
        adae.derive_adae = original
        pipeline.adae.derive_adae = saved
    assert outcome == fuzz_raw.SILENT and "ae" in detail
