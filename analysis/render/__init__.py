"""Render the SAP notebooks (Quarto .qmd documents) of one data cut into reports/<cut>/.

Two engines produce the same set of self-contained HTML files:

* ``quarto`` (when the Quarto CLI is on PATH): ``quarto render`` per notebook, parameters
  passed with ``-P``; see analysis.render.quarto.
* ``jupyter`` (fallback, here and in CI): the .qmd is read with jupytext, its ``#|`` cell options
  are parsed here, the data cut's parameters are injected after the ``parameters`` cell (as
  papermill and Quarto do), the notebook is executed with nbclient and exported with nbconvert
  using this package's template; see analysis.render.fallback.

Entry point: ``analysis.render.pipeline.render_cut(cut, root=None) -> Path``.
Notebooks call ``analysis.present.style.use_report_style()`` for print-quality figures.
"""
