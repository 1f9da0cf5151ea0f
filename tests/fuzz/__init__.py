"""Differential fuzzing of analysis.stats against R (survival, cmprsk): see tests/fuzz/run.py."""
