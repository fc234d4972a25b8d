"""Differential test: pmt against PyTorch, case by case, in float64 (`python -m tools.difftest`).

Run it with the reference interpreter (the one with torch): see tools/README.md.
"""
