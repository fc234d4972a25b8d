import numpy as np
import pytest

from pmt.mlp import Dense, ShapeError
from pmt.mlp.gradcheck import check_layer


@pytest.mark.parametrize("shape", [(1, 4), (5, 4), (2, 3, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_dense_backward_matches_finite_differences(shape, bias):
    layer = Dense(3, in_features=4, bias=bias, dtype=np.float64)
    layer.b is not None and layer.b.data.__setitem__(..., np.random.randn(3))
    errors = check_layer(layer, np.random.randn(*shape))
    assert set(errors) == {"x", "Dense.W"} | ({"Dense.b"} if bias else set())
    assert max(errors.values()) < 1e-7, errors


def test_dense_computes_affine_map_and_keeps_float32():
    layer = Dense(2, in_features=3)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    layer.b.data[:] = [1, -1]
    y = layer.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x @ layer.W.data + layer.b.data, rtol=1e-6)


def test_dense_backward_accumulates_into_existing_grads():
    layer = Dense(2, in_features=3, dtype=np.float64)
    x, dy = np.random.randn(4, 3), np.random.randn(4, 2)
    layer.forward(x)
    layer.backward(dy)
    first = layer.W.grad.copy()
    layer.backward(dy)
    np.testing.assert_allclose(layer.W.grad, 2 * first)


def test_dense_without_input_grad_returns_none_but_fills_param_grads():
    layer = Dense(2, in_features=3)
    layer.input_grad = False
    layer.forward(np.ones((4, 3), np.float32))
    assert layer.backward(np.ones((4, 2), np.float32)) is None
    assert layer.W.grad.shape == (3, 2) and layer.b.grad.shape == (2,)


@pytest.mark.parametrize("init,fan_in,fan_out", [("he", 400, 300), ("glorot", 400, 300)])
def test_dense_init_has_the_variance_its_scheme_promises(init, fan_in, fan_out):
    w = Dense(fan_out, in_features=fan_in, weight_init=init).W.data
    expected = 2 / fan_in if init == "he" else 2 / (fan_in + fan_out)
    assert w.var() == pytest.approx(expected, rel=0.05)
    assert init == "glorot" or abs(w).max() > np.sqrt(6 / (fan_in + fan_out))  # he is normal, unbounded


def test_dense_rejects_wrong_feature_count_naming_both_shapes():
    layer = Dense(2, in_features=3)
    with pytest.raises(ShapeError, match=r"expected input of shape \(batch, ..., 3\), got \(4, 5\)"):
        layer.forward(np.ones((4, 5), np.float32))


@pytest.mark.parametrize("units", [0, -3, 2.5, "8"])
def test_dense_rejects_bad_units(units):
    with pytest.raises(ValueError, match="units must be a positive int"):
        Dense(units)


def test_dense_rejects_unknown_init():
    with pytest.raises(ValueError, match="weight_init must be one of"):
        Dense(3, weight_init="xavier")


def test_dense_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="backward called before forward"):
        Dense(2, in_features=3).backward(np.ones((1, 2)))
