"""The case registry and the comparison shared by every group of cases.

A case is a function returning `{label: (ours, reference)}` pairs of arrays: an op's value
and the gradient of each input, a layer's parameter gradients, an optimizer's parameters
after some steps.  Its error is the largest *norm-wise* relative difference over its pairs,

    err = max_label  max|ours - ref| / max|ref|

(so an entry near zero is not judged by its own tiny magnitude).  NaN and infinities must sit
at the same places and be equal there; only the finite entries enter the norms.
"""
from __future__ import annotations

import numpy as np

CASES: list = []          # (group, name, fn)


def case(group: str, name: str):
    """Decorator registering `fn() -> {label: (ours, ref)}` as case `group/name`."""
    def register(fn):
        CASES.append((group, name, fn))
        return fn
    return register


def add(group: str, name: str, fn):
    """Register a case built in a loop (same contract as `case`)."""
    CASES.append((group, name, fn))


def relative_error(ours, ref) -> float:
    """Norm-wise relative difference of two arrays (inf on a shape or non-finite mismatch)."""
    ours, ref = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if ours.shape != ref.shape:
        return float("inf")
    fin_o, fin_r = np.isfinite(ours), np.isfinite(ref)
    if not np.array_equal(fin_o, fin_r) or not np.array_equal(ours[~fin_o], ref[~fin_r], equal_nan=True):
        return float("inf")
    if not fin_r.any():
        return 0.0
    diff = np.abs(ours[fin_o] - ref[fin_r]).max()
    scale = np.abs(ref[fin_r]).max()
    return float(diff / scale) if scale > 0 else float(diff)


def compare(pairs: dict) -> tuple[float, str]:
    """(largest relative error, label where it occurs) over a case's pairs."""
    worst, where = 0.0, ""
    for label, (ours, ref) in pairs.items():
        err = relative_error(ours, ref)
        if err > worst or not where:
            worst, where = err, label
    return worst, where
