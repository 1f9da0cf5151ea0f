"""Statistical analysis report package of the CD22/CD19 CAR-T + auto-HSCT "sandwich" B-ALL trial.

Pipeline (one module tree per step): raw -> validate -> derive -> analyze -> render.

- ``analysis.simulate``  seeded simulator of the SYNTHETIC raw exports (only the CLI imports it)
- ``validation``         (top-level package) Great Expectations suites on each raw form
- ``analysis.derive``    ADaM-style datasets (ADSL, ADTTE, ADMRD, ADAE); knows no statistics
- ``analysis.stats``     generic statistics on ADaM data; knows no trial
- ``analysis.analyze``   the SAP analyses of this trial -> analysis results dataset (ARD)
- ``analysis.render``    Quarto (or Jupyter fallback) rendering of ``analysis/notebooks``
- ``analysis.design``    operating characteristics of the external comparison by simulation (Dask);
                         the simulator is injected by ``analysis.cli_design`` (command-line layer)
"""

__version__ = "0.1.0"
