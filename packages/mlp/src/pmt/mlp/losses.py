"""Losses: `forward(pred, target) -> float` (the mean over the batch), `backward() -> dL/dpred`.

A loss is where backpropagation starts: `backward()` returns dL/dpred for the last
`forward`, which the model then passes right to left through its layers.

Example:
    >>> loss = CategoricalCrossEntropy(input="logits")
    >>> loss.forward(np.zeros((2, 3)), np.array([0, 2]))      # log 3
    1.0986...
    >>> loss.backward().shape
    (2, 3)
"""
from __future__ import annotations

import numpy as np

from pmt.core.numerics import log_softmax, sigmoid

INPUTS = ("logits", "log_probs", "probs")


class Loss:
    """Base class.  Subclasses implement `forward` and `backward`; `__call__` is `forward`."""

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, pred, target) -> float:
        return self.forward(pred, target)

    def _need_forward(self, cache):
        if cache is None:
            raise RuntimeError(f"{type(self).__name__}: backward called before forward")

    def __repr__(self):
        return f"{type(self).__name__}()"


def _check_pred(pred, who, ndim=None):
    if not isinstance(pred, np.ndarray) or pred.dtype.kind != "f":
        raise TypeError(f"{who}: predictions must be a float numpy array, got "
                        f"{type(pred).__name__}{'' if not hasattr(pred, 'dtype') else ' of ' + str(pred.dtype)}")
    if ndim is not None and pred.ndim != ndim:
        raise ValueError(f"{who}: predictions must have shape (batch, classes), got {pred.shape}")
    if pred.shape[0] == 0:
        raise ValueError(f"{who}: got an empty batch")
    return pred


def _class_targets(target, pred, who):
    """Integer labels (batch,) or a target distribution (batch, classes), validated."""
    target = np.asarray(target)
    n, c = pred.shape
    if target.ndim == 1 and target.dtype.kind in "iu":
        if target.shape[0] != n:
            raise ValueError(f"{who}: {target.shape[0]} labels for {n} predictions")
        lo, hi = int(target.min()), int(target.max())
        if lo < 0 or hi >= c:
            raise ValueError(f"{who}: labels must lie in [0, {c}), got values from {lo} to {hi}")
        return target
    if target.shape != pred.shape:
        raise ValueError(f"{who}: targets must be integer labels of shape ({n},) or class "
                         f"probabilities of shape {pred.shape}, got {target.dtype} array of shape {target.shape}")
    return target.astype(pred.dtype, copy=False)


class CategoricalCrossEntropy(Loss):
    """L = -(1/N) Σ_n Σ_c t_nc log p_nc, for integer labels or target distributions t.

    Args:
        input: what the model outputs —
            "logits": raw scores z; p = softmax(z) is formed inside, fused with the loss:
                      L = -mean(z_y - logsumexp(z)), dL/dz = (softmax(z) - t) / N.  This is the
                      numerically stable choice (no log of a rounded-to-zero probability).
            "log_probs": log p (e.g. from a LogSoftmax layer): dL/dlogp = -t / N.
            "probs": p (e.g. from a Softmax layer), clipped to [eps, 1]: dL/dp = -t / (p N).
        eps: floor for probabilities when input="probs".

    Shape:
        pred: (batch, classes); target: (batch,) int labels or (batch, classes) probabilities.
    """

    def __init__(self, input: str = "logits", eps: float = 1e-7):
        if input not in INPUTS:
            raise ValueError(f"CategoricalCrossEntropy: input must be one of {INPUTS}, got {input!r}")
        self.input, self.eps = input, eps
        self._cache = None

    def forward(self, pred, target):
        pred = _check_pred(pred, "CategoricalCrossEntropy", ndim=2)
        t = _class_targets(target, pred, "CategoricalCrossEntropy")
        n = pred.shape[0]
        if self.input == "logits":
            logp = log_softmax(pred)                           # (batch, classes)
        elif self.input == "log_probs":
            logp = pred
        else:
            logp = np.log(np.clip(pred, self.eps, 1.0))
        if t.ndim == 1:
            loss = -logp[np.arange(n), t].sum() / n
        else:
            loss = -np.vdot(t, logp) / n
        self._cache = (pred, logp, t)
        return float(loss)

    def backward(self):
        """dL/dpred for the last forward (see the class docstring for each `input`)."""
        self._need_forward(self._cache)
        pred, logp, t = self._cache
        n = pred.shape[0]
        rows = np.arange(n)
        if self.input == "logits":
            g = np.exp(logp)                                   # softmax(z)
            if t.ndim == 1:
                g[rows, t] -= 1
            else:
                g -= t
        elif self.input == "log_probs":
            if t.ndim == 1:
                g = np.zeros_like(pred)
                g[rows, t] = -1
            else:
                g = -t
        else:
            inside = (pred >= self.eps) & (pred <= 1.0)        # the clip passes no gradient outside
            if t.ndim == 1:
                g = np.zeros_like(pred)
                g[rows, t] = -1 / np.clip(pred[rows, t], self.eps, 1.0)
            else:
                g = -t / np.clip(pred, self.eps, 1.0)
            g *= inside
        g /= n
        return g.astype(pred.dtype, copy=False)

    def __repr__(self):
        return f"CategoricalCrossEntropy(input={self.input!r})"


class BinaryCrossEntropy(Loss):
    """L = mean over all elements of -[t log σ(z) + (1 - t) log(1 - σ(z))], from logits z.

    Computed as max(z, 0) - z t + log(1 + exp(-|z|)), which never overflows;
    dL/dz = (σ(z) - t) / n, n = number of elements.

    Shape:
        pred (logits): any, e.g. (batch,) or (batch, outputs); target: same shape, values in [0, 1].

    Example:
        >>> BinaryCrossEntropy().forward(np.zeros((2, 1)), np.ones((2, 1)))   # log 2
        0.6931...
    """

    def __init__(self):
        self._cache = None

    def forward(self, pred, target):
        z = _check_pred(pred, "BinaryCrossEntropy")
        t = np.asarray(target)
        if t.shape != z.shape:
            raise ValueError(f"BinaryCrossEntropy: targets of shape {t.shape} for logits of shape {z.shape}")
        t = t.astype(z.dtype, copy=False)
        if t.size and (t.min() < 0 or t.max() > 1):
            raise ValueError(f"BinaryCrossEntropy: targets must lie in [0, 1], got values from "
                             f"{t.min()} to {t.max()}")
        loss = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
        self._cache = (z, t)
        return float(loss.mean())

    def backward(self):
        """dL/dz = (σ(z) - t) / n."""
        self._need_forward(self._cache)
        z, t = self._cache
        return ((sigmoid(z) - t) / z.size).astype(z.dtype, copy=False)


class MeanSquaredError(Loss):
    """L = mean over all elements of (pred - target)²;  dL/dpred = 2 (pred - target) / n.

    Shape:
        pred: any; target: same shape.

    Example:
        >>> MeanSquaredError().forward(np.array([[1.0, 3.0]]), np.array([[0.0, 1.0]]))
        2.5
    """

    def __init__(self):
        self._cache = None

    def forward(self, pred, target):
        pred = _check_pred(pred, "MeanSquaredError")
        t = np.asarray(target)
        if t.shape != pred.shape:
            raise ValueError(f"MeanSquaredError: targets of shape {t.shape} for predictions of shape {pred.shape}")
        diff = pred - t
        self._cache = diff
        return float(np.vdot(diff, diff) / diff.size)

    def backward(self):
        """dL/dpred = 2 (pred - target) / n."""
        self._need_forward(self._cache)
        return (self._cache * (2.0 / self._cache.size)).astype(self._cache.dtype, copy=False)
