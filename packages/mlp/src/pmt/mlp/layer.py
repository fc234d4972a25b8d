"""The `Layer` contract: a forward pass and, written by hand beside it, its backward pass.

No autograd here.  A layer computes y = f(x; θ) in `forward`, keeps what its derivative
needs, and `backward(dL/dy)` returns dL/dx (the vector-Jacobian product dL/dy · ∂y/∂x)
while *adding* dL/dθ into each parameter's `.grad`.  A model is a list of layers; its
backward pass is the chain rule run right to left:

    dL/dx_0 = backward_1(backward_2( ... backward_n(dL/dy_n)))

Shapes are per example (the batch axis is never part of `input_shape`/`output_shape`):
`build(input_shape)` is called once the input shape is known, creates the parameters
and returns the output shape, which is how `Sequential` infers every shape from the first.

Example:
    >>> class Double(Layer):
    ...     def forward(self, x): return 2 * x
    ...     def backward(self, dy): return 2 * dy          # dL/dx = dL/dy · 2
    >>> Double().build((3,))
    (3,)
"""
from __future__ import annotations

import numpy as np


class ShapeError(ValueError):
    """A layer cannot take an input of the given per-example shape.

    Attributes:
        got: the shape offered.
        expected: the shape (or a description of it) the layer wants.
    """

    def __init__(self, message: str, got=None, expected=None):
        super().__init__(message)
        self.got, self.expected = got, expected


class Layer:
    """Base class of every explicit-backprop layer.

    Subclasses override `forward`, `backward` and, if they have parameters or change the
    shape, `build` and `parameters`.

    Attributes:
        training: True in training mode (dropout on, batch statistics); False after `eval()`.
        input_shape, output_shape: per-example shapes, set by `build` (None before).
        dtype: floating dtype of parameters and computations (float32 unless told otherwise;
            gradient checks use float64).
        name: a label for summaries and error messages (default: the class name).
        input_grad: whether `backward` must return dL/dx.  `Sequential` sets it to False on
            its first layer with parameters (nothing before it needs dL/dx), which saves
            the largest matmul of a first Dense layer; such a layer then returns None.
    """

    #: Weight initialisation a preceding Dense should use ("he" for ReLU-like, "glorot" else).
    init = "glorot"

    def __init__(self, name: str | None = None, dtype=np.float32):
        self.name = name or type(self).__name__
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"{self.name}: dtype must be a floating type, got {self.dtype}")
        self.training = True
        self.input_grad = True
        self.input_shape: tuple | None = None
        self.output_shape: tuple | None = None

    # ---- construction -------------------------------------------------------------------
    def build(self, input_shape) -> tuple:
        """Fix the per-example input shape, create parameters, return the output shape.

        Args:
            input_shape: shape of one example, without the batch axis, e.g. (784,).

        Returns:
            the per-example output shape.  The default keeps the shape (element-wise layers).
        """
        self.input_shape = _as_shape(input_shape, self.name)
        self.output_shape = self.input_shape
        return self.output_shape

    @property
    def built(self) -> bool:
        return self.input_shape is not None

    # ---- computation --------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        """y = f(x).  x: (batch, *input_shape) -> y: (batch, *output_shape)."""
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dL/dx from dL/dy (shape of y), for the input of the last `forward` call.

        Adds dL/dθ into `p.grad` for every parameter p (accumulates; the optimizer's
        `zero_grad` resets them).  Must not modify `dy`.
        """
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def __call__(self, x):
        """`layer(x)` is `layer.forward(x)`."""
        return self.forward(x)

    # ---- state --------------------------------------------------------------------------
    def parameters(self) -> list:
        """Trainable `pmt.core.Parameter`s (empty for parameter-free layers)."""
        return []

    def buffers(self) -> dict:
        """Non-trainable state saved in checkpoints (e.g. BatchNorm running statistics).

        Returns a dict name -> ndarray; `load_buffers` writes into these arrays in place.
        """
        return {}

    def state_dict(self) -> dict:
        """Parameters (by name) and buffers, as plain arrays."""
        out = {p.name: p.data for p in self.parameters()}
        out.update(self.buffers())
        return out

    def load_state_dict(self, d: dict):
        """Copy arrays from `d` (as returned by `state_dict`) into this layer, checking shapes."""
        own = self.state_dict()
        missing = sorted(set(own) - set(d))
        unexpected = sorted(set(d) - set(own))
        if missing or unexpected:
            raise ValueError(f"{self.name}: state dict keys do not match: missing {missing}, "
                             f"unexpected {unexpected}")
        for k, target in own.items():
            v = np.asarray(d[k])
            if v.shape != target.shape:
                raise ValueError(f"{self.name}: {k} has shape {v.shape} in the state dict, "
                                 f"the layer expects {target.shape}")
            target[...] = v

    def num_parameters(self) -> int:
        return sum(int(p.data.size) for p in self.parameters())

    # ---- modes --------------------------------------------------------------------------
    def train(self, mode: bool = True):
        """Switch to training mode (or to eval mode with mode=False); returns self."""
        self.training = bool(mode)
        return self

    def eval(self):
        """Switch to evaluation mode (dropout off, running statistics); returns self."""
        return self.train(False)

    def extra_repr(self) -> str:
        """Configuration shown by repr(), e.g. "128" for Dense(128)."""
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"

    # ---- helpers for subclasses ---------------------------------------------------------
    def _check_input(self, x) -> np.ndarray:
        """x as an array of this layer's dtype, with its per-example shape checked (if built)."""
        if not isinstance(x, np.ndarray):
            x = np.asarray(x)
        if x.dtype != self.dtype:
            if x.dtype.kind not in "fiub":
                raise TypeError(f"{self.name}: expected a numeric array, got dtype {x.dtype}")
            x = x.astype(self.dtype)
        if self.input_shape is not None and x.shape[1:] != self.input_shape:
            raise ShapeError(f"{self.name}: expected input of shape (batch, "
                             f"{', '.join(map(str, self.input_shape))}), got {x.shape}",
                             got=x.shape[1:], expected=self.input_shape)
        return x

    def _need_forward(self, cache):
        if cache is None:
            raise RuntimeError(f"{self.name}: backward called before forward")


class Activation(Layer):
    """An element-wise layer y = f(x) with no parameters; dL/dx = dL/dy ⊙ f'(x).

    Subclasses implement `forward` and `backward`; shapes pass through unchanged.
    """


def _as_shape(shape, who: str) -> tuple:
    """A per-example shape as a tuple of positive ints (raises ValueError naming `who`)."""
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"{who}: input shape must be a tuple of ints, got {shape!r}") from None
    if any(s <= 0 for s in shape):
        raise ValueError(f"{who}: input shape must have positive sizes, got {shape}")
    return shape
