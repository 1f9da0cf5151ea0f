"""Sections 14.1.3-14.1.5, 14.3 and listings 16.2.7 (shown by analysis/notebooks/05-safety.qmd):
exposure, adherence, follow-up, adverse events, CRS/ICANS, deaths; the SAE and death listings
(records of ADAE / ADSL, not statistics)."""

from __future__ import annotations

from analysis.present import ard_views as AV
from analysis.present import cohort_style as CS
from analysis.present import listings as LI
from analysis.present import safety_tables as ST
from analysis.present.csr.context import cut_line, method_lines, method_of, with_subtitles
from analysis.present.layouts import format_ae_table
from analysis.present.table import Table

AE_TITLE = "Treatment-emergent adverse events by system organ class, preferred term and worst grade"


def _ae_tidy(inputs, context: str = "ae"):
    """AE rows of the ARD for format_ae_table, with the cohort label instead of its code."""
    tidy = AV.ae_table_frame(inputs.ard, context=context)
    return tidy.assign(group=tidy["group"].map(CS.cohort_label))


def _from_ard(make, analysis: str):
    """A section 14.3 table drawn from the ARD with its one method line, and the cut."""
    def build(inputs) -> Table:
        return with_subtitles(make(inputs.ard, method_of(inputs, analysis)), cut_line(inputs))
    build.__doc__ = f"{make.__name__} of the ARD ({analysis})"
    return build


exposure = _from_ard(ST.exposure_table, "exposure")
adherence = _from_ard(ST.adherence_table, "adherence")
followup = _from_ard(ST.followup_table, "followup_observed")
ae_period = _from_ard(ST.ae_period_table, "ae_by")
crs_icans_grade = _from_ard(ST.crs_icans_table, "crs_icans_grade")
deaths = _from_ard(ST.death_table, "deaths")


def ae_overview(inputs) -> Table:
    return with_subtitles(ST.overview_table(inputs.ard, method_lines(inputs, "ae_overview")), cut_line(inputs))


def crs_icans_timing(inputs) -> Table:
    return with_subtitles(ST.timing_table(inputs.ard, method=method_of(inputs, "crs_icans_timing", None)),
                          cut_line(inputs))


def _ae_table(inputs, context: str, grades, show_events: bool, title: str) -> Table:
    return format_ae_table(_ae_tidy(inputs, context), grades=grades, show_events=show_events, title=title,
                           subtitles=["Safety population", cut_line(inputs)], footnotes=method_lines(inputs, context))


def ae_soc_pt_worst_grade(inputs) -> Table:
    return _ae_table(inputs, "ae", ("any", "1", "2", "3", "4", "5"), False, AE_TITLE)


def ae_grade3(inputs) -> Table:
    return _ae_table(inputs, "ae", (">=3",), True, "Treatment-emergent adverse events of CTCAE grade 3 or higher")


def sae_soc_pt(inputs) -> Table:
    return _ae_table(inputs, "sae", ("any",), True,
                     "Serious treatment-emergent adverse events by system organ class and preferred term")


def sae_listing(inputs) -> Table:
    listing = LI.serious_ae_listing(inputs.derived["adae"])
    listing["Phase"] = listing["Phase"].map(ST.PERIOD_LABELS).fillna(listing["Phase"])   # labels, not codes
    table = LI.listing_table(listing.rename(columns={"Phase": "Period"}), title="Serious treatment-emergent adverse events",
                             footnotes=["Onset and end day: days since CAR-T1 (CAR-T1 = day 0). Outcome from the end "
                                        "date; 'fatal' for grade 5. Period: the period at onset (SAP 5.2)."])
    return with_subtitles(table, cut_line(inputs))


def death_listing(inputs) -> Table:
    adae = inputs.derived["adae"]
    listing = LI.death_listing(inputs.derived["adsl"])
    fatal_terms = adae[adae["ATOXGR"].astype(float) == 5].groupby("USUBJID")["AEDECOD"].agg("; ".join)
    listing["Grade 5 AE"] = listing["Subject"].map(lambda subject: fatal_terms.get(subject, "none recorded"))
    table = LI.listing_table(listing, title="Deaths, sandwich cohort",
                             footnotes=["Day of death: days since CAR-T1 (CAR-T1 = day 0).",
                                        "Relapse before death: a relapse date on or before the death date. Last step: "
                                        "the latest step of the sandwich the subject received. Grade 5 AE: the CTCAE "
                                        "grade 5 term(s) of the subject in ADAE."])
    return with_subtitles(table, cut_line(inputs))
