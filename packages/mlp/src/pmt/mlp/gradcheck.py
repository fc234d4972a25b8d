"""Central finite differences, to check a hand-written backward pass against its forward.

For a scalar function L(x), each coordinate's derivative is estimated as

    dL/dx_i ≈ (L(x + h e_i) - L(x - h e_i)) / (2h)

with error O(h²).  To check a layer y = f(x) we use L = Σ (f(x) ⊙ g) for a fixed random g:
then dL/dx is exactly `backward(g)`, and dL/dθ is what `backward` adds to each p.grad.
Run it in float64: in float32 the rounding error of L (~1e-7 relative) divided by 2h
swamps the estimate.

Stochastic layers (Dropout) are made deterministic by restoring the state of the shared
generator before every forward call, so every evaluation sees the same mask.

Example:
    >>> from pmt.mlp import Dense
    >>> layer = Dense(3, in_features=4, dtype=np.float64)
    >>> errs = check_layer(layer, np.random.randn(2, 4))
    >>> max(errs.values()) < 1e-6
    True
"""
from __future__ import annotations

import numpy as np

from pmt.core import get_rng_state, set_rng_state
from pmt.core.gradcheck import numerical_gradient  # noqa: F401  (re-exported: the check's primitive)


def relative_error(a, b) -> float:
    """max |a - b| / max(1e-8, max |a|, max |b|): scale-free, well-defined at zero."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(1e-8, float(np.abs(a).max(initial=0)), float(np.abs(b).max(initial=0)))
    return float(np.abs(a - b).max(initial=0) / scale)


def check_layer(layer, x: np.ndarray, dy: np.ndarray | None = None, h: float = 1e-6, rng=None) -> dict:
    """Compare `layer.backward` with finite differences, for the input and every parameter.

    Args:
        layer: a built (or buildable) Layer in float64.
        x: input (batch, *input_shape), float64.
        dy: the upstream gradient g; default random normal of the output's shape.
        h: finite-difference step.
        rng: generator for the default dy.

    Returns:
        {"x": relative error of dL/dx, "<param name>": relative error of its gradient, ...}.
    """
    x = np.array(x, dtype=np.float64)
    state = get_rng_state()

    def run():
        set_rng_state(state)   # same dropout mask at every call
        return layer.forward(x)

    y = run()
    if dy is None:
        dy = (rng or np.random.default_rng(0)).standard_normal(y.shape)
    for p in layer.parameters():
        p.grad = None
    dx = layer.backward(dy)
    errors = {"x": relative_error(dx, numerical_gradient(lambda: float(np.vdot(run(), dy)), x, h))}
    for p in layer.parameters():
        analytic = p.grad if p.grad is not None else np.zeros_like(p.data)
        numeric = numerical_gradient(lambda: float(np.vdot(run(), dy)), p.data, h)
        errors[p.name] = relative_error(analytic, numeric)
    set_rng_state(state)
    return errors


def check_loss(loss, pred: np.ndarray, target, h: float = 1e-6) -> float:
    """Relative error between `loss.backward()` and finite differences of `loss.forward`."""
    pred = np.array(pred, dtype=np.float64)
    loss.forward(pred, target)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(pred, target), pred, h)
    return relative_error(analytic, numeric)
