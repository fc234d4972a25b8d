"""Reductions over axes: sum, mean, max, min (with `axis` and `keepdims`).

Backward of a reduction spreads the upstream gradient back over the reduced axes:

    sum:  dL/dx = broadcast(g)                      every input contributed with weight 1
    mean: dL/dx = broadcast(g) / n                   n = number of reduced elements
    max:  dL/dx = broadcast(g) * [x == max] / count  ties share the gradient equally
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor


def _axes(axis, ndim, name) -> tuple | None:
    """Normalise `axis` (None, int or tuple of ints) to a sorted tuple of non-negative axes."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)):
            raise TypeError(f"{name}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{name}: axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def _expand(g, axes, keepdims, shape):
    """Re-insert reduced axes into g (if they were dropped) and broadcast to `shape` (a view)."""
    if not keepdims:
        g = g.reshape([1 if (axes is None or i in axes) else n for i, n in enumerate(shape)])
    return np.broadcast_to(g, shape)


def sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over `axis` (all axes if None).  dL/dx = g broadcast back to x's shape.

    Example:
        >>> sum(Tensor(np.ones((2, 3))), axis=1).data
        array([3., 3.])
    """
    axes = _axes(axis, x.ndim, "sum")
    out = np.sum(x.data, axis=axes, keepdims=keepdims)
    shape = x.shape
    return Tensor.from_op(np.asarray(out), (x,), lambda g: (_expand(g, axes, keepdims, shape),), "sum")


def mean(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over `axis` (all axes if None).  dL/dx = g / n broadcast back (n = reduced count).

    The mean over zero elements is NaN, as in numpy, and is refused with a ValueError.
    """
    axes = _axes(axis, x.ndim, "mean")
    n = x.size if axes is None else int(np.prod([x.shape[a] for a in axes]))
    if n == 0:
        raise ValueError(f"mean: reducing over zero elements (shape {x.shape}, axis {axis})")
    out = np.sum(x.data, axis=axes, keepdims=keepdims) / np.asarray(n, x.dtype)
    shape = x.shape
    return Tensor.from_op(np.asarray(out), (x,), lambda g: (_expand(g / n, axes, keepdims, shape),), "mean")


def _extreme(fn, x, axis, keepdims, name):
    axes = _axes(axis, x.ndim, name)
    if x.size == 0 and (axes is None or any(x.shape[a] == 0 for a in axes)):
        raise ValueError(f"{name}: reducing over zero elements (shape {x.shape}, axis {axis})")
    kept = fn(x.data, axis=axes, keepdims=True)
    out = kept if keepdims else kept.reshape([n for i, n in enumerate(kept.shape)
                                              if not (axes is None or i in axes)])

    def backward(g):
        hit = x.data == kept                                       # where the extreme is attained
        count = np.sum(hit, axis=axes, keepdims=True)
        g = g if keepdims else g.reshape(kept.shape)
        return (hit * (g / count),)
    return Tensor.from_op(np.asarray(out), (x,), backward, name)


def max(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over `axis`.  dL/dx = g at the maximum (shared equally between ties), 0 elsewhere."""
    return _extreme(np.max, x, axis, keepdims, "max")


def min(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Minimum over `axis`.  dL/dx = g at the minimum (shared equally between ties), 0 elsewhere."""
    return _extreme(np.min, x, axis, keepdims, "min")
