"""The design run on Dask (issue 17, SAP 9): the same bytes for 1 and 2 workers, through the
command line (a local cluster each; the run without Dask is compared in tests/test_design.py)."""

from __future__ import annotations

from pathlib import Path

from analysis import cli
from analysis.errors import EXIT_OK

SCENARIOS = """
[[scenario]]
name = "tiny_null"
effect = "null"
n_trial = 16
n_external = 50
"""


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_one_and_two_workers_write_byte_identical_files(tmp_path):
    scen = tmp_path / "s.toml"
    scen.write_text(SCENARIOS)
    outs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        code = cli.main(["design", "--scenarios", str(scen), "--replicates", "2", "--chunk-size", "1", "--truth-n", "2000",
                         "--workers", workers, "--out", str(out), "--no-progress"])
        assert code == EXIT_OK
        outs[workers] = _files(out)
    names = set(outs["1"])
    assert {"design_ard.csv", "design_replicates.csv", "design_table.csv", "design.svg", "index.html",
            "design.json", "chunks/tiny_null/chunk-00001.csv"} <= names
    assert outs["1"] == outs["2"]
