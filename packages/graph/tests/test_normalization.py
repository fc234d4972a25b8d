import numpy as np
import pytest

import pmt.graph as G
from pmt.graph import Parameter, Tensor, gradcheck

R = np.random.default_rng(5)


@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 5), (1, 1, 4), (0, 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_gradients_match_finite_differences(shape, affine):
    x = Tensor(R.standard_normal(shape), requires_grad=True)
    n = shape[-1]
    extra = [Parameter(R.standard_normal(n), dtype=np.float64), Parameter(R.standard_normal(n), dtype=np.float64)]
    if affine:
        assert gradcheck(lambda z, g, b: G.layer_norm(z, g, b), [x] + extra)
    else:
        assert gradcheck(lambda z: G.layer_norm(z), [x])


def test_layer_norm_output_has_zero_mean_unit_variance():
    y = G.layer_norm(Tensor(R.standard_normal((8, 32)) * 5 + 3)).data
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-10)
    np.testing.assert_allclose(y.var(-1), 1, atol=1e-3)


def test_layer_norm_checks_parameter_shapes():
    with pytest.raises(ValueError, match="gamma"):
        G.layer_norm(Tensor(np.ones((2, 4))), Parameter(np.ones(3)))


def _composed_layer_norm(x, gamma, beta, eps):
    """layer norm from primitive ops: (x - mean) / sqrt(var + eps) * gamma + beta."""
    xc = x - x.mean(axis=-1, keepdims=True)
    y = xc / ((xc * xc).mean(axis=-1, keepdims=True) + eps).sqrt()
    return y * gamma + beta if gamma is not None else y


@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 5), (1, 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_fused_layer_norm_equals_composition_of_primitive_ops(shape, affine):
    x = Tensor(R.standard_normal(shape) * 2 + 1, requires_grad=True)
    n = shape[-1]
    ps = [Parameter(R.standard_normal(n), dtype=np.float64), Parameter(R.standard_normal(n), dtype=np.float64)]
    if affine:
        assert G.gradcheck_against(lambda z, g, b: G.layer_norm(z, g, b, eps=1e-3),
                                   lambda z, g, b: _composed_layer_norm(z, g, b, 1e-3), [x] + ps)
    else:
        assert G.gradcheck_against(lambda z: G.layer_norm(z, eps=1e-3),
                                   lambda z: _composed_layer_norm(z, None, None, 1e-3), [x])


def test_layer_norm_module_formula_and_size_check():
    ln = G.LayerNorm(5, dtype=np.float64)
    ln.gamma.data[:] = np.arange(1, 6)
    x = Tensor(R.standard_normal((3, 5)), requires_grad=True)
    mu, sd = x.data.mean(-1, keepdims=True), np.sqrt(x.data.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(ln(x).data, (x.data - mu) / sd * np.arange(1, 6), rtol=1e-10)
    assert ln.features == 5 and repr(ln) == "LayerNorm(5, eps=1e-05)"
    with pytest.raises(ValueError, match="last axis"):
        G.LayerNorm(4)(Tensor(np.ones((2, 5))))
    with pytest.raises(ValueError, match="eps"):
        G.LayerNorm(4, eps=0.0)


def test_layer_norm_keeps_float32():
    ln = G.LayerNorm(8)
    x = Tensor(R.standard_normal((2, 8)).astype(np.float32), requires_grad=True)
    y = ln(x)
    y.backward(np.ones((2, 8), np.float32))
    assert y.dtype == x.grad.dtype == ln.gamma.grad.dtype == np.float32
