"""Benchmarks (`make bench` runs `python -m benchmarks.run_all`). Figures are printed, not asserted."""
