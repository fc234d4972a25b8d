import numpy as np
import pytest

from pmt.mlp import BinaryCrossEntropy, CategoricalCrossEntropy, MeanSquaredError, log_softmax, softmax
from pmt.mlp.gradcheck import check_loss


def _pred(kind, z):
    return {"logits": z, "log_probs": log_softmax(z), "probs": softmax(z)}[kind]


@pytest.mark.parametrize("kind", ["logits", "log_probs", "probs"])
@pytest.mark.parametrize("batch", [1, 6])
@pytest.mark.parametrize("targets", ["labels", "distribution"])
def test_cross_entropy_backward_matches_finite_differences(kind, batch, targets):
    z = np.random.randn(batch, 4)
    t = np.random.randint(0, 4, batch) if targets == "labels" else softmax(np.random.randn(batch, 4))
    assert check_loss(CategoricalCrossEntropy(kind), _pred(kind, z), t) < 1e-6


@pytest.mark.parametrize("kind", ["logits", "log_probs", "probs"])
def test_cross_entropy_agrees_across_input_kinds(kind):
    z, y = np.random.randn(5, 3), np.array([0, 2, 1, 1, 0])
    expected = -np.mean(np.log(softmax(z))[np.arange(5), y])
    assert CategoricalCrossEntropy(kind).forward(_pred(kind, z), y) == pytest.approx(expected, rel=1e-9)


def test_cross_entropy_labels_equal_one_hot_targets():
    z, y = np.random.randn(4, 3), np.array([2, 0, 1, 2])
    a, b = CategoricalCrossEntropy(), CategoricalCrossEntropy()
    assert a.forward(z, y) == pytest.approx(b.forward(z, np.eye(3)[y]))
    np.testing.assert_allclose(a.backward(), b.backward())


def test_fused_softmax_gradient_is_probabilities_minus_one_hot_over_n():
    z, y = np.random.randn(4, 3), np.array([2, 0, 1, 2])
    loss = CategoricalCrossEntropy("logits")
    loss.forward(z, y)
    np.testing.assert_allclose(loss.backward(), (softmax(z) - np.eye(3)[y]) / 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_from_logits_is_finite_for_huge_logits(dtype):
    z = np.array([[1e4, -1e4, 0], [-1e4, 1e4, 1e4]], dtype=dtype)
    loss = CategoricalCrossEntropy("logits")
    value = loss.forward(z, np.array([1, 0]))
    assert value == pytest.approx((2e4 + 2e4 + np.log(2)) / 2, rel=1e-6)
    g = loss.backward()
    assert np.isfinite(g).all() and g.dtype == dtype


def test_cross_entropy_from_zero_probabilities_stays_finite():
    loss = CategoricalCrossEntropy("probs")
    value = loss.forward(np.array([[1.0, 0.0]]), np.array([1]))
    assert np.isfinite(value) and np.isfinite(loss.backward()).all()


@pytest.mark.parametrize("target,match", [
    (np.array([0, 3]), r"labels must lie in \[0, 3\)"),
    (np.array([0, -1]), r"labels must lie in \[0, 3\)"),
    (np.array([0, 1, 2]), "3 labels for 2 predictions"),
    (np.zeros((2, 4)), "integer labels of shape"),
])
def test_cross_entropy_rejects_bad_targets(target, match):
    with pytest.raises(ValueError, match=match):
        CategoricalCrossEntropy().forward(np.zeros((2, 3)), target)


def test_cross_entropy_rejects_unknown_input_kind_and_non_float_predictions():
    with pytest.raises(ValueError, match="input must be one of"):
        CategoricalCrossEntropy("scores")
    with pytest.raises(TypeError, match="float numpy array"):
        CategoricalCrossEntropy().forward(np.zeros((2, 3), int), np.array([0, 1]))


@pytest.mark.parametrize("shape", [(1,), (5,), (3, 2)])
def test_binary_cross_entropy_backward_matches_finite_differences(shape):
    assert check_loss(BinaryCrossEntropy(), np.random.randn(*shape) * 3, np.random.rand(*shape)) < 1e-6


def test_binary_cross_entropy_matches_definition_and_survives_huge_logits():
    z, t = np.random.randn(6), np.random.rand(6)
    s = 1 / (1 + np.exp(-z))
    expected = -np.mean(t * np.log(s) + (1 - t) * np.log(1 - s))
    assert BinaryCrossEntropy().forward(z, t) == pytest.approx(expected)
    loss = BinaryCrossEntropy()
    assert loss.forward(np.array([1e4, -1e4]), np.array([0.0, 1.0])) == pytest.approx(1e4)
    assert np.isfinite(loss.backward()).all()


def test_binary_cross_entropy_rejects_targets_outside_unit_interval():
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        BinaryCrossEntropy().forward(np.zeros(3), np.array([0.0, 2.0, 1.0]))


@pytest.mark.parametrize("shape", [(1, 1), (4, 3)])
def test_mse_backward_matches_finite_differences(shape):
    assert check_loss(MeanSquaredError(), np.random.randn(*shape), np.random.randn(*shape)) < 1e-7


def test_mse_rejects_shape_mismatch():
    with pytest.raises(ValueError, match=r"targets of shape \(3,\) for predictions of shape \(3, 1\)"):
        MeanSquaredError().forward(np.zeros((3, 1)), np.zeros(3))


def test_loss_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before forward"):
        MeanSquaredError().backward()
