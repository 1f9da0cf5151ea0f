"""Display tables of the disposition, safety, exposure and adherence ARD rows (analysis.analyze.safety).

Numbers come from the ARD only; labels, not codes. Day convention of every table and listing
here: days *since* an event, the event day being day 0 (CAR-T toxicity and transplant
convention); listings count days since CAR-T1 the same way (SAP 7.4); each footnote names the event.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from analysis import ard as A
from analysis import conventions as C
from analysis.present import formats as F
from analysis.present.ard_views import ae_table_frame, ard_stat
from analysis.present.table import Table

PERIOD_LABELS = {"CAR-T1": "CAR-T1", "MOBILIZATION": "Mobilization and collection",
                 "AUTO-HSCT": "Conditioning and auto-HSCT", "CAR-T2": "CAR-T2", "POST-TREATMENT": "Post-treatment"}
PERIOD_RULES = {
    "CAR-T1": "first CAR-T1 infusion to the day before mobilization (no mobilization: last CAR-T1 infusion + 28 days)",
    "MOBILIZATION": "mobilization start to the day before conditioning (no conditioning: collection + 28 days)",
    "AUTO-HSCT": "conditioning start to neutrophil engraftment (not engrafted: transplant + 28 days)",
    "CAR-T2": "CAR-T2 infusion to 28 days after it; in the overlap with the transplant aplasia, only CRS/ICANS",
    "POST-TREATMENT": "after the last period closes, to 730 days after CAR-T1 (end of the AE window)",
}
NOT_RECORDED = "ASTCT grade not recorded in this cut"
TRIAL_HEADER = "Sandwich (trial)"


def _sel(ard: pd.DataFrame, analysis: str, **keys) -> pd.DataFrame:
    return A.select(ard, context=analysis, **{k: str(v) for k, v in keys.items()})


def _stat(ard: pd.DataFrame, analysis: str, **keys) -> float:
    values = A.stat_values(ard, context=analysis, **{k: str(v) for k, v in keys.items()})
    if len(values) != 1:
        raise KeyError(f"ARD {analysis} {keys}: {len(values)} rows")
    return float(values[0])


def _table(title, rows, headers, subtitles=(), footnotes=()) -> Table:
    frame = pd.DataFrame([r[1:] for r in rows], columns=headers)
    return Table(title=title, frame=frame, headers=list(headers), indent=[r[0] for r in rows],
                 subtitles=list(subtitles), footnotes=list(footnotes))


def disposition_table(ard: pd.DataFrame, method: str = "") -> Table:
    """Steps of the sandwich with, under each, the subjects who stopped there by reason."""
    flow = _sel(ard, "disposition", param="FLOW")
    exits = _sel(ard, "disposition", param="EXIT")
    rows = []
    for step, n in zip(flow["variable_level"], flow["stat"]):
        rows.append((0, step, F.fmt_int(n)))
        for reason, k in zip(exits.loc[exits["variable"] == step, "variable_level"], exits.loc[exits["variable"] == step, "stat"]):
            rows.append((1, f"Stopped after this step: {reason.capitalize()}", F.fmt_int(k)))
    pops = _sel(ard, "disposition", param="POPULATION")
    if len(pops):
        rows.append((0, "Analysis populations", ""))
        rows += [(1, label, F.fmt_int(k)) for label, k in zip(pops["variable_level"], pops["stat"])]
    deaths = _stat(ard, "disposition", param="DEATHS", group1_level=C.COHORT_TRIAL, stat_name="n")
    rows.append((0, "Died during follow-up (any time up to the cut)", F.fmt_int(deaths)))
    n = _stat(ard, "disposition", param="FLOW", variable_level="Enrolled", stat_name="n")
    return _table("Disposition of the trial cohort through the sandwich", rows,
                  ["Step", F.fmt_header(TRIAL_HEADER, n)],
                  footnotes=[f"Successful collection: mobilization recorded SUCCESS and CD34+ yield >= "
                             f"{C.CD34_MIN_YIELD:g} x 10^6/kg; a failed mobilization with a collection date is not a "
                             "successful collection.", "Reasons as recorded at the end of treatment.",
                             *([f"Method: {method}."] if method else [])])


def ae_period_table(ard: pd.DataFrame, method: str = "") -> Table:
    """Subjects with a TEAE starting in each period, n (%) of the subjects who entered it."""
    rows = []
    for period, label in PERIOD_LABELS.items():
        def s(name, period=period):
            return _stat(ard, "ae_by", variable="APHASE", variable_level=period, stat_name=name)
        rows.append((0, label, F.fmt_int(s("N")), F.fmt_n_pct(s("n_subj"), s("pct")), F.fmt_int(s("n_events"))))
    notes = [f"{PERIOD_LABELS[p]}: {r}." for p, r in PERIOD_RULES.items()]
    notes += ["N: subjects who entered the period (alive and followed when it opened); n (%): subjects with >= 1 "
              "treatment-emergent AE starting in it; a subject counts once in each period.",
              "CRS and ICANS are counted in the period of the CAR-T infusion that caused them (the most recent "
              "infusion on or before onset)."]
    return _table("Treatment-emergent adverse events by period at onset", rows,
                  ["Period", "N entered", "Subjects, n (%)", "Events"],
                  footnotes=[*notes, *([f"Method: {method}."] if method else [])])


def imputation_sentence(ard: pd.DataFrame) -> str:
    s = {n: int(_stat(ard, "ae_imputation", stat_name=n)) for n in
         ("n_records", "n_onset_imputed", "n_onset_bounded", "n_end_imputed")}
    return (f"Of {s['n_records']} AE records, {s['n_onset_imputed']} had an onset date without the day (imputed to "
            f"the 1st of the month, or to the latest period-opening protocol event of that month not after the "
            f"end date: {s['n_onset_bounded']} onsets) and {s['n_end_imputed']} an end date without the day "
            "(SAP 2.3).")


def coding_sentence(ard: pd.DataFrame) -> str:
    """How many AE records arrived with their verbatim term not yet coded (ARD ``ae_coding``;
    empty for an ARD without those rows)."""
    if not (ard["context"] == "ae_coding").any():
        return ""
    s = {n: int(_stat(ard, "ae_coding", stat_name=n)) for n in
         ("n_records", "n_uncoded", "n_uncoded_teae", "n_subj_uncoded_teae")}
    if not s["n_uncoded"]:
        return f"Every one of the {s['n_records']} AE records of this cut has its CTCAE 5.0 term coded."
    return (f"{s['n_uncoded']} of {s['n_records']} AE records arrived with the verbatim term not yet coded by data "
            f"management ({s['n_uncoded_teae']} treatment-emergent, in {s['n_subj_uncoded_teae']} subject(s)): they "
            "are counted in every AE table under \"Not coded\" (system organ class and term) until a later cut "
            "codes them (SAP 5.1).")


SITE_LABELS = {"BM": "bone marrow", "CNS": "isolated CNS", "BM+CNS": "marrow and CNS",
               "OTHER-EM": "other extramedullary", "NOT RECORDED": "no site (loss of remission: NR)"}


def intercurrent_sentence(ard: pd.DataFrame) -> str:
    """The intercurrent event allo-HSCT after stopping the sandwich, counted (ARD ``course``)."""
    sel = _sel(ard, "course")
    if sel.empty:
        return ""
    look = {r.stat_name: r.stat for r in sel[sel["param"] == "ALLOICE"].itertuples()}
    return (f"Allo-HSCT in remission after stopping the sandwich (intercurrent event; treatment policy): "
            f"{F.fmt_n_pct(look['n_subj'], look['pct'])} of the {F.fmt_int(look['N'])} subjects who received "
            "CAR-T1 (ADSL ALLOICDT, from the subsequent-therapy form).")


def relapse_site_sentence(ard: pd.DataFrame) -> str:
    """Relapses of the safety population by site (ARD ``course``, ADSL RELSITE)."""
    sel = _sel(ard, "course")
    sel = sel[sel["param"] == "RELSITE"]
    if sel.empty:
        return "No subject of the safety population relapsed by this cut."
    cells = []
    for level in dict.fromkeys(sel["variable_level"]):
        look = dict(zip(sel.loc[sel["variable_level"] == level, "stat_name"], sel.loc[sel["variable_level"] == level, "stat"]))
        cells.append(f"{SITE_LABELS.get(level, level.lower())} {F.fmt_n_pct(look['n_subj'], look['pct'])}")
    n = int(sel["stat"][sel["stat_name"] == "N"].iloc[0])
    return f"Site of the first relapse, of the {n} subjects who relapsed: {'; '.join(cells)} (SAP 8)."


def death_table(ard: pd.DataFrame, method: str = "") -> Table:
    """Deaths: overall, by cause, after relapse or not, within 30 / 100 days of CAR-T1 and auto-HSCT."""
    sel = _sel(ard, "deaths")
    look = {(r.variable, r.variable_level, r.stat_name): r.stat for r in sel.itertuples()}

    def cell(var, level):
        return F.fmt_n_pct(look[(var, level, "n_subj")], look[(var, level, "pct")])
    rows = [(0, "Deaths", F.fmt_int(look[("ALL", "Died", "N")]), cell("ALL", "Died")), (0, "By cause", "", "")]
    rows += [(1, lv.capitalize(), "", cell("DTHCAUS", lv)) for lv in sel.loc[sel["variable"] == "DTHCAUS", "variable_level"].unique()]
    rows += [(0, "By relapse", "", "")]
    rows += [(1, lv, "", cell("RELAPSE", lv)) for lv in sel.loc[sel["variable"] == "RELAPSE", "variable_level"].unique()]
    if (sel["variable"] == "FATALAE").any():
        rows += [(0, "By grade 5 AE", "", "")]
        rows += [(1, lv, "", cell("FATALAE", lv)) for lv in sel.loc[sel["variable"] == "FATALAE", "variable_level"].unique()]
    for anchor in ("CAR-T1", "auto-HSCT"):
        var = f"WITHIN_{anchor}"
        for window in ("30", "100"):
            rows.append((0, f"Within {window} days of {anchor}", F.fmt_int(look[(var, window, "N")]), cell(var, window)))
    return _table("Deaths of the trial cohort", rows, ["", "N", "n (%)"],
                  footnotes=["Within X days: death date minus the CAR-T1 (or auto-HSCT) date <= X (event day = day 0); "
                             "N for auto-HSCT = subjects transplanted.",
                             "Relapse: a relapse recorded on or before the death date. Grade 5 AE: a CTCAE grade 5 "
                             "AE of the subject (a death without one is queried by the validation rule of issue 10).",
                             *([f"Method: {method}."] if method else [])])


def crs_icans_table(ard: pd.DataFrame, method: str = "") -> Table:
    """CRS and ICANS by worst ASTCT 2019 grade and infusion, with treatment; CTCAE grades are
    never shown as ASTCT grades: when the cut has no ASTCT grade, the cells say so."""
    infusions = ("CAR-T1", "CAR-T2")
    recorded = _sel(ard, "crs_icans_grade", stat_name="n_recorded")["stat"].sum() > 0
    rows = []
    for syndrome in ("CRS", "ICANS"):
        def s(var, level, name, syndrome=syndrome):
            return _stat(ard, "crs_icans_grade", param=syndrome, variable=var, variable_level=level, stat_name=name)
        rows.append((0, syndrome, *[F.fmt_n_pct(s("AINFUS", i, "n_subj"), s("AINFUS", i, "pct")) for i in infusions]))
        for grade in ("1", "2", "3", "4", "5"):
            cells = [F.fmt_n_pct(s(f"ASTCTGR {i}", grade, "n_subj"), s(f"ASTCTGR {i}", grade, "pct"))
                     if recorded else "not recorded" for i in infusions]
            rows.append((1, f"Worst ASTCT grade {grade}", *cells))
        for name, label in (("n_tocilizumab", "Episodes treated with tocilizumab"),
                            ("n_corticosteroids", "Episodes treated with corticosteroids")):
            rows.append((1, label, *[F.fmt_int(s("AINFUS", i, name)) if not F.is_missing(s("AINFUS", i, name))
                                     else "not recorded" for i in infusions]))
        rows.append((1, "Episodes", *[F.fmt_int(s("AINFUS", i, "n_episodes")) for i in infusions]))
    n = [_stat(ard, "crs_icans_grade", param="CRS", variable="AINFUS", variable_level=i, stat_name="N") for i in infusions]
    notes = ["Grading: ASTCT 2019 consensus (Lee et al. 2019) for CRS and ICANS." if recorded else
             f"{NOT_RECORDED}: the grade recorded in this cut is a CTCAE 5.0 grade, shown in the CTCAE tables, not here.",
             "Infusion: the most recent CAR-T infusion on or before onset; N = subjects who received it."]
    return _table("Cytokine release syndrome and ICANS by ASTCT 2019 grade and infusion", rows,
                  ["", *[F.fmt_header(f"After {i}", k) for i, k in zip(infusions, n)]],
                  footnotes=[*notes, *([f"Method: {method}."] if method else [])])


def _summary_cells(s, decimals=0, scale=1.0) -> list[str]:
    def sc(name):
        v = s(name)
        return v if F.is_missing(v) else v / scale
    return [F.fmt_int(s("n")), F.fmt_median_q1q3(sc("median"), sc("q1"), sc("q3"), decimals),
            F.fmt_range(sc("min"), sc("max"), decimals)]


def exposure_table(ard: pd.DataFrame, method: str = "") -> Table:
    """CAR-T dose per infusion and product (10^6 cells/kg), CD34+ yield, engraftment."""
    rows = [(0, "CAR-T dose (10^6 cells/kg)", "", "", "", "")]
    low, high = C.CART_DOSE_RANGE
    for var, level, label in [("CAR-T1", "CD22", "CAR-T1, CD22"), ("CAR-T1", "CD19", "CAR-T1, CD19"),
                              ("CAR-T2", "CD22", "CAR-T2, CD22"), ("CAR-T2", "CD19", "CAR-T2, CD19"),
                              ("ALL", "ALL", "All infusions")]:
        def s(name, var=var, level=level):
            return _stat(ard, "exposure", param="DOSE", variable=var, variable_level=level, stat_name=name)
        rows.append((1, label, *_summary_cells(s, 1, 1e6), F.fmt_int(s("n_outside"))))
    def cd(name):
        return _stat(ard, "exposure", param="CD34YLD", stat_name=name)
    rows.append((0, "CD34+ yield (10^6/kg), mobilized", *_summary_cells(cd, 1), F.fmt_int(cd("n_below_min"))))
    rows.append((0, "Days from auto-HSCT to engraftment", "", "", "", ""))
    for cell in ("Neutrophil", "Platelet"):
        def en(name, cell=cell):
            return _stat(ard, "exposure", param="ENGRAFT", variable=cell, stat_name=name)
        rows.append((1, cell, *_summary_cells(en), F.fmt_int(en("n_not_engrafted"))))
    return _table("Exposure: CAR-T dose, CD34+ yield and engraftment", rows,
                  ["", "n", "Median (Q1, Q3)", "Min, max", "Outside target"],
                  footnotes=[f"Target dose {C.CART_TARGET_DOSE / 1e6:g} x 10^6 cells/kg per product; outside target: "
                             f"below {low / 1e6:g} or above {high / 1e6:g} x 10^6/kg. CD34+: below "
                             f"{C.CD34_MIN_YIELD:g} x 10^6/kg. Engraftment: not engrafted at the cut.",
                             "Neutrophil engraftment: first day ANC >= 0.5 x 10^9/L; platelets: first day >= 20 x 10^9/L "
                             "unsupported; days after the transplant (transplant day = day 0).",
                             *([f"Method: {method}."] if method else [])])


def adherence_table(ard: pd.DataFrame, method: str = "") -> Table:
    rows = []
    for label, (_, _, lo, hi) in C.PROTOCOL_WINDOWS.items():
        def s(name, label=label):
            return _stat(ard, "adherence", variable=label, stat_name=name)
        window = f"{lo}-{hi}" if lo != hi else f"{lo}"
        rows.append((0, label, window, *_summary_cells(s), f"{F.fmt_int(s('n_early'))} / {F.fmt_int(s('n_late'))}"))
    return _table("Protocol adherence: days between the steps of the sandwich", rows,
                  ["Interval", "Window (days)", "n", "Median (Q1, Q3)", "Min, max", "Early / late"],
                  footnotes=["Days = later date minus earlier date. Windows: collection 6-8 weeks after CAR-T1; "
                             "auto-HSCT about 4 weeks (3-5) after collection; CAR-T2 2 days after auto-HSCT.",
                             *([f"Method: {method}."] if method else [])])


def followup_table(ard: pd.DataFrame, method: str = "") -> Table:
    def s(name):
        return _stat(ard, "followup_observed", stat_name=name)
    rows = [(0, "Subjects", F.fmt_int(s("N"))), (0, "Follow-up (days), median (Q1, Q3)",
            F.fmt_median_q1q3(s("median"), s("q1"), s("q3"), 0)), (0, "Follow-up (days), min, max",
            F.fmt_range(s("min"), s("max"), 0)), (0, "Died", F.fmt_int(s("n_died"))),
            (0, "Alive at the cut", F.fmt_int(s("n_alive"))),
            (1, "last seen more than 90 days before the cut", F.fmt_int(s("n_alive_last_seen_over_90d"))),
            (0, "Followed 2 years (730 days) or more", F.fmt_int(s("n_reached_2y")))]
    return _table("Follow-up of the trial cohort", rows, ["", TRIAL_HEADER],
                  footnotes=["Follow-up: days from CAR-T1 (day 0) to death or the last date known alive, capped at "
                             "the data cut.", *([f"Method: {method}."] if method else [])])


def overview_table(ard: pd.DataFrame, method: Sequence[str] = ()) -> Table:
    """AE overview (ARD ae_overview): any, serious, grade >= 3, fatal (grade 5), related, leading
    to discontinuation (or "not recorded in this cut")."""
    sel = _sel(ard, "ae_overview")
    n = sel.loc[sel["stat_name"] == "N", "stat"].iloc[0]
    labels = {"Any TEAE of grade 5": "Any fatal TEAE (grade 5)"}
    rows = []
    levels = [lv for lv in dict.fromkeys(sel["variable_level"]) if set(sel.loc[sel["variable_level"] == lv, "stat_name"]) != {"N"}]
    for level in sorted(levels, key=lambda lv: "discontinuation" in lv):
        look = dict(zip(sel.loc[sel["variable_level"] == level, "stat_name"], sel.loc[sel["variable_level"] == level, "stat"]))
        if look.get("n_recorded", 1) == 0:
            cell = "not recorded in this cut"
        else:
            cell = F.fmt_n_pct_events(look.get("n_subj"), look.get("pct"), look.get("n_events"))
        rows.append((0, labels.get(level, level), cell))
    return _table("Overview of treatment-emergent adverse events", rows, ["Category", F.fmt_header(TRIAL_HEADER, n)],
                  footnotes=["n (%) [E]: subjects (% of the safety population) [events]. Treatment-emergent: onset "
                             "from CAR-T1 to 730 days after it. CTCAE 5.0 grades.", *method])


TIMING_TITLE = "CRS and ICANS: onset and duration by infusion"


def timing_table(ard: pd.DataFrame, analysis: str = "crs_icans_timing", method: str | None = None) -> Table:
    """CRS / ICANS onset day and duration from the ARD rows of ``analysis.analyze.crs_icans_timing``
    (a one-line table saying so when the ARD has none: the analysis was not run for this cut)."""
    sel = ard[ard["context"] == analysis]
    if sel.empty:
        return Table(title=TIMING_TITLE, frame=pd.DataFrame({"Syndrome": [
            f"Not in the analysis results of this cut (ARD analysis {analysis!r} not produced)."]}),
            headers=["Syndrome"])
    labels, indent, cells = [], [], []
    infusions = ["CAR-T1", "CAR-T2", "ANY"]
    for syndrome in dict.fromkeys(sel["param"]):
        def s(variable, level, name):
            return ard_stat(sel, param=syndrome, variable=variable, variable_level=level, stat_name=name)  # noqa: B023  (called in this iteration)
        labels.append(syndrome)
        indent.append(0)
        cells.append(["", "", ""])
        rows = [
            ("Episodes (subjects)", lambda lv: f"{F.fmt_int(s('EPISODES', lv, 'n_episodes'))} "
                                               f"({F.fmt_int(s('EPISODES', lv, 'n_subj'))})"),
            ("Onset day, median (Q1, Q3)", lambda lv: F.fmt_median_q1q3(
                s("ONSETDY", lv, "median"), s("ONSETDY", lv, "q1"), s("ONSETDY", lv, "q3"), 0)),
            ("Onset day, min, max", lambda lv: F.fmt_range(s("ONSETDY", lv, "min"), s("ONSETDY", lv, "max"), 0)),
            ("Duration, days, median (Q1, Q3)", lambda lv: F.fmt_median_q1q3(
                s("ADURN", lv, "median"), s("ADURN", lv, "q1"), s("ADURN", lv, "q3"), 0)),
            ("Duration, days, min, max", lambda lv: F.fmt_range(s("ADURN", lv, "min"), s("ADURN", lv, "max"), 0)),
            ("Ongoing at the cut", lambda lv: F.fmt_int(s("EPISODES", lv, "n_ongoing"))),
        ]
        for text, fn in rows:
            labels.append(text)
            indent.append(1)
            cells.append([fn(lv) for lv in infusions])
    frame = pd.DataFrame(cells, columns=infusions)
    frame.insert(0, "Syndrome", labels)
    notes = ["Episodes: treatment-emergent ADAE records; onset day 0 = day of the CAR-T infusion that "
             "preceded the onset."]
    if method:
        notes.append(f"Method: {method}.")
    return Table(title=TIMING_TITLE, frame=frame,
                 headers=["Syndrome", "After CAR-T1", "After CAR-T2", "Any infusion"], indent=indent,
                 subtitles=["Safety population, sandwich cohort"], footnotes=notes)


def term_grade_table(ard: pd.DataFrame, term: str, title: str, grades=("1", "2", "3", "4", "5")) -> Table:
    """Subjects by worst CTCAE grade of one preferred term (ARD ``ae`` AEDECOD rows), n (%) of N."""
    tidy = ae_table_frame(ard)
    rows = tidy[(tidy["section"] == "term") & (tidy["term"] == term)]
    pop = tidy[tidy["section"] == "population"]
    groups = list(dict.fromkeys(pop["group"]))
    look = {(r.grade, r.group, r.stat_name): r.stat for r in rows.itertuples()}
    labels = ["Any grade", *[f"Grade {g}" for g in grades], "Grade \u2265 3"]
    keys = ["any", *grades, ">=3"]
    cells = [[F.fmt_n_pct(look.get((k, g, "n"), 0), look.get((k, g, "pct"), 0)) for g in groups] for k in keys]
    frame = pd.DataFrame(cells, columns=groups)
    frame.insert(0, "Worst grade", labels)
    n_of = dict(zip(pop["group"], pop["stat"]))
    return Table(title=title, frame=frame, headers=["Worst grade", *[F.fmt_header(g, n_of[g]) for g in groups]],
                 subtitles=["Safety population"],
                 footnotes=["n (%): subjects by their worst grade of the term; percentages of N.",
                            "CTCAE version 5.0 (CRS and ICANS graded as recorded by the investigator)."])


def flagged_term(adae: pd.DataFrame, flag: str, default: str) -> str:
    """The preferred term (AEDECOD) of the ADAE records flagged ``flag`` = "Y" (CRSFL, ICANSFL),
    so the grade table reads the ARD rows of the term actually coded; ``default`` when no record
    is flagged. Several terms under one flag is a coding problem: ValueError naming them."""
    terms = sorted(adae.loc[adae[flag] == "Y", "AEDECOD"].dropna().astype(str).unique())
    if len(terms) > 1:
        raise ValueError(f"ADAE: records flagged {flag} = 'Y' carry several preferred terms {terms}")
    return terms[0] if terms else default
