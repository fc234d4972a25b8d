import numpy as np
import pytest

from pmt.mlp import BatchNorm1d, LayerNorm, ShapeError
from pmt.mlp.gradcheck import check_layer


def _randomize_affine(layer):
    layer.gamma.data[...] = np.random.randn(*layer.gamma.data.shape)
    layer.beta.data[...] = np.random.randn(*layer.beta.data.shape)
    return layer


@pytest.mark.parametrize("batch", [3, 7])  # batch 2 saturates: x̂ = ±1, dL/dx ≈ 0
def test_batchnorm_training_backward_matches_finite_differences(batch):
    bn = _randomize_affine(BatchNorm1d(4, dtype=np.float64))
    errors = check_layer(bn, np.random.randn(batch, 4) * 3 + 1)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("batch", [1, 5])
def test_batchnorm_eval_backward_matches_finite_differences(batch):
    bn = _randomize_affine(BatchNorm1d(4, dtype=np.float64))
    bn.running_mean[...] = np.random.randn(4)
    bn.running_var[...] = np.random.rand(4) + 0.5
    errors = check_layer(bn.eval(), np.random.randn(batch, 4))
    assert max(errors.values()) < 1e-7, errors


def test_batchnorm_normalizes_the_batch_and_tracks_running_statistics():
    bn = BatchNorm1d(3, momentum=0.5)
    x = (np.random.randn(256, 3) * [1, 2, 3] + [5, -1, 0]).astype(np.float32)
    y = bn.forward(x)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=0), 1, atol=1e-3)
    np.testing.assert_allclose(bn.running_mean, 0.5 * x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var, 0.5 + 0.5 * x.var(axis=0, ddof=1), rtol=1e-4)
    before = bn.running_mean.copy()
    bn.eval().forward(x)
    np.testing.assert_array_equal(bn.running_mean, before)   # eval mode leaves statistics alone


def test_batchnorm_state_dict_carries_running_statistics():
    bn = BatchNorm1d(3)
    bn.forward(np.random.randn(8, 3).astype(np.float32))
    other = BatchNorm1d(3)
    other.load_state_dict(bn.state_dict())
    np.testing.assert_array_equal(other.running_var, bn.running_var)


def test_batchnorm_refuses_a_training_batch_of_one():
    with pytest.raises(ValueError, match="at least 2 examples"):
        BatchNorm1d(3).forward(np.ones((1, 3), np.float32))


def test_batchnorm_refuses_image_shaped_input():
    with pytest.raises(ShapeError, match="Flatten"):
        BatchNorm1d().build((28, 28))


@pytest.mark.parametrize("shape", [(1, 5), (3, 5), (2, 3, 5)])
def test_layernorm_backward_matches_finite_differences(shape):
    ln = _randomize_affine(LayerNorm(5, dtype=np.float64))
    errors = check_layer(ln, np.random.randn(*shape) * 2 - 1)
    assert max(errors.values()) < 1e-6, errors


def test_layernorm_normalizes_each_example_over_its_features():
    y = LayerNorm(16).forward(np.random.randn(4, 3, 16).astype(np.float32) * 5 + 2)
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=-1), 1, atol=1e-3)


def test_layernorm_rejects_wrong_feature_count():
    with pytest.raises(ShapeError, match="expected 4 features"):
        LayerNorm(4).forward(np.ones((2, 5), np.float32))
