"""Flatten: (batch, d1, d2, ...) -> (batch, d1·d2·...), e.g. 28×28 images to 784 features."""
from __future__ import annotations

import numpy as np

from .layer import Layer, _as_shape


class Flatten(Layer):
    """Reshape every example to one axis.  No copy: a reshape of a contiguous array is a view.

    Shape:
        x: (batch, *shape) -> (batch, prod(shape))

    Example:
        >>> Flatten().forward(np.zeros((5, 28, 28))).shape
        (5, 784)
    """

    def __init__(self, name=None, dtype=np.float32):
        super().__init__(name, dtype)
        self._shape = None

    def build(self, input_shape):
        self.input_shape = _as_shape(input_shape, self.name)
        self.output_shape = (int(np.prod(self.input_shape)),)
        return self.output_shape

    def forward(self, x):
        x = np.asarray(x)
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        """dL/dx = dL/dy reshaped back to x's shape (the Jacobian is a permutation-free identity)."""
        self._need_forward(self._shape)
        return dy.reshape(self._shape)
