"""Runnable examples of pmt.graph: `python -m pmt.graph.examples.<name> --help`."""
