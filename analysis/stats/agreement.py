"""Agreement of two binary (or categorical) ratings of the same units: Cohen's kappa.

Generic: two columns of a data frame (or two arrays) with the same categories.

cohen_kappa(a, b, conf_level=0.95) -> n, observed agreement, kappa, its asymptotic SE and Wald CI
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from analysis.stats._surv_data import check_conf_level

__all__ = ["cohen_kappa"]


def cohen_kappa(a, b, conf_level: float = 0.95) -> dict[str, float]:
    """Cohen's (1960) unweighted kappa of paired ratings ``a`` and ``b`` (missing pairs dropped).

    kappa = (p_o - p_e) / (1 - p_e); asymptotic SE of Fleiss, Cohen & Everitt (1969, Psychol Bull
    72:323), the one statsmodels' ``cohens_kappa`` reports as std_kappa; Wald limits kappa -/+ z SE
    (clipped to [-1, 1]). Returns n, n_agree, p_observed, p_expected, kappa, se, lcl, ucl."""
    conf_level = check_conf_level(conf_level)
    pairs = pd.DataFrame({"a": pd.Series(a).to_numpy(), "b": pd.Series(b).to_numpy()}).dropna()
    n = len(pairs)
    if n == 0:
        raise ValueError("cohen_kappa: no complete pair of ratings")
    cats = sorted(set(pairs["a"]) | set(pairs["b"]), key=str)
    table = pd.crosstab(pd.Categorical(pairs["a"], cats), pd.Categorical(pairs["b"], cats), dropna=False)
    p = table.to_numpy(float) / n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    po, pe = float(np.trace(p)), float(rows @ cols)
    if pe >= 1:
        nan = float("nan")
        return {"n": n, "n_agree": round(po * n), "p_observed": po, "p_expected": pe, "kappa": nan,
                "se": nan, "lcl": nan, "ucl": nan}
    kappa = (po - pe) / (1 - pe)
    diag = sum(p[i, i] * (1 - (rows[i] + cols[i]) * (1 - kappa)) ** 2 for i in range(len(cats)))
    off = (1 - kappa) ** 2 * sum(p[i, j] * (cols[i] + rows[j]) ** 2
                                 for i in range(len(cats)) for j in range(len(cats)) if i != j)
    var = (diag + off - (kappa - pe * (1 - kappa)) ** 2) / ((1 - pe) ** 2 * n)
    se = float(np.sqrt(max(var, 0.0)))
    z = norm.ppf(0.5 + conf_level / 2)
    return {"n": n, "n_agree": round(po * n), "p_observed": po, "p_expected": pe, "kappa": float(kappa),
            "se": se, "lcl": float(max(-1.0, kappa - z * se)), "ucl": float(min(1.0, kappa + z * se))}
