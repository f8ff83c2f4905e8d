"""Flint's benchmarks: ``python -m bench`` (or ``make bench``) runs them all.

Each benchmark compares two things measured in the same run on the same machine and reports
their ratio, never an absolute time, so the figures mean the same on a laptop and in CI. All
traffic stays on 127.0.0.1. The runner (``bench.__main__``) keeps the list of benchmarks,
prints the table and writes ``bench/results/latest.json``.
"""
