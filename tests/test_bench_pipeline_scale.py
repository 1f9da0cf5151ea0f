"""The pipeline benchmark's arithmetic and formatting (benchmarks.pipeline_scale); the benchmark
itself is run by `make bench`, not by the tests."""

from __future__ import annotations

import math

from benchmarks.pipeline_scale import exponent, fmt_cell


def test_growth_exponent_is_the_slope_on_log_log_axes():
    assert exponent((1.0, 190, 0), (10.0, 1900, 0)) == "1.00"           # linear
    assert exponent((1.0, 190, 0), (100.0, 1900, 0)) == "2.00"          # quadratic
    assert exponent((2.0, 100, 0), (3.0, 1000, 0)) == f"{math.log(1.5) / math.log(10):.2f}"
    assert exponent((1.0, 190, 0), (5.0, 1900, 3)) == "-", "no exponent from a step that failed"
    assert exponent((1.0, 190, 0), (900.0, 1900, "timeout")) == "-"


def test_cells_say_time_memory_and_failures():
    assert fmt_cell(12.34, 1536.4, 0) == "12.3 s 1,536 MB"
    assert fmt_cell(12.34, 1536.4, 3) == "12.3 s 1,536 MB exit 3"
    assert fmt_cell(900.2, 10.0, "timeout") == ">900 s timeout"


def test_the_benchmark_runs_every_step_of_the_one_step_table():
    """Old code: a hard-coded step list without rtf, and the entry points read from
    ``analysis.cli.STEPS``, which no longer exists (the one step table is analysis.build)."""
    from analysis import build
    from benchmarks import pipeline_scale
    assert pipeline_scale.STEPS == build.PIPELINE and "rtf" in pipeline_scale.STEPS
    for step in pipeline_scale.STEPS:
        assert callable(build.load_step(step)), step


def test_competing_bench_does_not_run_r_crr_above_its_cap(tmp_path, monkeypatch, capsys):
    """Old code: R's crr was started at every size and, at 10^5, ran into the 900 s timeout of
    `make bench`. Above R_MAX_N it is not started; the line says why and the last size R ran."""
    from benchmarks import competing
    started = []

    def fake_r(method, csv, timeout):   # R itself is not needed to check which sizes start it
        n = int(csv.stem.split("_")[-1])
        started.append((method, n))
        return 1.5, 10.0, competing._ours(method, competing.simulate(n))

    monkeypatch.setattr(competing, "time_r", fake_r)
    monkeypatch.setattr(competing, "R_MAX_N", {"Fine-Gray": 200})
    competing.run([200, 400], tmp_path, r_timeout=60)
    out = capsys.readouterr().out
    assert ("Fine-Gray", 200) in started and ("Fine-Gray", 400) not in started
    assert ("CIF", 400) in started and ("CIF+Gray", 400) in started, "only the capped method is skipped"
    line = next(ln for ln in out.splitlines() if ln.startswith("Fine-Gray") and " 400 " in ln)
    assert "not run" in line and "quadratic" in line and "last R run: n = 200, R 1.5 s" in line
