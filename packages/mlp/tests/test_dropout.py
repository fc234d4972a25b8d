import numpy as np
import pytest

from pmt.core import seed
from pmt.mlp import Dropout
from pmt.mlp.gradcheck import check_layer


@pytest.mark.parametrize("shape", [(1, 6), (8, 6), (2, 3, 4)])
def test_dropout_backward_matches_finite_differences_with_a_fixed_mask(shape):
    # check_layer restores the generator before every forward: the mask is fixed.
    errors = check_layer(Dropout(0.4, dtype=np.float64), np.random.randn(*shape))
    assert errors["x"] < 1e-8


def test_dropout_backward_uses_the_forward_mask():
    d = Dropout(0.5)
    x = np.ones((4, 100), np.float32)
    y = d.forward(x)
    dx = d.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx, y)           # same mask, same 1/(1-p) scale
    assert set(np.unique(y)) <= {0.0, 2.0}


def test_dropout_is_inverted_keeping_the_mean():
    y = Dropout(0.25).forward(np.ones((1000, 100), np.float32))
    assert y.dtype == np.float32
    assert (y == 0).mean() == pytest.approx(0.25, abs=0.01)
    assert y.mean() == pytest.approx(1.0, abs=0.01)


def test_dropout_is_identity_in_eval_mode():
    d = Dropout(0.9).eval()
    x = np.random.randn(3, 4).astype(np.float32)
    assert d.forward(x) is x
    dy = np.ones_like(x)
    assert d.backward(dy) is dy


def test_dropout_masks_repeat_under_the_same_seed():
    seed(7)
    a = Dropout(0.5).forward(np.ones((2, 50), np.float32))
    seed(7)
    b = Dropout(0.5).forward(np.ones((2, 50), np.float32))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 2])
def test_dropout_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match=r"rate must lie in \[0, 1\)"):
        Dropout(rate)
