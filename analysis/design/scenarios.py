"""The scenario file of a design run (TOML): one ``[[scenario]]`` table per scenario.

Every key but ``name`` has a default (the shipped study); a key not listed here, a wrong type or
a value out of range is a usage error naming the file, the scenario and the key (exit 2).
``effect`` selects the outcome model of the sandwich relative to allo-HSCT (SAP 9.2):

- ``"null"``: no effect. Relapse and NRM hazards of the sandwich equal those of allo-HSCT given
  the covariates (no cohort effect on relapse, no MRD-after-CAR-T1 effect, no non-response, the
  allo-HSCT NRM rates, no site effect). Every comparison's true value is 0 (log HR, RMST
  difference): bias, coverage and type I error are defined.
- ``"proportional"``: as null, then both hazards of the sandwich times exp(``log_hr``): the
  conditional LFS hazard ratio is exp(``log_hr``). The marginal (weighted or unadjusted) hazard
  ratio is not collapsible to it, so the true value of each comparison is not known in closed
  form: power and empirical SE are reported, bias and coverage are not (NaN).
- ``"planted"``: the shipped outcome model (params.PLANTED_TRUTH): as "proportional".

``measured`` scales the planted measured confounding: the registry's covariate distribution is
moved from the trial's (0: no measured confounding) towards the shipped registry's (1) or past
it (> 1). ``unmeasured_shift_sd`` / ``unmeasured_log_hr_per_sd``: the latent U (both 0: off).
``cut``: the data cut (follow-up). ``n_trial`` / ``n_external``: sample sizes.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from analysis.errors import UsageError

EFFECTS = ("null", "proportional", "planted")
# The cuts of the synthetic study (analysis.simulate.params.CUTS, repeated here so that this
# package does not import the simulator; tests/test_design.py checks they agree).
CUTS = ("cut-2024-06-30", "cut-2025-06-30", "cut-2026-09-30")


@dataclass(frozen=True)
class Scenario:
    name: str
    effect: str = "null"
    log_hr: float = 0.0
    measured: float = 1.0
    unmeasured_shift_sd: float = 0.0
    unmeasured_log_hr_per_sd: float = 0.0
    n_trial: int = 40
    n_external: int = 150
    cut: str = CUTS[-1]

    @property
    def truth_known(self) -> bool:
        """A null scenario: its rejection rate is a type I error (the true values themselves come
        from analysis.simulate.truth for every scenario; SAP 9.2)."""
        return self.effect == "null"

    def as_dict(self) -> dict:
        return asdict(self)


_FIELDS = Scenario.__dataclass_fields__


def _check(where: str, key: str, value, kind) -> None:
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if not ok:
        raise UsageError(f"{where}: key {key!r} must be {kind.__name__ if isinstance(kind, type) else 'a number'}, "
                         f"got {value!r}")


def scenario_from_table(table: dict, where: str) -> Scenario:
    unknown = sorted(set(table) - set(_FIELDS))
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_FIELDS)}")
    if "name" not in table:
        raise UsageError(f"{where}: key 'name' is required")
    values = {}
    for key, value in table.items():
        if key in ("name", "effect", "cut"):
            _check(where, key, value, str)
        elif key in ("n_trial", "n_external"):
            _check(where, key, value, int)
            if value < 2:
                raise UsageError(f"{where}: key {key!r} must be at least 2, got {value}")
        else:
            _check(where, key, value, (int, float))
            if not math.isfinite(value):
                raise UsageError(f"{where}: key {key!r} must be finite, got {value!r}")
            value = float(value)
        values[key] = value
    s = Scenario(**values)
    if s.effect not in EFFECTS:
        raise UsageError(f"{where}: effect {s.effect!r} is not one of {', '.join(EFFECTS)}")
    if s.cut not in CUTS:
        raise UsageError(f"{where}: cut {s.cut!r} is not one of {', '.join(CUTS)}")
    if s.measured < 0:
        raise UsageError(f"{where}: key 'measured' must be >= 0, got {s.measured}")
    if s.effect != "proportional" and s.log_hr != 0:
        raise UsageError(f"{where}: key 'log_hr' applies to effect 'proportional' only")
    if not s.name.replace("_", "").replace("-", "").isalnum():
        raise UsageError(f"{where}: name {s.name!r} must use letters, digits, '_' and '-' only (it names files)")
    return s


def load_scenarios(path: Path) -> list[Scenario]:
    """The scenarios of a TOML file, in file order; names unique."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"scenario file {path} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"scenario file {path}: not valid TOML ({exc})") from None
    tables = data.get("scenario")
    if not isinstance(tables, list) or not tables:
        raise UsageError(f"scenario file {path}: no [[scenario]] table")
    out = [scenario_from_table(t, f"{path}, scenario {k + 1}") for k, t in enumerate(tables)]
    names = [s.name for s in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UsageError(f"scenario file {path}: scenario names repeated: {', '.join(dup)}")
    return out
