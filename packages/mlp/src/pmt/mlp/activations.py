"""Element-wise activations and the (log-)softmax, each with its backward pass beside it.

Each backward states the vector-Jacobian product it returns.  For element-wise f the
Jacobian is diagonal, so dL/dx = dL/dy ⊙ f'(x); f' is written in terms of the saved
output y wherever that is cheaper (tanh, sigmoid, softmax).

The forward formulas that need numerical care (sigmoid, softmax, log-softmax) are the shared
numpy helpers of `pmt.core.numerics`, re-exported here as `softmax` and `log_softmax`; the
backward passes are this milestone's own.
"""
from __future__ import annotations

import numpy as np
from pmt.core.numerics import log_softmax, sigmoid, softmax

from .layer import Activation


class ReLU(Activation):
    """y = max(x, 0).  Shape: any -> same.

    Example:
        >>> ReLU().forward(np.array([[-1.0, 2.0]]))
        array([[0., 2.]])
    """

    init = "he"

    def __init__(self, name=None, dtype=np.float32):
        super().__init__(name, dtype)
        self._y = None

    def forward(self, x):
        y = np.maximum(x, 0)
        self._y = y
        return y

    def backward(self, dy):
        """dL/dx = dL/dy ⊙ [x > 0]  (the subgradient at 0 is taken as 0)."""
        self._need_forward(self._y)
        return dy * (self._y > 0)


class LeakyReLU(Activation):
    """y = x if x > 0 else alpha * x.  Shape: any -> same.

    Args:
        alpha: slope for negative inputs (default 0.01).

    Example:
        >>> LeakyReLU(0.1).forward(np.array([[-1.0, 2.0]]))
        array([[-0.1,  2. ]])
    """

    init = "he"

    def __init__(self, alpha: float = 0.01, name=None, dtype=np.float32):
        super().__init__(name, dtype)
        if not 0 <= alpha < 1:
            raise ValueError(f"LeakyReLU: alpha must lie in [0, 1), got {alpha}")
        self.alpha = alpha
        self._slope = None

    def forward(self, x):
        x = np.asarray(x)
        # f'(x) is 1 or alpha: keep it, then y = f'(x) ⊙ x.
        self._slope = np.where(x > 0, x.dtype.type(1), x.dtype.type(self.alpha))
        return x * self._slope

    def backward(self, dy):
        """dL/dx = dL/dy ⊙ (1 if x > 0 else alpha)."""
        self._need_forward(self._slope)
        return dy * self._slope

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Tanh(Activation):
    """y = tanh(x).  Shape: any -> same."""

    def __init__(self, name=None, dtype=np.float32):
        super().__init__(name, dtype)
        self._y = None

    def forward(self, x):
        self._y = np.tanh(x)
        return self._y

    def backward(self, dy):
        """dL/dx = dL/dy ⊙ (1 - y²)."""
        self._need_forward(self._y)
        return dy * (1 - self._y * self._y)


class Sigmoid(Activation):
    """y = 1 / (1 + exp(-x)).  Shape: any -> same.

    Computed by `pmt.core.numerics.sigmoid` from e^-|x|, which never overflows (exp(-x) would
    for x < -88 in float32) and keeps full relative precision in both tails.
    """

    def __init__(self, name=None, dtype=np.float32):
        super().__init__(name, dtype)
        self._y = None

    def forward(self, x):
        x = np.asarray(x)
        self._y = sigmoid(x if x.dtype.kind == "f" else x.astype(np.float32))
        return self._y

    def backward(self, dy):
        """dL/dx = dL/dy ⊙ y (1 - y)."""
        self._need_forward(self._y)
        return dy * (self._y * (1 - self._y))


class Softmax(Activation):
    """y_i = exp(x_i) / Σ_j exp(x_j) over the last axis.  Shape: (..., C) -> (..., C).

    For training a classifier prefer logits with `CategoricalCrossEntropy(input="logits")`
    (fused, stabler gradient); this layer is for models that must output probabilities.

    Example:
        >>> Softmax().forward(np.zeros((1, 4))).round(2)
        array([[0.25, 0.25, 0.25, 0.25]])
    """

    def __init__(self, name=None, dtype=np.float32):
        super().__init__(name, dtype)
        self._y = None

    def forward(self, x):
        self._y = softmax(np.asarray(x))
        return self._y

    def backward(self, dy):
        """dL/dx = y ⊙ (dL/dy - Σ_j dL/dy_j y_j)   (Jacobian diag(y) - y yᵀ, applied to dL/dy)."""
        self._need_forward(self._y)
        y = self._y
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


class LogSoftmax(Activation):
    """y = log softmax(x) over the last axis.  Shape: (..., C) -> (..., C).

    Example:
        >>> np.exp(LogSoftmax().forward(np.array([[1e4, -1e4]])))
        array([[1., 0.]])
    """

    def __init__(self, name=None, dtype=np.float32):
        super().__init__(name, dtype)
        self._y = None

    def forward(self, x):
        self._y = log_softmax(np.asarray(x))
        return self._y

    def backward(self, dy):
        """dL/dx = dL/dy - softmax(x) Σ_j dL/dy_j   (Jacobian I - 1 softmaxᵀ, transposed)."""
        self._need_forward(self._y)
        return dy - np.exp(self._y) * dy.sum(axis=-1, keepdims=True)
