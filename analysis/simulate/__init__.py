"""Seeded simulator of the SYNTHETIC raw exports (one CSV per case-report form, analysis.raw_spec).

``analysis.simulate.study``: ``write_cuts``, ``simulate_study``, ``cut_files`` (the entry points);
``params``: every parameter with its literature row and the planted truth; ``trial``,
``external``, ``outcomes``, ``conduct``, ``mrd``, ``adverse_events``: the draws; ``records``: the
simulated patient records; ``export``: CSV text of a data cut.

This file imports none of its modules (a package that imports its own modules, which import the
package, is an import cycle). Only the command line (``python -m analysis simulate``), tests and
benchmarks import the simulator.
"""
