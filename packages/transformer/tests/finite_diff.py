"""Central finite differences in float64, for checking hand-written backward passes."""
import numpy as np

from pmt.core.gradcheck import numerical_gradient


def numerical_grad(f, x, eps=1e-6):
    """dL/dx of the scalar function f() at array x (perturbed in place), by central differences."""
    return numerical_gradient(f, x, eps)


def assert_grad_close(analytic, numeric, rtol=1e-5, atol=1e-7):
    """Compare gradients with a message that says how far apart they are."""
    analytic = np.asarray(analytic, dtype=np.float64)
    err = np.max(np.abs(analytic - numeric)) if analytic.size else 0.0
    assert np.allclose(analytic, numeric, rtol=rtol, atol=atol), f"max abs error {err:.3e}"


def to_float64(module):
    """Switch every parameter of a pmt.graph Module to float64 (for gradient checks); returns it."""
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    return module
