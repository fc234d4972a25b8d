"""Inverted dropout: zero each element with probability p and scale the survivors by 1/(1-p),
so that the expected activation is unchanged and evaluation needs no rescaling.

    y = x * m,   m_i = [u_i >= p] / (1 - p),  u_i ~ U(0, 1)
    dL/dx = g * m

`dropout_mask` draws m on its own, for ops that apply it inside a fused kernel (the attention
weights of pmt.transformer).
"""
from __future__ import annotations

import numpy as np
from pmt.core.seeding import get_rng

from .tensor import Tensor


def dropout_mask(shape, p: float, dtype=np.float32, rng: np.random.Generator | None = None) -> np.ndarray:
    """The inverted-dropout multiplier m: 0 with probability p, else 1/(1-p).

    Args:
        shape: shape of the mask.
        p: drop probability in [0, 1] (p = 1 gives zeros).
        dtype: float dtype of the mask.
        rng: generator (default: pmt.core's shared generator).

    Example:
        >>> m = dropout_mask((2, 3), 0.5, rng=np.random.default_rng(0))
        >>> sorted(set(m.ravel().tolist())) in ([0.0, 2.0], [0.0], [2.0])
        True
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must lie in [0, 1], got {p}")
    dtype = np.dtype(dtype)
    if p == 1.0:
        return np.zeros(shape, dtype=dtype)
    u = (rng or get_rng()).random(shape, dtype=np.float32 if dtype == np.float32 else np.float64)
    mask = (u >= p).astype(dtype)
    mask *= 1.0 / (1.0 - p)
    return mask


def dropout(x: Tensor, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None) -> Tensor:
    """Drop elements of x with probability p (identity when not training or p == 0).

    Args:
        x: Tensor of any shape.
        p: drop probability in [0, 1].
        training: apply dropout only when True.
        rng: generator for the mask (default: pmt.core's shared generator).

    Returns:
        x * m (see `dropout_mask`).  dL/dx = g * m.

    Example:
        >>> y = dropout(Tensor(np.ones((4, 8))), 0.25, training=True)
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must lie in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    mask = dropout_mask(x.shape, p, x.dtype, rng)
    return Tensor.from_op(x.data * mask, (x,), lambda g: (g * mask,), "dropout")
