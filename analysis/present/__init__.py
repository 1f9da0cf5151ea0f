"""Presentation layer: tidy numbers -> display tables -> HTML / RTF.

* :mod:`analysis.present.formats` -- the number formatting rules, defined once;
* :mod:`analysis.present.table` -- :class:`Table`, :func:`to_html`, :func:`write_rtf`;
* :mod:`analysis.present.layouts` -- ``format_table1``, ``format_ae_table``,
  ``format_ae_overview``, ``format_survival_summary``, ``format_rates``.

Import them from their modules: this file imports none (a package that imports its own modules,
which import the package, is an import cycle).
"""
