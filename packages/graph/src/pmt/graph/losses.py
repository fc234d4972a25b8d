"""Loss functions: `(outputs: Tensor, targets) -> scalar Tensor`, the batch mean by default.

Each is one fused operation (the stable formula and its gradient written together), and each
fits the Trainer protocol directly: `Trainer(model, opt, loss=cross_entropy)`; configure with
`functools.partial(cross_entropy, label_smoothing=0.1)`.
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction, name):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _scale_grad(g, reduction, denom):
    """Upstream gradient per example: g / denom (mean), g (sum) or g itself (none, shape (N,))."""
    if reduction == "none":
        return g.reshape(-1)
    return g / denom if reduction == "mean" else g


def cross_entropy(logits: Tensor, targets, weight=None, ignore_index: int = -100,
                  label_smoothing: float = 0.0, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy from raw logits and integer class targets (class axis last).

    With p = softmax(z), eps = label_smoothing, C classes, w the class weights (all 1 if None),
    and the weighted target distribution q_ic = (1 - eps) w_{y_i} [c = y_i] + (eps / C) w_c:

        loss_i = -sum_c q_ic log p_ic            (0 for targets equal to ignore_index)
        mean   = sum_i loss_i / sum_i w_{y_i}    (over non-ignored i; PyTorch's convention)
        dL/dz_ic = (p_ic sum_c' q_ic' - q_ic) / denominator

    Args:
        logits: (..., C) Tensor.
        targets: (...) integer array, entries in [0, C) or equal to `ignore_index`.
        weight: (C,) class weights or None.
        ignore_index: target value contributing neither loss nor gradient.
        label_smoothing: eps in [0, 1).
        reduction: "mean" (default), "sum", or "none" (per-example losses of shape (...)).

    Returns:
        Scalar Tensor (or (...) with reduction="none").  A mean over zero non-ignored targets
        is 0 (with zero gradient) rather than NaN.

    Example:
        >>> loss = cross_entropy(model(x), y, label_smoothing=0.1)
        >>> loss.backward()
    """
    _check_reduction(reduction, "cross_entropy")
    if not isinstance(logits, Tensor):
        raise TypeError(f"cross_entropy: logits must be a Tensor, got {type(logits).__name__}")
    t = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
    if logits.ndim == 0:
        raise ValueError("cross_entropy: logits must have a class axis, got a scalar")
    C = logits.shape[-1]
    if t.shape != logits.shape[:-1]:
        raise ValueError(f"cross_entropy: targets have shape {t.shape}, expected {logits.shape[:-1]} "
                         f"for logits of shape {logits.shape} (class axis last)")
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: targets must be integer class indices, got dtype {t.dtype}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must lie in [0, 1), got {label_smoothing}")
    t = t.reshape(-1)
    valid = t != ignore_index
    all_valid = bool(valid.all())
    if t.size and (t.min() < 0 or t.max() >= C):  # cheap test first; ignore_index may be out of range
        bad = t[valid & ((t < 0) | (t >= C))]
        if bad.size:
            raise ValueError(f"cross_entropy: target {bad[0]} is out of range for {C} classes "
                             f"(ignore_index={ignore_index})")
    dtype = logits.dtype
    if weight is not None:
        w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=dtype)
        if w.shape != (C,):
            raise ValueError(f"cross_entropy: weight has shape {w.shape}, expected ({C},)")
    tt = t if all_valid else np.where(valid, t, 0)
    # the plain case (no weights, smoothing or ignored targets) skips building q below
    plain = weight is None and not label_smoothing and all_valid

    z = logits.data.reshape(-1, C)                                   # (N, C)
    N = z.shape[0]
    rows = np.arange(N)
    zs = z - z.max(axis=1, keepdims=True) if N else z
    logp = zs - np.log(np.exp(zs).sum(axis=1, keepdims=True))        # (N, C) log-softmax
    if plain:
        w_t = None
        loss_i = -logp[rows, tt]                                     # (N,)
        denom = float(N)
    else:
        # per-example weight of the true class, zero where ignored
        w_t = w[tt] if weight is not None else np.ones(N, dtype)
        if not all_valid:
            w_t = w_t * valid
        loss_i = -(1 - label_smoothing) * w_t * logp[rows, tt]      # (N,)
        if label_smoothing:
            smooth = logp @ w if weight is not None else logp.sum(axis=1)  # sum_c w_c log p_ic
            loss_i -= (label_smoothing / C) * smooth * (valid if not all_valid else 1)
        denom = float(w_t.sum())
    if reduction == "none":
        out = loss_i.reshape(logits.shape[:-1])
    elif reduction == "sum":
        out = np.asarray(loss_i.sum(), dtype)
    else:
        out = np.asarray(loss_i.sum() / denom if denom else 0.0, dtype)

    def backward(g):
        if reduction == "mean" and not denom:
            return (np.zeros_like(logits.data),)
        if plain:                                                     # q = one-hot: dz = p - onehot
            dz = np.exp(logp)                                         # (N, C)
            dz[rows, tt] -= 1
        else:
            q_sum = (1 - label_smoothing) * w_t                       # sum_c q_ic, (N,)
            if label_smoothing:
                q_sum = q_sum + (label_smoothing / C) * (w.sum() if weight is not None else C) * valid
            dz = np.exp(logp) * q_sum[:, None]                        # (N, C)
            dz[rows, tt] -= (1 - label_smoothing) * w_t
            if label_smoothing:
                wrow = w[None, :] if weight is not None else 1.0
                dz -= (label_smoothing / C) * wrow * (valid[:, None] if not all_valid else 1.0)
        scale = _scale_grad(np.asarray(g), reduction, denom)
        dz *= scale[:, None] if reduction == "none" else scale
        return (dz.reshape(logits.shape),)
    return Tensor.from_op(out, (logits,), backward, "cross_entropy")


def binary_cross_entropy_with_logits(logits: Tensor, targets, weight=None, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy on raw logits z with targets y in [0, 1], in the stable form

        loss = max(z, 0) - z y + log(1 + e^(-|z|))      (= -y log s(z) - (1-y) log(1 - s(z)))
        dL/dz = (s(z) - y) * weight / N                  (mean over all elements)

    Args:
        logits: Tensor of any shape.
        targets: array of the same shape (floats in [0, 1]).
        weight: optional array broadcasting to logits' shape, multiplying each element's loss.
        reduction: "mean", "sum" or "none".

    Example:
        >>> loss = binary_cross_entropy_with_logits(scores, labels.astype(np.float32))
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    y = np.asarray(targets.data if isinstance(targets, Tensor) else targets, dtype=logits.dtype)
    if y.shape != logits.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: targets have shape {y.shape}, "
                         f"logits have shape {logits.shape}")
    z = logits.data
    loss = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    if weight is not None:
        weight = np.asarray(weight, dtype=logits.dtype)
        loss = loss * weight
    n = max(z.size, 1)
    out = loss if reduction == "none" else np.asarray(loss.sum() / n if reduction == "mean" else loss.sum())

    def backward(g):
        d = 0.5 * (1 + np.tanh(0.5 * z)) - y                          # sigmoid(z) - y
        if weight is not None:
            d = d * weight
        return (d * (g / n if reduction == "mean" else g),)
    return Tensor.from_op(out, (logits,), backward, "binary_cross_entropy_with_logits")


def mse_loss(pred: Tensor, targets, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean((pred - y)^2).  dL/dpred = 2 (pred - y) / N.

    Args:
        pred: Tensor of any shape.
        targets: array (or Tensor, treated as constant) of the same shape.
    """
    _check_reduction(reduction, "mse_loss")
    y = np.asarray(targets.data if isinstance(targets, Tensor) else targets, dtype=pred.dtype)
    if y.shape != pred.shape:
        raise ValueError(f"mse_loss: targets have shape {y.shape}, predictions have shape {pred.shape}")
    diff = pred.data - y
    sq = diff * diff
    n = max(diff.size, 1)
    out = sq if reduction == "none" else np.asarray(sq.sum() / n if reduction == "mean" else sq.sum())
    return Tensor.from_op(out, (pred,), lambda g: (2 * diff * (g / n if reduction == "mean" else g),), "mse_loss")
