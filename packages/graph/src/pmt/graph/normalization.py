"""Layer normalisation as one fused operation.

Over the last axis (n features), with mu = mean(x), var = mean((x - mu)^2):

    xhat = (x - mu) / sqrt(var + eps)            y = gamma * xhat + beta

Backward, with r = 1 / sqrt(var + eps) and dxhat = g * gamma (means over the last axis):

    dL/dx     = r * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    dL/dgamma = sum over all leading axes of g * xhat
    dL/dbeta  = sum over all leading axes of g

Fused because the composed version (mean, sub, square, mean, add, sqrt, div, mul, add) would
record nine nodes and keep as many (batch, seq, d) intermediates; this keeps xhat and r.
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor


def layer_norm(x: Tensor, gamma: Tensor | None = None, beta: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise x over its last axis, then scale by gamma and shift by beta.

    Args:
        x: (..., n).
        gamma, beta: (n,) or None (no affine part).
        eps: added to the variance.

    Returns:
        (..., n) Tensor.

    Example:
        >>> y = layer_norm(Tensor(np.random.randn(2, 5, 8)), Parameter(np.ones(8)), Parameter(np.zeros(8)))
    """
    if not isinstance(x, Tensor):
        x = Tensor(x)
    n = x.shape[-1] if x.ndim else 0
    for name, p in (("gamma", gamma), ("beta", beta)):
        if p is not None and p.shape != (n,):
            raise ValueError(f"layer_norm: {name} has shape {p.shape}, expected ({n},) for input {x.shape}")
    xd = x.data
    mu = xd.mean(axis=-1, keepdims=True)
    xc = xd - mu
    r = 1.0 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + eps)   # (..., 1)
    xhat = xc * r                                                    # (..., n)
    out = xhat * gamma.data if gamma is not None else xhat.copy()
    if beta is not None:
        out += beta.data

    def backward(g):
        dxhat = g * gamma.data if gamma is not None else g
        grads = [None]
        if x.requires_grad:
            grads[0] = r * (dxhat - dxhat.mean(axis=-1, keepdims=True)
                            - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
        lead = tuple(range(g.ndim - 1))
        if gamma is not None:
            grads.append((g * xhat).sum(axis=lead) if gamma.requires_grad else None)
        if beta is not None:
            grads.append(g.sum(axis=lead) if beta.requires_grad else None)
        return grads
    parents = (x,) + tuple(p for p in (gamma, beta) if p is not None)
    return Tensor.from_op(out, parents, backward, "layer_norm")
