"""ADaM-style derivations (ADSL, ADTTE, ADMRD, ADAE) from the validated raw exports of one cut.

Style follows pharmaverse admiral: every derivation is a small pure function (DataFrame in,
DataFrame out); time-to-event parameters are declared from event and censoring source objects
(``analysis.derive.tte``); the dataset specification (names, labels, origins, derivation text)
is declared once next to each derivation (``SPEC`` in each module) and applied by the writer.
Derivations know no statistics. ``pipeline.derive_cut`` runs them all for one data cut.
"""
