"""Great Expectations validation of a raw data cut (the ``validate`` step).

Entry point: ``validation.runner.validate_cut(cut, root=None) -> ValidationResult``; raises
``analysis.errors.ValidationFailed`` (CLI exit 3) when any rule is broken, and writes
reports/<cut>/validation.html in both cases.

Modules: ``frames`` (read a form as text, typed helper columns), ``dates`` (date bounds),
``rules`` (a rule = a GX expectation + how to word its failures), ``form_suites`` (per-form suites
generated from analysis.raw_spec), ``cross`` (cross-form suites), ``manifest`` (files and
checksums), ``engine`` (runs the suites in one ephemeral GX context), ``report`` (terminal lines,
HTML), ``runner`` (the step).

Partial dates in order rules
----------------------------
A partial date ``YYYY-MM`` stands for every day of its month (earliest = the 1st, latest = the
last day). An order rule "A on or before B" is broken only if even the earliest possible day of A
is after the latest possible day of B; a strict rule "A before B" only if the earliest day of A is
on or after the latest day of B. So a partial date never breaks an order it could satisfy. (The
day imputation of SAP 2.3, analysis.conventions, is for the analysis and plays no part here.) A
partial date is allowed only in ``pdate`` columns; a missing month is invalid everywhere.
"""
