"""Runnable examples: `python -m pmt.mlp.examples.mnist --help`."""
