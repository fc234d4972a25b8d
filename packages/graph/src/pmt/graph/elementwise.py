"""Element-wise operations with broadcasting: arithmetic, exp/log/sqrt/abs, activations, where.

Broadcasting and its gradient
-----------------------------
`a + b` with `a: (4, 3)` and `b: (3,)` uses every `b[j]` four times, so dL/db[j] is the sum of
the four upstream gradients: the gradient of a broadcast input is the upstream gradient
*summed over the axes broadcasting created or stretched* (`pmt.core.numerics.unbroadcast`,
re-exported as `pmt.graph.unbroadcast`).

Arguments that are not Tensors (Python numbers, ndarrays) are constants: they get no gradient
and no graph node of their own.  Float ndarray constants are cast to the Tensor's dtype so
that a float64 mask does not silently turn a float32 model into float64.
"""
from __future__ import annotations

import numpy as np
from pmt.core.numerics import sigmoid as _sigmoid
from pmt.core.numerics import unbroadcast

from .tensor import Tensor

_SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))
_GELU_C = 0.044715


def _operands(a, b, name):
    """(a, b, a_data, b_data) with constants converted to arrays matching the Tensor's dtype."""
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if not (ta or tb):
        raise TypeError(f"{name}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    ad = a.data if ta else _const(a, b.data.dtype, name)
    bd = b.data if tb else _const(b, a.data.dtype, name)
    return ad, bd


def _const(x, dtype, name):
    if isinstance(x, (int, float, bool, np.number)):
        return x  # numpy treats Python scalars as "weak": float32 stays float32
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name}: cannot combine a Tensor with {type(x).__name__} of dtype {arr.dtype}")
    return arr.astype(dtype, copy=False) if arr.dtype != dtype else arr


def _needs(x):
    return isinstance(x, Tensor) and x.requires_grad


def _parents(a, b):
    return tuple(t for t in (a, b) if isinstance(t, Tensor))


def _grads(a, b, ga, gb):
    """Gradients in the order of `_parents(a, b)` (constants have no slot)."""
    out = []
    if isinstance(a, Tensor):
        out.append(ga)
    if isinstance(b, Tensor):
        out.append(gb)
    return out


def _binary(ufunc, ad, bd, name):
    try:
        return ufunc(ad, bd)
    except ValueError:
        raise ValueError(f"{name}: shapes {np.shape(ad)} and {np.shape(bd)} cannot be broadcast together") from None


def add(a, b) -> Tensor:
    """a + b (broadcasting).  dL/da = unbroadcast(g), dL/db = unbroadcast(g)."""
    ad, bd = _operands(a, b, "add")
    out = _binary(np.add, ad, bd, "add")

    def backward(g):
        return _grads(a, b, unbroadcast(g, a.shape) if _needs(a) else None,
                      unbroadcast(g, b.shape) if _needs(b) else None)
    return Tensor.from_op(out, _parents(a, b), backward, "add")


def sub(a, b) -> Tensor:
    """a - b (broadcasting).  dL/da = unbroadcast(g), dL/db = -unbroadcast(g)."""
    ad, bd = _operands(a, b, "sub")
    out = _binary(np.subtract, ad, bd, "sub")

    def backward(g):
        return _grads(a, b, unbroadcast(g, a.shape) if _needs(a) else None,
                      -unbroadcast(g, b.shape) if _needs(b) else None)
    return Tensor.from_op(out, _parents(a, b), backward, "sub")


def mul(a, b) -> Tensor:
    """a * b (broadcasting).  dL/da = unbroadcast(g * b), dL/db = unbroadcast(g * a)."""
    ad, bd = _operands(a, b, "mul")
    out = _binary(np.multiply, ad, bd, "mul")

    def backward(g):
        return _grads(a, b, unbroadcast(g * bd, a.shape) if _needs(a) else None,
                      unbroadcast(g * ad, b.shape) if _needs(b) else None)
    return Tensor.from_op(out, _parents(a, b), backward, "mul")


def div(a, b) -> Tensor:
    """a / b (broadcasting).  dL/da = unbroadcast(g / b), dL/db = unbroadcast(-g * a / b^2)."""
    ad, bd = _operands(a, b, "div")
    out = _binary(np.divide, ad, bd, "div")

    def backward(g):
        ga = g / bd
        return _grads(a, b, unbroadcast(ga, a.shape) if _needs(a) else None,
                      unbroadcast(-ga * out, b.shape) if _needs(b) else None)  # -g a/b^2 = -(g/b)(a/b)
    return Tensor.from_op(out, _parents(a, b), backward, "div")


def pow(a, b) -> Tensor:
    """a ** b (broadcasting).  dL/da = g * b * a^(b-1), dL/db = g * a^b * log(a).

    At a = 0 both are taken as their limits where the formulas give 0 * inf = NaN:
    d(a^0)/da = 0 (a^0 is the constant 1), and dL/db = 0 where a = 0 and b >= 0 (a^b is 0
    or 1 for every b >= 0 there), as PyTorch does.
    """
    ad, bd = _operands(a, b, "pow")
    out = _binary(np.power, ad, bd, "pow")

    def backward(g):
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if _needs(a):
                ga = unbroadcast(g * np.where(bd == 0, 0, bd * ad ** (bd - 1)), a.shape)
            if _needs(b):
                gb = unbroadcast(g * np.where((ad == 0) & (bd >= 0), 0, out * np.log(ad)), b.shape)
        return _grads(a, b, ga, gb)
    return Tensor.from_op(out, _parents(a, b), backward, "pow")


def neg(x: Tensor) -> Tensor:
    """-x.  dL/dx = -g."""
    return Tensor.from_op(-x.data, (x,), lambda g: (-g,), "neg")


def exp(x: Tensor) -> Tensor:
    """e^x.  dL/dx = g * e^x."""
    out = np.exp(x.data)
    return Tensor.from_op(out, (x,), lambda g: (g * out,), "exp")


def log(x: Tensor) -> Tensor:
    """Natural log.  dL/dx = g / x."""
    return Tensor.from_op(np.log(x.data), (x,), lambda g: (g / x.data,), "log")


def sqrt(x: Tensor) -> Tensor:
    """Square root.  dL/dx = g / (2 sqrt(x))."""
    out = np.sqrt(x.data)
    return Tensor.from_op(out, (x,), lambda g: (g * 0.5 / out,), "sqrt")


def abs(x: Tensor) -> Tensor:  # noqa: A001 - mirrors numpy's name
    """|x|.  dL/dx = g * sign(x) (0 at x = 0)."""
    return Tensor.from_op(np.abs(x.data), (x,), lambda g: (g * np.sign(x.data),), "abs")


def tanh(x: Tensor) -> Tensor:
    """tanh(x).  dL/dx = g * (1 - tanh(x)^2)."""
    out = np.tanh(x.data)
    return Tensor.from_op(out, (x,), lambda g: (g * (1 - out * out),), "tanh")


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^-x), in the stable form of `pmt.core.numerics.sigmoid` (no overflow, full
    relative precision in both tails: sigmoid(-100) is 3.7e-44, not 0).

    dL/dx = g * s (1 - s).
    """
    out = _sigmoid(x.data)
    return Tensor.from_op(out, (x,), lambda g: (g * out * (1 - out),), "sigmoid")


def relu(x: Tensor) -> Tensor:
    """max(x, 0).  dL/dx = g * [x > 0]."""
    out = np.maximum(x.data, 0)
    return Tensor.from_op(out, (x,), lambda g: (g * (out > 0),), "relu")


def gelu(x: Tensor) -> Tensor:
    """GELU in its tanh approximation (Hendrycks & Gimpel; as in BERT and GPT-2), on purpose:
    PyTorch's `gelu(x, approximate="tanh")`, not the exact x * Phi(x) (they differ by < 1e-3).

        y = x/2 (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
        dy/dx = (1 + t)/2 + x/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2),  t = tanh(u)
    """
    xd = x.data
    t = np.tanh(_SQRT_2_OVER_PI * (xd + _GELU_C * xd ** 3))
    out = 0.5 * xd * (1 + t)

    def backward(g):
        dudx = _SQRT_2_OVER_PI * (1 + 3 * _GELU_C * xd * xd)
        return (g * (0.5 * (1 + t) + 0.5 * xd * (1 - t * t) * dudx),)
    return Tensor.from_op(out, (x,), backward, "gelu")


def clip(x: Tensor, low=None, high=None) -> Tensor:
    """Clamp x into [low, high] (either may be None).  dL/dx = g where low <= x <= high, else 0."""
    if low is None and high is None:
        raise ValueError("clip: give at least one of low, high")
    if low is not None and high is not None and low > high:
        raise ValueError(f"clip: low={low} is greater than high={high}")
    out = np.clip(x.data, low, high)
    inside = np.ones(x.shape, dtype=bool)
    if low is not None:
        inside &= x.data >= low
    if high is not None:
        inside &= x.data <= high
    return Tensor.from_op(out, (x,), lambda g: (g * inside,), "clip")


def _bool_mask(mask, name):
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != bool:
        raise TypeError(f"{name}: the mask/condition must be a boolean array, got dtype {m.dtype}")
    return m


def where(cond, a, b) -> Tensor:
    """Element-wise `a if cond else b` (broadcasting all three).

    dL/da = unbroadcast(g * cond), dL/db = unbroadcast(g * not cond).

    Args:
        cond: boolean array (or boolean Tensor).
        a, b: Tensors or constants; at least one a Tensor.
    """
    c = _bool_mask(cond, "where")
    ad, bd = _operands(a, b, "where")
    try:
        np.broadcast_shapes(c.shape, np.shape(ad), np.shape(bd))
    except ValueError:
        raise ValueError(f"where: condition {c.shape}, a {np.shape(ad)} and b {np.shape(bd)} "
                         f"cannot be broadcast together") from None
    out = np.where(c, ad, bd)

    def backward(g):
        zero = np.zeros((), g.dtype)
        return _grads(a, b, unbroadcast(np.where(c, g, zero), a.shape) if _needs(a) else None,
                      unbroadcast(np.where(c, zero, g), b.shape) if _needs(b) else None)
    return Tensor.from_op(out, _parents(a, b), backward, "where")


def masked_fill(x: Tensor, mask, value: float) -> Tensor:
    """x with `value` wherever `mask` is True (mask broadcasts to x's shape).

    dL/dx = g where mask is False, 0 where it is True.

    Example:
        >>> from pmt.graph import Tensor, softmax
        >>> scores = Tensor(np.zeros((1, 3)))
        >>> allowed = np.array([[True, True, False]])
        >>> softmax(masked_fill(scores, ~allowed, -np.inf)).data   # the masked position gets 0
        array([[0.5, 0.5, 0. ]])
    """
    m = _bool_mask(mask, "masked_fill")
    try:
        if np.broadcast_shapes(m.shape, x.shape) != x.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"masked_fill: mask of shape {m.shape} does not broadcast to x's shape {x.shape}") from None
    out = np.where(m, np.asarray(value, x.dtype), x.data)
    return Tensor.from_op(out, (x,), lambda g: (np.where(m, np.zeros((), g.dtype), g),), "masked_fill")
