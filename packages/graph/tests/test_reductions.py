import numpy as np
import pytest

import pmt.graph as G
from pmt.graph import Tensor, gradcheck

R = np.random.default_rng(2)
CASES = [((3, 4), None, False), ((3, 4), 0, False), ((3, 4), 1, True), ((2, 3, 4), (0, 2), False),
         ((2, 3, 4), -1, True), ((5,), 0, False), ((1, 1), None, True), ((2, 0, 3), 2, False)]


@pytest.mark.parametrize("op", [G.sum, G.mean, G.max, G.min])
@pytest.mark.parametrize("shape,axis,keepdims", CASES)
def test_reduction_gradients_match_finite_differences(op, shape, axis, keepdims):
    x = Tensor(R.standard_normal(shape), requires_grad=True)
    out = op(x, axis, keepdims)
    ref = {G.sum: np.sum, G.mean: np.mean, G.max: np.max, G.min: np.min}[op](x.data, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.data, ref)
    assert gradcheck(lambda z: op(z, axis, keepdims), [x])


def test_max_shares_gradient_between_ties():
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]]), requires_grad=True)
    x.max(axis=1).backward(np.ones(2))
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5], [1, 0, 0]])


def test_reductions_over_empty_axes_are_refused_where_undefined():
    x = Tensor(np.zeros((2, 0)), requires_grad=True)
    assert G.sum(x, 1).shape == (2,)
    for op in (G.mean, G.max, G.min):
        with pytest.raises(ValueError, match="zero elements"):
            op(x, 1)


def test_reduction_axis_is_validated():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="out of range"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match="repeated"):
        x.sum(axis=(1, -1))
    with pytest.raises(TypeError):
        x.sum(axis=1.5)
