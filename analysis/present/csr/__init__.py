"""The numbered tables and listings of the report, each built ONCE from the ARD (listings: from the
derived datasets) by a function of this package: the ``rtf`` step writes them as RTF
(``python -m analysis rtf``: :mod:`analysis.present.csr.step`) and the notebooks show the very same
:class:`~analysis.present.table.Table` as HTML (``CSR.show(key, inputs)``). One builder per registry
key (:mod:`analysis.present.numbering`), one module per report section (the notebook that shows it):
``overview``, ``population``, ``efficacy``, ``mrd``, ``safety``, ``external``, ``sensitivity``;
:mod:`analysis.present.csr.registry` maps every key to its builder.

Deliberately empty: the modules import each other by full name, never this package (no cycle).
"""
