"""The external comparison as the emulation of a target trial (SAP 6.7): the protocol, the
primary analysis on a common clock, and its sensitivity to unmeasured confounding.

Primary comparison (SAP 6.7): time zero is the remission documented before therapy (CRDT) in
both cohorts; each subject enters the risk set at the start of its treatment (trial: CAR-T1,
controls: allo-HSCT; delayed entry, ADTTE ENTRY); LFS counts relapse, non-response and death from
the start of treatment (ADTTE LFSCR; OSCR for OS); controls are weighted to the trial cohort
(ATT) by a propensity model that is re-fitted, with its covariate rule, in every bootstrap
replicate. Summary measures: RMST to 24 months on the common clock (estimable in every
replicate) and its difference, the 2-year difference (interval only when every replicate can
estimate it), and the weighted Cox hazard ratio with robust variance, with its E-value and
tipping point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import conventions as C
from analysis import ard
from analysis.analyze import forked
from analysis.workers import one_blas_thread
from analysis.analyze.external import (
    PS_CATEGORICAL,
    TREATED,
    at_risk_after_entry,
    sensitivity_weights,
    subject_weights,
)
from analysis.analyze.sap import (
    COHORT,
    COMPARISON,
    KM_TIMEPOINTS,
    hazard_ratio,
    km_at,
    param_rows,
)
from analysis.stats import rmst as rmst_stats
from analysis.stats import cards, sensitivity, survival

PRIMARY = "tte"   # ARD prefix of the primary comparison
# ADTTE parameters on the common clock (SAP 6.2) -> endpoint name; LFS first: it is the primary endpoint
COMMON_CLOCK_PARAMS = {"LFSCR": "LFS", "OSCR": "OS"}

# The target trial and its emulation (SAP 6.7); docs/sap-notes.md 6.7 repeats this table word for
# word (tests/test_target_trial.py checks it) and the report prints it.
PROTOCOL: tuple[tuple[str, str, str], ...] = (
    ("Eligibility", "Adults (18-65) with B-ALL in first or second complete remission after induction/consolidation "
     "chemotherapy, fit for an autologous or allogeneic transplant",
     "Trial: everyone who received CAR-T1. Controls: registry patients transplanted (allo-HSCT) in CR1/CR2, "
     "2016-2023. Eligibility is only observed at treatment start"),
    ("Treatment strategies", "(a) CD22/CD19 CAR-T, stem-cell collection, BuCy auto-HSCT, CAR-T2 (sandwich); "
     "(b) allo-HSCT consolidation",
     "(a) trial cohort (SANDWICH); (b) registry cohort (ALLO_EXT)"),
    ("Assignment", "Random, at time zero",
     "Not random: ATT weights from a propensity model on age, sex, Ph status, cytogenetic risk, WBC, CNS status, "
     "CR1/CR2, MRD before therapy, diagnosis-to-remission time and remission-to-treatment interval; re-fitted in "
     "every bootstrap replicate. Calendar era (controls 2016-2023, trial 2023-2025) does not overlap and cannot "
     "be adjusted for"),
    ("Time zero", "The documented remission before consolidation (eligibility met, strategy assigned)",
     "The remission date before therapy (CRDT) in both cohorts; each subject enters the risk set at its treatment "
     "start (CAR-T1 / allo-HSCT): delayed entry, so nobody is credited with time before it was observed"),
    ("Outcome", "Leukemia-free survival: relapse, non-response or death from any cause (OS: death)",
     "ADTTE LFSCR / OSCR: loss of remission (relapse, or non-response at the first assessment after CAR-T1) or "
     "death counted from the start of treatment; the registry's own LFS is kept for the single-arm description"),
    ("Follow-up", "From time zero to the event, loss to follow-up, or the data cut-off",
     "From treatment start (entry) to the event or the last date known alive (trial) / last follow-up "
     "(registry), capped at the cut-off: the dates up to which relapse and death are ascertained in each source"),
    ("Causal contrast", "Per-protocol effect of the strategies in patients like the trial cohort (ATT), with the "
     "intercurrent events handled as in the estimand",
     "Observational analogue of the intention-to-treat effect from treatment start (treatment policy for not "
     "completing the sandwich), in the trial population (ATT)"),
    ("Analysis", "Kaplan-Meier, RMST to 24 months and hazard ratio by randomised arm",
     "ATT-weighted Kaplan-Meier with delayed entry; RMST to 24 months and its difference with a percentile "
     "bootstrap (propensity model re-fitted per replicate); 2-year difference; weighted Cox with robust "
     "variance; E-value and tipping point for unmeasured confounding"),
)

# Intercurrent events of the estimand (ICH E9(R1)) and their strategies (SAP 6.3).
INTERCURRENT_EVENTS: tuple[tuple[str, str], ...] = (
    ("Not completing the sandwich (failed mobilisation, withdrawal, adverse event, physician decision)",
     "Treatment policy: the subject stays in the trial cohort and is followed"),
    ("Allo-HSCT after stopping the sandwich (in remission)", "Treatment policy: the subject stays in the trial "
     "cohort and follow-up continues past it; its date is ADSL/ADTTE ALLOICDT (from ct.csv), so a hypothetical "
     "strategy (censoring at ALLOICDT) is possible but not an analysis of this SAP"),
    ("New anti-leukemic therapy before relapse (e.g. TKI maintenance, donor lymphocytes)",
     "Treatment policy (not collected in either source)"),
    ("Non-response to CAR-T1", "Composite: an LFS event at the first assessment after CAR-T1"),
    ("Death without relapse", "Composite for LFS (an event); competing event for the cumulative incidence of relapse"),
    ("Relapse (for OS)", "Treatment policy: follow-up for death continues"),
)


# --- propensity model re-fitted per replicate ------------------------------------------------------

def _design(frame: pd.DataFrame, covariates) -> np.ndarray:
    """Intercept, numeric covariates, categorical ones dummy-coded against the first sorted level
    (as analysis.stats.weighting.propensity_score)."""
    cols = [np.ones(len(frame))]
    for c in covariates:
        if c in PS_CATEGORICAL:
            levels = sorted(pd.unique(frame[c]), key=str)
            cols += [(frame[c] == lv).to_numpy(float) for lv in levels[1:]]
        else:
            cols.append(frame[c].to_numpy(float))
    return np.column_stack(cols)


def _logistic_fit(x: np.ndarray, y: np.ndarray, beta0: np.ndarray | None = None,
                  counts: np.ndarray | None = None, hessian_inv: np.ndarray | None = None) -> np.ndarray:
    """Coefficients of a logistic model by Newton-Raphson from ``beta0`` (zeros by default; a
    bootstrap replicate starts from the full-data fit: the same maximum to the convergence
    tolerance, in fewer iterations). ``counts``: how many times each row is repeated (a bootstrap
    replicate fitted on its distinct subjects: the same likelihood as on the repeated rows).
    ``hessian_inv``: a fixed inverse information matrix (the full data's, for a replicate of a
    large study) used instead of re-computing it at every step: each step then costs one pass
    over the rows instead of a matrix product, and converges to the same maximum (the score is
    zero there whatever matrix scales the steps) to the same step tolerance, linearly instead of
    quadratically. Raises FloatingPointError when it does not converge."""
    beta = np.zeros(x.shape[1]) if beta0 is None else beta0.copy()
    c = np.ones(len(y)) if counts is None else counts
    for _ in range(100 if hessian_inv is None else FIXED_HESSIAN_MAX_STEPS):
        p = 1 / (1 + np.exp(-np.clip(x @ beta, -30, 30)))
        score = x.T @ (c * (y - p))
        if hessian_inv is None:
            step = np.linalg.solve(x.T @ (x * (c * p * (1 - p))[:, None]), score)
        else:
            step = hessian_inv @ score
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            return beta
    raise FloatingPointError("propensity model did not converge (separation)")


# From this many subjects a replicate's information matrix is within about 1% of the full
# data's (their difference shrinks as 1/sqrt(n)), so steps scaled by the full data's converge in a
# few cheap passes; below it (the shipped cuts: 190 subjects) every step is a Newton step. A
# replicate that does not converge so is fitted by Newton-Raphson (``_replicate_weights``).
FIXED_HESSIAN_MIN_SUBJECTS = 5000
FIXED_HESSIAN_MAX_STEPS = 60


def percentiles_of_repeated(values: np.ndarray, counts: np.ndarray, percents) -> list[float]:
    """``np.percentile(np.repeat(values, counts), percents)`` (numpy's default linear method,
    R type 7), without building the repeated array and, for a percentile near either end (the
    0th and 99th of a truncation rule such as conventions.IPTW_SENSITIVITY_TRUNCATE_PERCENTILES), without sorting every value: only
    the few smallest or largest values can hold those positions (each value is repeated at least
    once), and they are found by partitioning (linear time; a bootstrap replicate sorted 10^4
    weights twice before)."""
    counts = np.asarray(counts)
    n = int(counts.sum())
    out = []
    for q in np.true_divide(percents, 100):
        virtual = (n - 1) * q
        below = min(max(int(np.floor(virtual)), 0), n - 1)
        a, b = (_kth_of_repeated(values, counts, k, n) for k in (below, min(below + 1, n - 1)))
        gamma = virtual - below
        out.append(float(b - (b - a) * (1 - gamma) if gamma >= 0.5 else a + (b - a) * gamma))  # numpy's _lerp
    return out


def _kth_of_repeated(values: np.ndarray, counts: np.ndarray, k: int, n: int) -> float:
    """The value at 0-based position ``k`` of ``np.sort(np.repeat(values, counts))`` (n = counts' sum).
    Position k from the bottom lies among the k + 1 smallest values, so those are selected
    (np.argpartition) and only they sorted; from the top likewise. A value tied across the
    selection's edge is the same value whichever of its copies were selected."""
    from_top = k > n - 1 - k
    m = (n - 1 - k if from_top else k) + 1  # the answer is among the m most extreme values
    if m >= len(values):
        pick = np.arange(len(values))
    elif from_top:
        pick = np.argpartition(values, len(values) - m)[len(values) - m:]
    else:
        pick = np.argpartition(values, m - 1)[:m]
    order = pick[np.argsort(values[pick], kind="stable")]
    if from_top:   # positions counted from the largest value down
        order, k = order[::-1], n - 1 - k
    last = np.cumsum(counts[order]) - 1   # last[j]: last position (from that end) of order[j]'s copies
    return values[order[np.searchsorted(last, k, side="left")]]


def _att_from_design(x: np.ndarray, y: np.ndarray, beta0: np.ndarray | None = None,
                     counts: np.ndarray | None = None, hessian_inv: np.ndarray | None = None) -> np.ndarray:
    """Logistic fit (``_logistic_fit``), then the ATT weights of ``external.att_weights``: controls
    e/(1-e) rescaled to sum to their number, then clipped to the percentiles of
    conventions.IPTW_TRUNCATE_PERCENTILES (None: not clipped). With ``counts`` every sum and percentile counts each
    row that many times (one weight per distinct subject)."""
    c = np.ones(len(y)) if counts is None else counts
    e = 1 / (1 + np.exp(-(x @ _logistic_fit(x, y, beta0, counts, hessian_inv))))
    treated = y == 1
    w = np.where(treated, 1.0, e / (1 - e))
    w[~treated] *= c[~treated].sum() / (c[~treated] * w[~treated]).sum()
    if C.IPTW_TRUNCATE_PERCENTILES is None:   # SAP 6.5: no truncation
        return w
    if counts is None:
        lo, hi = np.percentile(w, C.IPTW_TRUNCATE_PERCENTILES)
    else:
        lo, hi = percentiles_of_repeated(w, counts, C.IPTW_TRUNCATE_PERCENTILES)
    return np.clip(w, lo, hi)


def fast_att_weights(frame: pd.DataFrame, covariates) -> np.ndarray:
    """The ATT weights of ``external.att_weights`` (main-effects logistic model, controls
    e/(1-e) rescaled to sum to their number, all weights clipped to the percentiles of
    conventions.IPTW_TRUNCATE_PERCENTILES), with the logistic fit by Newton-Raphson in NumPy so
    that 1000 replicates take seconds. Raises FloatingPointError if the fit does not converge
    (separation) or LinAlgError if the information matrix is singular."""
    return _att_from_design(_design(frame, covariates), frame[TREATED].to_numpy(float))


class _Covariates:
    """The propensity covariates of a subject frame coded once as one matrix (numeric columns and
    one indicator column per level of each discrete covariate): a replicate applies the rule of
    ``external.estimable_covariates`` (a discrete covariate with a level in one cohort only is left
    out) by choosing columns of that matrix, without pandas and without re-coding."""

    def __init__(self, frame: pd.DataFrame):
        from analysis.analyze.external import DISCRETE_COVARIATES, PS_COVARIATES
        self.y = frame[TREATED].to_numpy(float)
        blocks, self.terms, self.members, at = [np.ones((len(frame), 1))], [], [], 1
        for c in PS_COVARIATES:
            if c in DISCRETE_COVARIATES:
                levels = sorted(pd.unique(frame[c]), key=str)
                codes = pd.Categorical(frame[c], categories=levels).codes
                blocks.append((codes[:, None] == np.arange(len(levels))[None, :]).astype(float))
                self.terms.append((codes, at, len(levels)))
                # per cohort (treated, control) and level: its subjects (positions), for presence
                self.members.append([[np.flatnonzero((codes == k) & (self.y == t)) for k in range(len(levels))]
                                     for t in (1, 0)])
                at += len(levels)
            else:
                blocks.append(frame[c].to_numpy(float)[:, None])
                self.terms.append((None, at, 0))
                at += 1
        self.matrix = np.hstack(blocks)

    def columns(self, rows: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The design's columns for the resampled ``rows``: intercept, numeric covariates, and the
        indicators of a discrete covariate's levels present in the replicate except the first."""
        counts = np.bincount(rows, minlength=len(self.y)).astype(float)
        return self.columns_of_counts(counts)

    def columns_of_counts(self, counts: np.ndarray) -> np.ndarray:
        """``columns`` of the replicate holding subject i ``counts[i]`` times. A level is present
        in a cohort when one of its subjects is drawn; its first few subjects are looked at first,
        which settles it for any common level without reading all of them (issue 15: at 19,000
        subjects, counting every covariate's levels was a sixth of a replicate's time)."""
        keep = [0]
        members = iter(self.members)
        for codes, at, _ in self.terms:
            if codes is None:
                keep.append(at)
                continue
            t, c = ([counts[ix[:32]].any() or counts[ix].any() for ix in cohort] for cohort in next(members))
            if t != c:   # a level in one cohort only: left out (SAP 6.5)
                continue
            present = np.flatnonzero(t)
            if len(present) < 2:                 # a single level: no contrast to estimate
                continue
            keep += [at + k for k in present[1:]]
        return np.asarray(keep)

    def design(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = self.y[rows]
        return self.matrix[rows][:, self.columns(rows, y)], y


def _replicate_weights(x: np.ndarray, y: np.ndarray, counts: np.ndarray, beta0: np.ndarray | None,
                       hessian_inv: np.ndarray | None = None) -> np.ndarray | None:
    """One replicate's ATT weights, or None when its propensity model cannot be fitted. Started
    from ``beta0`` first (with the fixed ``hessian_inv`` when given, then by Newton-Raphson); when
    that does not converge (near separation, Newton overshoots from a far start) fitted again from
    zeros, so that a replicate fails exactly when a fit from zeros does."""
    starts = [(beta0, hessian_inv)] if hessian_inv is not None else []
    starts += [(beta0, None), (None, None)] if beta0 is not None else [(None, None)]
    for start, h_inv in starts:
        try:
            with np.errstate(all="ignore"):
                w = _att_from_design(x, y, start, counts=counts, hessian_inv=h_inv)
        except (FloatingPointError, np.linalg.LinAlgError):
            continue
        if np.isfinite(w).all():
            return w
    return None


def _full_information_inverse(x: np.ndarray, beta: np.ndarray) -> np.ndarray | None:
    """Inverse of the full data's information matrix at its fit (None when singular)."""
    p = 1 / (1 + np.exp(-np.clip(x @ beta, -30, 30)))
    try:
        return np.linalg.inv(x.T @ (x * (p * (1 - p))[:, None]))
    except np.linalg.LinAlgError:
        return None


def bootstrap_weights(frame: pd.DataFrame, n_boot: int, seed: int,
                      workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(W, ok): W[b, i] = the summed re-fitted ATT weight of subject i's copies in replicate b
    (subjects resampled with replacement within cohort; the propensity model, with its covariate
    rule, fitted again on the replicate); ok[b] False when the replicate's model could not be
    fitted (row of zeros; counted in the ARD as n_boot_failed, never silently dropped).
    A replicate whose design keeps the full data's columns starts Newton-Raphson from the
    full-data coefficients (same maximum, fewer iterations).
    ``workers``: processes the replicates are spread over (analysis.analyze.forked; default: the
    machine's cores for a large study). Each chunk of replicates starts from the random-number
    state the serial loop would have reached there, so W and ok do not depend on ``workers``; and
    every fit runs with one BLAS thread (analysis.workers.one_blas_thread), so they do not depend
    on the machine's cores either."""
    with one_blas_thread():
        return _bootstrap_weights(frame, n_boot, seed, workers)


def _bootstrap_weights(frame: pd.DataFrame, n_boot: int, seed: int, workers: int | None):
    coded = _Covariates(frame)
    everyone = np.arange(len(frame))
    full_cols = coded.columns(everyone, coded.y)
    try:
        with np.errstate(all="ignore"):
            beta_full = _logistic_fit(coded.matrix[:, full_cols], coded.y)
    except (FloatingPointError, np.linalg.LinAlgError):
        beta_full, full_cols = None, None   # no full-data fit to start from: every replicate from zeros
    groups = [np.flatnonzero(coded.y == t) for t in (1, 0)]
    full_design = None if full_cols is None else coded.matrix[:, full_cols]
    hessian_inv = _full_information_inverse(full_design, beta_full) if len(frame) >= FIXED_HESSIAN_MIN_SUBJECTS \
        and full_design is not None else None
    rng = np.random.default_rng(seed)
    parts = forked.chunks(n_boot, forked.default_workers(n_boot * len(frame)) if workers is None else workers)
    states = {}
    for first, stop in parts:   # the generator's state at the start of each chunk, as in one loop
        states[first] = rng.bit_generator.state
        for _ in range(first, stop if stop < n_boot else first):  # (the last chunk's draws: in fill)
            for g in groups:
                rng.integers(0, len(g), len(g))

    def fill(W: np.ndarray, ok: np.ndarray, first: int, stop: int) -> None:
        chunk_rng = np.random.default_rng(seed)
        chunk_rng.bit_generator.state = states[first]
        for b in range(first, stop):
            rows = np.concatenate([g[chunk_rng.integers(0, len(g), len(g))] for g in groups])
            # the replicate as its distinct subjects with their counts: the same fit on ~63% of the rows
            counts = np.bincount(rows, minlength=len(frame)).astype(float)
            who = np.flatnonzero(counts)
            y, c = coded.y[who], counts[who]
            cols = coded.columns_of_counts(counts)
            same = full_cols is not None and np.array_equal(cols, full_cols)
            x = full_design[who] if same else coded.matrix[who][:, cols]
            w = _replicate_weights(x, y, c, beta_full if same else None, hessian_inv if same else None)
            if w is None:
                ok[b] = False
                continue
            W[b, who] = c * w
    return forked.fill_rows((n_boot, len(frame)), fill, parts)


# --- the primary comparison --------------------------------------------------------------------------

def common_clock_frame(adtte: pd.DataFrame, frame: pd.DataFrame, paramcd: str) -> pd.DataFrame:
    """Rows of ``paramcd`` with time at risk after entry, with each subject's weight and its
    position in the subject frame (for the bootstrap weight matrix)."""
    data = at_risk_after_entry(param_rows(adtte, paramcd))[["USUBJID", COHORT, "ENTRY", "AVAL", "CNSR"]]
    pos = pd.Series(np.arange(len(frame)), index=frame["USUBJID"])
    data = data.assign(IPTW=data["USUBJID"].map(frame.set_index("USUBJID")["IPTW"]),
                       POS=data["USUBJID"].map(pos))
    if data["IPTW"].isna().any():
        raise ValueError(f"ADTTE {paramcd}: subjects without a weight: {list(data.loc[data['IPTW'].isna(), 'USUBJID'][:5])}")
    return data.reset_index(drop=True)


def _replicate_curves(data: pd.DataFrame, W: np.ndarray) -> dict:
    """Per cohort: (times, curves, last_time) of the weighted product-limit of every row of W."""
    out = {}
    for cohort in (C.COHORT_TRIAL, C.COHORT_EXTERNAL):
        d = data[data[COHORT] == cohort]
        out[cohort] = rmst_stats.product_limit_matrix(d["AVAL"].to_numpy(float), 1 - d["CNSR"].to_numpy(float),
                                                      W, d["ENTRY"].to_numpy(float), columns=d["POS"].to_numpy())
    return out


def _percentile_ci(values: np.ndarray) -> tuple[float, float, float]:
    alpha = 1 - C.CONF_LEVEL
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi), float(np.std(values, ddof=1))


def contrast_rows(data: pd.DataFrame, W: np.ndarray, ok: np.ndarray, endpoint: str, seed: int,
                  prefix: str = PRIMARY) -> pd.DataFrame:
    """Weighted RMST to tau per cohort and its difference, and the 2-year difference, with
    percentile bootstrap limits. Point estimates from the full-data weights; replicates whose
    propensity model failed are not used and are counted (n_boot_failed). The RMST interval uses
    every fitted replicate; the 2-year interval is given only when every fitted replicate has
    follow-up to 2 years in both cohorts, otherwise it is not estimable and the count says why."""
    tau, t2 = C.RMST_TAU_DAYS, C.TIMEPOINT_2Y_DAYS
    full = np.zeros((1, int(data["POS"].max()) + 1))
    full[0, data["POS"].to_numpy()] = data["IPTW"].to_numpy()
    # W[ok] copies W (n_boot x subjects): only when a replicate failed
    est, boot = _replicate_curves(data, full), _replicate_curves(data, W if ok.all() else W[ok])
    counts = {"n_boot": len(ok), "n_boot_used": int(ok.sum()), "n_boot_failed": int((~ok).sum()), "seed": seed}
    parts, area, surv2, defined2 = [], {}, {}, {}
    for cohort in (C.COHORT_TRIAL, C.COHORT_EXTERNAL):
        (times, s, last), (bt, bs, blast) = est[cohort], boot[cohort]
        area[cohort] = (rmst_stats.rmst_from_curves(times, s, tau)[0], rmst_stats.rmst_from_curves(bt, bs, tau))
        surv2[cohort] = (rmst_stats.survival_at(times, s, t2)[0], rmst_stats.survival_at(bt, bs, t2))
        defined2[cohort] = blast >= t2
        lo, hi, se = _percentile_ci(area[cohort][1])
        parts.append(ard.rows(f"{prefix}_rmst", endpoint, cohort, "AVAL", tau, {
            "rmst": area[cohort][0], "se": se, "lcl": lo, "ucl": hi, "extended": float(last[0] < tau),
            "last_time": float(last[0]),
            "n_boot_extended": int((blast < tau).sum())}))
    ref, idx = C.COHORT_EXTERNAL, C.COHORT_TRIAL
    d_area = area[idx][1] - area[ref][1]
    lo, hi, se = _percentile_ci(d_area)
    parts.append(ard.rows(f"{prefix}_rmst_diff", endpoint, COMPARISON, "AVAL", tau, {
        "diff": area[idx][0] - area[ref][0], "se": se, "lcl": lo, "ucl": hi, **counts}))
    both = defined2[idx] & defined2[ref]
    d2 = surv2[idx][1] - surv2[ref][1]
    lo, hi, se = _percentile_ci(d2) if both.all() else (np.nan, np.nan, np.nan)
    parts.append(ard.rows(f"{prefix}_diff", endpoint, COMPARISON, "AVAL", t2, {
        "diff": surv2[idx][0] - surv2[ref][0], "se": se, "lcl": lo, "ucl": hi, **counts,
        "n_boot_valid": int(both.sum())}))
    return ard.concat(parts)


def km_rows(data: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    """Weighted KM (delayed entry, IJ variance) at 1 and 2 years on the common clock, with the
    unweighted number at risk (the reliability rule of SAP 3.5 counts subjects, not weights)."""
    km = km_at(data, COHORT, weights="IPTW", entry="ENTRY")
    plain = survival.km_estimates(data, COHORT, KM_TIMEPOINTS, entry="ENTRY")
    km["n_risk_weighted"] = km["n_risk"]
    km["n_risk"] = plain["n_risk"].to_numpy()
    km["reliable"] = (km["n_risk"] >= C.MIN_AT_RISK).astype(float)
    n = data.groupby(COHORT, observed=True)["CNSR"].agg(["size", lambda s: int((s == 0).sum())])
    stats = ("n_risk", "n_risk_weighted", "surv", "std_err", "lcl", "ucl", "reliable")
    return ard.concat([ard.with_context(cards.km_cards(km, COHORT, stats), f"{PRIMARY}_km", endpoint),
                       *(ard.rows(f"{PRIMARY}_n", endpoint, g, "AVAL", "", {"n": r.iloc[0], "n_event": r.iloc[1]})
                         for g, r in n.iterrows())])


def confounding_rows(hr: dict, endpoint: str) -> pd.DataFrame:
    """E-value of the hazard ratio (common-outcome conversion, conventions.EVALUE_COMMON_OUTCOME)
    and the tipping-point share of a binary unmeasured confounder (conventions.TIPPING_CONFOUNDER_HR)."""
    e = sensitivity.evalue_hr(hr["hr"], hr["lcl"], hr["ucl"], common_outcome=C.EVALUE_COMMON_OUTCOME)
    parts = [ard.rows(f"{PRIMARY}_evalue", endpoint, COMPARISON, "hr", "", e)]
    tip = sensitivity.tipping_point_hr(hr["hr"], hr["lcl"], hr["ucl"], C.TIPPING_CONFOUNDER_HR)
    parts += [ard.rows(f"{PRIMARY}_tipping", endpoint, COMPARISON, "confounder_hr", r["confounder_hr"],
                       {k: r[k] for k in ("p_estimate", "p_ci", "possible_estimate", "possible_ci")})
              for _, r in tip.iterrows()]
    return ard.concat(parts)


def own_origin_frame(adtte: pd.DataFrame, frame: pd.DataFrame, paramcd: str) -> pd.DataFrame:
    """OS / LFS from each cohort's own origin (no delayed entry: ENTRY 0) with weights and positions."""
    data = param_rows(adtte, paramcd)[["USUBJID", COHORT, "AVAL", "CNSR"]].assign(ENTRY=0.0)
    pos = pd.Series(np.arange(len(frame)), index=frame["USUBJID"])
    return data.assign(IPTW=data["USUBJID"].map(frame.set_index("USUBJID")["IPTW"]),
                       POS=data["USUBJID"].map(pos)).reset_index(drop=True)


def comparison_rows(adsl: pd.DataFrame, adtte: pd.DataFrame, n_boot: int = C.BOOTSTRAP_REPLICATES,
                    seed: int = C.BOOTSTRAP_SEED, weights: pd.DataFrame | None = None) -> pd.DataFrame:
    """The primary comparison (SAP 6.7) and the weighted own-origin contrasts (``iptw_diff``,
    ``iptw_rmst_diff``, SAP 6.5) from ONE set of bootstrap replicates with re-fitted weights.
    ``weights``: ``external.subject_weights(adsl)`` when already fitted (analyze fits it once)."""
    frame = (subject_weights(adsl) if weights is None else weights).reset_index(drop=True)
    W, ok = bootstrap_weights(frame, n_boot, seed)
    own = [contrast_rows(own_origin_frame(adtte, frame, p), W, ok, p, seed, prefix="iptw") for p in ("OS", "LFS")]
    return ard.concat([primary_rows(adtte, frame, W, ok, seed), *own])


def primary_rows(adtte: pd.DataFrame, frame: pd.DataFrame, W: np.ndarray, ok: np.ndarray, seed: int) -> pd.DataFrame:
    """The primary comparison of SAP 6.7 for LFS and OS on the common clock, as ARD rows."""
    parts = []
    truncated_weights = sensitivity_weights(frame)   # per subject, for both endpoints (SAP 6.7)
    for paramcd, endpoint in COMMON_CLOCK_PARAMS.items():
        data = common_clock_frame(adtte, frame, paramcd)
        parts.append(km_rows(data, endpoint))
        parts.append(contrast_rows(data, W, ok, endpoint, seed))
        hr = hazard_ratio(data, COHORT, C.REFERENCE_COHORT, weights="IPTW", robust=True, entry="ENTRY",
                          cluster="USUBJID")  # one row per subject; R coxph(id = USUBJID)
        parts.append(ard.rows(f"{PRIMARY}_cox", endpoint, COMPARISON, COHORT, "", hr))
        # sensitivity to extreme weights: the same model with the weights truncated (SAP 6.7)
        truncated = data.assign(IPTW=truncated_weights[data["POS"].to_numpy()])
        parts.append(ard.rows(f"{PRIMARY}_cox_trunc", endpoint, COMPARISON, COHORT, "",
                              hazard_ratio(truncated, COHORT, C.REFERENCE_COHORT, weights="IPTW", robust=True,
                                           entry="ENTRY", cluster="USUBJID")))
        parts.append(confounding_rows(hr, endpoint))
    return ard.concat(parts)
