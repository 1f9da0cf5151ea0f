"""The environment is pinned: requirements.lock pins everything exactly, agrees with what
pyproject.toml declares, and environment.yml states the same pins."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

LOCK_LINE = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)")


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        m = LOCK_LINE.match(line)
        if m:
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def declared() -> list[Requirement]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    return [Requirement(r) for r in data["project"]["dependencies"]]


def test_every_declared_dependency_is_locked_within_its_specifier():
    pins = lock_pins()
    for req in declared():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} declared in pyproject.toml but missing from requirements.lock"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"{req.name}: lock pins {pins[name]}, pyproject wants {req.specifier}"


def test_lock_pins_exact_versions_with_hashes():
    text = (REPO / "requirements.lock").read_text()
    reqs = [l for l in text.splitlines() if l and not l.startswith((" ", "#"))]
    assert reqs, "empty lock"
    for line in reqs:
        assert LOCK_LINE.match(line), f"not an exact pin: {line}"
    assert text.count("--hash=sha256:") >= len(reqs), "every pin needs a hash"


def test_installed_environment_matches_lock():
    pins = lock_pins()
    wrong = []
    for name, version in pins.items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: not installed (lock {version})")
            continue
        if canonicalize_name(have) != canonicalize_name(version) and have != version:
            wrong.append(f"{name}: installed {have}, lock {version}")
    assert not wrong, "venv drifted from requirements.lock:\n" + "\n".join(wrong)


def test_environment_yml_states_the_same_pins_and_adds_quarto():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert "conda-forge" in env["channels"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    assert any(d.startswith("python=3.11") for d in conda)
    assert any(d.split("=")[0] == "quarto" for d in conda), "environment.yml must add quarto"
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    yml_pins = {}
    for line in pip:
        if line.startswith("-"):
            continue
        name, _, version = line.partition("==")
        yml_pins[canonicalize_name(name)] = version
    assert yml_pins == lock_pins(), "environment.yml pip pins differ from requirements.lock: run tools/sync_environment.py"
