import numpy as np
import pytest

import pmt.graph as G
from pmt.graph import Tensor, gradcheck

R = np.random.default_rng(6)


def logits(*shape):
    return Tensor(R.standard_normal(shape), requires_grad=True)


def reference_cross_entropy(z, y, weight=None, ignore_index=-100, eps=0.0):
    """Direct formula of PyTorch's convention, computed slowly with loops for clarity."""
    C = z.shape[-1]
    z, y = z.reshape(-1, C), y.reshape(-1)
    w = np.ones(C) if weight is None else weight
    total, denom = 0.0, 0.0
    for zi, yi in zip(z, y):
        if yi == ignore_index:
            continue
        logp = zi - zi.max() - np.log(np.exp(zi - zi.max()).sum())
        total += -(1 - eps) * w[yi] * logp[yi] - eps / C * (w * logp).sum()
        denom += w[yi]
    return total / denom


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (1, 1)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy_value_and_gradient(shape, weighted, eps, ignore):
    z = logits(*shape)
    C = shape[-1]
    y = R.integers(0, C, shape[:-1])
    if ignore and y.size > 1:
        y.reshape(-1)[0] = -100
    w = R.random(C) + 0.5 if weighted else None
    out = G.cross_entropy(z, y, weight=w, label_smoothing=eps)
    np.testing.assert_allclose(out.data, reference_cross_entropy(z.data, y, w, eps=eps), rtol=1e-10)
    assert gradcheck(lambda t: G.cross_entropy(t, y, weight=w, label_smoothing=eps), [z])


@pytest.mark.parametrize("reduction", ["sum", "none"])
def test_cross_entropy_other_reductions(reduction):
    z = logits(4, 3)
    y = np.array([0, 2, -100, 1])
    out = G.cross_entropy(z, y, reduction=reduction, label_smoothing=0.2)
    assert out.shape == (() if reduction == "sum" else (4,))
    assert gradcheck(lambda t: G.cross_entropy(t, y, reduction=reduction, label_smoothing=0.2), [z])


def test_cross_entropy_is_stable_for_huge_logits_and_all_ignored_batch_is_zero():
    z = Tensor(np.array([[1e4, 0.0, -1e4]], np.float32), requires_grad=True)
    out = G.cross_entropy(z, np.array([1]))
    assert np.isfinite(out.item()) and abs(out.item() - 1e4) < 1
    ign = G.cross_entropy(logits(2, 3), np.array([-100, -100]))
    assert ign.item() == 0.0
    ign.backward()
    empty = logits(0, 3)
    G.cross_entropy(empty, np.zeros(0, np.int64)).backward()
    assert empty.grad.shape == (0, 3)


def test_cross_entropy_validates_targets():
    z = logits(2, 3)
    with pytest.raises(ValueError, match="target 3"):
        G.cross_entropy(z, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"expected \(2,\)"):
        G.cross_entropy(z, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="integer"):
        G.cross_entropy(z, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="weight"):
        G.cross_entropy(z, np.array([0, 1]), weight=np.ones(4))
    with pytest.raises(ValueError, match="reduction"):
        G.cross_entropy(z, np.array([0, 1]), reduction="avg")


@pytest.mark.parametrize("shape", [(6,), (3, 4), (0, 2)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits_matches_formula_and_gradients(shape, reduction):
    z = logits(*shape)
    y = (R.random(shape) > 0.5).astype(np.float64)
    out = G.binary_cross_entropy_with_logits(z, y, reduction=reduction)
    s = 1 / (1 + np.exp(-z.data))
    ref = -(y * np.log(s) + (1 - y) * np.log(1 - s))
    ref = {"mean": ref.mean() if ref.size else 0.0, "sum": ref.sum(), "none": ref}[reduction]
    np.testing.assert_allclose(out.data, ref, rtol=1e-10)
    assert gradcheck(lambda t: G.binary_cross_entropy_with_logits(t, y, reduction=reduction), [z])


def test_binary_cross_entropy_with_weights_and_extreme_logits():
    z = logits(4)
    w = np.array([1.0, 2.0, 0.0, 0.5])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    assert gradcheck(lambda t: G.binary_cross_entropy_with_logits(t, y, weight=w), [z])
    big = G.binary_cross_entropy_with_logits(Tensor(np.array([1e4, -1e4], np.float32)), np.array([0.0, 1.0]))
    assert np.isfinite(big.item())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_value_and_gradient(reduction):
    p, y = logits(3, 2), R.standard_normal((3, 2))
    out = G.mse_loss(p, y, reduction=reduction)
    ref = (p.data - y) ** 2
    np.testing.assert_allclose(out.data, {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[reduction])
    assert gradcheck(lambda t: G.mse_loss(t, y, reduction=reduction), [p])
    with pytest.raises(ValueError, match="shape"):
        G.mse_loss(p, np.ones(3))


def _composed_cross_entropy(z, y, weight=None, ignore_index=-100, eps=0.0):
    """cross-entropy from primitive ops: -(q * log_softmax(z)).sum(-1), mean over the weights."""
    C = z.shape[-1]
    valid = y != ignore_index
    yy = np.where(valid, y, 0)
    w = np.ones(C) if weight is None else weight
    q = (1 - eps) * np.eye(C)[yy] * w[yy][..., None] + eps / C * w        # (..., C)
    q = q * valid[..., None]
    zs = z - z.max(axis=-1, keepdims=True)
    logp = zs - zs.exp().sum(axis=-1, keepdims=True).log()
    return -(logp * q).sum() / float((w[yy] * valid).sum())


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("ignore", [False, True])
def test_fused_cross_entropy_equals_composition_of_primitive_ops(shape, weighted, eps, ignore):
    z = logits(*shape)
    y = R.integers(0, shape[-1], shape[:-1])
    if ignore:
        y.reshape(-1)[[0, 2]] = 7
    w = R.random(shape[-1]) + 0.5 if weighted else None
    assert G.gradcheck_against(lambda t: G.cross_entropy(t, y, weight=w, ignore_index=7, label_smoothing=eps),
                               lambda t: _composed_cross_entropy(t, y, w, 7, eps), [z])


def test_binary_cross_entropy_and_mse_equal_their_compositions():
    z, y = logits(3, 4), (R.random((3, 4)) > 0.5).astype(np.float64)
    w = R.random((3, 4))
    assert G.gradcheck_against(lambda t: G.binary_cross_entropy_with_logits(t, y, weight=w),
                               lambda t: (-(y * G.sigmoid(t).log() + (1 - y) * (1 - G.sigmoid(t)).log()) * w).mean(),
                               [z])
    assert G.gradcheck_against(lambda t: G.mse_loss(t, y), lambda t: ((t - y) * (t - y)).mean(), [z])


@pytest.mark.parametrize("loss", [G.binary_cross_entropy_with_logits, G.mse_loss])
def test_mean_over_zero_elements_is_zero_with_zero_gradient(loss):
    z = logits(0, 3)
    out = loss(z, np.zeros((0, 3)))
    assert out.item() == 0.0
    out.backward()
    assert z.grad.shape == (0, 3)


def test_cross_entropy_label_smoothing_value_and_huge_logits_gradient():
    z = Tensor(np.log(np.array([[0.5, 0.25, 0.25]])), requires_grad=True)
    q = np.array([1 - 0.3 + 0.1, 0.1, 0.1])
    assert G.cross_entropy(z, np.array([0]), label_smoothing=0.3).item() == pytest.approx(-(q * z.data[0]).sum())
    big = Tensor(np.array([[1000.0, -1000.0]]), requires_grad=True)
    G.cross_entropy(big, np.array([1])).backward()
    np.testing.assert_allclose(big.grad, [[1.0, -1.0]])
