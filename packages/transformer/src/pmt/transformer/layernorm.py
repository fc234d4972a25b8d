"""Layer normalisation over the last axis as a pure-numpy kernel (forward + hand-written backward).

    μ = mean(x),  σ = sqrt(mean((x - μ)^2) + eps),  x̂ = (x - μ) / σ,  y = γ ⊙ x̂ + β

Backward (per row of n features), with g = dy ⊙ γ:

    dx = (1/σ) (g - mean(g) - x̂ ⊙ mean(g ⊙ x̂))
    dγ = Σ_rows dy ⊙ x̂,   dβ = Σ_rows dy

Derivation in two lines: x̂ depends on x through the centring (whose Jacobian subtracts the mean)
and through σ (dσ/dx_j = x̂_j / n), so dL/dx_j = (1/σ)(g_j - mean(g)) - (x̂_j/σ) mean(g ⊙ x̂).
Fusing it keeps one (rows, n) array (x̂) instead of the six intermediates a chain of mean, sub,
square, sqrt and div ops would store, and it is one expression instead of six graph nodes.
"""
from __future__ import annotations

import numpy as np


def layer_norm_forward(x, gamma, beta, eps: float = 1e-5):
    """y = γ ⊙ (x - mean(x)) / sqrt(var(x) + eps) + β over the last axis.

    Args:
        x: (..., n) inputs, e.g. (batch, seq, d_model).
        gamma: (n,) gain.  beta: (n,) bias.
        eps: added to the variance (the biased, 1/n one).

    Returns:
        y: (..., n) and `cache` = (x̂, 1/σ, γ) for `layer_norm_backward`.

    Example:
        >>> y, cache = layer_norm_forward(np.arange(6.0).reshape(2, 3), np.ones(3), np.zeros(3))
        >>> np.round(y[0], 3)
        array([-1.225,  0.   ,  1.225])
    """
    x, gamma, beta = np.asarray(x), np.asarray(gamma), np.asarray(beta)
    n = x.shape[-1] if x.ndim else 0
    if x.ndim < 1 or gamma.shape != (n,) or beta.shape != (n,):
        raise ValueError(f"layer_norm: expected x (..., n) with gamma and beta of shape (n,); got x "
                         f"{x.shape}, gamma {gamma.shape}, beta {beta.shape}")
    if not eps > 0:
        raise ValueError(f"layer_norm: eps must be > 0, got {eps}")
    mu = x.mean(axis=-1, keepdims=True)
    xhat = x - mu                                               # (..., n), centred; normalised below
    var = np.einsum("...i,...i->...", xhat, xhat)[..., None] / n
    rstd = 1.0 / np.sqrt(var + eps)                             # (..., 1)
    xhat *= rstd
    y = xhat * gamma
    y += beta
    return y, (xhat, rstd, gamma)


def layer_norm_backward(dy, cache):
    """dx = (1/σ)(g - mean(g) - x̂ ⊙ mean(g ⊙ x̂)) with g = dy ⊙ γ; dγ = Σ dy ⊙ x̂; dβ = Σ dy.

    Args:
        dy: (..., n) gradient of the loss with respect to y.
        cache: what `layer_norm_forward` returned.

    Returns:
        dx: (..., n), dgamma: (n,), dbeta: (n,).
    """
    xhat, rstd, gamma = cache
    n = xhat.shape[-1]
    dy2 = dy.reshape(-1, n)                                     # (rows, n)
    dgamma = np.einsum("ri,ri->i", dy2, xhat.reshape(-1, n))
    dbeta = dy2.sum(axis=0)
    g = dy * gamma                                              # (..., n)
    mean_g = g.mean(axis=-1, keepdims=True)
    mean_gx = np.einsum("...i,...i->...", g, xhat)[..., None] / n
    g -= mean_g
    g -= xhat * mean_gx
    g *= rstd
    return g, dgamma, dbeta
