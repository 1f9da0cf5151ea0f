"""The interim cut locked in this repository (data/locked/cut-2024-06-30/) reproduces from its
raw export with the current code: derived datasets byte for byte, ARD counts exactly and other
numbers within relative 1e-9 (analysis.regulatory.common.REL_TOL).

If this fails after a deliberate change of a derivation or an analysis, the locked results no
longer follow from the code: either the change is a mistake, or re-lock deliberately
(`python -m analysis lock --cut cut-2024-06-30 --force`) and say why in the commit message."""

from __future__ import annotations

import pytest

from analysis.regulatory import common, reproduce
from tests.conftest import REPO

CUT = "cut-2024-06-30"
pytestmark = pytest.mark.slow


def test_locked_interim_cut_reproduces():
    manifest = common.lock_manifest(CUT, REPO)
    if manifest is None:
        pytest.fail(f"{CUT} is not locked in this repository (data/locked/{CUT}/lock.json missing)")
    lines: list[str] = []
    try:
        reproduce.reproduce_cut(CUT, REPO, say=lines.append)
    except Exception:
        print("\n".join(lines))
        raise
    assert lines[-1].startswith(f"{CUT} reproduces"), "\n".join(lines)
