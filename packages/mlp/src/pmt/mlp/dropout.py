"""Inverted dropout: zero a random fraction of activations in training, identity in eval."""
from __future__ import annotations

import numpy as np

from pmt.core import get_rng

from .layer import Layer

_IDENTITY = object()  # the "mask" of a forward pass that dropped nothing


class Dropout(Layer):
    """y = x ⊙ m / (1 - rate), m_i ~ Bernoulli(1 - rate), in training mode; y = x in eval mode.

    "Inverted": the surviving activations are scaled up during training, so E[y] = x and the
    eval-mode network needs no rescaling.

    Args:
        rate: probability of dropping each element, in [0, 1).
        rng: a `np.random.Generator`; default `pmt.core.get_rng()` (drawn at each forward).

    Shape:
        any -> same.

    Example:
        >>> d = Dropout(0.25)
        >>> d.forward(np.ones((2, 8), np.float32)).shape
        (2, 8)
        >>> d.eval().forward(np.ones((1, 2)))
        array([[1., 1.]])
    """

    def __init__(self, rate: float = 0.5, rng=None, name=None, dtype=np.float32):
        super().__init__(name, dtype)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must lie in [0, 1), got {rate}")
        self.rate, self.rng = float(rate), rng
        self._mask = None

    def forward(self, x):
        if not self.training or self.rate == 0:
            self._mask = _IDENTITY
            return x
        x = np.asarray(x)
        rng = self.rng if self.rng is not None else get_rng()
        # One uniform draw per element, turned in place into the scaled mask m / (1 - rate).
        mask = rng.random(x.shape, dtype=self.dtype if x.dtype != np.float64 else np.float64)
        np.greater_equal(mask, self.rate, out=mask)
        mask *= 1.0 / (1.0 - self.rate)
        self._mask = mask
        return x * mask

    def backward(self, dy):
        """dL/dx = dL/dy ⊙ m / (1 - rate), with the mask of the last forward (identity in eval)."""
        self._need_forward(self._mask)
        return dy if self._mask is _IDENTITY else dy * self._mask

    def extra_repr(self):
        return f"rate={self.rate}"
