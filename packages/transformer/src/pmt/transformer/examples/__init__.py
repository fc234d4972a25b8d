"""Runnable examples of pmt.transformer (`python -m pmt.transformer.examples.<name>`)."""
