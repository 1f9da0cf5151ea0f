"""The planted truth of the SYNTHETIC simulator (analysis.simulate.params.PLANTED_TRUTH), its
literature calibration, and the size knob.

- every cited literature figure is matched on a 3000 + 3000 cohort (benchmarks/simulator_calibration);
- a Cox model that knows everything the simulator used (measured covariates, the MRD class after
  CAR-T1, the latent U) recovers every planted coefficient: an independent check (statsmodels
  PHReg, not our analysis.stats);
- the naive comparison is biased upward by the measured confounders; with the unmeasured
  confounder switched on, even the measured-covariate-adjusted estimate is biased downward, and
  with it switched off the adjusted estimate recovers the planted value;
- a large study (sites overflow: more than 999 patients) validates with zero failures.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from analysis.simulate.study import PLANTED_TRUTH, cut_files, params, simulate_study
from analysis.simulate.params import UNMEASURED, UNMEASURED_OFF, UnmeasuredConfounding

SEED = 11
ADMIN_CENSOR = 5 * 365.25


@pytest.fixture(scope="module")
def study_on():
    return simulate_study(SEED, n_trial=3000, n_external=3000, unmeasured=UNMEASURED)


STRONG = UnmeasuredConfounding(enabled=True, trial_shift_sd=-0.6, log_hr_per_sd=math.log(1.8))


@pytest.fixture(scope="module")
def study_strong():
    """The same study with a stronger latent confounder (the switch's strength argument), so the
    bias (about -0.35 on the log scale) is several standard errors on 3000 + 3000 patients."""
    return simulate_study(SEED, n_trial=3000, n_external=3000, unmeasured=STRONG)


@pytest.fixture(scope="module")
def study_off():
    return simulate_study(SEED, n_trial=3000, n_external=3000, unmeasured=UNMEASURED_OFF)


def relapse_frame(study) -> pd.DataFrame:
    """Relapse cause-specific data on the time scale since the pre-treatment remission, delayed
    entry at CAR-T1 / allo-HSCT, NRM and 5 years of follow-up censor; the truth, no data cut."""
    rows = []
    for p in study.trial:
        if p.nonresponder or not p.infused:      # outside the sandwich relapse model by construction
            continue
        # an allo-HSCT in remission after stopping the sandwich changes the hazard: censor there
        switch = next((t.day for t in p.therapies if t.kind == "ALLO-HSCT" and t.day < p.relapse_day), math.inf)
        rows.append(_row(p.cov, 1, p.mrd_post != "NEG", -p.baseline["cr_day"], p.relapse_day, p.death_day,
                         censor=switch))
    for x in study.external:
        days = lambda d: math.inf if d is None else float((d - x.hsct).days)  # noqa: E731
        relapse = days(x.relapse)
        rows.append(_row(x.cov, 0, False, (x.hsct - x.remission).days, relapse, days(x.death)))
    return pd.DataFrame(rows)


def _row(cov, sandwich, mrd_post, entry, relapse, death, censor=math.inf) -> dict:
    last = min(death, ADMIN_CENSOR, censor)
    end = min(relapse, last)
    return {"entry": entry, "stop": entry + max(end, 0.5), "event": int(relapse <= last),
            "sandwich": sandwich, "mrdpost": int(sandwich and mrd_post), "age10": (cov.age - 40) / 10,
            "mrd": int(cov.mrd_positive), "cr2": int(cov.cr2), "ph": int(cov.ph_positive),
            "high": int(cov.high_risk), "u": cov.latent}


def cox(df: pd.DataFrame, cols: list[str]):
    from statsmodels.duration.hazard_regression import PHReg
    fit = PHReg(df["stop"].to_numpy(float), df[cols].to_numpy(float), status=df["event"].to_numpy(),
                entry=df["entry"].to_numpy(float), ties="efron").fit()
    return dict(zip(cols, fit.params)), dict(zip(cols, fit.bse))


MEASURED = ["sandwich", "mrdpost", "age10", "mrd", "cr2", "ph", "high"]


def test_every_cited_literature_figure_is_matched_on_a_large_cohort():
    from benchmarks.simulator_calibration import calibration
    figures = calibration()
    failed = [(f.name, round(f.value, 3), f.low, f.high, f.rows) for f in figures if not f.ok]
    assert not failed, failed
    assert len(figures) >= 20


def test_oracle_cox_recovers_every_planted_relapse_coefficient(study_on):
    """Knowing U, a Cox model recovers gamma, the MRD-after-CAR-T1 effect (T1.34) and every
    covariate and U coefficient within 4 standard errors."""
    est, se = cox(relapse_frame(study_on), [*MEASURED, "u"])
    b = PLANTED_TRUTH["relapse_covariate_log_hr"]
    truth = {"sandwich": PLANTED_TRUTH["relapse_log_hr_sandwich_vs_allo"],
             "mrdpost": PLANTED_TRUTH["relapse_log_hr_mrd_post"], "age10": b["age_per_10y"],
             "mrd": b["mrd_positive"], "cr2": b["cr2"], "ph": b["ph_positive"], "high": b["high_risk"],
             "u": PLANTED_TRUTH["unmeasured"]["log_hr_per_sd"]}
    for name, value in truth.items():
        assert abs(est[name] - value) < 4 * se[name], (name, est[name], value, se[name])


def test_without_unmeasured_confounding_adjustment_recovers_the_planted_effect(study_off):
    """U switched off: the measured-covariate-adjusted log HR recovers gamma (4 SE); the naive
    one (cohort only) is biased upward by the measured confounders (PLANTED_TRUTH)."""
    df = relapse_frame(study_off)
    est, se = cox(df, MEASURED)
    gamma = PLANTED_TRUTH["relapse_log_hr_sandwich_vs_allo"]
    assert abs(est["sandwich"] - gamma) < 4 * se["sandwich"], (est["sandwich"], gamma)
    naive, _ = cox(df, ["sandwich", "mrdpost"])
    assert PLANTED_TRUTH["naive_bias_direction"] == "upward"
    assert naive["sandwich"] - est["sandwich"] > 2 * se["sandwich"], (naive["sandwich"], est["sandwich"])


def test_unmeasured_confounding_biases_the_adjusted_estimate_downward(study_strong, study_off):
    """U switched on (trial entrants fitter by trial_shift_sd): the measured-covariate-adjusted
    log HR lies below gamma by more than 3 SE, and below the U-off estimate on the same seed by
    about shift * beta_U (tolerance 0.12: omitting a frailty also attenuates); the oracle that
    knows U recovers gamma (4 SE). PLANTED_TRUTH states the direction for the shipped strength."""
    gamma = PLANTED_TRUTH["relapse_log_hr_sandwich_vs_allo"]
    df = relapse_frame(study_strong)
    on, se_on = cox(df, MEASURED)
    off, _ = cox(relapse_frame(study_off), MEASURED)
    assert PLANTED_TRUTH["unmeasured"]["enabled"]
    assert PLANTED_TRUTH["unmeasured"]["adjusted_bias_direction"] == "downward"
    assert on["sandwich"] < gamma - 3 * se_on["sandwich"], (on["sandwich"], gamma, se_on["sandwich"])
    expected = STRONG.trial_shift_sd * STRONG.log_hr_per_sd
    assert abs((on["sandwich"] - off["sandwich"]) - expected) < 0.12, (on["sandwich"] - off["sandwich"], expected)
    oracle, se = cox(df, [*MEASURED, "u"])
    assert abs(oracle["sandwich"] - gamma) < 4 * se["sandwich"], (oracle["sandwich"], gamma)


def test_the_unmeasured_factor_is_not_exported(study_on):
    """U exists in the truth (shifted in the trial) but no raw form carries it."""
    u_trial = np.mean([p.cov.latent for p in study_on.trial])
    u_ext = np.mean([x.cov.latent for x in study_on.external])
    assert u_trial - u_ext == pytest.approx(UNMEASURED.trial_shift_sd, abs=0.1)
    files = cut_files(simulate_study(SEED, n_trial=30, n_external=20), params.CUTS[-1])
    headers = {name: data.split(b"\n", 1)[0].decode() for name, data in files.items()}
    assert not any("LATENT" in h or ",U," in h for h in headers.values())


# --- size knob and the defects a large study showed ------------------------------------------------------
def test_failed_mobilization_never_reports_the_success_threshold(study_on):
    failed = [p for p in study_on.trial if p.mobilization_failed]
    assert failed and all(round(p.cd34, 2) < 2.0 for p in failed)
    assert all(round(p.cd34, 2) >= 2.0 for p in study_on.trial if p.infused and not p.mobilization_failed)


def test_a_fatal_event_after_the_cut_is_exported_ongoing_and_not_fatal(study_on):
    """A grade-5 AE that starts before a cut while the death falls after it is exported at its
    highest non-fatal grade, without an end date (the patient is alive at the cut)."""
    from analysis.simulate.export import PatientCut
    cases = [(p, e) for p in study_on.trial for e in p.adverse_events if e.grade == 5 and e.start < e.end]
    assert cases
    p, e = cases[0]
    cut = p.cart1 + timedelta(days=e.start)          # the onset day: death is after it
    rows = [r for r in PatientCut(p, cut).ae() if r["AEDECOD"] == e.term and r["AESTDTC"] == cut]
    assert rows and all(r["AETOXGR"] < 5 and r["AEENDTC"] is None for r in rows)
    death_cut = p.cart1 + timedelta(days=int(p.death_day))
    assert any(r["AETOXGR"] == 5 for r in PatientCut(p, death_cut).ae())


def test_sites_grow_with_the_study_and_ids_keep_their_format():
    study = simulate_study(3, n_trial=1200, n_external=11)
    ids = [p.subjid for p in study.trial]
    assert len(set(ids)) == 1200 and all(len(i) == 6 and i[2] == "-" for i in ids)
    sites = {p.siteid for p in study.trial}
    assert len(sites) == 4 and all(int(i[3:]) <= 999 for i in ids)
    assert all(i.startswith(p.siteid + "-") for i, p in zip(ids, study.trial))
    assert study.external[0].patid == "R000001"


def test_a_large_study_validates_with_zero_failures(tmp_path):
    """1200 trial patients (the three shipped sites would pass 999: the study opens a fourth)
    and 10 001 registry patients (more than R9999) at the last cut: every validation rule holds."""
    from validation.report import failure_lines
    from validation.runner import check_cut
    cut = params.CUTS[-1]
    (tmp_path / cut).mkdir()
    for name, data in cut_files(simulate_study(5, n_trial=1200, n_external=10001), cut).items():
        (tmp_path / cut / name).write_bytes(data)
    from analysis.simulate.study import manifest_bytes
    files = {p.name: p.read_bytes() for p in (tmp_path / cut).iterdir()}
    (tmp_path / cut / "manifest.json").write_bytes(manifest_bytes(simulate_study(5, 1, 1), cut, files))
    outcomes = check_cut(tmp_path / cut, cut[4:])
    assert failure_lines(outcomes) == []
    dm = pd.read_csv(tmp_path / cut / "dm.csv", dtype=str)
    assert dm["SITEID"].nunique() == 4 and dm["SUBJID"].str.fullmatch(r"\d{2}-\d{3}").all()
    assert date.fromisoformat(cut[4:]) > date(2026, 1, 1)


def test_cli_writes_a_study_of_any_size_to_any_folder(tmp_path):
    from analysis.cli import main
    out = tmp_path / "elsewhere"
    assert main(["simulate", "--n-trial", "60", "--n-external", "25", "--out", str(out)]) == 0
    for cut in params.CUTS:
        ext = pd.read_csv(out / cut / "ext.csv", dtype=str)
        assert len(ext) == 25
    dm = pd.read_csv(out / params.CUTS[-1] / "dm.csv", dtype=str)
    assert len(dm) == 60
    assert main(["simulate", "--n-trial", "0", "--out", str(tmp_path / "x")]) == 2
    assert main(["simulate", "--n-trial", "60", "--out", str(out)]) == 2   # exists: read-only
