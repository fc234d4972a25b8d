"""Small runnable examples of pmt.core: `python -m pmt.core.examples.linear_demo`."""
