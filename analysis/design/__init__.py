"""Operating characteristics of the external comparison by simulation (SAP 9, issue 17).

``python -m analysis design --scenarios FILE --replicates N`` simulates, for each scenario of a
TOML file (analysis/design/scenarios/), N studies, runs each one in memory through the real
derivations (analysis.derive) and the real analysis functions of every comparison of the report
(analysis.analyze), and summarises bias, empirical SE, coverage and rejection rate with their
Monte Carlo SEs (Morris, White & Crowther 2019) as an ARD, a table and a figure.

Modules: ``scenarios`` (the scenario file), ``replicate`` (one simulated study -> one row per
comparison), ``performance`` (Monte Carlo summaries), ``runner`` (seeds, chunks, Dask, resume),
``output`` (ARD, table, figure, HTML page).

This package never imports the simulator (analysis.simulate): the command line
(analysis.cli_design) passes a ``simulate`` function in (dependency injection), so that
analysis code stays a function of raw data only.
"""

# Defaults of the command line, here so that building the parser imports nothing heavy.
DEFAULT_ROOT_SEED = 20261130
DEFAULT_CHUNK = 10           # replicates per Dask task
# RMST bootstrap replicates inside each simulated study (the report's own setting,
# conventions.BOOTSTRAP_REPLICATES, is not changed): 0 = no RMST interval, so its coverage and
# rejection rate are not estimable; the hazard ratios use their Wald / robust intervals.
DEFAULT_DESIGN_BOOTSTRAP = 0
