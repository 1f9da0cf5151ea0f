"""Independent double programming (QC) of the primary time-to-event parameters in R.

OS and LFS of every subject of each shipped cut are re-derived in R straight from the raw CSV
files, written from the SAP notes (sections 1, 2.2, 6) without looking at the Python code, and
compared with ADTTE: AVAL and CNSR must be identical (integers, tolerance 0)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from analysis import paths
from analysis.derive.pipeline import derive_cut
from analysis.raw_io import read_form_text
from tests.rref import run_r

SHIPPED = paths.list_cuts(paths.REPO_ROOT)

R_QC = r"""
d <- function(x) as.Date(ifelse(is.na(x) | x == "", NA, x))
cut <- as.Date(cutdate$CUT[1])
pick <- function(origin, events, censors) {
  # events: list of dates (NA allowed); censors: vector of dates. SAP 2.2 rules.
  ev <- do.call(c, events); ev <- ev[!is.na(ev)]
  cn <- censors[!is.na(censors) & censors >= origin]
  if (any(ev > cut)) cn <- c(cn, cut)          # an event after the cut: censor at the cut
  ev <- ev[ev <= cut]
  if (any(cn > cut)) cn <- c(cn[cn <= cut], cut)
  if (length(ev)) return(c(as.numeric(min(ev) - origin) + 1, 0))
  c(as.numeric(max(c(cn, origin)) - origin) + 1, 1)
}
res <- list()
for (s in dm$SUBJID) {
  inf <- cart[cart$SUBJID == s, ]
  t1 <- d(inf$INFDTC[inf$PHASE == "CAR-T1"])
  if (!length(t1)) next
  trt <- min(t1)
  a <- rs[rs$SUBJID == s, ]; a$D <- d(a$RSDTC)
  post <- a[a$D > trt, ]; post <- post[order(post$D), ]
  rem <- post$D[post$RSORRES %in% c("CR", "CRi")][1]
  base <- if (is.na(rem)) trt else rem
  rel <- post$D[post$D > base & post$RSORRES %in% c("NR", "RELAPSE")][1]
  x <- ds[ds$SUBJID == s, ]; dth <- d(x$DTHDTC)
  aed <- c(ae$AESTDTC[ae$SUBJID == s], ae$AEENDTC[ae$SUBJID == s])
  aed <- aed[!is.na(aed) & nchar(aed) == 10]        # complete AE dates only
  alive <- max(c(d(x$LSTALVDTC), a$D, d(mrd$MRDDTC[mrd$SUBJID == s]), d(inf$INFDTC),
                 d(hsct$HSCTDTC[hsct$SUBJID == s]), d(aed)), na.rm = TRUE)
  id <- paste0(dm$STUDYID[dm$SUBJID == s], "-", s)
  os <- pick(trt, list(dth), alive)
  res[[length(res) + 1]] <- data.frame(USUBJID = id, PARAMCD = "OS", AVAL = os[1], CNSR = os[2])
  if (!is.na(rem)) {
    lfs <- pick(rem, list(rel, dth), alive)   # SAP 2.2: LFS censored at the last date known alive
    res[[length(res) + 1]] <- data.frame(USUBJID = id, PARAMCD = "LFS", AVAL = lfs[1], CNSR = lfs[2])
  }
}
for (i in seq_len(nrow(ext))) {
  e <- ext[i, ]; h <- d(e$HSCTDTC); id <- paste0("ALLOREG-", e$PATID)
  os <- pick(h, list(d(e$DTHDTC)), d(e$LSTFUDTC))
  lfs <- pick(h, list(d(e$RELDTC), d(e$DTHDTC)), d(e$LSTFUDTC))
  res[[length(res) + 1]] <- data.frame(USUBJID = id, PARAMCD = c("OS", "LFS"), AVAL = c(os[1], lfs[1]),
                                       CNSR = c(os[2], lfs[2]))
}
out <- list(qc = do.call(rbind, res))
"""


@pytest.mark.needs_r
@pytest.mark.skipif(not SHIPPED, reason="no data cut in data/raw/ yet")
@pytest.mark.parametrize("cut", SHIPPED)
def test_os_and_lfs_match_an_independent_r_derivation(cut, tmp_path):
    raw = paths.raw_dir(cut, paths.REPO_ROOT)
    shutil.copytree(raw, paths.raw_dir(cut, tmp_path))
    adtte = pd.read_parquet(derive_cut(cut, tmp_path) / "adtte.parquet")
    frames = {n: read_form_text(raw, n) for n in ("dm", "cart", "rs", "ds", "mrd", "hsct", "ae", "ext")}
    frames["cutdate"] = pd.DataFrame({"CUT": [paths.cut_date(cut)]})
    qc = run_r(R_QC, frames)["qc"]
    ours = adtte.loc[adtte.PARAMCD.isin(["OS", "LFS"]), ["USUBJID", "PARAMCD", "AVAL", "CNSR"]]
    merged = ours.merge(qc, on=["USUBJID", "PARAMCD"], how="outer", suffixes=("", "_R"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both"].head()
    assert len(merged) > 300
    diff = merged.loc[(merged.AVAL != merged.AVAL_R) | (merged.CNSR != merged.CNSR_R)]
    assert diff.empty, diff.head(10).to_string()
