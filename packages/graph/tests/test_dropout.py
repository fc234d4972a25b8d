import numpy as np
import pytest

import pmt.graph as G
from pmt.graph import Tensor, gradcheck


def test_dropout_is_identity_in_eval_mode_and_for_p_zero():
    x = Tensor(np.ones((4, 5)), requires_grad=True)
    assert G.dropout(x, 0.5, training=False) is x
    assert G.dropout(x, 0.0) is x


def test_dropout_keeps_expectation_and_zeroes_about_p():
    x = Tensor(np.ones((200, 500), np.float32))
    y = G.dropout(x, 0.25, rng=np.random.default_rng(0)).data
    assert abs((y == 0).mean() - 0.25) < 0.01
    assert abs(y.mean() - 1.0) < 0.01
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.75], rtol=1e-6)


def test_dropout_gradient_uses_the_same_mask():
    x = Tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda z: G.dropout(z, 0.5, rng=np.random.default_rng(7)), [x])
    y = G.dropout(x, 0.5, rng=np.random.default_rng(7))
    y.backward(np.ones((3, 4)))
    np.testing.assert_array_equal(x.grad == 0, y.data == 0)


def test_dropout_p_one_drops_everything_and_bad_p_raises():
    x = Tensor(np.ones(3), requires_grad=True)
    np.testing.assert_array_equal(G.dropout(x, 1.0).data, 0)
    with pytest.raises(ValueError, match="1.5"):
        G.dropout(x, 1.5)


def test_dropout_draws_from_pmt_core_generator_when_seeded():
    from pmt.core import seed
    x = Tensor(np.ones(100))
    seed(3)
    a = G.dropout(x, 0.5).data
    seed(3)
    b = G.dropout(x, 0.5).data
    np.testing.assert_array_equal(a, b)


def test_dropout_equals_multiplication_by_its_mask():
    x = Tensor(np.random.default_rng(2).standard_normal((4, 6)), requires_grad=True)
    mask = G.dropout_mask(x.shape, 0.3, np.float64, rng=np.random.default_rng(5))
    assert set(np.unique(mask)) <= {0.0, 1 / 0.7}
    assert G.gradcheck_against(lambda t: G.dropout(t, 0.3, rng=np.random.default_rng(5)), lambda t: t * mask, [x])
