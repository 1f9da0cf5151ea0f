"""The SAP analyses of this trial: derived ADaM data in, analysis results dataset (ARD) out.

This is the one trial-aware layer on top of the generic ``analysis.stats``. Each function takes
ADaM frames and returns ARD rows (``analysis.ard``); ``pipeline.analyze_cut`` runs them
all for a data cut and writes reports/<cut>/ard.csv and ard.parquet. The report formats its
tables from these rows and never recomputes a number.
"""
