"""Run R as an independent reference implementation from tests.

``run_r(code, frames)`` writes each data frame to CSV in a scratch folder, binds it in R under
its key, runs ``code`` (which must leave a named list ``out`` of data frames), and returns those
data frames read back from CSV at full precision (17 significant digits).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.stats.survival import beyond_follow_up


# write.csv prints doubles with 15 significant digits: format them with 17 ("%.17g" round-trips a
# double exactly), leaving NA as NA and other columns as they are.
WRITE_OUT = (
    'for (nm in names(out)) { o <- as.data.frame(out[[nm]]); '
    'for (j in seq_along(o)) if (is.double(o[[j]])) o[[j]] <- ifelse(is.na(o[[j]]) & !is.nan(o[[j]]), NA, '
    'sprintf("%.17g", o[[j]])); '
    'write.csv(o, file.path("OUTDIR", paste0("out_", nm, ".csv")), row.names = FALSE) }')


def run_r(code: str, frames: dict[str, pd.DataFrame] | None = None, timeout: int = 600) -> dict[str, pd.DataFrame]:
    with tempfile.TemporaryDirectory(prefix="rref-") as tmp:
        tmp = Path(tmp)
        lines = ["suppressPackageStartupMessages({library(survival)})", "options(digits = 17)"]
        for name, df in (frames or {}).items():
            path = tmp / f"in_{name}.csv"
            df.to_csv(path, index=False, float_format="%.17g")
            lines.append(f'{name} <- read.csv("{path}", stringsAsFactors = FALSE)')
        lines.append(code)
        lines.append(WRITE_OUT.replace("OUTDIR", str(tmp)))
        script = tmp / "script.R"
        script.write_text("\n".join(lines) + "\n")
        proc = subprocess.run(["Rscript", "--vanilla", str(script)], capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"R failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        return {p.stem[4:]: pd.read_csv(p) for p in sorted(tmp.glob("out_*.csv"))}


def not_estimable_beyond_follow_up(km: pd.DataFrame) -> pd.DataFrame:
    """SAP 3.1, applied to R's summary(extend = TRUE) output: with nobody at risk at t and S(t) > 0
    the estimate is not estimable (NaN) instead of R's last value carried forward (the rule:
    analysis.stats.survival.beyond_follow_up, shared with the package)."""
    km = km.copy()
    km.loc[beyond_follow_up(km), ["surv", "std_err", "lcl", "ucl"]] = np.nan
    return km
