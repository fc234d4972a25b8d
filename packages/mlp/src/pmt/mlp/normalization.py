"""Normalisation layers: BatchNorm1d (over the batch) and LayerNorm (over the features).

Both compute x̂ = (x - μ) / sqrt(σ² + eps) and y = γ ⊙ x̂ + β; they differ in the axis the
statistics are taken over.  Their backward passes are fused: differentiating through μ and
σ² by composition would need several (batch, features) temporaries; the closed form is

    dL/dx = (1 / (n sqrt(σ² + eps))) (n g - Σ g - x̂ Σ (g ⊙ x̂)),   g = γ ⊙ dL/dy

with the sums and n over the normalised axis.
"""
from __future__ import annotations

import numpy as np

from pmt.core import Parameter

from .layer import Layer, ShapeError, _as_shape


def _affine_parameters(layer, features):
    gamma = Parameter(np.ones(features), name=f"{layer.name}.gamma", dtype=layer.dtype)
    beta = Parameter(np.zeros(features), name=f"{layer.name}.beta", dtype=layer.dtype)
    return gamma, beta


def _normalized_backward(g, xhat, inv_std, axis):
    """The fused closed form above; g = γ ⊙ dL/dy, inv_std = 1/sqrt(σ²+eps) (broadcastable)."""
    n = g.shape[axis]
    sum_g = g.sum(axis=axis, keepdims=True)
    sum_gx = (g * xhat).sum(axis=axis, keepdims=True)
    return (inv_std / n) * (n * g - sum_g - xhat * sum_gx)


class BatchNorm1d(Layer):
    """Batch normalisation over the batch axis (Ioffe & Szegedy, 2015).

    Training mode normalises with the batch mean and (biased) variance and updates the
    running statistics: r <- (1 - momentum) r + momentum * batch_stat (the running variance
    uses the unbiased batch variance).  Eval mode normalises with the running statistics.

    Args:
        features: number of features (optional, inferred when built in a model).
        momentum: weight of the current batch in the running statistics.
        eps: added to the variance before the square root.

    Shape:
        x: (batch, features) -> same.  Training needs batch >= 2 (a variance of one value is 0).

    Attributes:
        gamma, beta: Parameters (features,).  running_mean, running_var: arrays (features,).

    Example:
        >>> bn = BatchNorm1d(3)
        >>> y = bn.forward(np.random.randn(8, 3))           # training mode: the batch's statistics
        >>> np.allclose(y.mean(axis=0), 0, atol=1e-6), np.allclose(y.std(axis=0), 1, atol=1e-3)
        (True, True)
    """

    def __init__(self, features: int | None = None, momentum: float = 0.1, eps: float = 1e-5,
                 name=None, dtype=np.float32):
        super().__init__(name, dtype)
        if not 0 <= momentum <= 1 or eps <= 0:
            raise ValueError(f"BatchNorm1d: need 0 <= momentum <= 1 and eps > 0, got {momentum}, {eps}")
        self.momentum, self.eps = momentum, eps
        self.gamma = self.beta = None
        self._cache = None
        if features is not None:
            self.build((features,))

    def build(self, input_shape):
        shape = _as_shape(input_shape, self.name)
        if len(shape) != 1:
            raise ShapeError(f"{self.name}: expects (batch, features) inputs, got per-example shape "
                             f"{shape}; put a Flatten before it", got=shape, expected="(features,)")
        if self.gamma is None or self.gamma.data.shape != shape:
            self.gamma, self.beta = _affine_parameters(self, shape[0])
            self.running_mean = np.zeros(shape, self.dtype)
            self.running_var = np.ones(shape, self.dtype)
        self.input_shape = self.output_shape = shape
        return shape

    def forward(self, x):
        if self.gamma is None:
            self.build(np.shape(x)[1:])
        x = self._check_input(x)
        if self.training:
            n = x.shape[0]
            if n < 2:
                raise ValueError(f"{self.name}: training mode needs a batch of at least 2 examples "
                                 f"to estimate a variance, got batch size {n}; call eval() for single examples")
            mean = x.mean(axis=0)                       # (features,)
            xc = x - mean                               # (batch, features)
            var = (xc * xc).mean(axis=0)                # (features,) biased: the one we normalise by
            m = self.momentum
            self.running_mean *= 1 - m
            self.running_mean += m * mean
            self.running_var *= 1 - m
            self.running_var += (m * n / (n - 1)) * var
        else:
            xc = x - self.running_mean
            var = self.running_var
        inv_std = 1.0 / np.sqrt(var + self.eps)         # (features,)
        xhat = xc * inv_std
        self._cache = (xhat, inv_std, self.training)
        return xhat * self.gamma.data + self.beta.data

    def backward(self, dy):
        """dL/dx by the fused formula of this module (training mode: μ, σ² depend on x) or
        dL/dx = dL/dy ⊙ γ / sqrt(running_var + eps) (eval mode: fixed statistics);
        adds dL/dγ = Σ_batch dL/dy ⊙ x̂ and dL/dβ = Σ_batch dL/dy."""
        self._need_forward(self._cache)
        xhat, inv_std, training = self._cache
        self.gamma.accumulate((dy * xhat).sum(axis=0))
        self.beta.accumulate(dy.sum(axis=0))
        g = dy * self.gamma.data
        if not training:
            return g * inv_std
        return _normalized_backward(g, xhat, inv_std, axis=0)

    def parameters(self):
        return [] if self.gamma is None else [self.gamma, self.beta]

    def buffers(self):
        if self.gamma is None:
            return {}
        return {f"{self.name}.running_mean": self.running_mean, f"{self.name}.running_var": self.running_var}

    def extra_repr(self):
        f = "" if self.input_shape is None else f"{self.input_shape[0]}, "
        return f"{f}momentum={self.momentum}, eps={self.eps}"


class LayerNorm(Layer):
    """Layer normalisation over the last axis (Ba et al., 2016); same in train and eval mode.

    Args:
        features: size of the last axis (optional, inferred when built in a model).
        eps: added to the variance before the square root.

    Shape:
        x: (batch, ..., features) -> same.

    Attributes:
        gamma, beta: Parameters (features,).

    Example:
        >>> ln = LayerNorm(4)
        >>> ln.forward(np.arange(8.0).reshape(2, 4)).mean(axis=-1)
        array([0., 0.], dtype=float32)
    """

    def __init__(self, features: int | None = None, eps: float = 1e-5, name=None, dtype=np.float32):
        super().__init__(name, dtype)
        if eps <= 0:
            raise ValueError(f"LayerNorm: eps must be > 0, got {eps}")
        self.eps = eps
        self.gamma = self.beta = None
        self._cache = None
        if features is not None:
            self.build((features,))

    def build(self, input_shape):
        shape = _as_shape(input_shape, self.name)
        if len(shape) == 0:
            raise ShapeError(f"{self.name}: needs a feature axis, got per-example shape ()",
                             got=shape, expected="(..., features)")
        if self.gamma is None:
            self.gamma, self.beta = _affine_parameters(self, shape[-1])
        elif self.gamma.data.shape[0] != shape[-1]:
            raise ShapeError(f"{self.name}: built for {self.gamma.data.shape[0]} features, got input "
                             f"shape {shape}", got=shape, expected=(self.gamma.data.shape[0],))
        self.input_shape = self.output_shape = shape
        return shape

    def forward(self, x):
        if self.gamma is None:
            self.build(np.shape(x)[1:])
        x = np.asarray(x, dtype=self.dtype)
        if x.shape[-1] != self.gamma.data.shape[0]:
            raise ShapeError(f"{self.name}: expected {self.gamma.data.shape[0]} features on the last "
                             f"axis, got input of shape {x.shape}", got=x.shape[1:],
                             expected=(self.gamma.data.shape[0],))
        xc = x - x.mean(axis=-1, keepdims=True)                          # (..., features)
        inv_std = 1.0 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + self.eps)  # (..., 1)
        xhat = xc * inv_std
        self._cache = (xhat, inv_std)
        return xhat * self.gamma.data + self.beta.data

    def backward(self, dy):
        """dL/dx by the fused formula of this module over the last axis;
        adds dL/dγ = Σ dL/dy ⊙ x̂ and dL/dβ = Σ dL/dy over all leading axes."""
        self._need_forward(self._cache)
        xhat, inv_std = self._cache
        d = xhat.shape[-1]
        self.gamma.accumulate((dy * xhat).reshape(-1, d).sum(axis=0))
        self.beta.accumulate(dy.reshape(-1, d).sum(axis=0))
        return _normalized_backward(dy * self.gamma.data, xhat, inv_std, axis=-1)

    def parameters(self):
        return [] if self.gamma is None else [self.gamma, self.beta]

    def extra_repr(self):
        f = "" if self.gamma is None else f"{self.gamma.data.shape[0]}, "
        return f"{f}eps={self.eps}"
