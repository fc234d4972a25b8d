"""Softmax and log-softmax, each one fused, numerically stable operation.

With m = max_j x_j (subtracted so that exp never overflows):

    softmax(x)_i     = e^(x_i - m) / sum_j e^(x_j - m)
    log_softmax(x)_i = x_i - m - log sum_j e^(x_j - m)

Backward (s = softmax(x), g = upstream gradient, sums over the softmax axis):

    softmax:      dL/dx = s * (g - sum(g * s))
    log_softmax:  dL/dx = g - s * sum(g)

Composing them from exp/sum/div would store three intermediates and lose precision for large
logits; fused they keep only the output.  The forward formulas are the numpy helpers of
`pmt.core.numerics`, shared with pmt.mlp and the CRF.

A slice whose entries are all -inf (every class masked) gives softmax zeros and log_softmax
-inf, never NaN, and a zero gradient.
"""
from __future__ import annotations

import numpy as np
from pmt.core import numerics

from .tensor import Tensor


def _check_axis(x, axis, name):
    if not isinstance(axis, (int, np.integer)) or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{name}: axis {axis!r} is out of range for a tensor of shape {x.shape}")


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """Softmax along `axis`.

    Args:
        x: (..., n, ...) logits; entries of -inf get probability 0.

    Example:
        >>> softmax(Tensor(np.zeros((2, 4)))).data[0]
        array([0.25, 0.25, 0.25, 0.25])
    """
    _check_axis(x, axis, "softmax")
    s = numerics.softmax(x.data, axis)

    def backward(g):
        return (s * (g - (g * s).sum(axis=axis, keepdims=True)),)
    return Tensor.from_op(s, (x,), backward, "softmax")


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log(softmax(x)) along `axis`, computed without forming softmax first.

    Example:
        >>> np.exp(log_softmax(Tensor(np.zeros((1, 2)))).data)
        array([[0.5, 0.5]])
    """
    _check_axis(x, axis, "log_softmax")
    out = numerics.log_softmax(x.data, axis)

    def backward(g):
        return (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)
    return Tensor.from_op(out, (x,), backward, "log_softmax")
