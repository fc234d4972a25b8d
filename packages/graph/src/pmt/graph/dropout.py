"""Inverted dropout: zero each element with probability p and scale the survivors by 1/(1-p),
so that the expected activation is unchanged and evaluation needs no rescaling.

    y = x * m,   m_i = [u_i >= p] / (1 - p),  u_i ~ U(0, 1)
    dL/dx = g * m
"""
from __future__ import annotations

import numpy as np
from pmt.core.seeding import get_rng

from .tensor import Tensor


def dropout(x: Tensor, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None) -> Tensor:
    """Drop elements of x with probability p (identity when not training or p == 0).

    Args:
        x: Tensor of any shape.
        p: drop probability in [0, 1].
        training: apply dropout only when True.
        rng: generator for the mask (default: pmt.core's shared generator).

    Example:
        >>> y = dropout(h, 0.25, training=model.training)
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must lie in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        mask = np.zeros(x.shape, dtype=x.dtype)
    else:
        u = (rng or get_rng()).random(x.shape, dtype=np.float32 if x.dtype == np.float32 else np.float64)
        mask = (u >= p).astype(x.dtype)
        mask *= 1.0 / (1.0 - p)
    return Tensor.from_op(x.data * mask, (x,), lambda g: (g * mask,), "dropout")
