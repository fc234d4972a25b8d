"""Softmax and cross-entropy fused into one kernel (class indices, ignore_index, label smoothing).

For each valid row (target != ignore_index) with logits z over C classes:

    log p = z - logsumexp(z)
    q     = (1 - ε) onehot(y) + ε / C          the (smoothed) target distribution
    loss  = mean over valid rows of  -Σ_c q_c log p_c

and the gradient is the famous one-liner

    d loss / d z = (softmax(z) - q) / N_valid        (0 on ignored rows)

Why fused: computing softmax, then log, then picking the target loses precision (log of an
underflowed probability is -inf) and stores two (N, C) arrays; the log-sum-exp form is stable
and the gradient needs only p.
"""
from __future__ import annotations

import numpy as np


def softmax_cross_entropy_forward(logits, targets, ignore_index: int = -100,
                                  label_smoothing: float = 0.0):
    """Mean cross-entropy of `logits` against integer `targets`, and the cache for the backward.

    Args:
        logits: (..., C) unnormalised scores, e.g. (batch, seq, vocab).
        targets: (...) integer class indices in [0, C), or `ignore_index` for rows to skip.
        ignore_index: target value whose rows contribute neither loss nor gradient.
        label_smoothing: ε in [0, 1): weight moved from the true class to the uniform distribution.

    Returns:
        loss: a Python float, the mean over valid rows (0.0 when no row is valid), and `cache`.

    Example:
        >>> loss, cache = softmax_cross_entropy_forward(np.zeros((2, 4)), np.array([1, 3]))
        >>> round(loss, 4)   # log 4
        1.3863
    """
    logits = np.asarray(logits)
    targets = np.asarray(targets)
    if logits.ndim < 1 or not np.issubdtype(logits.dtype, np.floating):
        raise TypeError(f"cross_entropy: logits must be a float array (..., C), got {logits.dtype} "
                        f"of shape {logits.shape}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"cross_entropy: targets must be integer class indices, got dtype {targets.dtype}")
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"cross_entropy: targets have shape {targets.shape}, expected the logits' "
                         f"leading shape {logits.shape[:-1]}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must lie in [0, 1), got {label_smoothing}")
    n_classes = logits.shape[-1]
    z = logits.reshape(-1, n_classes)                         # (N, C)
    y = targets.reshape(-1)
    valid = y != ignore_index
    bad = valid & ((y < 0) | (y >= n_classes))
    if bad.any():
        raise ValueError(f"cross_entropy: target {int(y[bad][0])} is outside [0, {n_classes}) and is "
                         f"not ignore_index={ignore_index}")
    n_valid = int(valid.sum())
    rows = np.flatnonzero(valid)
    yv = y[rows]
    logp = z - z.max(axis=1, keepdims=True)                   # (N, C), shifted for stability
    np.subtract(logp, np.log(np.exp(logp).sum(axis=1, keepdims=True)), out=logp)
    if n_valid == 0:
        loss = 0.0
    else:
        nll = -logp[rows, yv]
        if label_smoothing:
            # -Σ q log p = (1-ε)(-log p_y) + ε · mean_c(-log p_c)
            nll = (1 - label_smoothing) * nll - label_smoothing * logp[rows].mean(axis=1)
        loss = float(nll.sum(dtype=np.float64) / n_valid)
    return loss, (logp, rows, yv, n_valid, label_smoothing, logits.shape)


def softmax_cross_entropy_backward(cache, d_loss: float = 1.0):
    """d loss / d logits = d_loss · (softmax(z) - q) / N_valid on valid rows, 0 on ignored rows.

    Args:
        cache: what `softmax_cross_entropy_forward` returned.
        d_loss: upstream gradient of the scalar loss (1.0 when the loss is the objective).

    Returns:
        d_logits: array of the logits' shape.
    """
    logp, rows, yv, n_valid, eps, shape = cache
    if n_valid == 0:
        return np.zeros(shape, dtype=logp.dtype)
    g = np.exp(logp)                                          # softmax, (N, C)
    n_classes = g.shape[1]
    if eps:
        g -= eps / n_classes
    g[rows, yv] -= 1.0 - eps
    if len(rows) != g.shape[0]:
        keep = np.zeros(g.shape[0], dtype=bool)
        keep[rows] = True
        g[~keep] = 0
    g *= g.dtype.type(d_loss / n_valid)
    return g.reshape(shape)
