"""Loss functions: `(outputs: Tensor, targets) -> scalar Tensor`, the batch mean by default.

Each is one fused operation (the stable formula and its gradient written together), and each
fits the Trainer protocol directly: `Trainer(model, opt, loss=cross_entropy)`; configure with
`functools.partial(cross_entropy, label_smoothing=0.1)`.
"""
from __future__ import annotations

import numpy as np
from pmt.core import numerics

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

    Without weights sum_c' q_ic' = 1 and the gradient is the famous (softmax(z) - q) / N.
    Fused, because softmax, then log, then picking the target would lose precision (log of an
    underflowed probability is -inf) and store two more (N, C) arrays; log p comes from the
    stable `pmt.core.numerics.log_softmax` and the backward needs only p = e^(log p).

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
        >>> loss = cross_entropy(Tensor(np.zeros((2, 4)), requires_grad=True), np.array([1, 3]))
        >>> round(loss.item(), 4)   # log 4
        1.3863
    """
    _check_reduction(reduction, "cross_entropy")
    if not isinstance(logits, Tensor):
        raise TypeError(f"cross_entropy: logits must be a Tensor, got {type(logits).__name__}")
    t = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
    if logits.ndim == 0:
        raise ValueError("cross_entropy: logits must have a class axis, got a scalar")
    if logits.dtype.kind != "f":
        raise TypeError(f"cross_entropy: logits must be floating point, got dtype {logits.dtype}")
    C = logits.shape[-1]
    if t.shape != logits.shape[:-1]:
        raise ValueError(f"cross_entropy: targets have shape {t.shape}, expected {logits.shape[:-1]} "
                         f"for logits of shape {logits.shape} (class axis last)")
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: targets must be integer class indices, got dtype {t.dtype}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must lie in [0, 1), got {label_smoothing}")
    eps = float(label_smoothing)
    t = t.reshape(-1)
    valid = t != ignore_index
    all_valid = bool(valid.all())
    if t.size and (t.min() < 0 or t.max() >= C):  # cheap test first; ignore_index may be out of range
        bad = t[valid & ((t < 0) | (t >= C))]
        if bad.size:
            raise ValueError(f"cross_entropy: target {bad[0]} is out of range for {C} classes "
                             f"(ignore_index={ignore_index})")
    dtype = logits.dtype
    w = None
    if weight is not None:
        w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=dtype)
        if w.shape != (C,):
            raise ValueError(f"cross_entropy: weight has shape {w.shape}, expected ({C},)")
    tt = t if all_valid else np.where(valid, t, 0)                   # ignored rows point at class 0
    logp = numerics.log_softmax(logits.data.reshape(-1, C), axis=1)  # (N, C)
    N = logp.shape[0]
    rows = np.arange(N)
    nll = -logp[rows, tt]                                            # (N,) -log p of the target
    if w is None:
        loss_i = (1 - eps) * nll - eps * logp.mean(axis=1) if eps else nll
        if not all_valid:
            loss_i = loss_i * valid
        denom = float(N if all_valid else valid.sum())
    else:
        w_t = w[tt] if all_valid else w[tt] * valid                  # (N,) weight of the target, 0 if ignored
        loss_i = (1 - eps) * w_t * nll
        if eps:
            smooth = logp @ w                                        # sum_c w_c log p_ic, (N,)
            loss_i -= (eps / C) * (smooth if all_valid else smooth * valid)
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
        dz = np.exp(logp)                                            # p, (N, C)
        if w is None:                                                # dz = p - q on valid rows
            if eps:
                dz -= eps / C
            dz[rows, tt] -= 1 - eps
            if not all_valid:
                dz[~valid] = 0
        else:                                                        # dz = p sum_c q_ic - q_i
            q_sum = (1 - eps) * w_t + (eps / C) * float(w.sum())
            dz *= (q_sum if all_valid else q_sum * valid)[:, None]
            dz[rows, tt] -= (1 - eps) * w_t
            if eps:
                dz -= (eps / C) * (w if all_valid else w * valid[:, None])
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

    Returns:
        Scalar Tensor (or logits' shape with reduction="none").  The mean over zero elements
        (empty logits) is 0, with a zero gradient, not NaN; the mean divides by the number of
        elements, whatever the weights.

    Example:
        >>> z = Tensor(np.zeros(4), requires_grad=True)
        >>> round(binary_cross_entropy_with_logits(z, np.array([0.0, 1.0, 1.0, 0.0])).item(), 4)   # log 2
        0.6931
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
    n = max(z.size, 1)                                               # empty: sum 0 / 1 = 0
    out = loss if reduction == "none" else np.asarray(loss.sum() / n if reduction == "mean" else loss.sum())

    def backward(g):
        d = numerics.sigmoid(z) - y
        if weight is not None:
            d = d * weight
        return (d * (g / n if reduction == "mean" else g),)
    return Tensor.from_op(out, (logits,), backward, "binary_cross_entropy_with_logits")


def mse_loss(pred: Tensor, targets, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean((pred - y)^2).  dL/dpred = 2 (pred - y) / N.

    Args:
        pred: Tensor of any shape.
        targets: array (or Tensor, treated as constant) of the same shape.
        reduction: "mean", "sum" or "none".

    Returns:
        Scalar Tensor (or pred's shape with reduction="none").  The mean over zero elements
        is 0, with a zero gradient, not NaN.

    Example:
        >>> mse_loss(Tensor(np.array([1.0, 3.0])), np.array([0.0, 0.0])).item()
        5.0
    """
    _check_reduction(reduction, "mse_loss")
    y = np.asarray(targets.data if isinstance(targets, Tensor) else targets, dtype=pred.dtype)
    if y.shape != pred.shape:
        raise ValueError(f"mse_loss: targets have shape {y.shape}, predictions have shape {pred.shape}")
    diff = pred.data - y
    sq = diff * diff
    n = max(diff.size, 1)                                            # empty: sum 0 / 1 = 0
    out = sq if reduction == "none" else np.asarray(sq.sum() / n if reduction == "mean" else sq.sum())
    return Tensor.from_op(out, (pred,), lambda g: (2 * diff * (g / n if reduction == "mean" else g),), "mse_loss")
