"""Layer normalisation as one fused operation.

Over the last axis (n features), with mu = mean(x), var = mean((x - mu)^2):

    xhat = (x - mu) / sqrt(var + eps)            y = gamma * xhat + beta

Backward, with r = 1 / sqrt(var + eps) and dxhat = g * gamma (means over the last axis):

    dL/dx     = r * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    dL/dgamma = sum over all leading axes of g * xhat
    dL/dbeta  = sum over all leading axes of g

Derivation in two lines: xhat depends on x through the centring (whose Jacobian subtracts the
mean) and through r (d sqrt(var)/dx_j = xhat_j / n), so
dL/dx_j = r (dxhat_j - mean(dxhat)) - r xhat_j mean(dxhat * xhat).

Fused because the composed version (mean, sub, square, mean, add, sqrt, div, mul, add) would
record nine nodes and keep as many (batch, seq, d) intermediates; this keeps xhat and r.  The
row reductions are einsums over the last axis (one pass, no squared temporary) and the backward
works in place on one buffer.
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor


def layer_norm(x: Tensor, gamma: Tensor | None = None, beta: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise x over its last axis, then scale by gamma and shift by beta.

    Args:
        x: (..., n).
        gamma, beta: (n,) or None (no affine part).
        eps: added to the (biased, 1/n) variance; >= 0.

    Returns:
        (..., n) Tensor.  Backward: see the module docstring.

    Example:
        >>> y = layer_norm(Tensor(np.random.randn(2, 5, 8)), Tensor(np.ones(8)), Tensor(np.zeros(8)))
        >>> y.shape
        (2, 5, 8)
    """
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.ndim == 0:
        raise ValueError("layer_norm: input must have a feature axis, got a scalar")
    if not eps >= 0:
        raise ValueError(f"layer_norm: eps must be >= 0, got {eps}")
    n = x.shape[-1]
    for name, p in (("gamma", gamma), ("beta", beta)):
        if p is not None and p.shape != (n,):
            raise ValueError(f"layer_norm: {name} has shape {p.shape}, expected ({n},) for input {x.shape}")
    xd = x.data
    xhat = xd - xd.mean(axis=-1, keepdims=True)                      # (..., n), centred
    var = np.einsum("...i,...i->...", xhat, xhat)[..., None] / n      # (..., 1)
    r = 1.0 / np.sqrt(var + eps)                                      # (..., 1)
    xhat *= r                                                         # (..., n), normalised
    out = xhat * gamma.data if gamma is not None else xhat.copy()
    if beta is not None:
        out += beta.data

    def backward(g):
        g2, xhat2 = g.reshape(-1, n), xhat.reshape(-1, n)            # (rows, n)
        grads = [None]
        if x.requires_grad:
            dxhat = g * gamma.data if gamma is not None else g.copy()  # (..., n), ours to modify
            mean_g = dxhat.mean(axis=-1, keepdims=True)
            mean_gx = np.einsum("...i,...i->...", dxhat, xhat)[..., None] / n
            dxhat -= mean_g
            dxhat -= xhat * mean_gx
            dxhat *= r
            grads[0] = dxhat
        if gamma is not None:
            grads.append(np.einsum("ri,ri->i", g2, xhat2) if gamma.requires_grad else None)
        if beta is not None:
            grads.append(g2.sum(axis=0) if beta.requires_grad else None)
        return grads
    parents = (x,) + tuple(p for p in (gamma, beta) if p is not None)
    return Tensor.from_op(out, parents, backward, "layer_norm")
