"""Presentation layer: tidy numbers -> display tables -> HTML / RTF.

* :mod:`analysis.present.formats` -- the number formatting rules, defined once;
* :mod:`analysis.present.table` -- :class:`Table`, :func:`to_html`, :func:`write_rtf`;
* :mod:`analysis.present.layouts` -- ``format_table1``, ``format_ae_table``,
  ``format_ae_overview``, ``format_survival_summary``, ``format_rates``;
* :mod:`analysis.present.ard_views` -- ARD rows -> the input frames of the layouts, and the one
  loader of a report section's inputs (``load_section_inputs``);
* figures by what they draw: :mod:`~analysis.present.figures` (KM with numbers at risk, swimmer,
  MRD course, study design, CONSORT), :mod:`~analysis.present.curves` (weighted KM panels, stacked
  CIF), :mod:`~analysis.present.forest`, :mod:`~analysis.present.propensity` (balance, weights);
* tables from the ARD: :mod:`~analysis.present.comparison_tables`,
  :mod:`~analysis.present.safety_tables`, :mod:`~analysis.present.maturity`,
  :mod:`~analysis.present.target_trial`; :mod:`~analysis.present.listings` (records, not
  statistics); :mod:`~analysis.present.changes` (the changes page).
"""

from analysis.present.layouts import (format_ae_overview, format_ae_table, format_rates,
                                      format_survival_summary, format_table1)
from analysis.present.table import (Table, rtf_string, to_html, write_html, write_outputs,
                                    write_rtf)

__all__ = ["Table", "to_html", "write_html", "write_rtf", "write_outputs", "rtf_string", "format_table1",
           "format_ae_table", "format_ae_overview", "format_survival_summary", "format_rates"]
