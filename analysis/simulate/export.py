"""Data cuts of the simulated truth, and their EDC-style CSV export per analysis.raw_spec.

A cut keeps subjects enrolled on or before the cut date and records dated on or before it; end
dates after the cut are blank (ongoing); last-known-alive dates never pass the cut. Values listed
in params.CORRECTIONS carry their data-entry error in cuts before the correction.
"""

from __future__ import annotations

import calendar
import csv
import io
import math
from datetime import date, timedelta

from analysis.raw_spec import ASTCT_TERMS, CTCAE_TERMS, FORMS, STUDYID, TRIAL_FORMS, Form
from analysis.simulate import params as P
from analysis.simulate.records import TrialPatient

# Number formats per column (default for floats: one decimal).
FLOAT_FORMATS = {"DOSE": "{:.3g}", "WBCDIAG": "{:g}", "CD34": "{:.2f}", "MRDLEVEL": "{:.2g}", "MRDPRELV": "{:.2g}",
                 "MRDSENS": "{:.0e}"}


def month_end(d: date) -> date:
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def _yes_no(flag: bool) -> str:
    return "Y" if flag else "N"


class PatientCut:
    """One patient seen at one cut date."""

    def __init__(self, p: TrialPatient, cut: date):
        self.p, self.cut = p, cut

    def date(self, day: float) -> date:
        return self.p.cart1 + timedelta(days=int(day))

    def seen(self, day: float) -> bool:
        return math.isfinite(day) and self.date(day) <= self.cut

    @property
    def death_seen(self) -> bool:
        return self.p.death_observed and self.seen(self.p.death_day)

    def observation_end(self) -> date:
        """Last date a record may carry at this cut: the cut, death, or withdrawal."""
        end = self.cut
        if math.isfinite(self.p.observation_end):
            end = min(end, self.date(self.p.observation_end))
        return end

    # --- forms ---------------------------------------------------------------------------------
    def dm(self) -> list[dict]:
        p, b = self.p, self.p.baseline
        birthday = _anniversary(p.enrollment, p.cov.age) - timedelta(days=b["birth_offset_days"])
        return [{
            "STUDYID": STUDYID, "SITEID": p.siteid, "SUBJID": p.subjid, "INITIALS": b["initials"],
            "BRTHDTC": birthday.strftime("%Y-%m") if b["partial"]["BRTHDTC"] else birthday.isoformat(),
            "HOSPRN": b["hosprn"], "SEX": 1 if p.cov.male else 2, "AGE": _age(birthday, p.enrollment),
            "WEIGHTKG": None if b["missing"]["WEIGHTKG"] else b["weight"], "ENRLDTC": p.enrollment,
        }]

    def bl(self) -> list[dict]:
        p, b = self.p, self.p.baseline
        diag = self.date(b["diag_day"])
        cells_per_ul = p.siteid == P.WBC_CELLS_PER_UL_SITE
        return [{
            "SUBJID": p.subjid,
            "DIAGDTC": diag.strftime("%Y-%m") if b["partial"]["DIAGDTC"] else diag.isoformat(),
            "PHSTAT": "POS" if p.cov.ph_positive else "NEG",
            "CYTORISK": None if b["missing"]["CYTORISK"] else ("HIGH" if p.cov.high_risk else "STANDARD"),
            "WBCDIAG": None if b["missing"]["WBCDIAG"] else (round(b["wbc"] * 1000, -1) if cells_per_ul
                                                             else round(b["wbc"], 1)),
            "WBCDIAGU": None if b["missing"]["WBCDIAG"] else ("cells/uL" if cells_per_ul else "10^9/L"),
            "CNSSTAT": b["cns"],
            "CD19PCT": b["cd19pct"], "CD22PCT": None if b["missing"]["CD22PCT"] else b["cd22pct"],
            "DISSTAT": "CR2" if p.cov.cr2 else "CR1", "CRDTC": self.date(b["cr_day"]),
            "MRDPRE": "POS" if p.cov.mrd_positive else "NEG", "MRDPRELV": b["mrd_level"],
            "MRDPREMT": b["mrd_method"],
        }]

    def cart(self) -> list[dict]:
        p, s = self.p, self.p.schedule
        if not p.infused:
            return []
        infusions = [("CAR-T1", "CD22", 0), ("CAR-T1", "CD19", s.cd19_day)]
        if p.reached["cart2"]:
            infusions += [("CAR-T2", "CD22", s.cart2), ("CAR-T2", "CD19", s.cart2)]
        return [{"SUBJID": p.subjid, "PHASE": phase, "PRODUCT": product, "INFDTC": self.date(day),
                 "DOSE": p.doses[(phase, product)]}
                for phase, product, day in infusions if self.seen(day) and day <= p.observation_end]

    def mob(self) -> list[dict]:
        p, s = self.p, self.p.schedule
        if not p.infused:
            return []
        outcome_day = s.collection if p.apheresis_done else s.mobilization + 5
        stopped_by_failure = p.dc_reason == "MOBILIZATION FAILURE"
        if not (stopped_by_failure or p.dc_day > outcome_day) or not self.seen(outcome_day) \
                or outcome_day > p.observation_end:
            return []
        return [{"SUBJID": p.subjid, "MOBSTDTC": self.date(s.mobilization),
                 "MOBSTAT": "FAILED" if p.mobilization_failed else "SUCCESS",
                 "COLLDTC": self.date(s.collection) if p.apheresis_done else None,
                 "CD34": round(p.cd34, 2) if p.apheresis_done else None}]

    def hsct(self) -> list[dict]:
        p, s = self.p, self.p.schedule
        if not (p.reached["hsct"] and self.seen(s.hsct)):
            return []
        engrafted = lambda day: self.date(day) if self.seen(day) and day <= p.observation_end else None  # noqa: E731
        return [{"SUBJID": p.subjid, "CONDREG": "BuCy", "CONDSTDTC": self.date(s.conditioning),
                 "HSCTDTC": self.date(s.hsct), "NEUTDTC": engrafted(s.neutrophil), "PLTDTC": engrafted(s.platelet)}]

    def rs(self) -> list[dict]:
        return [{"SUBJID": self.p.subjid, "VISIT": a.visit, "RSDTC": self.date(a.day), "BMBLAST": a.bmblast,
                 "RSORRES": a.response, "RELSITE": a.site if a.response == "RELAPSE" else None}
                for a in self.p.assessments if self.seen(a.day)]

    def ct(self) -> list[dict]:
        """Subsequent anti-leukaemic therapy started by the cut (and before death)."""
        end = self.p.observation_end
        return [{"SUBJID": self.p.subjid, "CTSEQ": k, "CTTYPE": t.kind, "CTSTDTC": self.date(t.day)}
                for k, t in enumerate((t for t in self.p.therapies if self.seen(t.day) and t.day < end), start=1)]

    def mrd(self) -> list[dict]:
        return [{"SUBJID": self.p.subjid, "MRDDTC": self.date(m.day), "METHOD": m.method,
                 "MRDUND": _yes_no(m.undetectable), "MRDLEVEL": m.level, "MRDSENS": m.sensitivity}
                for m in self.p.mrd if self.seen(m.day)]

    def ae(self) -> list[dict]:
        rows = []
        last = self.observation_end()
        for seq, e in enumerate(self.p.adverse_events, start=1):
            if not self.seen(e.start + e.reported):   # in the EDC only once reported (late reports)
                continue
            start = self.date(e.start)
            end = self.date(e.end) if e.end is not None and self.seen(e.end) else None
            grade, astct = e.grade, e.astct
            if grade == 5 and not self.death_seen:
                # The patient is alive at the cut: the event is ongoing at its worst grade so far
                # (the highest non-fatal CTCAE grade); a later cut records grade 5 and the death.
                grade = max(g for g in CTCAE_TERMS[e.term][1] if g < 5) if e.term != "Death NOS" else None
                end = None
                if grade is None:
                    continue
                astct = None if astct is None else min(astct, 4)
            end_text = end
            if end is not None and e.partial_end and month_end(end) <= last and \
                    (not self.death_seen or month_end(end) < self.date(self.p.death_day)):
                end_text = end.strftime("%Y-%m")
            coded = self.coded(e, grade)
            rows.append({"SUBJID": self.p.subjid, "AESEQ": seq, "AETERM": e.verbatim,
                         "AEDECOD": e.term if coded else None, "AEBODSYS": _soc(e.term) if coded else None,
                         "AETOXGR": grade,
                         "AESTDTC": start.strftime("%Y-%m") if e.partial_start else start,
                         "AEENDTC": end_text, "AESER": _yes_no(e.serious), "AERELCAR": _yes_no(e.related),
                         "ASTCTGR": astct, "AETOCI": None if e.tocilizumab is None else _yes_no(e.tocilizumab),
                         "AESTER": None if e.steroids is None else _yes_no(e.steroids), "AEACN": e.action})
        return rows

    def coded(self, e, grade) -> bool:
        """Whether data management has coded the event's verbatim term by this cut
        (params.AE_CODING_LAG_DAYS after its entry; CRS/ICANS, serious and fatal events at entry:
        expedited SAE reporting needs the term)."""
        if e.term in ASTCT_TERMS or e.serious or e.grade == 5 or grade == 5:
            return True
        return (self.cut - self.date(e.start + e.reported)).days >= P.AE_CODING_LAG_DAYS

    def ds(self, other_rows: list[dict]) -> list[dict]:
        p = self.p
        if p.eot == "COMPLETED" and self.seen(p.schedule.cart2):
            eot, reason, dc = "COMPLETED", None, None
        elif p.eot == "DISCONTINUED" and self.seen(p.dc_day):
            eot, reason, dc = "DISCONTINUED", p.dc_reason, self.date(p.dc_day)
        else:
            eot, reason, dc = "ONGOING", None, None
        if self.death_seen:
            last_alive = self.date(p.death_day)
        else:
            # True onset dates count too: a partial YYYY-MM onset hides the day the patient was seen.
            onsets = [self.date(e.start) for e in p.adverse_events if self.seen(e.start + e.reported)]
            last_alive = max(_record_dates(other_rows) + onsets + [p.enrollment] + ([dc] if dc else []))
            if not (math.isfinite(p.withdrawal_day) and self.seen(p.withdrawal_day)):
                contact = self.cut - timedelta(days=p.baseline["contact_lag"])
                last_alive = max(last_alive, contact)
        return [{"SUBJID": p.subjid, "EOTSTAT": eot, "DCREAS": reason, "DCDTC": dc, "LSTALVDTC": last_alive,
                 "DTHFL": _yes_no(self.death_seen), "DTHDTC": self.date(p.death_day) if self.death_seen else None,
                 "DTHCAUS": p.death_cause if self.death_seen else None}]


def _anniversary(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:   # 29 February
        return d.replace(year=d.year - years, day=28)


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _soc(term: str) -> str:
    return CTCAE_TERMS[term][0]


def _record_dates(rows: list[dict]) -> list[date]:
    """Every date a subject's records carry (partial YYYY-MM end dates at their month end)."""
    out = []
    for row in rows:
        for key, value in row.items():
            if isinstance(value, date):
                out.append(value)
            elif key == "AEENDTC" and isinstance(value, str):
                out.append(month_end(date.fromisoformat(value + "-01")))
    return out


def trial_tables(patients: list[TrialPatient], cut: date) -> dict[str, list[dict]]:
    """Rows of every trial form at the cut, subjects in SUBJID order."""
    tables: dict[str, list[dict]] = {name: [] for name in TRIAL_FORMS}
    for p in sorted(patients, key=lambda q: q.subjid):
        if p.enrollment > cut:
            continue
        pc = PatientCut(p, cut)
        rows = {"dm": pc.dm(), "bl": pc.bl(), "cart": pc.cart(), "mob": pc.mob(), "hsct": pc.hsct(),
                "rs": pc.rs(), "mrd": pc.mrd(), "ae": pc.ae(), "ct": pc.ct()}
        dated = [r for name in ("cart", "mob", "hsct", "rs", "mrd", "ae", "ct") for r in rows[name]]
        rows["ds"] = pc.ds(dated)
        for name in TRIAL_FORMS:
            tables[name].extend(rows[name])
    return tables


# --- corrections ---------------------------------------------------------------------------------------
def apply_data_entry_errors(tables: dict[str, list[dict]], cut_name: str) -> None:
    """Put each CORRECTIONS value in its erroneous interim form, in cuts before its correction.
    A target not yet in the cut (in a small study its subject may enrol after an early cut) has
    no value to enter wrongly there, so that cut carries no slip for it."""
    for c in P.CORRECTIONS:
        if cut_name >= c.corrected_in:
            continue
        key = dict(c.key)
        matches = [r for r in tables[c.form] if all(r.get(k) == v for k, v in key.items())]
        if not matches:
            continue
        if len(matches) != 1 or matches[0].get(c.column) is None:
            raise RuntimeError(f"simulator: correction target {c.form} {key} {c.column} not found once "
                               f"with a value in {cut_name}")
        row = matches[0]
        row[c.column] = _erroneous(c, row, tables)


def _erroneous(c: P.Correction, row: dict, tables: dict[str, list[dict]]):
    """The wrong value a data-entry slip would have produced (still within the raw contract)."""
    value = row[c.column]
    if c.column == "WBCDIAG":
        return round(value / 10, 1) if value > 100 else round(value * 10, 1)
    if c.column == "WEIGHTKG":
        text = f"{value:.1f}"
        swapped = float(text[1] + text[0] + text[2:]) if len(text) >= 4 and text[0] != text[1] else value + 10
        return swapped if 30 <= swapped <= 150 else value - 10
    if c.column == "CD19PCT":
        return round(max(0.0, value - 10), 1)
    if c.column == "AETOXGR":
        allowed = [g for g in CTCAE_TERMS[row["AEDECOD"]][1] if g < 5]
        return value + 1 if value + 1 in allowed else value - 1
    if c.column == "INFDTC":
        # Keep the wrong CD19 date 1-3 days after CD22, so only the comparison of cuts shows it.
        cd22 = next(r["INFDTC"] for r in tables["cart"]
                    if r["SUBJID"] == row["SUBJID"] and r["PHASE"] == row["PHASE"] and r["PRODUCT"] == "CD22")
        gap = (value - cd22).days
        return value + timedelta(days=-1 if gap > P.CD19_AFTER_CD22[0] else 1)
    raise ValueError(f"no data-entry error defined for {c.column}")


# --- CSV -----------------------------------------------------------------------------------------------
def format_value(form: Form, column: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    col = form.column(column)
    if col.type == "int":
        return str(int(value))
    if col.type == "float":
        return FLOAT_FORMATS.get(column, "{:.1f}").format(float(value))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_bytes(form_name: str, rows: list[dict]) -> bytes:
    """The form as CSV: spec column order, empty = missing, '\\n' line ends, minimal quoting."""
    form = FORMS[form_name]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(form.column_names)
    for row in rows:
        writer.writerow([format_value(form, name, row.get(name)) for name in form.column_names])
    return buf.getvalue().encode("utf-8")
