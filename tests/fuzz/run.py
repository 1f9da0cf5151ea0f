"""Differential fuzzing of analysis.stats against R: `python -m tests.fuzz.run` (make fuzz).

Hypothesis draws data sets (tests/fuzz/strategies.py; HYPOTHESIS_PROFILE=ci gives 30, fuzz gives
1,000); ALL of them go to one Rscript process (tests/fuzz/r_batch.R: survfit + summary/quantile,
survdiff, coxph, cuminc + timepoints, cuminc $Tests, crr) and our functions compute the same
items (tests/fuzz/ours.py). A method agrees on a data set when every item agrees:

* numbers to the stated tolerance (NaN matching R's NA): 1e-8 relative (+1e-10 absolute) for the
  closed-form KM, quantiles, log-rank, CIF and Gray; 1e-6 relative (+1e-8) for Cox; Fine-Gray
  1e-6 absolute on coefficients and 1e-5 relative on SEs (crr stops at gtol = 1e-9);
* refusals: our error where R errors, or where R only warns about an estimate that is not usable
  (a group without events in Cox: R returns a huge coefficient with a warning; a Fine-Gray fit
  where crr does not converge or "converges" with an SE above 1e4), or where R returns NA (or an SE above 1e6) for every coefficient,
  or NA for a coefficient where we refuse a group without events; our Fine-Gray
  non-convergence warning where crr stops on a singular system, our log-rank singular-variance
  warning where survdiff's solve() fails; Gray's singular variance is -1 in
  cuminc and NaN here; our "may be infinite" warning where R warns too (then the numbers
  are not compared: both are arbitrary points on a flat likelihood).

Prints "method: N agreed, M disagreed" per method (plus data sets where R's own compiled code
failed with a NaN, or where R's KM is a rounding residue of 0 (+-1e-16) that moves its limits or
quantile, counted apart) and writes the disagreeing data sets to
fuzz-disagreements.csv (with --keep); exit code 0 when all agree, 4 (mismatch) otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings

from tests.fuzz import strategies
from tests.fuzz.ours import our_rows

METHODS = ("km", "quantile", "logrank", "cox", "cif", "gray", "finegray")
TOLERANCE = {"km": (1e-8, 1e-10), "quantile": (1e-8, 1e-10), "logrank": (1e-8, 1e-10), "cif": (1e-8, 1e-10),
             "gray": (1e-8, 1e-10), "cox": (1e-6, 1e-8)}
R_SCRIPT = Path(__file__).with_name("r_batch.R")
MISMATCH = 4


def draw_datasets() -> list[tuple[pd.DataFrame, dict]]:
    """The data sets of the active hypothesis profile (drawn, not shrunk: R judges them in a batch)."""
    drawn: list[tuple[pd.DataFrame, dict]] = []

    @settings(settings.get_profile(strategies.active_profile()))
    @given(strategies.datasets())
    def collect(example):
        drawn.append(example)

    collect()
    return drawn


def r_rows(datasets, workdir: Path) -> pd.DataFrame:
    data = pd.concat([frame.assign(id=i) for i, (frame, _) in enumerate(datasets)], ignore_index=True)
    options = pd.DataFrame([{"id": i, **opts} for i, (_, opts) in enumerate(datasets)])
    options[["entry", "strata"]] = options[["entry", "strata"]].astype(int).astype(bool)
    data.to_csv(workdir / "data.csv", index=False, float_format="%.17g")
    options.to_csv(workdir / "options.csv", index=False)
    out = workdir / "r.csv"
    proc = subprocess.run(["Rscript", "--vanilla", str(R_SCRIPT), str(workdir / "data.csv"),
                           str(workdir / "options.csv"), str(out)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"R batch failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return pd.read_csv(out, keep_default_na=True).fillna({"note": ""})


def _numbers_agree(method: str, ours: pd.Series, theirs: pd.Series) -> bool:
    if set(ours.index) != set(theirs.index):
        return False
    theirs = theirs[ours.index]
    if method == "finegray":
        coef = [i for i in ours.index if i.startswith("coef")]
        se = [i for i in ours.index if i.startswith("se")]
        return bool(np.allclose(ours[coef], theirs[coef], rtol=0, atol=1e-6, equal_nan=True)
                    and np.allclose(ours[se], theirs[se], rtol=1e-5, atol=1e-10, equal_nan=True))
    rtol, atol = TOLERANCE[method]
    return bool(np.allclose(ours.to_numpy(float), theirs.to_numpy(float), rtol=rtol, atol=atol, equal_nan=True))


def _r_not_estimable(values: pd.Series) -> bool:
    """Every R coefficient NA or with an SE above 1e6: R fitted rounding noise (e.g. terms constant
    within strata), where we refuse because no term is estimable."""
    se = values[[i for i in values.index if i.startswith("se")]]
    return len(se) > 0 and bool((se.isna() | (se > 1e6)).all())


def agree(method: str, ours: pd.DataFrame, theirs: pd.DataFrame) -> bool:
    """Whether our rows and R's rows of one method on one data set agree (rules in the module doc)."""
    def note(rows, item):
        return " ".join(rows.loc[rows["item"] == item, "note"])
    ours_error, r_error = ((rows["item"] == "error").any() for rows in (ours, theirs))
    r_warning = note(theirs, "warning")

    def values(rows: pd.DataFrame) -> pd.Series:
        return rows[~rows["item"].isin(["warning", "error"])].set_index("item")["value"]

    if ours_error:
        not_usable = any(s in r_warning for s in ("may be infinite", "did not converge", "singular")) \
            or bool(values(theirs).isna().all()) or _r_not_estimable(values(theirs)) \
            or ("have no events" in note(ours, "error") and bool(values(theirs).isna().any()))
        fg_not_converged = method == "finegray" and (theirs.loc[theirs["item"] == "converged", "value"] == 0).any()
        return r_error or not_usable or fg_not_converged
    if r_error:  # crr stops on a singular system where our fit reports non-convergence; survdiff's
        # solve() fails on a singular variance where we use the pseudo-inverse and warn
        return (method == "finegray" and "did not converge" in note(ours, "warning")) or \
            (method == "logrank" and "singular" in note(ours, "warning"))
    our_warning = note(ours, "warning")
    if "may be infinite" in our_warning or "did not converge" in our_warning:
        r_values = values(theirs)
        huge_se = bool((r_values[[i for i in r_values.index if i.startswith("se")]] > 1e4).any())
        fg_flat = method == "finegray" and ((theirs.loc[theirs["item"] == "converged", "value"] == 0).any() or huge_se)
        return bool(r_warning) or fg_flat
    if method == "gray":  # a singular Gray variance: cuminc reports -1, we report NaN (documented)
        theirs = theirs.assign(value=theirs["value"].where(theirs["value"] != -1))
    return _numbers_agree(method, values(ours), values(theirs))


def compare(datasets, theirs: pd.DataFrame) -> tuple[pd.DataFrame, list[int]]:
    tally = {m: [0, 0, 0] for m in METHODS}
    bad: set[int] = set()
    for i, (frame, options) in enumerate(datasets):
        ours = pd.DataFrame(our_rows(frame, options), columns=["method", "item", "value", "note"])
        for method in METHODS:
            mine, r = ours[ours["method"] == method], theirs[(theirs["id"] == i) & (theirs["method"] == method)]
            if _r_failed(mine, r) or (method in ("km", "quantile") and _r_zero_residue(theirs[theirs["id"] == i])
                                      and not agree(method, mine, r)):
                tally[method][2] += 1
                continue
            ok = agree(method, mine, r)
            tally[method][0 if ok else 1] += 1
            if not ok:
                bad.add(i)
    summary = pd.DataFrame([{"method": m, "agreed": a, "disagreed": d, "r_failed": f}
                            for m, (a, d, f) in tally.items()])
    return summary, sorted(bad)


def _r_zero_residue(theirs: pd.DataFrame) -> bool:
    """R's weighted KM ended at a rounding residue of 0 (e.g. -2.2e-16 or 2.4e-17) where ours is 0:
    R then gives limits from log(-log S) of that residue and its quantile search sorts the residue
    after a later exact 0; ours reports NaN limits and the first time S reaches 0. Counted apart."""
    km = theirs[(theirs["method"] == "km") & theirs["item"].str.endswith("|surv")]
    return bool(((km["value"] != 0) & (km["value"].abs() < 1e-12)).any())


def _r_failed(ours: pd.DataFrame, theirs: pd.DataFrame) -> bool:
    """R's compiled code stopped on a NaN of its own (cuminc's Gray test when every subject has an
    event) while we computed a number: not comparable, counted apart (not as agreement)."""
    failed = theirs.loc[theirs["item"] == "error", "note"].str.contains("NA/NaN/Inf in foreign function call")
    return bool(failed.any()) and not (ours["item"] == "error").any()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the disagreeing data sets to this CSV")
    args = parser.parse_args(argv)
    if shutil.which("Rscript") is None:
        print("Rscript not found: the differential fuzz needs R (survival, cmprsk); run make system-deps")
        return 2
    datasets = draw_datasets()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        theirs = r_rows(datasets, Path(tmp))
    summary, bad = compare(datasets, theirs)
    print(f"differential fuzz against R, hypothesis profile {strategies.active_profile()!r}: {len(datasets)} data sets")
    for row in summary.itertuples():
        print(f"  {row.method:<9} {row.agreed} agreed, {row.disagreed} disagreed"
              + (f", {row.r_failed} not compared (R failed, or R's KM is a rounding residue of 0)" if row.r_failed else ""))
    if bad and args.keep:
        pd.concat([datasets[i][0].assign(id=i, **{k: str(v) for k, v in datasets[i][1].items()}) for i in bad]) \
            .to_csv(args.keep, index=False)
        print(f"disagreeing data sets written to {args.keep}")
    return MISMATCH if bad else 0


if __name__ == "__main__":
    sys.exit(main())
