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
