"""Cox proportional-hazards regression, vectorised over sorted event times (matches R coxph).

Partial likelihood with Efron or Breslow handling of tied event times, case weights and delayed
entry (counting-process risk sets start < t <= stop), maximised by Newton-Raphson with step
halving from beta = 0 as R's coxph (Therneau & Grambsch 2000, ch. 3; coxph's C routine
coxfit6/agfit4):

    Efron, at an event time with d deaths (count), death weight sum W, and r = 0..d-1:
    denom_r = S0 - (r/d) E0,  a_r = (S1 - (r/d) E1) / denom_r,
    loglik += sum_deaths w x'beta - (W/d) sum_r log denom_r,
    U      += sum_deaths w x - (W/d) sum_r a_r,
    I      += (W/d) sum_r [(S2 - (r/d) E2) / denom_r - a_r a_r'],

with S0, S1, S2 the weighted risk-set sums of exp(x'beta) (times x, x x') and E0, E1, E2 the same
over the tied deaths; Breslow is r/d = 0. The risk-set sums are reverse cumulative sums over the
data sorted once by time, so an iteration costs O(n p^2) with no per-subject Python loop.

robust=True gives the Lin & Wei (1989) sandwich V (sum_c D_c D_c') V, where D_c is the summed
weighted score residual of cluster c (each row its own cluster by default), as coxph(robust =
TRUE) / cluster().
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm

from analysis.stats._surv_data import (check_choice, check_conf_level, group_codes, numeric_column, require_groups,
                                      surv_data)

TIES = ("efron", "breslow")


def _column_bincount(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Sums of ``values`` (1-D, or 2-D column by column) by integer ``index``."""
    if values.ndim == 1:
        return np.bincount(index, weights=values, minlength=size)
    return np.stack([np.bincount(index, weights=values[:, j], minlength=size) for j in range(values.shape[1])], 1)


@dataclass(frozen=True)
class _TimeBins:
    """Rows binned by an integer (stratum, time) key: the sum over rows of the same stratum with
    key >= an event key is a reverse cumulative sum over the distinct keys read at ``pos`` minus
    the same read at ``end`` (the first key of the next stratum)."""

    index: np.ndarray
    size: int
    pos: np.ndarray
    end: np.ndarray

    @classmethod
    def of(cls, keys: np.ndarray, event_keys: np.ndarray, stratum_width: int, n_keys: int) -> "_TimeBins":
        next_stratum = (event_keys // stratum_width + 1) * stratum_width
        if n_keys <= 4 * len(keys) + 1024:  # keys are small integers: bin them directly, no sort
            return cls(keys, n_keys, event_keys, next_stratum)
        distinct, index = np.unique(keys, return_inverse=True)
        return cls(index, len(distinct), np.searchsorted(distinct, event_keys, side="left"),
                   np.searchsorted(distinct, next_stratum, side="left"))

    def tail_sums(self, values: np.ndarray) -> np.ndarray:
        binned = _column_bincount(self.index, values, self.size)
        tail = np.cumsum(binned[::-1], axis=0)[::-1]
        tail = np.concatenate([tail, np.zeros((1,) + tail.shape[1:])], axis=0)
        return tail[self.pos] - tail[self.end]


@dataclass(frozen=True)
class _RiskSets:
    """Index structures fixed across iterations: time bins, event keys, tied-death slots.

    Times are replaced by integer keys stratum * width + rank + 1 (rank among all distinct times,
    0 meaning "before any time"), so that one sorted pass serves every stratum.
    """

    stop_bins: _TimeBins
    start_bins: _TimeBins | None
    stop_key: np.ndarray          # key of each row's exit time
    start_key: np.ndarray         # key of each row's entry time (stratum origin when no entry)
    death_rows: np.ndarray        # rows with an event
    death_time: np.ndarray        # event-key index k of each death row
    n_dead: np.ndarray            # deaths (count) at event key k
    dead_weight: np.ndarray       # weighted deaths at event key k
    slot_time: np.ndarray         # event-key index of each Efron slot
    slot_frac: np.ndarray         # r / d of each slot (0 for Breslow)
    event_keys: np.ndarray


def _risk_sets(stop, event, weight, start, ties, strata: np.ndarray | None = None) -> _RiskSets:
    stratum = np.zeros(len(stop), dtype=np.int64) if strata is None else strata.astype(np.int64)
    distinct, rank = np.unique(stop if start is None else np.concatenate([stop, start]), return_inverse=True)
    width = len(distinct) + 1
    n_keys = (int(stratum.max()) + 1) * width
    stop_key = stratum * width + rank[:len(stop)] + 1
    start_key = stratum * width if start is None else stratum * width + rank[len(stop):] + 1
    death_rows = np.flatnonzero(event > 0)
    event_keys, death_time = np.unique(stop_key[death_rows], return_inverse=True)
    size = len(event_keys)
    n_dead = np.bincount(death_time, minlength=size)
    dead_weight = np.bincount(death_time, weights=weight[death_rows], minlength=size)
    slot_time = np.repeat(np.arange(size), n_dead)
    first_slot = np.concatenate([[0], np.cumsum(n_dead)[:-1]])
    rank = np.arange(len(slot_time)) - first_slot[slot_time]
    slot_frac = rank / n_dead[slot_time] if ties == "efron" else np.zeros(len(slot_time))
    start_bins = None if start is None else _TimeBins.of(start_key, event_keys, width, n_keys)
    return _RiskSets(_TimeBins.of(stop_key, event_keys, width, n_keys), start_bins, stop_key, start_key, death_rows,
                     death_time, n_dead, dead_weight, slot_time, slot_frac, event_keys)


def _risk_set_sums(values: np.ndarray, rs: _RiskSets) -> np.ndarray:
    """Sums over the risk set {start < t_k <= stop, same stratum} at each event time t_k."""
    total = rs.stop_bins.tail_sums(values)
    if rs.start_bins is not None:
        total = total - rs.start_bins.tail_sums(values)
    return total


def _death_sums(values: np.ndarray, rs: _RiskSets) -> np.ndarray:
    return _column_bincount(rs.death_time, values[rs.death_rows], len(rs.event_keys))


def _outer_columns(x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Rows r_i x_i x_i' flattened to n x p^2 (p is small: this is the Cox information kernel)."""
    n, p = x.shape
    return (r[:, None, None] * x[:, :, None] * x[:, None, :]).reshape(n, p * p)


@dataclass(frozen=True)
class _Pieces:
    loglik: float
    score: np.ndarray
    information: np.ndarray
    denom: np.ndarray
    xbar: np.ndarray
    risk: np.ndarray


def _partial_likelihood(beta: np.ndarray, x: np.ndarray, weight: np.ndarray, rs: _RiskSets,
                        need_information: bool = True) -> _Pieces:
    eta = np.einsum("ij,j->i", x, beta)
    risk = np.exp(eta)
    r = weight * risk
    p = x.shape[1]
    s0 = _risk_set_sums(r, rs)[rs.slot_time]
    s1 = _risk_set_sums(r[:, None] * x, rs)[rs.slot_time]
    e0 = _death_sums(r, rs)[rs.slot_time]
    e1 = _death_sums(r[:, None] * x, rs)[rs.slot_time]
    frac = rs.slot_frac
    denom = s0 - frac * e0
    xbar = (s1 - frac[:, None] * e1) / denom[:, None]
    mean_weight = (rs.dead_weight / rs.n_dead)[rs.slot_time]
    dw = weight[rs.death_rows]
    # einsum, not @: on long vectors BLAS threads contend on a shared machine and are 10-100x slower
    loglik = float(np.einsum("i,i->", dw, eta[rs.death_rows]) - np.einsum("k,k->", mean_weight, np.log(denom)))
    score = np.einsum("i,ij->j", dw, x[rs.death_rows]) - np.einsum("k,kj->j", mean_weight, xbar)
    information = np.zeros((p, p))
    if need_information:
        outer = _outer_columns(x, r)
        s2 = _risk_set_sums(outer, rs)[rs.slot_time]
        e2 = _death_sums(outer, rs)[rs.slot_time]
        second = (s2 - frac[:, None] * e2) / denom[:, None]
        information = (np.einsum("k,kj->j", mean_weight, second).reshape(p, p)
                       - np.einsum("k,ki,kj->ij", mean_weight, xbar, xbar))
    return _Pieces(loglik, score, information, denom, xbar, risk)


CHOLESKY_TOLERANCE = np.finfo(float).eps ** 0.75  # coxph.control(toler.chol)
INFINITE_TOLERANCE = np.sqrt(1e-9)                 # coxph.control(toler.inf) = sqrt(eps)


def _singular_columns(matrix: np.ndarray, toler: float = CHOLESKY_TOLERANCE) -> np.ndarray:
    """Columns R's cholesky2 declares singular: a Cholesky pass in column order (no pivoting) in
    which a column whose remaining pivot is below toler * (largest diagonal) is set aside. For
    collinear terms the later one is flagged, as coxph (and lm) set the later one to NA."""
    a = np.array(matrix, dtype=float)
    largest = float(np.max(np.diag(a), initial=0.0))
    eps = toler * largest if largest > 0 else toler
    singular = np.zeros(len(a), dtype=bool)
    for i in range(len(a)):
        pivot = a[i, i]
        if not np.isfinite(pivot) or pivot < eps:
            singular[i] = True
            continue
        column = a[i + 1:, i].copy()
        a[i + 1:, i + 1:] -= np.outer(column, column) / pivot
    return singular


def _solve_nonsingular(matrix: np.ndarray, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """matrix^-1 vector on the non-singular columns, 0 on the singular ones (coxph's chsolve2)."""
    singular = _singular_columns(matrix)
    out = np.zeros(len(vector))
    keep = ~singular
    if keep.any():
        out[keep] = np.linalg.solve(matrix[np.ix_(keep, keep)], vector[keep])
    return out, singular


@dataclass(frozen=True)
class _Fit:
    beta: np.ndarray
    initial: _Pieces
    final: _Pieces
    iterations: int
    infinite: np.ndarray  # coefficients that "may be infinite" (monotone likelihood), R's rule


def _collapsed(initial: _Pieces, final: _Pieces) -> np.ndarray:
    """Terms whose information at the estimate is below 1e-3 of that at beta = 0: the risk sets have
    become deterministic in them, i.e. the estimate ran off towards infinity; in double precision
    the score can then be exactly 0 (a false convergence) at a large finite value. (1e-3, not smaller:
    the information of a diverging term is computed with cancellation and may stall near 1e-4.)"""
    return np.diag(final.information) < 1e-3 * np.diag(initial.information)


def _newton_raphson(x, weight, rs, max_iter: int = 50, eps: float = 1e-12) -> _Fit:
    """Maximise the partial likelihood from beta = 0 (R coxph's start) with step halving.

    Converged when the log-likelihood changes by <= eps (relative) and the step is < 1e-9. A
    monotone likelihood (an infinite estimate: a covariate that orders the events perfectly) shows
    as a log-likelihood that stops changing while the step does not shrink (or the information of a
    term vanishes): after three such iterations we stop, as coxph does when its loglik converges, and
    flag the terms whose last step exceeds toler.inf * |coef| (coxph's "coefficient may be infinite").
    """
    beta = np.zeros(x.shape[1])
    initial = current = _partial_likelihood(beta, x, weight, rs)
    flat = 0
    vanished = np.zeros(len(beta), dtype=bool)
    for iteration in range(1, max_iter + 1):
        step, singular = _solve_nonsingular(current.information, current.score)
        newton_step = step
        vanished |= singular
        candidate = _partial_likelihood(beta + step, x, weight, rs)
        halvings = 0
        while (not np.isfinite(candidate.loglik) or candidate.loglik < current.loglik - 1e-12 * abs(current.loglik)) \
                and halvings < 30:
            step = step / 2
            candidate = _partial_likelihood(beta + step, x, weight, rs)
            halvings += 1
        beta = beta + step
        loglik_flat = abs(candidate.loglik - current.loglik) <= eps * max(1.0, abs(current.loglik))
        current = candidate
        stalled = halvings == 30  # no step improves the likelihood in double precision: flat, not converged
        if loglik_flat and np.max(np.abs(step)) < 1e-9 and not vanished.any() and not stalled:
            return _Fit(beta, initial, current, iteration, _collapsed(initial, current))
        flat = flat + 1 if loglik_flat else 0
        if flat >= 3 or (loglik_flat and vanished.any()):
            infinite = vanished | _collapsed(initial, current) | \
                ((np.abs(newton_step) > 1e-9) & (np.abs(newton_step) > INFINITE_TOLERANCE * np.abs(beta)))
            return _Fit(beta, initial, current, iteration, infinite)
    raise RuntimeError(f"Cox model did not converge in {max_iter} Newton-Raphson iterations "
                       f"(coefficients {beta})")


def _score_residuals(x, pieces: _Pieces, rs: _RiskSets) -> np.ndarray:
    """Score residuals L_i (Therneau & Grambsch 2000, 4.6), with the Efron weighting of tied deaths.

    L_i = delta_i (x_i - mean over slots of xbar) - exp(eta_i) sum_{slots at risk} lambda (x_i - xbar),
    where lambda = (W/d) / denom per slot and a death takes part in slot r with weight (1 - r/d).
    """
    size = len(rs.event_keys)
    mean_weight = (rs.dead_weight / rs.n_dead)[rs.slot_time]
    lam = mean_weight / pieces.denom
    frac = rs.slot_frac
    per_time = lambda v: _column_bincount(rs.slot_time, v, size)  # noqa: E731
    h_full = per_time(lam)
    g_full = per_time(lam[:, None] * pieces.xbar)
    h_own = per_time((1 - frac) * lam)
    g_own = per_time(((1 - frac) * lam)[:, None] * pieces.xbar)
    xbar_death = per_time(pieces.xbar) / rs.n_dead[:, None]
    h_cum = np.concatenate([[0.0], np.cumsum(h_full)])
    g_cum = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(g_full, axis=0)])
    # event keys in (entry, exit] of each row: the same stratum by construction of the keys
    upto_stop = np.searchsorted(rs.event_keys, rs.stop_key, side="right")
    upto_start = np.searchsorted(rs.event_keys, rs.start_key, side="right")
    risk = pieces.risk[:, None]
    resid = -risk * (x * (h_cum[upto_stop] - h_cum[upto_start])[:, None] - (g_cum[upto_stop] - g_cum[upto_start]))
    k = rs.death_time
    rows = rs.death_rows
    xd = x[rows]
    resid[rows] += xd - xbar_death[k]
    resid[rows] += risk[rows] * (xd * (h_full[k] - h_own[k])[:, None] - (g_full[k] - g_own[k]))
    return resid


def _design(adtte: pd.DataFrame, by: str | None, reference, covariates) -> tuple[np.ndarray, list[str], list[str]]:
    """Treatment dummies (levels other than the reference, as R's contr.treatment) + numeric covariates."""
    columns, names, variables = [], [], []
    if by is not None:
        codes, levels = group_codes(adtte, by)
        require_groups(levels, by, "a hazard ratio")
        if reference is None:
            reference = levels[0]
        if reference not in levels:
            raise ValueError(f"reference {reference!r} is not a value of column {by!r}: {levels}")
        for code, level in enumerate(levels):
            if level != reference:
                columns.append((codes == code).astype(float))
                names.append(f"{by}={level} vs {reference}")
                variables.append(by)
    for covariate in covariates or []:
        columns.append(numeric_column(adtte, covariate, "Cox covariate"))
        names.append(covariate)
        variables.append(covariate)
    if not columns:
        raise ValueError("cox needs a grouping column `by` or at least one covariate")
    return np.column_stack(columns), names, variables


def _require_events_in_every_group(adtte: pd.DataFrame, by: str | None, weighted_events: np.ndarray) -> None:
    """A group without events makes the partial likelihood monotone: the hazard ratio is infinite
    (R's coxph warns and returns a huge coefficient). We refuse with the group named instead."""
    if by is None:
        return
    codes, levels = group_codes(adtte, by)
    events = np.bincount(codes, weights=weighted_events, minlength=len(levels))
    empty = [level for level, count in zip(levels, events) if count == 0]
    if empty:
        raise ValueError(f"column {by!r}: group(s) {empty} have no events, so the Cox hazard ratio is not "
                         f"estimable (monotone likelihood); report the Kaplan-Meier estimates and log-rank test instead")


def _test_row(statistic: float, df: int) -> tuple[float, float]:
    return float(statistic), float(chi2.sf(statistic, df))


def _use_robust(robust: bool | None, data, cluster: str | None, entry: str | None) -> bool:
    """coxph's rule: robust unless told otherwise when there is a cluster or any non-integer case
    weight (has.rwt); an explicit robust = TRUE on (start, stop] rows needs the cluster (R: "one of
    cluster or id is needed"), since each row is then not a subject."""
    if robust is None:
        return cluster is not None or bool(np.any(data.weight != np.floor(data.weight)))
    if robust and cluster is None and entry is not None:
        raise ValueError(f"robust variance on (start, stop] rows (entry column {entry!r}) needs a cluster column "
                         "naming the subject of each row (R coxph: 'one of cluster or id is needed')")
    if not robust and cluster is not None:
        raise ValueError(f"cluster={cluster!r} with robust=False: a cluster only changes the robust variance "
                         "(R coxph ignores it with a warning); drop one of them")
    return bool(robust)


def _estimable_terms(x: np.ndarray, weight, rs: _RiskSets, names: list[str]) -> np.ndarray:
    """Mask of the terms that can be estimated; aliased ones (collinear with earlier terms, or
    constant within the risk sets) are dropped with a warning naming them, and get NaN as coxph's NA."""
    information = _partial_likelihood(np.zeros(x.shape[1]), x, weight, rs).information
    # cholesky2's test is relative to the largest diagonal; a term with no variation within any risk
    # set (e.g. constant within strata) has an information that is rounding noise in absolute terms:
    # compare it with the term's own (weighted, centred) sum of squares too
    sum_of_squares = np.einsum("i,ij->j", weight, x * x)
    aliased = _singular_columns(information) | (np.diag(information) <= 1e-10 * sum_of_squares)
    dropped = [name for name, flag in zip(names, aliased) if flag]
    if aliased.all():
        raise ValueError(f"no term of the Cox model is estimable: {dropped} do not vary within the risk sets "
                         "(a constant covariate, a single subject, or no one else at risk at the event times)")
    if dropped:
        warnings.warn(f"Cox model: term(s) {dropped} are constant or a linear combination of earlier terms "
                      "(aliased); their coefficients are NaN, as R coxph's NA", RuntimeWarning, stacklevel=3)
    return ~aliased


def _robust_variance(x, weight, rs, fit: _Fit, variance, cluster_codes) -> tuple[np.ndarray, tuple[float, float]]:
    """Lin-Wei sandwich D'D with D = dfbeta (weighted score residuals summed by cluster, times V), and
    the robust score test at beta = 0, u' (T0'T0)^-1 u with T0 the residuals there (coxph's rscore)."""
    def summed_residuals(pieces: _Pieces) -> np.ndarray:
        resid = _score_residuals(x, pieces, rs) * weight[:, None]
        return resid if cluster_codes is None else _column_bincount(cluster_codes, resid, cluster_codes.max() + 1)

    dfbeta = np.einsum("ij,jk->ik", summed_residuals(fit.final), variance)
    start_resid = summed_residuals(fit.initial)
    u0 = start_resid.sum(axis=0)
    # generalised inverse as coxph.wtest (cholesky2): T0'T0 is singular when the residuals are all 0
    solved, singular = _solve_nonsingular(np.einsum("ki,kj->ij", start_resid, start_resid), u0)
    score = (np.nan, np.nan) if singular.all() else _test_row(u0 @ solved, x.shape[1])  # R: NA when all residuals are 0
    return np.einsum("ki,kj->ij", dfbeta, dfbeta), score


def _warn_infinite(fit: _Fit, names: list[str]) -> None:
    if fit.infinite.any():
        flagged = [name for name, flag in zip(names, fit.infinite) if flag]
        warnings.warn(f"Cox model: the log-likelihood converged before term(s) {flagged}; the coefficient may be "
                      "infinite (monotone likelihood: the covariate orders the events perfectly), as R coxph "
                      "warns; its estimate and SE are not usable", RuntimeWarning, stacklevel=3)


def _spread(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Values of the estimated terms back in the full term order, NaN for the aliased ones."""
    full = np.full(len(keep), np.nan)
    full[keep] = values
    return full


def cox(adtte: pd.DataFrame, by: str | None, ties: str = "efron", reference=None, covariates=None,
        weights: str | None = None, robust: bool | None = None, entry: str | None = None, *, time: str = "AVAL",
        cnsr: str = "CNSR", cluster: str | None = None, strata: str | None = None,
        conf_level: float = 0.95) -> pd.DataFrame:
    """Cox proportional-hazards model, as R's ``coxph(Surv([entry,] time, event) ~ by + covariates)``.

    ``by``: a grouping column entered as treatment contrasts against ``reference`` (default: the
    first sorted level, as R); ``covariates``: numeric columns; ``weights``: case weights
    (coxph(weights=)); ``entry``: delayed-entry time (counting-process form); ``strata``: a column
    whose levels get separate baseline hazards (coxph's strata()). ``robust``: the Lin-Wei sandwich
    variance; None (default) follows coxph: robust when ``cluster`` is given or any case weight is
    not an integer (has.rwt; each row its own cluster), model-based otherwise; True/False force it
    (robust on (start, stop] rows needs ``cluster``, as R).

    Degenerate designs follow coxph: a term that is constant or collinear with earlier terms is
    aliased (NaN, with a warning naming it); a term whose likelihood is monotone gets a warning that
    its coefficient may be infinite. A group of ``by`` without events is refused with the group named.

    One row per coefficient: term, variable, coef (log HR), hr, se (of log HR; robust SE when
    robust), naive_se (model-based), lcl, ucl (of the HR, Wald on the log scale), z, p, and the
    model tests repeated on each row: lr_chisq / lr_p (likelihood ratio), wald_chisq / wald_p
    (with the variance in use), score_chisq / score_p (score = log-rank test for one grouping
    column without ties), robust_score_chisq / robust_score_p (robust score test, coxph's rscore;
    NaN unless robust), df (estimated terms), loglik_null, loglik, n, n_event, iterations,
    may_be_infinite, ties, conf_level, method.
    """
    ties = check_choice(ties, TIES, "ties")
    conf_level = check_conf_level(conf_level)
    data = surv_data(adtte, time=time, cnsr=cnsr, weights=weights, entry=entry, splitting=(by, strata, *(covariates or [])))
    use_robust = _use_robust(robust, data, cluster, entry)
    x, names, variables = _design(adtte, by, reference, covariates)
    _require_events_in_every_group(adtte, by, data.event * data.weight)
    x = x - x.mean(axis=0)  # centring changes no estimate; it keeps exp(x'beta) in range (as coxph)
    strata_codes = None if strata is None else group_codes(adtte, strata, "strata")[0]
    rs = _risk_sets(data.stop, data.event, data.weight, data.start, ties, strata_codes)
    if len(rs.event_keys) == 0:
        raise ValueError(f"no events (column {cnsr!r} is 1 on every row): the Cox model cannot be fitted")
    keep = _estimable_terms(x, data.weight, rs, names)
    x = x[:, keep]
    fit = _newton_raphson(x, data.weight, rs)
    _warn_infinite(fit, [n for n, k in zip(names, keep) if k])
    variance = np.linalg.pinv(fit.final.information) if fit.infinite.any() else np.linalg.inv(fit.final.information)
    naive_se = np.sqrt(np.diag(variance))
    robust_score = (np.nan, np.nan)
    if use_robust:
        cluster_codes = None if cluster is None else group_codes(adtte, cluster, "cluster")[0]
        variance, robust_score = _robust_variance(x, data.weight, rs, fit, variance, cluster_codes)
    return _result(fit, variance, naive_se, robust_score, keep, names, variables, data, conf_level, ties,
                   _method(strata, ties, use_robust, cluster))


def _method(strata, ties, use_robust, cluster) -> str:
    variance_name = ("robust sandwich (Lin-Wei) variance" + (f", clustered on {cluster}" if cluster else "")
                     if use_robust else "model-based variance")
    return (f"Cox proportional hazards{f', stratified by {strata}' if strata else ''}, {ties.capitalize()} "
            f"ties, {variance_name}, Wald CI")


def _result(fit: _Fit, variance, naive_se, robust_score, keep, names, variables, data, conf_level, ties,
            method) -> pd.DataFrame:
    beta, initial, final = fit.beta, fit.initial, fit.final
    se = np.sqrt(np.diag(variance))
    z_crit = norm.ppf(1 - (1 - conf_level) / 2)
    df = len(beta)
    lr = _test_row(2 * (final.loglik - initial.loglik), df)
    wald = _test_row(beta @ np.linalg.lstsq(variance, beta, rcond=None)[0], df)
    score = _test_row(initial.score @ np.linalg.solve(initial.information, initial.score), df)
    coef, se_full = _spread(beta, keep), _spread(se, keep)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # an infinite estimate's limits
        return _frame(coef, se_full, z_crit, names, variables, naive_se, keep, lr, wald, score, robust_score, df,
                      fit, data, ties, conf_level, method)


def _frame(coef, se_full, z_crit, names, variables, naive_se, keep, lr, wald, score, robust_score, df, fit, data,
           ties, conf_level, method) -> pd.DataFrame:
    z = coef / se_full
    initial, final = fit.initial, fit.final
    return pd.DataFrame({
        "term": names, "variable": variables, "coef": coef, "hr": np.exp(coef), "se": se_full,
        "naive_se": _spread(naive_se, keep), "lcl": np.exp(coef - z_crit * se_full),
        "ucl": np.exp(coef + z_crit * se_full), "z": z, "p": 2 * norm.sf(np.abs(z)),
        "lr_chisq": lr[0], "lr_p": lr[1], "wald_chisq": wald[0], "wald_p": wald[1], "score_chisq": score[0],
        "score_p": score[1], "robust_score_chisq": robust_score[0], "robust_score_p": robust_score[1], "df": df,
        "loglik_null": initial.loglik, "loglik": final.loglik, "n": len(data.stop),
        "n_event": int(data.event.sum()), "iterations": fit.iterations,
        "may_be_infinite": _spread(fit.infinite.astype(float), keep) == 1.0, "ties": ties,
        "conf_level": conf_level, "method": method})
