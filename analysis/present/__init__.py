"""Presentation layer: tidy numbers -> display tables -> HTML / RTF.

* :mod:`analysis.present.formats` -- the number formatting rules, defined once;
* :mod:`analysis.present.table` -- :class:`Table`, :func:`to_html`, :func:`write_rtf`;
* :mod:`analysis.present.layouts` -- ``format_table1``, ``format_ae_table``,
  ``format_ae_overview``, ``format_survival_summary``, ``format_rates``.
"""

from analysis.present.layouts import (format_ae_overview, format_ae_table, format_rates,
                                      format_survival_summary, format_table1)
from analysis.present.table import (Table, rtf_string, to_html, write_html, write_outputs,
                                    write_rtf)

__all__ = ["Table", "to_html", "write_html", "write_rtf", "write_outputs", "rtf_string", "format_table1",
           "format_ae_table", "format_ae_overview", "format_survival_summary", "format_rates"]
