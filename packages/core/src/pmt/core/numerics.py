"""Numerically careful numpy helpers that several packages share: log-sum-exp, (log-)softmax,
the logistic sigmoid, and `unbroadcast` (the gradient of numpy broadcasting).

They work on plain arrays (no autograd): `pmt.graph`'s ops call them inside their forward and
backward passes, `pmt.mlp` and the CRF call them directly.  Each keeps the input's float dtype.

Why the care:

    log sum_j e^(x_j)      overflows for x_j > 88 (float32) if computed as written; with
                           m = max_j x_j it equals  m + log sum_j e^(x_j - m), every term <= 1.
    log softmax(x)_i     = x_i - logsumexp(x), never log(softmax), which is log 0 = -inf once
                           a probability underflows.
    sigmoid(x)           = 1 / (1 + e^-x) overflows e^-x for x < -88 (float32); the identity
                           (1 + tanh(x/2)) / 2 does not, but it rounds to exactly 0 below x ~ -38
                           (float64), where 1 + tanh(x/2) cancels.  Written with e = e^-|x| <= 1:
                           sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0,
                           both to full relative precision in either tail.
"""
from __future__ import annotations

import numpy as np


def _row_max(x: np.ndarray, axis: int):
    """(max over `axis` with keepdims, whether some slice's max is not finite).

    Such a slice is shifted by 0 instead of its max: one of all -inf (every entry masked) then
    stays -inf rather than becoming -inf - (-inf) = NaN, and one holding +inf sums to +inf.
    An empty axis gives zeros.
    """
    if x.shape[axis] == 0:
        return np.zeros(x.shape[:axis % x.ndim] + (1,) + x.shape[axis % x.ndim + 1:], x.dtype), False
    m = x.max(axis=axis, keepdims=True)
    finite = np.isfinite(m)
    dead = not finite.all()
    if dead:
        m[~finite] = 0
    return m, dead


def logsumexp(x, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """log(sum(exp(x), axis)), computed without overflow.

    Args:
        x: array of any shape (float).
        axis: the axis summed over.
        keepdims: keep it as size 1.

    Returns:
        The reduced array.  A slice of all -inf gives -inf (not NaN), one holding +inf gives
        +inf; an empty slice gives -inf.

    Example:
        >>> float(logsumexp(np.array([1000.0, 1000.0])))   # 1000 + log 2
        1000.6931471805599
    """
    x = np.asarray(x)
    m, _ = _row_max(x, axis)
    with np.errstate(divide="ignore", over="ignore"):        # log 0 = -inf, e^inf = inf: no NaN
        out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
    out += m
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(x, axis: int = -1) -> np.ndarray:
    """log softmax(x) = x - logsumexp(x) along `axis`: finite for any finite x (even +-1e4).

    A slice of all -inf stays -inf (no NaN).  The result is a new array.

    Example:
        >>> np.exp(log_softmax(np.array([[1e4, -1e4]])))
        array([[1., 0.]])
    """
    x = np.asarray(x)
    m, dead = _row_max(x, axis)
    z = x - m                                                  # every entry <= 0, the max is 0
    with np.errstate(divide="ignore"):
        lse = np.log(np.exp(z).sum(axis=axis, keepdims=True))  # >= 0, or -inf on an all -inf slice
    if dead:
        lse[lse == -np.inf] = 0                                # leave such a slice at -inf, not NaN
    z -= lse
    return z


def softmax(x, axis: int = -1) -> np.ndarray:
    """e^(x - max) / sum e^(x - max) along `axis`; entries of -inf get probability 0.

    A slice of all -inf gives zeros (0/0 is avoided: its normaliser is taken as 1).

    Example:
        >>> softmax(np.zeros((1, 4)))
        array([[0.25, 0.25, 0.25, 0.25]])
    """
    x = np.asarray(x)
    m, dead = _row_max(x, axis)
    e = np.exp(x - m)
    z = e.sum(axis=axis, keepdims=True)
    if dead:
        z[z == 0] = 1
    e /= z
    return e


def sigmoid(x) -> np.ndarray:
    """The logistic function 1 / (1 + e^-x), stable and relatively accurate in both tails.

    With e = e^-|x| (never overflows): 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0.
    sigmoid(-100) is 3.7e-44 in float64, not 0.

    Example:
        >>> sigmoid(np.array([0.0, -100.0]))
        array([5.00000000e-01, 3.72007598e-44])
    """
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    s = 1 / (1 + e)
    return np.where(x >= 0, s, e * s)


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `g` down to `shape`, undoing numpy broadcasting: the gradient of a broadcast input.

    An input of `shape` broadcast to g.shape was reused along the axes broadcasting created
    (leading ones) and stretched (size 1 in `shape`); its gradient sums g over those axes.

    Args:
        g: (*lead, *shape') upstream gradient, where `shape` broadcasts to g.shape.
        shape: the input's shape.

    Returns:
        An array of `shape` (g itself when no axis was broadcast).

    Example:
        >>> unbroadcast(np.ones((4, 3)), (3,))
        array([4., 4., 4.])
    """
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g
