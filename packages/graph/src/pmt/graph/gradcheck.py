"""`gradcheck`: compare a function's backward pass with central finite differences;
`gradcheck_against`: compare a fused op with the same function composed of primitive ops.

For a function f of tensors, we draw a random projection R of the output's shape and check

    d/dx_i sum(R * f(x))  ==  (s(x + h e_i) - s(x - h e_i)) / 2h   + O(h^2)

for every element i of every input that requires grad.  One backward pass (seeded with R)
gives all analytic derivatives; the numeric ones cost two forward passes per element, so use
small shapes.  Inputs should be float64: in float32 the rounding error of the difference
quotient (~1e-7 / h) swamps the comparison.
"""
from __future__ import annotations

import numpy as np

from pmt.core.gradcheck import numerical_gradient
from pmt.core.parameter import SparseRows

from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when analytic and numeric gradients disagree."""


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-6, rtol: float = 1e-5, seed: int = 0) -> bool:
    """Check `fn`'s gradients with respect to every input that requires grad.

    Args:
        fn: `fn(*inputs) -> Tensor`; must be deterministic (re-seed any dropout inside it).
        inputs: sequence of Tensors (float64 recommended) and other arguments passed through.
        eps: finite-difference step h.
        atol, rtol: tolerance |analytic - numeric| <= atol + rtol * |numeric|.
        seed: seed of the random output projection R.

    Returns:
        True; raises `GradcheckError` naming the input, element and both values otherwise.

    Example:
        >>> x = Tensor(np.random.randn(3, 4), requires_grad=True)
        >>> gradcheck(lambda t: (t * t).sum(axis=1), [x])
        True
    """
    inputs = list(inputs)
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input is a Tensor with requires_grad=True")
    for i in wrt:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; use float64 inputs")
        inputs[i].grad = None

    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    R = np.random.default_rng(seed).standard_normal(out.shape)
    if not out.requires_grad:
        raise GradcheckError("gradcheck: the output does not depend on any input that requires grad")
    out.backward(R)

    def projected():
        return float(np.sum(R * fn(*inputs).data))

    for i in wrt:
        t = inputs[i]
        analytic = t.grad
        if analytic is None:
            analytic = np.zeros_like(t.data)
        elif isinstance(analytic, SparseRows):
            analytic = analytic.to_dense(t.shape, np.float64)
        numeric = numerical_gradient(projected, t.data, eps)
        err = np.abs(analytic - numeric)
        bad = err > atol + rtol * np.abs(numeric)
        if bad.any():
            k = np.unravel_index(np.argmax(np.where(bad, err, -1)), t.shape)
            raise GradcheckError(
                f"gradcheck: input {i} (shape {t.shape}) element {tuple(int(j) for j in k)}: "
                f"analytic {analytic[k]:.8g} vs numeric {numeric[k]:.8g} "
                f"({int(bad.sum())} of {t.size} elements differ; max abs error {err.max():.3g})")
        t.grad = None
    return True


def _dense_grad(t):
    g = t.grad
    if g is None:
        return np.zeros_like(t.data)
    return g.to_dense(t.shape, t.dtype) if isinstance(g, SparseRows) else np.asarray(g)


def gradcheck_against(fn, reference, inputs, rtol: float = 1e-10, atol: float = 1e-12, seed: int = 0) -> bool:
    """Check that `fn` and `reference` compute the same values and the same gradients.

    The check for a fused op: `reference` is the same function composed from primitive graph
    ops (each with its own, separately checked backward), so agreement to rounding error
    shows the fused forward *and* its hand-derived backward right, on any shape, without the
    O(h^2) error of finite differences.  Both outputs are seeded with one random projection R.

    Args:
        fn, reference: `f(*inputs) -> Tensor`; deterministic (re-seed any dropout inside).
        inputs: as for `gradcheck` (Tensors that require grad are compared).
        rtol, atol: tolerance |a - b| <= atol + rtol * |b|, for values and gradients.
        seed: seed of the projection R.

    Returns:
        True; raises `GradcheckError` naming what differs otherwise.

    Example:
        >>> x = Tensor(np.random.randn(3, 4), requires_grad=True)
        >>> gradcheck_against(lambda t: t.exp(), lambda t: 1 + t.exp() - 1, [x], rtol=1e-12)
        True
    """
    inputs = list(inputs)
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    results = []
    for f in (fn, reference):
        for i in wrt:
            inputs[i].grad = None
        out = f(*inputs)
        if not isinstance(out, Tensor):
            raise TypeError(f"gradcheck_against: functions must return Tensors, got {type(out).__name__}")
        R = np.random.default_rng(seed).standard_normal(out.shape)
        if out.requires_grad:
            out.backward(R)
        results.append((out.data, [_dense_grad(inputs[i]) for i in wrt]))
    for i in wrt:
        inputs[i].grad = None
    (val, grads), (ref_val, ref_grads) = results
    pairs = [("value", val, ref_val)] + [(f"gradient of input {i}", g, rg)
                                         for i, g, rg in zip(wrt, grads, ref_grads)]
    for what, a, b in pairs:
        if np.shape(a) != np.shape(b):
            raise GradcheckError(f"gradcheck_against: {what} has shape {np.shape(a)}, reference {np.shape(b)}")
        if not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            err = np.abs(np.asarray(a, np.float64) - b)
            raise GradcheckError(f"gradcheck_against: {what} differs from the reference: max abs error "
                                 f"{np.nanmax(err):.3g} (rtol {rtol}, atol {atol})")
    return True
