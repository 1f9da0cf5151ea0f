"""Time-to-event parameters declared from event and censoring sources (admiral style).

A parameter is a :class:`TTEParam` naming its event sources (:class:`EventSource`) and censoring
sources (:class:`CensorSource`), as admiral's ``derive_param_tte(event_conditions=,
censor_conditions=)`` with ``event_source()`` / ``censor_source()``. Each source names a dataset
(a key of the ``sources`` dict), an optional row filter, the date column, and the values that
document the chosen record: EVNTDESC / CNSDTDSC, SRCDOM, SRCVAR, SRCSEQ.

Selection rule for each subject of the population (admiral ``derive_param_tte``, SAP 2.2):

1. Candidates dated after the data cut-off (DCUTDT) are never used as such: each becomes a
   censoring at DCUTDT ("DATA CUT-OFF"), because the subject was followed beyond the cut. So an
   event after the cut is not used, and follow-up past the cut is censored at the cut.
2. If the subject has an event, the EARLIEST event is chosen (ties: the source declared first).
   Events therefore beat censoring, including a censoring on the same date.
3. Otherwise the LATEST censoring date is chosen (ties: the source declared first).
4. AVAL = ADT - STARTDT + 1 days (``conventions.AVAL_ADD_ONE_DAY``, SAP 2.2); CNSR = 0 for an
   event, 1 for censoring; EVNTTYPE = the event source's type (competing risks), 0 if censored.

Events dated before the origin (STARTDT) contradict the data (e.g. a death before CAR-T1) and
raise ``BadDataError``; censoring candidates before the origin are ignored (a parameter declares a censoring at
its own origin as the last resort, so every subject has at least one candidate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from analysis import conventions
from analysis.derive.dates import DATE_DTYPE, days_between
from analysis.errors import BadDataError

POPULATION = "population"  # the dataset name under which the parameter's population is a source
CUTOFF_DESC = "DATA CUT-OFF"
OUTPUT_COLUMNS = ("USUBJID", "PARAMCD", "PARAM", "STARTDT", "ADT", "AVAL", "CNSR", "EVNTTYPE",
                  "EVNTDESC", "CNSDTDSC", "SRCDOM", "SRCVAR", "SRCSEQ")

RowFilter = Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class TTESource:
    """Where a candidate date comes from.

    dataset_name: key of the ``sources`` dict (or ``POPULATION``); the dataset needs USUBJID.
    date: date column of that dataset. description: EVNTDESC (and CNSDTDSC when censoring).
    srcdom / srcvar / srcseq: SRCDOM, SRCVAR (defaults to ``date``) and the column holding SRCSEQ.
    filter: function of the source rows (joined with the population's STARTDT and DCUTDT)
    returning a boolean mask of the rows that qualify.
    """
    dataset_name: str
    date: str
    description: str
    srcdom: str
    srcvar: str | None = None
    srcseq: str | None = None
    filter: RowFilter | None = None


@dataclass(frozen=True)
class EventSource(TTESource):
    evnttype: int = 1  # competing-risk event type (1, 2, ...)


@dataclass(frozen=True)
class CensorSource(TTESource):
    pass


@dataclass(frozen=True)
class TTEParam:
    paramcd: str
    param: str
    events: tuple[EventSource, ...]
    censors: tuple[CensorSource, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if not 0 < len(self.paramcd) <= 8:
            raise ValueError(f"PARAMCD {self.paramcd!r} must have 1-8 characters (SAS transport v5)")
        if not 0 < len(self.param) <= 200:
            raise ValueError(f"{self.paramcd}: PARAM must have 1-200 characters")
        if any(e.evnttype < 1 for e in self.events):
            raise ValueError(f"{self.paramcd}: event types must be >= 1 (0 means censored)")


def _joined(source: TTESource, sources: dict[str, pd.DataFrame], population: pd.DataFrame) -> pd.DataFrame:
    """The source rows of population subjects, with the population's STARTDT and DCUTDT."""
    if source.dataset_name == POPULATION:
        return population
    data = sources[source.dataset_name]
    data = data.drop(columns=[c for c in ("STARTDT", "DCUTDT") if c in data.columns])
    return data.merge(population[["USUBJID", "STARTDT", "DCUTDT"]], on="USUBJID", how="inner")


def _candidates(source: TTESource, order: int, sources: dict[str, pd.DataFrame],
                population: pd.DataFrame, paramcd: str) -> pd.DataFrame:
    """Candidate records of one source, in the ADTTE layout (``_ORDER`` = declaration order)."""
    rows = _joined(source, sources, population)
    for col in [source.date] + ([source.srcseq] if source.srcseq else []):
        if col not in rows.columns:
            raise KeyError(f"{paramcd}: source {source.dataset_name!r} has no column {col!r}")
    if source.filter is not None:
        mask = source.filter(rows)
        rows = rows.loc[mask.fillna(False).astype(bool).to_numpy()]
    is_event = isinstance(source, EventSource)
    seq = (rows[source.srcseq].astype("Float64").to_numpy(dtype="float64", na_value=float("nan"))
           if source.srcseq else float("nan"))
    out = pd.DataFrame({
        "USUBJID": rows["USUBJID"].to_numpy(),
        "STARTDT": rows["STARTDT"].to_numpy(),
        "DCUTDT": rows["DCUTDT"].to_numpy(),
        "ADT": rows[source.date].astype(DATE_DTYPE).to_numpy(),
        "CNSR": 0 if is_event else 1,
        "EVNTTYPE": source.evnttype if is_event else 0,
        "EVNTDESC": source.description,
        "CNSDTDSC": None if is_event else source.description,
        "SRCDOM": source.srcdom,
        "SRCVAR": source.srcvar or source.date,
        "SRCSEQ": seq,
        "_ORDER": order,
    })
    return out.loc[out["ADT"].notna()]


def _apply_cutoff(cands: pd.DataFrame) -> pd.DataFrame:
    """Rule 1: a candidate after DCUTDT becomes a censoring at DCUTDT."""
    after = cands["ADT"] > cands["DCUTDT"]
    cands = cands.copy()
    cands.loc[after, "ADT"] = cands.loc[after, "DCUTDT"]
    cands.loc[after, ["CNSR", "EVNTTYPE"]] = [1, 0]
    cands.loc[after, ["EVNTDESC", "CNSDTDSC"]] = CUTOFF_DESC
    cands.loc[after, ["SRCDOM", "SRCVAR"]] = ["ADSL", "DCUTDT"]
    cands.loc[after, "SRCSEQ"] = float("nan")
    return cands


def select_tte(cands: pd.DataFrame) -> pd.DataFrame:
    """Rules 2-3: per subject the earliest event, else the latest censoring (ties: ``_ORDER``)."""
    events = cands.loc[cands["CNSR"] == 0].sort_values(["USUBJID", "ADT", "_ORDER"], kind="mergesort")
    first_event = events.drop_duplicates("USUBJID", keep="first")
    censors = cands.loc[(cands["CNSR"] == 1) & ~cands["USUBJID"].isin(first_event["USUBJID"])]
    censors = censors.sort_values(["USUBJID", "ADT", "_ORDER"], ascending=[True, False, True],
                                  kind="mergesort")
    last_censor = censors.drop_duplicates("USUBJID", keep="first")
    return pd.concat([first_event, last_censor]).sort_values("USUBJID", kind="mergesort")


def derive_param_tte(population: pd.DataFrame, sources: dict[str, pd.DataFrame],
                     param: TTEParam) -> pd.DataFrame:
    """One ADTTE parameter: one row per subject of ``population``.

    ``population`` has USUBJID, STARTDT (the origin) and DCUTDT; any further columns (e.g.
    ENTRY) are carried to the output. Returns ``OUTPUT_COLUMNS`` plus those columns.
    """
    if population["USUBJID"].duplicated().any():
        raise ValueError(f"{param.paramcd}: population has duplicate subjects")
    population = population.loc[population["STARTDT"].notna()]
    declared = list(param.events) + list(param.censors)
    cands = pd.concat([_candidates(s, i, sources, population, param.paramcd) for i, s in enumerate(declared)],
                      ignore_index=True)
    cands = _apply_cutoff(cands)
    early_event = (cands["CNSR"] == 0) & (cands["ADT"] < cands["STARTDT"])
    if early_event.any():
        r = cands.loc[early_event].iloc[0]
        raise BadDataError(f"{param.paramcd}: subject {r['USUBJID']}: event {r['EVNTDESC']!r} "
                           f"({r['SRCDOM']}.{r['SRCVAR']}) on {r['ADT']:%Y-%m-%d} precedes the origin "
                           f"{r['STARTDT']:%Y-%m-%d} (rule: events follow the time-to-event origin)")
    cands = cands.loc[cands["ADT"] >= cands["STARTDT"]]
    chosen = select_tte(cands)
    lost = set(population["USUBJID"]) - set(chosen["USUBJID"])
    if lost:
        raise ValueError(f"{param.paramcd}: no event or censoring candidate for {sorted(lost)[:5]}; "
                         "declare a censoring at the origin")
    offset = 1 if conventions.AVAL_ADD_ONE_DAY else 0  # SAP 2.2
    chosen = chosen.assign(PARAMCD=param.paramcd, PARAM=param.param,
                           AVAL=days_between(chosen["ADT"], chosen["STARTDT"]) + offset)
    extra = [c for c in population.columns if c not in ("USUBJID", "STARTDT", "DCUTDT")]
    out = chosen[list(OUTPUT_COLUMNS)].merge(population[["USUBJID"] + extra], on="USUBJID", how="left")
    return out.astype({"CNSR": "Int64", "EVNTTYPE": "Int64", "SRCSEQ": "Float64"}).reset_index(drop=True)
