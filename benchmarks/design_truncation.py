"""Why the weighted comparisons drift with the strength of measured confounding (issue 17 step 4,
docs/sap-notes.md 9.7): the same large simulated null studies analysed by the primary comparison
(common time zero, ATT-weighted Cox, SAP 6.7) with the weights truncated as in the primary's
sensitivity analysis (conventions.IPTW_SENSITIVITY_TRUNCATE_PERCENTILES; the report's rule until
2026-12-01) and with the same propensity scores untruncated (the report's weights since), paired
within each study.
``python -m benchmarks.design_truncation [--measured 2] [--seeds 6] [--n-trial 1000 --n-external 2000]``

The truth of every null scenario is about 0 (analysis.simulate.truth; measured confounding does not
enter it). Nothing is asserted: a diagnostic, printed.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from analysis import conventions as C
from analysis import paths
from analysis.analyze import external, target_trial
from analysis.errors import NotEstimableError
from analysis.analyze.sap import COHORT, hazard_ratio
from analysis.cli_design import simulate_raw
from analysis.design.replicate import derived_from_raw
from analysis.design.scenarios import Scenario
from analysis.stats import weighting


def primary_log_hr(tte, frame, weights: np.ndarray) -> float:
    data = target_trial.common_clock_frame(tte, frame.assign(IPTW=weights), "LFSCR")
    hr = hazard_ratio(data, COHORT, C.REFERENCE_COHORT, weights="IPTW", robust=True, entry="ENTRY", cluster="USUBJID")
    return math.log(hr["hr"])


def one_study(scenario: Scenario, seed: int) -> tuple[float, float, float]:
    """(log HR with truncated weights, untruncated, unweighted) of one study."""
    d = derived_from_raw(simulate_raw(scenario, seed), paths.cut_date(scenario.cut))
    frame = external.subject_weights(d["adsl"]).reset_index(drop=True)
    raw = weighting.iptw(frame, external.TREATED, frame["PS"].to_numpy(), estimand=C.IPTW_ESTIMAND,
                         stabilize=C.IPTW_STABILIZE, truncate=None)["weight"].to_numpy()
    truncated = external.sensitivity_weights(frame)
    return (primary_log_hr(d["adtte"], frame, truncated), primary_log_hr(d["adtte"], frame, raw),
            primary_log_hr(d["adtte"], frame, np.ones(len(frame))))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--measured", type=float, default=2.0)
    p.add_argument("--seeds", type=int, default=6)
    p.add_argument("--n-trial", type=int, default=1000)
    p.add_argument("--n-external", type=int, default=2000)
    a = p.parse_args(argv)
    scenario = Scenario(name="truncation", effect="null", measured=a.measured, n_trial=a.n_trial, n_external=a.n_external)
    rows = []
    for seed in range(1, a.seeds + 1):
        try:
            rows.append(one_study(scenario, seed))
        except NotEstimableError:   # no propensity model in a small study: not estimable, as in the design
            continue
    r = np.array(rows)
    se = r.std(axis=0, ddof=1) / math.sqrt(len(r))
    diff = r[:, 0] - r[:, 1]
    print(f"primary log HR, null, measured = {a.measured}, {a.n_trial} + {a.n_external} patients, {len(r)} studies "
          f"(mean, SE over studies): truncated weights {r[:, 0].mean():+.3f} ({se[0]:.3f}); untruncated "
          f"{r[:, 1].mean():+.3f} ({se[1]:.3f}); unweighted {r[:, 2].mean():+.3f} ({se[2]:.3f}); "
          f"truncated - untruncated, paired {diff.mean():+.3f} ({diff.std(ddof=1) / math.sqrt(len(diff)):.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
