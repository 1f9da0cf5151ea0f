"""ARD views: rows of the analysis results dataset (``analysis.ard``) reshaped into the input
frames of ``analysis.present.layouts`` and the report tables. They select and rename, never
compute a statistic; a hierarchy is read from its columns (group2 / group2_level), and so is
the reference level of a comparison (group2 ``REFERENCE``): never parsed out of a string. Also the one loader of a report section's inputs (``load_section_inputs``).

One display rule lives here: a Kaplan-Meier rate read beyond a group's longest follow-up is not
estimable (``not_estimable_beyond_follow_up``, SAP 3.1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import ard as A
from analysis import conventions as C
from analysis.stats import survival


def ard_stat(ard: pd.DataFrame, **keys) -> float:
    """The one ARD stat matching ``keys`` (``analysis.ard`` columns: context=..., param=...,
    group1_level=..., variable_level=..., stat_name=...), NaN when absent (an analysis not run
    for this cut)."""
    values = A.stat_values(ard, **keys)
    if len(values) > 1:
        raise KeyError(f"ARD lookup {keys}: {len(values)} rows")
    return float(values[0]) if len(values) else float("nan")


# ARD column -> display-input column (group2_level: a comparison's reference level)
WIDE_NAMES = {"group1_level": "group", "group2_level": "reference", "variable_level": "level"}


def ard_rows(ard: pd.DataFrame, analysis: str, param: str | None = None, required: bool = True) -> pd.DataFrame:
    """The ARD rows of one context (and param), wide: one row per (group, variable, level) --
    the ARD's group1_level, variable, variable_level -- one column per stat_name. An empty
    selection is an error unless ``required`` is False."""
    sel = ard[ard["context"] == analysis]
    if param is not None:
        sel = sel[sel["param"] == param]
    if sel.empty:
        if required:
            raise KeyError(f"ARD has no rows for context={analysis!r}" + (f", param={param!r}" if param else ""))
        return pd.DataFrame(columns=["group", "reference", "variable", "level"])
    wide = sel.pivot_table(index=["group1_level", "group2_level", "variable", "variable_level"], columns="stat_name",
                           values="stat",
                           aggfunc="first", sort=False, dropna=False)
    return wide.reset_index().rename_axis(columns=None).rename(columns=WIDE_NAMES)


def _method(methods: Mapping[str, str] | None, analysis: str, default: str) -> str:
    return (methods or {}).get(analysis, default)


def _relabel(values: pd.Series, labels: Mapping[str, str] | None) -> pd.Series:
    """Group names for display (``labels``: ARD level -> display name)."""
    if not labels:
        return values.astype(str)
    return values.astype(str).map(lambda g: labels.get(g, g))


def versus(compared: pd.Series, reference: pd.Series) -> pd.Series:
    """Display name of a comparison from its two level columns: "compared vs reference"."""
    return compared.astype(str) + " vs " + reference.astype(str)


FOOTNOTE_BEYOND_FOLLOW_UP = ("A Kaplan-Meier rate at a time beyond a group's longest follow-up (nobody at "
                             "risk, curve not at 0), and a difference involving it, is not estimable (NE).")


def not_estimable_beyond_follow_up(km: pd.DataFrame) -> pd.Series:
    """ARD km rows (wide: n_risk, surv) read after the group's longest follow-up
    (``analysis.stats.survival.beyond_follow_up``, SAP 3.1): a table must not print them as the
    rate at that time."""
    return survival.beyond_follow_up(km)


def survival_summary_inputs(ard: pd.DataFrame, param: str, by: str = "COHORT",
                            methods: Mapping[str, str] | None = None,
                            group_labels: Mapping[str, str] | None = None) -> dict[str, pd.DataFrame | None]:
    """Keyword arguments of ``layouts.format_survival_summary`` from the ARD rows km, km_median,
    km_n, km_diff, cox and logrank of ``param`` (those of ``analysis.analyze.sap.km_analyses``).
    Groups are the ARD groups (renamed by ``group_labels``); the comparison rows are present only
    when the ARD has them. ``methods``: analysis -> method text (ard_methods.csv), put in each
    frame's ``method``. Rates beyond a group's follow-up, and differences using them, are NaN
    ("NE"; :func:`not_estimable_beyond_follow_up`, FOOTNOTE_BEYOND_FOLLOW_UP)."""
    ard = ard.assign(group1_level=_relabel(ard["group1_level"], group_labels),
                     group2_level=_relabel(ard["group2_level"], group_labels))
    km = ard_rows(ard, "km", param)
    beyond = not_estimable_beyond_follow_up(km)
    km.loc[beyond, ["surv", "lcl", "ucl"]] = np.nan
    estimates = pd.DataFrame({by: km["group"], "time": km["level"].astype(float), "n_risk": km["n_risk"],
                              "surv": km["surv"], "lcl": km["lcl"], "ucl": km["ucl"],
                              "conf_type": C.KM_CONF_TYPE, "conf_level": C.CONF_LEVEL,
                              "method": _method(methods, "km", "Kaplan-Meier")})
    med = ard_rows(ard, "km_median", param)
    quantiles = pd.DataFrame({by: med["group"], "prob": 0.5, "quantile": med["median"], "lcl": med["lcl"],
                              "ucl": med["ucl"], "conf_type": C.KM_CONF_TYPE, "conf_level": C.CONF_LEVEL,
                              "method": _method(methods, "km_median", "Kaplan-Meier")})
    n = ard_rows(ard, "km_n", param)
    counts = pd.DataFrame({by: n["group"], "n": n["n"], "events": n["n_event"]})
    out = {"quantiles": quantiles, "estimates": estimates, "counts": counts, "by": by,
           "difference": None, "cox": None, "logrank": None}
    diff = ard_rows(ard, "km_diff", param, required=False)
    if len(diff):
        out["difference"] = pd.DataFrame({by: diff["group"], "reference": diff["reference"],
                                          "time": diff["level"].astype(float), "diff": diff["diff"], "lcl": diff["lcl"], "ucl": diff["ucl"],
                                          "method": _method(methods, "km_diff", "Wald")})
        unknown_at = set(km.loc[beyond, "level"])
        out["difference"].loc[diff["level"].isin(unknown_at).to_numpy(), ["diff", "lcl", "ucl"]] = np.nan
    cox = ard_rows(ard, "cox", param, required=False)
    if len(cox):
        out["cox"] = pd.DataFrame({"term": versus(cox["group"], cox["reference"]), "hr": cox["hr"], "lcl": cox["lcl"], "ucl": cox["ucl"],
                                   "p": cox["p"], "method": _method(methods, "cox", "Cox")})
    lr = ard_rows(ard, "logrank", param, required=False)
    if len(lr):
        out["logrank"] = pd.DataFrame({"p": lr["p"], "chisq": lr["chisq"],
                                       "method": _method(methods, "logrank", "log-rank test")})
    return out


def survival_summary_inputs_by_param(ard: pd.DataFrame, params: Mapping[str, str], by: str = "Method",
                                     methods: Mapping[str, str] | None = None) -> dict[str, pd.DataFrame | None]:
    """As :func:`survival_summary_inputs` for several single-group parameters side by side (e.g.
    MRD duration by FC and by NGS): one column per param, named ``params[param]``; no
    comparison rows."""
    parts = [survival_summary_inputs(ard, p, by=by, methods=methods) for p in params]
    out = {"by": by, "difference": None, "cox": None, "logrank": None}
    for name in ("quantiles", "estimates", "counts"):
        frames = []
        for p, part in zip(params, parts):
            frame = part[name].copy()
            if frame[by].nunique() != 1:
                raise ValueError(f"survival_summary_inputs_by_param: {p} has {frame[by].nunique()} groups, expected 1")
            frame[by] = params[p]
            frames.append(frame)
        out[name] = pd.concat(frames, ignore_index=True)
    return out


def mrd_rate_frame(ard: pd.DataFrame, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Input of ``layouts.format_rates`` from the ARD mrd_rate rows: label (``labels[param]`` or
    the param), group, x, n, rate, lcl, ucl, method (conventions.BINOMIAL_CI), conf_level."""
    params = ard[ard["context"] == "mrd_rate"]["param"].drop_duplicates().tolist()
    parts = []
    for p in params:
        w = ard_rows(ard, "mrd_rate", p)
        parts.append(pd.DataFrame({"label": (labels or {}).get(p, p), "group": w["group"], "x": w["x"], "n": w["n"],
                                   "rate": w["rate"], "lcl": w["lcl"], "ucl": w["ucl"],
                                   "method": C.BINOMIAL_CI, "conf_level": C.CONF_LEVEL}))
    return pd.concat(parts, ignore_index=True)


def table1_frame(ard: pd.DataFrame, variables: Mapping[str, tuple[str, bool]], nonnormal: Sequence[str] = (),
                 group_labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Input of ``layouts.format_table1`` from the ARD table1 rows: adds label and var_type from
    ``variables`` (variable -> (label, categorical), as ``analysis.analyze.sap.TABLE1_VARIABLES``)
    and renames groups with ``group_labels`` (also the reference group of the SMD rows)."""
    t = ard[ard["context"] == "table1"][["variable", "variable_level", "group1_level", "group2_level", "stat_name",
                                         "stat"]]
    t = t.rename(columns=WIDE_NAMES)
    if t.empty:
        raise KeyError("ARD has no rows for context='table1'")
    unknown = sorted(set(t["variable"]) - set(variables) - {"N"})
    if unknown:
        raise ValueError(f"table1_frame: ARD variables {unknown} have no label")
    t["label"] = t["variable"].map(lambda v: variables[v][0] if v in variables else v)
    t["var_type"] = t["variable"].map(lambda v: "count" if v == "N" else "categorical" if variables[v][1]
                                      else "continuous_nonnormal" if v in nonnormal else "continuous")
    if group_labels:
        t["group"] = _relabel(t["group"], group_labels)
        t["reference"] = _relabel(t["reference"], group_labels)
    return t.reset_index(drop=True)


# ------------------------------------------------------------------------------------------------
# loading the inputs of a report section (derived data and results of one cut, never raw)
# ------------------------------------------------------------------------------------------------

@dataclass
class SectionInputs:
    cut: str
    root: object
    ard: pd.DataFrame
    methods: pd.DataFrame
    derived: dict


def load_section_inputs(cut: str | None, root=None, datasets: Sequence[str] = ("adsl", "adtte", "adae")) -> SectionInputs:
    """The cut (latest when None), its ARD and ard_methods.csv, and the derived datasets named:
    the one way every report section loads its inputs (derived data and results, never raw)."""
    from analysis import paths

    root = Path(root) if root else None
    cut = cut or paths.latest_cut(root)
    report = paths.report_dir(cut, root)
    if not (report / A.ARD_CSV).exists():
        raise FileNotFoundError(f"{report / A.ARD_CSV} missing: run `python -m analysis analyze --cut {cut}`")
    folder = paths.derived_dir(cut, root)
    derived = {d: pd.read_parquet(folder / f"{d}.parquet") for d in datasets}
    return SectionInputs(cut=cut, root=root, ard=A.read(report / A.ARD_CSV),
                         methods=A.read_methods(report / A.ARD_METHODS), derived=derived)


# ------------------------------------------------------------------------------------------------
# adverse events: ARD rows as the tidy frames of analysis.present.layouts
# ------------------------------------------------------------------------------------------------

_AE_STAT = {"n_subj": "n", "n_events": "events", "pct": "pct", "N": "N"}
_AE_SECTION = {"ANY": "overall", "AEBODSYS": "soc", "AEDECOD": "term"}   # variable -> layouts section
PHASE_ORDER = ("CAR-T1", "MOBILIZATION", "AUTO-HSCT", "CAR-T2")


def ae_table_frame(ard: pd.DataFrame, context: str = "ae", overview: str = "ae_overview") -> pd.DataFrame:
    """The ``context`` ARD rows (plus N from the ``overview`` rows) as the frame ``format_ae_table``
    takes: section, soc, term, grade, group, stat_name, stat. A term's SOC is its group2_level."""
    sel = ard[ard["context"] == context]
    if sel.empty:
        raise ValueError(f"the ARD has no {context!r} rows")
    section = sel["variable"].map(_AE_SECTION)
    tidy = pd.DataFrame({"section": section, "soc": sel["variable_level"].where(section == "soc", sel["group2_level"]),
                         "term": sel["variable_level"].where(section == "term", ""),
                         "grade": sel["group3_level"].where(sel["group3"] != "", "any"),   # the grade scope
                         "group": sel["group1_level"],
                         "stat_name": sel["stat_name"].map(_AE_STAT), "stat": sel["stat"]})
    n = ard[(ard["context"] == overview) & (ard["stat_name"] == "N")]
    pop = pd.DataFrame({"section": "population", "soc": "", "term": "", "grade": "", "group": n["group1_level"],
                        "stat_name": "n", "stat": n["stat"]})
    return pd.concat([pop, tidy], ignore_index=True)


def ae_overview_frame(ard: pd.DataFrame, analysis: str, variable: str | None = None,
                      order: Sequence[str] | None = None) -> pd.DataFrame:
    """``ae_overview`` / ``ae_by`` ARD rows as the frame ``format_ae_overview`` takes
    (variable_level -> category, n_subj -> n, n_events -> events; the N row kept), categories
    in ``order`` first."""
    sel = ard[ard["context"] == analysis]
    if variable is not None:
        sel = sel[sel["variable"] == variable]
    if sel.empty:
        raise ValueError(f"the ARD has no {analysis!r} rows" + (f" for {variable}" if variable else ""))
    out = pd.DataFrame({"category": sel["variable_level"].to_numpy(), "group": sel["group1_level"].to_numpy(),
                        "stat_name": sel["stat_name"].map(_AE_STAT).to_numpy(), "stat": sel["stat"].to_numpy()})
    if order:
        rank = {c: i for i, c in enumerate(order)}
        out = out.iloc[np.argsort([rank.get(c, len(rank)) for c in out["category"]], kind="stable")]
    return out.reset_index(drop=True)
