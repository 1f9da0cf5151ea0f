"""Maturity and MRD rows of the ARD (issue 12) on the shipped latest cut, against independent
computations: R survival for RMST and reverse-KM follow-up, statsmodels for Cohen's kappa, and
counts rebuilt by hand from ADSL / ADMRD.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis import conventions as C
from analysis import paths
from analysis import ard
from analysis.analyze.pipeline import analyze_cut, load_derived
from analysis.derive.pipeline import derive_cut
from tests.rref import run_r

REPO = Path(__file__).resolve().parent.parent
CUT = paths.latest_cut(REPO)
TRIAL, EXTERNAL = C.COHORT_TRIAL, C.COHORT_EXTERNAL
TOL = 1e-9


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("maturity_root")
    shutil.copytree(paths.raw_dir(CUT, REPO), paths.raw_dir(CUT, root))
    derive_cut(CUT, root)
    with contextlib.redirect_stderr(io.StringIO()):
        csv = analyze_cut(CUT, root)
    return SimpleNamespace(data=load_derived(CUT, root), ard=ard.read(csv))


def stat(run, **keys) -> float:
    return ard.lookup(run.ard, **keys)


def test_cut_status_is_the_declared_one(run):
    """The label comes from conventions.CUT_STATUS (every cut before the final analysis at last
    patient + 24 months is interim), not from the data."""
    status = C.CUT_STATUS[CUT]
    rows = run.ard[run.ard["context"] == "cut_status"]
    assert rows["variable_level"].unique().tolist() == [status]
    assert stat(run, context="cut_status", stat_name="status_code") == C.CUT_STATUS_CODES[status]
    assert C.cut_status("cut-2099-01-01") == "undeclared"


@pytest.mark.needs_r
def test_rmst_and_reverse_km_follow_up_match_r(run):
    """RMST to 730.5 days per cohort (summary(survfit)$table rmean, se(rmean)) and the median
    follow-up by reverse KM (survfit(Surv(AVAL, CNSR)), log-log limits) for OS and LFS; the RMST
    difference and its SE from R's two rows by hand. Tolerance 1e-9."""
    adtte = run.data["adtte"]
    frame = adtte[adtte["PARAMCD"].isin(["OS", "LFS"])][["PARAMCD", "COHORT", "AVAL", "CNSR"]].copy()
    frame["AVAL"] = frame["AVAL"].astype(float)
    frame["CNSR"] = frame["CNSR"].astype(float)
    frame = frame.astype({"PARAMCD": str, "COHORT": str})
    out = run_r(f"""res <- NULL; fu <- NULL
for (p in c("OS", "LFS")) {{
  x <- d[d$PARAMCD == p, ]
  tb <- summary(survfit(Surv(AVAL, 1 - CNSR) ~ COHORT, data = x), rmean = {C.RMST_TAU_DAYS!r})$table
  res <- rbind(res, data.frame(param = p, group = sub("COHORT=", "", rownames(tb)), rmean = tb[, "rmean"], se = tb[, "se(rmean)"]))
  q <- quantile(survfit(Surv(AVAL, CNSR) ~ COHORT, data = x, conf.type = "log-log"), probs = 0.5)
  fu <- rbind(fu, data.frame(param = p, group = sub("COHORT=", "", rownames(q$quantile)), median = q$quantile[, 1],
                             lcl = q$lower[, 1], ucl = q$upper[, 1]))
}}
out <- list(res = res, fu = fu)""", {"d": frame})
    for r in out["res"].itertuples():
        assert stat(run, context="rmst", param=r.param, group1_level=r.group, stat_name="rmst") == pytest.approx(r.rmean, abs=TOL)
        assert stat(run, context="rmst", param=r.param, group1_level=r.group, stat_name="se") == pytest.approx(r.se, abs=TOL)
    for r in out["fu"].itertuples():
        for name in ("median", "lcl", "ucl"):
            assert stat(run, context="followup", param=r.param, group1_level=r.group, stat_name=name) == \
                pytest.approx(getattr(r, name), abs=TOL, nan_ok=True), (r.param, r.group, name)
    res = out["res"].set_index(["param", "group"])
    for p in ("OS", "LFS"):
        diff = res.at[(p, TRIAL), "rmean"] - res.at[(p, EXTERNAL), "rmean"]
        se = np.hypot(res.at[(p, TRIAL), "se"], res.at[(p, EXTERNAL), "se"])
        keys = dict(context="rmst_diff", param=p)
        assert stat(run, **keys, stat_name="diff") == pytest.approx(diff, abs=TOL)
        assert stat(run, **keys, stat_name="se") == pytest.approx(se, abs=TOL)


def test_km_rates_flag_fewer_than_the_minimum_at_risk(run):
    km = run.ard[(run.ard["context"] == "km")]
    wide = km.pivot_table(index=["param", "group1_level", "variable_level"], columns="stat_name", values="stat")
    assert ((wide["n_risk"] >= C.MIN_AT_RISK) == (wide["reliable"] == 1)).all()


def _safety_trial(run) -> pd.DataFrame:
    adsl = run.data["adsl"]
    return adsl[(adsl["COHORT"] == TRIAL) & (adsl["SAFFL"] == "Y")]


def _samples(run) -> pd.DataFrame:
    """Post-CAR-T1 samples strictly before the first loss of remission, rebuilt from ADSL RELDT."""
    m = run.data["admrd"]
    m = m[(m["BESTFL"] == "N")].merge(run.data["adsl"][["USUBJID", "TRTSDT", "RELDT"]], on="USUBJID",
                                      suffixes=("", "_sl"))
    return m[(m["ADT"] > m["TRTSDT_sl"]) & (m["RELDT"].isna() | (m["ADT"] < m["RELDT"]))]


def test_mrd_conversion_counts_by_hand(run):
    """Among safety subjects MRD-positive before CAR-T1: converted = any negative sample of the
    method after CAR-T1 and before relapse."""
    pop = _safety_trial(run)
    pos = set(pop.loc[pop["MRDPRE"] == "POS", "USUBJID"])
    s = _samples(run)
    for method in ("FC", "NGS"):
        neg = set(s.loc[(s["METHOD"] == method) & (s["NEGFL"] == "Y"), "USUBJID"])
        keys = dict(context="mrd_conversion", param=f"MRD-{method}", variable_level="ALL BASELINE POSITIVE")
        assert stat(run, **keys, stat_name="n") == len(pos)
        assert stat(run, **keys, stat_name="x") == len(pos & neg)
    counts = pop["MRDPREMT"].value_counts()
    for method, k in counts.items():
        assert stat(run, context="mrd_baseline", variable="MRDPREMT", variable_level=method, stat_name="n") == k


def test_mrd_kappa_matches_statsmodels_on_pairs_rebuilt_by_hand(run):
    """FC-NGS pairs (same subject and date, both evaluable, before relapse) rebuilt from ADMRD;
    kappa and its SE from statsmodels' cohens_kappa. Tolerance 1e-12."""
    from statsmodels.stats.inter_rater import cohens_kappa

    s = _samples(run)
    s = s[s["EVALFL"] == "Y"]
    fc = s[s["METHOD"] == "FC"].set_index(["USUBJID", "ADT"])["NEGFL"]
    ngs = s[s["METHOD"] == "NGS"].set_index(["USUBJID", "ADT"])["NEGFL"]
    pairs = pd.concat([fc.rename("FC"), ngs.rename("NGS")], axis=1, join="inner")
    table = pd.crosstab(pairs["FC"], pairs["NGS"]).reindex(index=["Y", "N"], columns=["Y", "N"], fill_value=0)
    ref = cohens_kappa(table.to_numpy())
    keys = dict(context="mrd_agreement", variable="kappa")
    assert stat(run, **keys, stat_name="n_pairs") == len(pairs)
    assert stat(run, **keys, stat_name="kappa") == pytest.approx(ref.kappa, abs=1e-12)
    assert stat(run, **keys, stat_name="se") == pytest.approx(ref.std_kappa, abs=1e-12)
