import numpy as np
import pytest

from pmt.mlp import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh, log_softmax, softmax
from pmt.mlp.gradcheck import check_layer

ACTIVATIONS = [ReLU, lambda dtype: LeakyReLU(0.1, dtype=dtype), Tanh, Sigmoid, Softmax, LogSoftmax]
IDS = ["relu", "leaky_relu", "tanh", "sigmoid", "softmax", "log_softmax"]


@pytest.mark.parametrize("make", ACTIVATIONS, ids=IDS)
@pytest.mark.parametrize("shape", [(1, 5), (4, 5), (2, 3, 5)])
def test_activation_backward_matches_finite_differences(make, shape):
    x = np.random.randn(*shape)
    x[np.abs(x) < 1e-3] = 0.5   # keep away from the kinks of (leaky) ReLU
    errors = check_layer(make(dtype=np.float64), x)
    assert errors["x"] < 1e-7, errors


@pytest.mark.parametrize("make", ACTIVATIONS, ids=IDS)
def test_activation_keeps_shape_and_float32(make):
    layer = make(dtype=np.float32)
    y = layer.forward(np.random.randn(3, 7).astype(np.float32))
    assert y.shape == (3, 7) and y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32


def test_relu_and_leaky_relu_values():
    x = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(ReLU().forward(x), [[0, 0, 3]])
    np.testing.assert_allclose(LeakyReLU(0.1).forward(x), [[-0.2, 0, 3]])


def test_sigmoid_and_tanh_values():
    x = np.array([[-1.0, 0.0, 2.0]])
    np.testing.assert_allclose(Sigmoid().forward(x), 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(Tanh().forward(x), np.tanh(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_log_softmax_stay_finite_for_huge_logits(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    for layer in (Softmax(dtype=dtype), LogSoftmax(dtype=dtype)):
        y = layer.forward(x)
        dx = layer.backward(np.ones_like(y))
        assert np.isfinite(y).all() and np.isfinite(dx).all()
    np.testing.assert_allclose(softmax(x), [[1, 0, 0], [1 / 3] * 3, [0.5, 0.5, 0]], atol=1e-7)
    np.testing.assert_allclose(log_softmax(x)[0], [0, -2e4, -1e4], rtol=1e-6)
    np.testing.assert_allclose(Sigmoid(dtype=dtype).forward(x)[0], [1, 0, 0.5])


def test_softmax_rows_sum_to_one_and_match_exp_of_log_softmax():
    x = np.random.randn(6, 9) * 5
    np.testing.assert_allclose(softmax(x).sum(axis=-1), 1)
    np.testing.assert_allclose(np.exp(log_softmax(x)), softmax(x), rtol=1e-12)


def test_leaky_relu_rejects_bad_alpha():
    with pytest.raises(ValueError, match="alpha must lie in"):
        LeakyReLU(1.5)


def test_activation_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before forward"):
        Tanh().backward(np.ones((1, 2)))
