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
