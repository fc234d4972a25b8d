"""Central finite differences: the one numerical primitive every gradient check in PMT uses.

For a scalar function L(x), each coordinate's derivative is estimated as

    dL/dx_i ≈ (L(x + h e_i) - L(x - h e_i)) / (2h)

with error O(h²).  Use float64: in float32 the rounding error of L (~1e-7 relative)
divided by 2h swamps the estimate.  `pmt.mlp.gradcheck` (layers) and `pmt.graph.gradcheck`
(autograd operations) build their checks on it.
"""
from __future__ import annotations

import numpy as np


def numerical_gradient(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar function f() with respect to array x.

    Args:
        f: a function of no arguments that reads x and returns a float.
        x: the array to differentiate with respect to; perturbed in place, one element at a
            time, and restored.
        h: the step.

    Returns:
        float64 array of x's shape.

    Example:
        >>> x = np.array([1.0, 2.0])
        >>> numerical_gradient(lambda: float((x ** 2).sum()), x).round(6).tolist()
        [2.0, 4.0]
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)   # views: writes reach x
    if flat.size and not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient: x must be a contiguous array (it is perturbed in place)")
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f()
        flat[i] = old - h
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return grad
