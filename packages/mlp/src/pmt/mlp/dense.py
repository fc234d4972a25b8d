"""Dense (fully connected) layer: y = x W + b, with its hand-written backward pass."""
from __future__ import annotations

import numpy as np

from pmt.core import Parameter, get_rng

from .layer import Layer, ShapeError, _as_shape

INITS = ("auto", "he", "glorot")


class Dense(Layer):
    """Affine map over the last axis: y = x W + b.

    Args:
        units: output features.
        in_features: input features; optional (inferred by `Sequential`), given it builds now.
        weight_init: "he" (normal, std sqrt(2 / fan_in): keeps the variance of ReLU outputs
            constant from layer to layer), "glorot" (uniform in ±sqrt(6 / (fan_in + fan_out)):
            the same for tanh/sigmoid/linear), or "auto": whichever the activation that follows
            asks for (`Sequential` tells the layer; alone it uses Glorot).
        bias: add the bias b (initialised to zero).
        name, dtype: see `Layer`.

    Shape:
        x: (batch, ..., in_features) -> y: (batch, ..., units)

    Attributes:
        W: Parameter (in_features, units).  b: Parameter (units,) or None.

    Example:
        >>> layer = Dense(3, in_features=4)
        >>> layer.forward(np.ones((2, 4), np.float32)).shape
        (2, 3)
    """

    def __init__(self, units: int, in_features: int | None = None, weight_init: str = "auto",
                 bias: bool = True, name: str | None = None, dtype=np.float32):
        super().__init__(name, dtype)
        if not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense: units must be a positive int, got {units!r}")
        if weight_init not in INITS:
            raise ValueError(f"Dense: weight_init must be one of {INITS}, got {weight_init!r}")
        self.units, self.weight_init, self.use_bias = int(units), weight_init, bool(bias)
        self.in_features = in_features
        self.activation_init = None  # set by Sequential from the next layer's `init`
        self.W = self.b = None
        self._x = None
        if in_features is not None:
            self.build((in_features,))

    def build(self, input_shape):
        shape = self._as_input_shape(input_shape)
        if self.in_features is not None and shape[-1] != self.in_features:
            raise ShapeError(f"{self.name}: built for {self.in_features} input features, "
                             f"got input shape {shape}", got=shape, expected=(self.in_features,))
        fan_in = shape[-1]
        if self.W is None or self.W.data.shape[0] != fan_in:
            self.W, self.b = self._init_parameters(fan_in)
        self.in_features = fan_in
        self.input_shape, self.output_shape = shape, shape[:-1] + (self.units,)
        return self.output_shape

    def _as_input_shape(self, input_shape):
        shape = _as_shape(input_shape, self.name)
        if len(shape) == 0:
            raise ShapeError(f"{self.name}: needs at least one feature axis, got input shape ()",
                             got=shape, expected="(..., in_features)")
        return shape

    def _init_parameters(self, fan_in):
        rng, fan_out = get_rng(), self.units
        scheme = self.weight_init if self.weight_init != "auto" else (self.activation_init or "glorot")
        if scheme == "he":
            w = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
        else:
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            w = rng.uniform(-limit, limit, (fan_in, fan_out))
        self.init_scheme = scheme
        W = Parameter(w, name=f"{self.name}.W", dtype=self.dtype)
        b = Parameter(np.zeros(fan_out), name=f"{self.name}.b", dtype=self.dtype) if self.use_bias else None
        return W, b

    def forward(self, x):
        """y = x W + b.  x: (batch, ..., in_features) -> (batch, ..., units)."""
        if self.W is None:
            self.build(np.shape(x)[1:])
        x = np.asarray(x)
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        if x.ndim < 2 or x.shape[-1] != self.in_features:
            raise ShapeError(f"{self.name}: expected input of shape (batch, ..., {self.in_features}), "
                             f"got {x.shape}", got=x.shape[1:], expected=(self.in_features,))
        self._x = x
        y = x @ self.W.data                     # (batch, ..., units)
        if self.b is not None:
            y += self.b.data                    # in place: no second (batch, units) array
        return y

    def backward(self, dy):
        """dL/dx = dL/dy · W^T;  adds dL/dW = x^T · dL/dy and dL/db = Σ_batch dL/dy.

        With leading axes (batch, ...) flattened into rows, each is a single matmul.
        Returns None when `input_grad` is False (first layer of a model: nobody needs dL/dx).
        """
        self._need_forward(self._x)
        x2 = self._x.reshape(-1, self.in_features)   # (rows, in)
        dy2 = dy.reshape(-1, self.units)             # (rows, units)
        self.W.accumulate(x2.T @ dy2)                # (in, units)
        if self.b is not None:
            self.b.accumulate(dy2.sum(axis=0))       # (units,)
        if not self.input_grad:
            return None
        return dy @ self.W.data.T                    # (batch, ..., in)

    def parameters(self):
        if self.W is None:
            return []
        return [self.W] if self.b is None else [self.W, self.b]

    def extra_repr(self):
        s = f"{self.units}"
        if self.in_features is not None:
            s = f"{self.in_features} -> {s}"
        if self.weight_init != "auto":
            s += f", weight_init={self.weight_init!r}"
        return s + ("" if self.use_bias else ", bias=False")
