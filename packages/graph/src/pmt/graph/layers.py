"""Layers: Linear, Embedding, LayerNorm, Dropout, activations, Flatten.

Initialisation draws from pmt.core's shared generator (`pmt.core.seed(s)` makes it
repeatable) unless an `rng` is passed.
"""
from __future__ import annotations

import numpy as np
from pmt.core.seeding import get_rng

from . import elementwise as E
from .dropout import dropout
from .linalg import linear
from .module import Module
from .normalization import layer_norm
from .shape import embedding, reshape
from .softmax import log_softmax, softmax
from .tensor import Parameter, Tensor


def _positive_int(value, what, layer):
    if not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{layer}: {what} must be a positive integer, got {value!r}")
    return int(value)


class Linear(Module):
    """Affine map y = x W + b.

    Args:
        in_features, out_features: sizes of the last axis of input and output.
        bias: include b.
        init: how to draw the weight W (in_features, out_features), fan_in = in_features:
            "uniform": U(-k, k), k = 1/sqrt(fan_in); the bias from the same range.
            "he": N(0, 2/fan_in), bias 0; keeps the variance of ReLU activations constant
                from layer to layer (He et al., 2015).
            "glorot": U(-k, k), k = sqrt(6/(fan_in + fan_out)), bias 0; the same for
                tanh/linear layers (Glorot & Bengio, 2010).
        dtype: parameter dtype (float32; float64 for gradient checks).
        rng: generator for the initialisation (default: pmt.core's).

    Shape:
        x: (..., in_features)  ->  y: (..., out_features)

    Attributes:
        weight: (in_features, out_features).
        bias: (out_features,) or None.

    Example:
        >>> Linear(784, 128)(Tensor(np.zeros((32, 784)))).shape
        (32, 128)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, init: str = "uniform",
                 dtype=np.float32, rng=None):
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features", "Linear")
        self.out_features = _positive_int(out_features, "out_features", "Linear")
        if init not in ("uniform", "he", "glorot"):
            raise ValueError(f"Linear: init must be 'uniform', 'he' or 'glorot', got {init!r}")
        self.init = init
        rng = rng or get_rng()
        shape = (in_features, out_features)
        if init == "uniform":
            k = 1.0 / np.sqrt(in_features)
            w, b = rng.uniform(-k, k, shape), rng.uniform(-k, k, out_features)
        else:
            if init == "he":
                w = rng.standard_normal(shape) * np.sqrt(2.0 / in_features)
            else:
                k = np.sqrt(6.0 / (in_features + out_features))
                w = rng.uniform(-k, k, shape)
            b = np.zeros(out_features)
        self.weight = Parameter(w, dtype=dtype)
        self.bias = Parameter(b, dtype=dtype) if bias else None

    def forward(self, x):
        return linear(x, self.weight, self.bias)

    def extra_repr(self):
        init = "" if self.init == "uniform" else f", init={self.init!r}"
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}{init}"


class Embedding(Module):
    """A table of vectors looked up by integer id; its gradient is sparse (touched rows only).

    Args:
        num_embeddings: number of rows (vocabulary size).
        dim: vector size.
        std: initial values ~ N(0, std^2).
        dtype, rng: as for Linear.

    Shape:
        ids: (...) integers in [0, num_embeddings)  ->  (..., dim)

    Example:
        >>> Embedding(1000, 16)(np.array([[1, 2, 3]])).shape
        (1, 3, 16)
    """

    def __init__(self, num_embeddings: int, dim: int, std: float = 1.0, dtype=np.float32, rng=None):
        super().__init__()
        self.num_embeddings = _positive_int(num_embeddings, "num_embeddings", "Embedding")
        self.dim = _positive_int(dim, "dim", "Embedding")
        self.weight = Parameter((rng or get_rng()).normal(0.0, std, (num_embeddings, dim)), dtype=dtype)

    def forward(self, ids):
        return embedding(self.weight, ids)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.dim}"


class LayerNorm(Module):
    """Layer normalisation over the last axis with a learned gain and bias (see `layer_norm`).

    Args:
        features: size of the normalised (last) axis (the name pmt.mlp's LayerNorm uses too).
        eps: added to the variance, > 0.
        dtype: parameter dtype (float32; float64 for gradient checks).

    Shape:
        x: (..., features) -> (..., features)

    Attributes:
        gamma: (features,) gain, starts at 1.  beta: (features,) bias, starts at 0.

    Example:
        >>> LayerNorm(64)(Tensor(np.random.randn(2, 10, 64))).shape
        (2, 10, 64)
    """

    def __init__(self, features: int, eps: float = 1e-5, dtype=np.float32):
        super().__init__()
        self.features = _positive_int(features, "features", "LayerNorm")
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be > 0, got {eps}")
        self.eps = eps
        self.gamma = Parameter(np.ones(features), dtype=dtype)
        self.beta = Parameter(np.zeros(features), dtype=dtype)

    def forward(self, x):
        if x.shape[-1:] != (self.features,):
            raise ValueError(f"LayerNorm({self.features}): input of shape {x.shape} has a last axis of "
                             f"size {x.shape[-1] if x.shape else None}, expected {self.features}")
        return layer_norm(x, self.gamma, self.beta, self.eps)

    def extra_repr(self):
        return f"{self.features}, eps={self.eps}"


class Dropout(Module):
    """Inverted dropout with probability p, active only in training mode (see `dropout`).

    Example:
        >>> drop = Dropout(0.25)
        >>> drop
        Dropout(p=0.25)
        >>> drop.eval()(Tensor(np.ones(4))).data             # evaluation mode: the identity
        array([1., 1., 1., 1.])
    """

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must lie in [0, 1], got {p}")
        self.p = p
        self.rng = rng

    def forward(self, x):
        return dropout(x, self.p, self.training, self.rng)

    def extra_repr(self):
        return f"p={self.p}"


class _Activation(Module):
    fn = None

    def forward(self, x):
        return type(self).fn(x if isinstance(x, Tensor) else Tensor(x))


class ReLU(_Activation):
    """max(x, 0), element-wise."""
    fn = staticmethod(E.relu)


class GELU(_Activation):
    """GELU (tanh approximation), element-wise."""
    fn = staticmethod(E.gelu)


class Tanh(_Activation):
    """tanh, element-wise."""
    fn = staticmethod(E.tanh)


class Sigmoid(_Activation):
    """Logistic sigmoid, element-wise."""
    fn = staticmethod(E.sigmoid)


class Softmax(Module):
    """Softmax along `axis` (default last)."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return softmax(x, self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """log(softmax(x)) along `axis`, computed stably."""

    def forward(self, x):
        return log_softmax(x, self.axis)


class Flatten(Module):
    """Flatten all axes but the first: (batch, d1, d2, ...) -> (batch, d1*d2*...)."""

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        return reshape(x, (x.shape[0], -1))
