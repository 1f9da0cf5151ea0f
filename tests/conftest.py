"""Shared test fixtures and the rule for tests that need R or Chromium.

Such tests are marked ``needs_r`` / ``needs_chromium``. Where the tool is missing they skip with
the reason shown, except when REQUIRE_SYSTEM_DEPS=1 (CI), where a missing tool is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CDISC_PILOT = SHARED / "external" / "cdisc-pilot01"


SYSTEM_DEPS = REPO / "tools" / "system-deps.sh"


def r_packages() -> list[str]:
    """The R packages tools/system-deps.sh installs (its R_PACKAGES list): the one list of them."""
    out = subprocess.run(["bash", str(SYSTEM_DEPS), "--r-packages"], capture_output=True, text=True, check=True)
    return out.stdout.split()


def _r_available() -> str | None:
    if not shutil.which("Rscript"):
        return "Rscript not found (Debian r-base-core; `make system-deps` installs it as root)"
    for pkg in r_packages():
        ok = subprocess.run(["Rscript", "-e", f'quit(status = !requireNamespace("{pkg}", quietly=TRUE))'],
                            capture_output=True, check=False).returncode == 0
        if not ok:
            return f"R package {pkg} not installed (Debian r-cran-{pkg.lower()}; `make system-deps` as root)"
    return None


def _chromium_available() -> str | None:
    return None if shutil.which("chromium") else "chromium not found (Debian chromium)"


_MISSING = {"needs_r": _r_available, "needs_chromium": _chromium_available}


def pytest_collection_modifyitems(config, items):
    required = os.environ.get("REQUIRE_SYSTEM_DEPS") == "1"
    cache: dict[str, str | None] = {}
    for item in items:
        for mark, probe in _MISSING.items():
            if mark in item.keywords:
                if mark not in cache:
                    cache[mark] = probe()
                reason = cache[mark]
                if reason is None:
                    continue
                if required:
                    item.add_marker(pytest.mark.usefixtures("_fail_missing_dep"))
                    item.user_properties.append(("missing_dep", reason))
                else:
                    item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def _fail_missing_dep(request):
    reason = dict(request.node.user_properties).get("missing_dep")
    pytest.fail(f"system dependency required in CI but missing: {reason}")


@pytest.fixture(scope="session")
def cdisc_pilot_dir() -> Path:
    if not (CDISC_PILOT / "adtte.xpt").exists():
        pytest.fail(f"CDISC Pilot 01 data not found at {CDISC_PILOT} (shared/ must sit beside the repo)")
    return CDISC_PILOT
