"""Runnable examples: `python -m pmt.word2vec.examples.capitals`."""
