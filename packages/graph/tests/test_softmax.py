import numpy as np
import pytest

import pmt.graph as G
from pmt.graph import Tensor, gradcheck

R = np.random.default_rng(3)


@pytest.mark.parametrize("op", [G.softmax, G.log_softmax])
@pytest.mark.parametrize("shape,axis", [((4, 5), -1), ((4, 5), 0), ((2, 3, 4), 1), ((1, 1), -1), ((0, 3), -1)])
def test_softmax_gradients_match_finite_differences(op, shape, axis):
    assert gradcheck(lambda z: op(z, axis), [Tensor(R.standard_normal(shape), requires_grad=True)])


def test_softmax_and_log_softmax_are_stable_for_large_logits():
    x = Tensor(np.array([[1000.0, 0.0, -1000.0]], np.float32))
    s, ls = G.softmax(x), G.log_softmax(x)
    assert np.all(np.isfinite(s.data)) and np.all(np.isfinite(ls.data[:, :2]))
    np.testing.assert_allclose(s.data, [[1, 0, 0]], atol=1e-7)
    np.testing.assert_allclose(ls.data[0, :2], [0.0, -1000.0])


def test_softmax_rows_sum_to_one_and_masked_entries_get_zero():
    x = G.masked_fill(Tensor(R.standard_normal((3, 4))), np.array([False, True, False, False]), -np.inf)
    s = G.softmax(x).data
    np.testing.assert_allclose(s.sum(axis=-1), 1.0)
    assert np.all(s[:, 1] == 0)


def test_softmax_axis_out_of_range_raises():
    with pytest.raises(ValueError, match="axis 2"):
        G.softmax(Tensor(np.zeros((2, 2))), 2)


def _composed_softmax(x, axis):
    """softmax from primitive ops: exp(x - max) / sum exp(x - max)."""
    e = (x - x.max(axis=axis, keepdims=True)).exp()
    return e / e.sum(axis=axis, keepdims=True)


def _composed_log_softmax(x, axis):
    """log_softmax from primitive ops: z - log sum exp z, z = x - max."""
    z = x - x.max(axis=axis, keepdims=True)
    return z - z.exp().sum(axis=axis, keepdims=True).log()


@pytest.mark.parametrize("op,composed", [(G.softmax, _composed_softmax), (G.log_softmax, _composed_log_softmax)])
@pytest.mark.parametrize("shape,axis", [((4, 5), -1), ((2, 3, 4), 1), ((3, 1), -1)])
def test_fused_softmax_equals_composition_of_primitive_ops(op, composed, shape, axis):
    x = Tensor(R.standard_normal(shape) * 3, requires_grad=True)
    assert G.gradcheck_against(lambda t: op(t, axis), lambda t: composed(t, axis), [x])


def test_fully_masked_row_gives_zero_probabilities_and_no_nan():
    x = Tensor(np.full((2, 3), -np.inf), requires_grad=True)
    x.data[0] = [0.0, 1.0, -np.inf]
    s = G.softmax(x)
    assert np.all(s.data[1] == 0) and np.all(np.isfinite(s.data))
    s.backward(np.ones((2, 3)))
    assert np.all(x.grad[1] == 0)
    assert np.all(G.log_softmax(x).data[1] == -np.inf)
