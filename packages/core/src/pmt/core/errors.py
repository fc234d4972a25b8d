"""Divergence: the one failure that is not the user's input but the numbers themselves.

A learning rate too high, an overflow, a NaN in the data: once a loss or a weight is NaN or
infinite, every later step is garbage.  PMT stops at once with `DivergenceError` naming
where (step, loss, learning rate), and never writes such weights as a result:
`save_checkpoint` and the word-vector writers call `check_finite` first.  Command lines
exit with status 1 for it (bad input is 2, Ctrl-C 130; see `pmt.core.cli`).

Example:
    >>> check_finite({"W": np.array([1.0, np.nan])}, "model")
    Traceback (most recent call last):
    pmt.core.errors.DivergenceError: model: W holds 1 NaN/inf value of 2
"""
from __future__ import annotations

import numpy as np

__all__ = ["DivergenceError", "check_finite", "nonfinite_report"]


class DivergenceError(FloatingPointError):
    """The training loss or the weights became NaN or infinite."""


def nonfinite_report(arrays: dict) -> str | None:
    """None when every float array of `arrays` is finite, else which ones are not and how much.

    Args:
        arrays: `dict[name, ndarray]` (non-float arrays are skipped: integers are always finite).
    """
    bad = []
    for name, a in arrays.items():
        a = np.asarray(a)
        if a.dtype.kind not in "fc" or a.size == 0:
            continue
        # One reduction first: summing is ~3x cheaper than isfinite over a big table, and a
        # finite sum proves every element finite (a NaN or inf makes the sum NaN or inf).
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(a.sum(dtype=np.float64)):
                continue
        n = int(a.size - np.count_nonzero(np.isfinite(a)))
        if n:
            bad.append(f"{name} holds {n:,} NaN/inf value{'s' if n != 1 else ''} of {a.size:,}")
    return "; ".join(bad) if bad else None


def check_finite(arrays: dict, where: str, advice: str = "") -> None:
    """Raise `DivergenceError` naming `where` if any float array in `arrays` holds NaN or inf.

    Args:
        arrays: `dict[name, ndarray]`, e.g. `model.state_dict()`.
        where: what the arrays are, for the message ("model", "runs/a/last.npz").
        advice: appended to the message (e.g. "lower the learning rate").
    """
    report = nonfinite_report(arrays)
    if report is not None:
        raise DivergenceError(f"{where}: {report}{'; ' + advice if advice else ''}")
