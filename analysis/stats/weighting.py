"""Confounding adjustment by inverse probability of treatment weighting (IPTW).

Generic: any one-row-per-subject frame with a binary treatment column (bool or 0/1, 1 = the
treated / index group). Time-to-event functions use the ADaM ADTTE convention: ``AVAL`` time
and ``CNSR`` (1 = censored, 0 = event).

Public functions
----------------
propensity_score(df, treatment, covariates, categorical=None) -> PropensityFit(scores, summary, model)
iptw(df, treatment, ps, estimand="ATT", stabilize=True, truncate=None) -> frame with the weights and rule
balance(df, treatment, covariates, weights=None, ...) -> standardized mean differences per covariate/level
effective_sample_size(w) -> Kish's n_eff
love_plot(balance_frame, threshold=0.1) -> matplotlib Figure
weighted_km_difference(data, by, time_point, reference, weights, n_boot, seed, ...) -> bootstrap CI
weighted_cox(data, by, weights, robust=True, ...) -> HR with sandwich variance
"""

from __future__ import annotations

import warnings
from typing import Callable, NamedTuple, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats._surv_data import _first_bad_row, check_conf_level, surv_data

__all__ = ["NoPropensityFit", "PropensityFit", "propensity_score", "iptw", "balance", "effective_sample_size",
           "love_plot", "weighted_km_difference", "weighted_cox"]


class NoPropensityFit(ValueError):
    """The logistic propensity model has no maximum-likelihood fit on these data: a covariate or
    a combination of covariates separates the groups, the covariates are collinear, or Newton did
    not converge. The message names the covariates (a property of the data, not a defect)."""


# ------------------------------------------------------------------------------------------------
# input checks
# ------------------------------------------------------------------------------------------------

def _require_columns(df: pd.DataFrame, columns: Sequence[str], what: str = "data") -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; columns present: {list(df.columns)}")


def _z(conf_level: float) -> float:
    """Two-sided normal quantile for ``conf_level`` (1.959964 for 0.95)."""
    return float(stats.norm.ppf(0.5 + check_conf_level(conf_level) / 2))


def _treatment_indicator(df: pd.DataFrame, treatment: str) -> np.ndarray:
    """The treatment column as a boolean array; must be bool or 0/1 with both groups present."""
    _require_columns(df, [treatment])
    values = df[treatment]
    if values.isna().any():
        raise ValueError(f"column {treatment!r}: {int(values.isna().sum())} missing treatment value(s)")
    codes = set(pd.unique(values).tolist())
    if not codes <= {0, 1}:   # True == 1 and False == 0
        raise ValueError(f"column {treatment!r}: treatment must be bool or 0/1 (1 = treated), "
                         f"found {sorted(map(str, codes))}")
    treated = values.to_numpy().astype(bool)
    if treated.all() or (~treated).all():
        raise ValueError(f"column {treatment!r}: both treatment groups must be present")
    return treated


def _check_complete(df: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise ValueError naming each column with missing values and how many."""
    _require_columns(df, columns)
    counts = {c: int(df[c].isna().sum()) for c in columns if df[c].isna().any()}
    if counts:
        detail = ", ".join(f"{c!r}: {k} missing" for c, k in counts.items())
        raise ValueError(f"covariates must be complete ({detail}); impute or drop these rows first")


def _is_categorical(series: pd.Series, categorical: Sequence[str]) -> bool:
    return series.name in categorical or not pd.api.types.is_numeric_dtype(series) \
        or pd.api.types.is_bool_dtype(series)


def _aligned_values(df: pd.DataFrame, values, name: str) -> np.ndarray:
    """``values`` as a float array aligned with ``df``: a Series must carry ``df``'s index (so a
    reordered Series cannot be silently misaligned), anything else must have len(df) values."""
    if isinstance(values, pd.Series) and not values.index.equals(df.index):
        raise ValueError(f"{name}: the Series index differs from the data's index; align it first")
    array = np.asarray(values, dtype=float)
    if array.shape != (len(df),):
        raise ValueError(f"{name}: expected {len(df)} values, got shape {array.shape}")
    return array


def _weights_array(df: pd.DataFrame, weights) -> np.ndarray:
    """Weights given as a column name, an array-like aligned with ``df``, or None (all 1)."""
    if weights is None:
        return np.ones(len(df))
    if isinstance(weights, str):
        _require_columns(df, [weights])
        w = pd.to_numeric(df[weights], errors="coerce").to_numpy(dtype=float)
        name = repr(weights)
    else:
        w = _aligned_values(df, weights, "weights")
        name = "weights"
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise ValueError(f"{name}: weights must be finite and >= 0; first bad value at "
                         f"{_first_bad_row(df, bad)}")
    return w


# ------------------------------------------------------------------------------------------------
# propensity score
# ------------------------------------------------------------------------------------------------

class PropensityFit(NamedTuple):
    scores: pd.Series        # P(treated | covariates), indexed like the input
    summary: pd.DataFrame    # term, coef, se, z, p, odds_ratio, lcl, ucl
    model: object            # the statsmodels results object


def _separation_problems(x: pd.Series, treated: np.ndarray, categorical: bool) -> list[str]:
    """Describe covariate values that perfectly predict treatment (the MLE would not exist)."""
    if categorical:
        problems = []
        for level, grp in pd.Series(treated).groupby(x.to_numpy()):
            if grp.all() or not grp.any():
                who = "treated" if grp.all() else "control"
                problems.append(f"column {x.name!r}: all {len(grp)} subject(s) with level {level!r} "
                                f"are {who}")
        return problems
    x1, x0 = x.to_numpy(dtype=float)[treated], x.to_numpy(dtype=float)[~treated]
    if x0.max() <= x1.min() or x1.max() <= x0.min():
        return [f"column {x.name!r}: values separate the groups (treated {x1.min():g}..{x1.max():g}, "
                f"control {x0.min():g}..{x0.max():g})"]
    return []


def _model_matrix(df: pd.DataFrame, covariates: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """Intercept, numeric covariates as given, categorical ones dummy-coded (first sorted level
    is the reference)."""
    parts = [pd.Series(1.0, index=df.index, name="Intercept")]
    for col in covariates:
        if _is_categorical(df[col], categorical):
            levels = sorted(pd.unique(df[col]), key=str)
            for level in levels[1:]:
                parts.append((df[col] == level).astype(float).rename(f"{col}={level}"))
        else:
            parts.append(df[col].astype(float))
    return pd.concat(parts, axis=1)


def propensity_score(df: pd.DataFrame, treatment: str, covariates: Sequence[str],
                     categorical: Sequence[str] | None = None, conf_level: float = 0.95) -> PropensityFit:
    """Propensity score from a main-effects logistic regression (Rosenbaum & Rubin 1983).

    Method: statsmodels Logit by maximum likelihood (Newton), intercept plus the covariates;
    non-numeric columns and those listed in ``categorical`` are dummy-coded against their first
    sorted level. Errors name the column: missing covariate values (ValueError, with counts);
    a covariate or level that perfectly separates the groups, separation by a combination of
    covariates (fitted scores of 0 or 1), collinearity or non-convergence (NoPropensityFit, a
    ValueError).
    Returns PropensityFit(scores, summary, model); summary has term, coef, se, z, p,
    odds_ratio, lcl, ucl (Wald limits of the odds ratio at ``conf_level``).
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    categorical = list(categorical or [])
    treated = _treatment_indicator(df, treatment)
    _check_complete(df, covariates)
    problems = [p for col in covariates
                for p in _separation_problems(df[col], treated, _is_categorical(df[col], categorical))]
    if problems:
        raise NoPropensityFit("propensity model: perfect separation, the logistic MLE does not exist: "
                         + "; ".join(problems))
    design = _model_matrix(df, covariates, categorical)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)   # reported below via mle_retvals
        try:
            result = sm.Logit(treated.astype(float), design).fit(disp=0, maxiter=100)
        except (PerfectSeparationWarning, np.linalg.LinAlgError) as exc:
            raise NoPropensityFit(f"propensity model on {list(covariates)}: perfect separation or "
                             f"collinear covariates ({exc})") from None
    scores = pd.Series(np.asarray(result.predict(design)), index=df.index, name="ps")
    if not result.mle_retvals.get("converged", True):
        raise NoPropensityFit(f"propensity model on {list(covariates)} did not converge")
    if ((scores < 1e-8) | (scores > 1 - 1e-8)).any():
        raise NoPropensityFit(f"propensity model on {list(covariates)}: fitted scores of 0 or 1 "
                         "(quasi-separation by a combination of covariates)")
    z = _z(conf_level)
    coef, se = result.params.to_numpy(), result.bse.to_numpy()
    summary = pd.DataFrame({"term": list(design.columns), "coef": coef, "se": se,
                            "z": coef / se, "p": 2 * stats.norm.sf(np.abs(coef / se)),
                            "odds_ratio": np.exp(coef), "lcl": np.exp(coef - z * se),
                            "ucl": np.exp(coef + z * se)})
    return PropensityFit(scores, summary, result)


# ------------------------------------------------------------------------------------------------
# weights
# ------------------------------------------------------------------------------------------------

def _truncate(weights: np.ndarray, truncate) -> tuple[np.ndarray, str]:
    """Apply the truncation rule; return the weights and the rule in words."""
    if truncate is None:
        return weights, "no truncation"
    if np.isscalar(truncate):
        cap = float(truncate)
        if cap <= 0:
            raise ValueError(f"truncate: a maximum weight must be > 0, got {truncate!r}")
        return np.minimum(weights, cap), f"weights above {cap:g} set to {cap:g}"
    lo_pct, hi_pct = map(float, truncate)
    if not 0 <= lo_pct < hi_pct <= 100:
        raise ValueError(f"truncate: percentiles must satisfy 0 <= lo < hi <= 100, got {truncate!r}")
    lo, hi = np.percentile(weights, [lo_pct, hi_pct])
    return np.clip(weights, lo, hi), (f"weights truncated at the {lo_pct:g}th and {hi_pct:g}th "
                                      f"percentiles of all weights ({lo:.4g}, {hi:.4g})")


def iptw(df: pd.DataFrame, treatment: str, ps, estimand: str = "ATT", stabilize: bool = True,
         truncate=None) -> pd.DataFrame:
    """Inverse probability of treatment weights from a propensity score.

    Method (Austin & Stuart 2015, Stat Med 34:3661): ATE: 1/e for treated, 1/(1-e) for controls;
    stabilized (Robins, Hernan & Brumback 2000) by the marginal probability of the subject's
    group, P(T=1) or P(T=0). ATT: 1 for treated, e/(1-e) for controls; stabilized by rescaling
    control weights to sum to the number of controls (treated weights stay 1). Truncation is
    applied last, to the final weights: ``truncate`` None, a maximum weight (scalar), or a
    (lo, hi) pair of percentiles of all weights (Cole & Hernan 2008, Am J Epidemiol 168:656).
    ``ps`` a column name or values aligned with ``df``; scores must lie strictly in (0, 1).
    Returns a frame indexed like ``df``: treated (bool), ps, weight_untruncated, weight,
    truncated (bool), rule (the full rule in words; also in ``.attrs["rule"]``).
    """
    treated = _treatment_indicator(df, treatment)
    e = pd.to_numeric(df[ps], errors="coerce").to_numpy(dtype=float) if isinstance(ps, str) \
        else _aligned_values(df, ps, "ps")
    bad = ~np.isfinite(e) | (e <= 0) | (e >= 1)
    if bad.any():
        raise ValueError(f"ps: propensity scores must lie strictly in (0, 1); first bad value at "
                         f"{_first_bad_row(df, bad)}")
    if estimand == "ATE":
        w = np.where(treated, 1 / e, 1 / (1 - e))
        rule = "ATE weights 1/e (treated), 1/(1-e) (control)"
        if stabilize:
            w = w * np.where(treated, treated.mean(), 1 - treated.mean())
            rule += ", stabilized by the marginal P(T=1) / P(T=0)"
    elif estimand == "ATT":
        w = np.where(treated, 1.0, e / (1 - e))
        rule = "ATT weights 1 (treated), e/(1-e) (control)"
        if stabilize:
            w[~treated] *= (~treated).sum() / w[~treated].sum()
            rule += ", control weights rescaled to sum to the number of controls"
    else:
        raise ValueError(f"estimand must be 'ATT' or 'ATE', got {estimand!r}")
    final, trunc_rule = _truncate(w, truncate)
    rule = f"{rule}; {trunc_rule}"
    out = pd.DataFrame({"treated": treated, "ps": e, "weight_untruncated": w, "weight": final,
                        "truncated": final != w, "rule": rule}, index=df.index)
    out.attrs["rule"] = rule
    return out


def effective_sample_size(w) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 (Kish 1965, Survey Sampling, s. 11.7)."""
    w = np.asarray(w, dtype=float)
    if w.size == 0 or (w < 0).any() or not np.isfinite(w).all() or w.sum() == 0:
        raise ValueError("effective_sample_size: weights must be finite, >= 0 and not all 0")
    return float(w.sum() ** 2 / (w ** 2).sum())


# ------------------------------------------------------------------------------------------------
# balance
# ------------------------------------------------------------------------------------------------

def _weighted_mean(x: np.ndarray, w: np.ndarray) -> float:
    return float((w * x).sum() / w.sum())


def _balance_row(x, treated, w, binary, sd_denominator):
    """Means per group (unweighted, weighted) and SMDs; the SD in the denominator comes from the
    UNWEIGHTED groups for both SMDs, so weighting changes only the numerator."""
    x1, x0 = x[treated], x[~treated]
    if binary:
        var1, var0 = x1.mean() * (1 - x1.mean()), x0.mean() * (1 - x0.mean())
    else:
        var1, var0 = np.var(x1, ddof=1) if len(x1) > 1 else 0.0, np.var(x0, ddof=1) if len(x0) > 1 else 0.0
    denom = {"pooled": np.sqrt((var1 + var0) / 2), "treated": np.sqrt(var1),
             "control": np.sqrt(var0)}[sd_denominator]
    m1, m0 = x1.mean(), x0.mean()
    mw1, mw0 = _weighted_mean(x1, w[treated]), _weighted_mean(x0, w[~treated])
    with np.errstate(divide="ignore", invalid="ignore"):
        smd_u = (m1 - m0) / denom if denom > 0 else (0.0 if m1 == m0 else np.inf * np.sign(m1 - m0))
        smd_w = (mw1 - mw0) / denom if denom > 0 else (0.0 if mw1 == mw0 else np.inf * np.sign(mw1 - mw0))
    return {"mean_treated": m1, "mean_control": m0, "mean_treated_weighted": mw1,
            "mean_control_weighted": mw0, "smd_unweighted": smd_u, "smd_weighted": smd_w}


def balance(df: pd.DataFrame, treatment: str, covariates: Sequence[str], weights=None,
            categorical: Sequence[str] | None = None, sd_denominator: str = "pooled") -> pd.DataFrame:
    """Covariate balance: standardized mean differences before and after weighting.

    Method (Austin 2009, Stat Med 28:3083; cobalt's ``bal.tab``): SMD = (mean_T - mean_C) / s.
    Means are weighted means in the weighted columns. ``s`` is computed from the UNWEIGHTED
    groups for both SMDs (cobalt's default; a change in SMD then reflects only a change in
    means): ``sd_denominator`` "pooled" sqrt((s_T^2 + s_C^2)/2) (default; cobalt's default for
    the ATE), "treated" s_T (cobalt's default for the ATT) or "control". Variances: sample
    variance (n-1) for continuous covariates, p(1-p) for binary ones and for each level of a
    categorical covariate (one row per level, as cobalt; tableone reports one multivariate
    SMD per categorical instead). A numeric 0/1 covariate is binary (level "1").
    Returns covariate, level, type, mean_treated, mean_control, mean_treated_weighted,
    mean_control_weighted, smd_unweighted, smd_weighted, sd_denominator.
    """
    if sd_denominator not in ("pooled", "treated", "control"):
        raise ValueError(f"sd_denominator must be 'pooled', 'treated' or 'control', got {sd_denominator!r}")
    categorical = list(categorical or [])
    treated = _treatment_indicator(df, treatment)
    _check_complete(df, covariates)
    w = _weights_array(df, weights)
    for mask, name in ((treated, "treated"), (~treated, "control")):
        if w[mask].sum() <= 0:
            raise ValueError(f"weights: the {name} group has zero total weight")
    rows = []
    for col in covariates:
        series = df[col]
        if _is_categorical(series, categorical):
            for level in sorted(pd.unique(series), key=str):
                x = (series == level).to_numpy(dtype=float)
                rows.append({"covariate": col, "level": str(level), "type": "categorical",
                             **_balance_row(x, treated, w, True, sd_denominator)})
        else:
            x = series.to_numpy(dtype=float)
            binary = set(np.unique(x)) <= {0.0, 1.0}
            rows.append({"covariate": col, "level": "1" if binary else "",
                         "type": "binary" if binary else "continuous",
                         **_balance_row(x, treated, w, binary, sd_denominator)})
    out = pd.DataFrame(rows)
    out["sd_denominator"] = f"{sd_denominator} SD of the unweighted groups"
    return out


def love_plot(balance_frame: pd.DataFrame, threshold: float = 0.1, title: str | None = None,
              labels=None):
    """Love plot: absolute SMD per covariate (level) before and after weighting, with a
    reference line at ``threshold`` (0.1 by convention, Austin 2009). Takes the output of
    ``balance``; returns a matplotlib Figure (the caller saves or closes it). ``labels``: a
    function (covariate, level) -> display text for the axis (default "covariate: level"). The
    legend sits above the plotting area, so it can cover no point."""
    import matplotlib.pyplot as plt

    _require_columns(balance_frame, ["covariate", "level", "smd_unweighted", "smd_weighted"],
                    "balance_frame")
    name = labels or (lambda c, lv: c if not lv else f"{c}: {lv}")
    labels = [name(c, lv) for c, lv in zip(balance_frame["covariate"], balance_frame["level"].fillna(""))]
    y = np.arange(len(labels))[::-1]
    fig, ax = plt.subplots(figsize=(6, 1.6 + 0.3 * len(labels)))
    ax.scatter(balance_frame["smd_unweighted"].abs(), y, facecolors="none", edgecolors="black",
               label="Unweighted")
    ax.scatter(balance_frame["smd_weighted"].abs(), y, color="tab:blue", label="Weighted")
    ax.axvline(threshold, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y, labels)
    ax.set_xlabel("Absolute standardized mean difference")
    ax.set_xlim(left=0)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    top = 1 - 0.45 / fig.get_figheight()   # room above the axes for the legend (inches -> fraction)
    fig.legend(*ax.get_legend_handles_labels(), loc="upper center", ncol=2, frameon=False)
    if title:
        ax.set_title(title)
        top -= 0.3 / fig.get_figheight()
    fig.tight_layout(rect=(0, 0, 1, top))
    return fig


# ------------------------------------------------------------------------------------------------
# weighted Kaplan-Meier difference with a bootstrap interval
# ------------------------------------------------------------------------------------------------

def _weighted_km_at(t_sorted: np.ndarray, event_sorted: np.ndarray, weights: np.ndarray,
                    time_point: float) -> np.ndarray:
    """Weighted Kaplan-Meier S(t) = prod_{s<=t} (1 - d_w(s)/n_w(s)) for many weight vectors.

    ``weights`` is (replicates, subjects) over subjects sorted by time; returns (replicates,).
    Case weights enter as in survfit(weights=): d_w and n_w are sums of weights of events at s
    and of subjects with time >= s. NaN where ``time_point`` exceeds the replicate's last
    follow-up time (the curve is not defined there).
    """
    times, first = np.unique(t_sorted, return_index=True)
    w_all = np.add.reduceat(weights, first, axis=1)
    w_event = np.add.reduceat(weights * event_sorted, first, axis=1)
    n_w = np.cumsum(w_all[:, ::-1], axis=1)[:, ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n_w > 0, 1 - w_event / n_w, 1.0)
    upto = times <= time_point
    surv = np.prod(factor[:, upto], axis=1)
    has_weight = w_all > 0
    last_idx = has_weight.shape[1] - 1 - np.argmax(has_weight[:, ::-1], axis=1)
    last_time = np.where(has_weight.any(axis=1), times[last_idx], -np.inf)
    return np.where(time_point <= last_time, surv, np.nan)


def _survival_input(data, by, weights, time, cnsr):
    """Checked ADTTE arrays (the survival module's rules): time, event (1 - CNSR), group codes,
    sorted group levels, weights (column name, values aligned with ``data``, or None)."""
    w = _weights_array(data, weights)
    checked = surv_data(data, time=time, cnsr=cnsr, by=by)
    return checked.stop, checked.event, checked.group, checked.levels, w


def weighted_km_difference(data: pd.DataFrame, by: str, time_point: float, reference, weights=None,
                           n_boot: int = 1000, seed: int = 20240101, conf_level: float = 0.95,
                           refit: Callable[[pd.DataFrame], Sequence[float]] | None = None,
                           time: str = "AVAL", cnsr: str = "CNSR", *,
                           all_replicates: bool = True) -> pd.DataFrame:
    """Difference of weighted Kaplan-Meier estimates at ``time_point`` with a bootstrap CI.

    Method: per group, KM with case weights S(t) = prod (1 - d_w/n_w) (Xie & Liu 2005, Stat Med
    24:3089); difference = S_group(t) - S_reference(t). CI: nonparametric percentile bootstrap
    (Efron & Tibshirani 1993, ch. 13) resampling subjects with replacement within each group
    (group sizes fixed). Without ``refit`` each replicate keeps every subject's weight (the
    replicate is a multinomial count vector, so all replicates are computed at once as a
    (n_boot x n) weight matrix). With ``refit``, a callable taking the resampled frame (rows
    reindexed 0..n-1) and returning its weights, the weights (e.g. the propensity model) are
    re-estimated inside every replicate, which propagates their estimation uncertainty
    (Austin 2016, Stat Med 35:5642); ``weights`` (used for the point estimate) should then be
    what ``refit`` returns on the full data. Percentiles use numpy's default linear
    interpolation (R quantile type 7). The draws depend only on ``seed``, ``n_boot`` and the
    group sizes, so the same seed reproduces the interval exactly. Replicates where a curve is
    undefined at ``time_point`` (resampled follow-up too short) cannot estimate the difference and
    are counted apart (n_boot_valid). With ``all_replicates`` (default) an interval and SE are
    given only when every replicate estimates the difference; otherwise they are NaN (not
    estimable; n_boot_valid < n_boot says why), because percentiles of the surviving replicates
    describe only the resamples that kept the long-followed subjects. ``all_replicates=False``
    takes them from the n_boot_valid replicates, a choice the caller must report.
    Returns one row per non-reference group: <by>, reference, time, surv, surv_reference,
    difference, boot_se, lcl, ucl, conf_level, ci_method, n_boot, n_boot_valid, seed, refit.
    """
    t, event, codes, levels, w = _survival_input(data, by, weights, time, cnsr)
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    check_conf_level(conf_level)
    if reference not in levels:
        raise ValueError(f"column {by!r}: reference level {reference!r} not among {levels}")
    in_group = {lv: np.flatnonzero(codes == k) for k, lv in enumerate(levels)}
    order = {lv: pos[np.argsort(t[pos], kind="stable")] for lv, pos in in_group.items()}  # by time
    rng = np.random.default_rng(seed)
    draws = {lv: rng.integers(0, len(pos), size=(n_boot, len(pos))) for lv, pos in order.items()}
    if refit is None:
        boot_w = {}
        for lv, pos in order.items():
            counts = np.zeros((n_boot, len(pos)))
            np.add.at(counts, (np.arange(n_boot)[:, None], draws[lv]), 1.0)
            boot_w[lv] = counts * w[pos]
    else:
        boot_w = _refit_weights(data, order, draws, refit, n_boot)
    est = {lv: _weighted_km_at(t[pos], event[pos], w[pos][None, :], time_point)[0]
           for lv, pos in order.items()}
    boot = {lv: _weighted_km_at(t[pos], event[pos], boot_w[lv], time_point) for lv, pos in order.items()}
    alpha = 1 - conf_level
    rows = []
    for lv in levels:
        if lv == reference:
            continue
        diff = boot[lv] - boot[reference]
        valid = diff[np.isfinite(diff)]
        usable = valid.size > 0 and (valid.size == n_boot or not all_replicates)  # never a silently reduced set
        lcl, ucl = (np.quantile(valid, [alpha / 2, 1 - alpha / 2]) if usable else (np.nan, np.nan))
        rows.append({by: lv, "reference": reference, "time": float(time_point), "surv": est[lv],
                     "surv_reference": est[reference], "difference": est[lv] - est[reference],
                     "boot_se": float(np.std(valid, ddof=1)) if usable and valid.size > 1 else np.nan,
                     "lcl": float(lcl), "ucl": float(ucl), "conf_level": conf_level,
                     "ci_method": "percentile bootstrap, subjects resampled within group",
                     "n_boot": int(n_boot), "n_boot_valid": int(valid.size), "seed": seed,
                     "refit": refit is not None})
    return pd.DataFrame(rows)


def _refit_weights(data, order, draws, refit, n_boot):
    """Weight matrices per group when the weights are re-estimated in each bootstrap replicate.

    A subject drawn k times contributes k copies with the same covariates, hence the same
    refitted weight; summing the weights of copies per original subject gives the row of the
    (n_boot x n_group) weight matrix used by the vectorised KM."""
    out = {lv: np.zeros((n_boot, len(pos))) for lv, pos in order.items()}
    for b in range(n_boot):
        picked = {lv: order[lv][draws[lv][b]] for lv in order}
        rows = np.concatenate(list(picked.values()))
        w_b = np.asarray(refit(data.iloc[rows].reset_index(drop=True)), dtype=float)
        if w_b.shape != (len(rows),) or not np.isfinite(w_b).all() or (w_b < 0).any():
            raise ValueError(f"refit returned invalid weights in bootstrap replicate {b}")
        start = 0
        for lv, pos in order.items():
            k = len(pos)
            out[lv][b] = np.bincount(draws[lv][b], weights=w_b[start:start + k], minlength=k)
            start += k
    return out


# ------------------------------------------------------------------------------------------------
# weighted Cox model
# ------------------------------------------------------------------------------------------------

def weighted_cox(data: pd.DataFrame, by: str, weights, robust: bool = True, reference=None,
                 time: str = "AVAL", cnsr: str = "CNSR", conf_level: float = 0.95) -> pd.DataFrame:
    """Hazard ratio(s) of ``by`` from a Cox model with case weights (e.g. IPTW).

    Method: weighted Cox partial likelihood with Efron ties; with ``robust`` the Lin & Wei
    (1989, JASA 84:1074) sandwich variance, which treats the weights as sampling weights (the
    usual choice for IPTW, Austin 2016, Stat Med 35:5642), as R ``coxph(Surv(AVAL, 1 - CNSR) ~
    by, weights = w, robust = TRUE)``. A thin wrapper on ``analysis.stats.survival.cox`` (the
    project's NumPy Cox, itself checked against coxph). ``weights``: a column name or values
    aligned with ``data``. ``by`` is dummy-coded against ``reference`` (default: first sorted
    level).
    Returns term, coef, hr, lcl, ucl, se, z, p, robust, n, n_event, method.
    """
    from analysis.stats.survival import cox

    *_, levels, w = _survival_input(data, by, weights, time, cnsr)
    if len(levels) < 2:
        raise ValueError(f"column {by!r}: need at least two groups")
    weight_col = "__case_weight__"
    frame = data.assign(**{weight_col: w})
    fit = cox(frame, by, ties="efron", reference=reference, weights=weight_col, robust=robust,
              time=time, cnsr=cnsr, conf_level=conf_level)
    return fit[["term", "coef", "hr", "lcl", "ucl", "se", "z", "p", "n", "n_event", "method"]] \
        .assign(robust=robust)
