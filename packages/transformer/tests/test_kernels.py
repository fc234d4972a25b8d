"""The pure-numpy kernels: attention, layer norm, softmax cross-entropy (forward values, masks,
and every backward against central finite differences in float64)."""
import numpy as np
import pytest
from finite_diff import assert_grad_close, numerical_grad

from pmt.transformer.attention_kernel import (attention_backward, attention_forward, causal_mask,
                                              padding_mask)
from pmt.transformer.layernorm import layer_norm_backward, layer_norm_forward
from pmt.transformer.softmax_ce import softmax_cross_entropy_backward, softmax_cross_entropy_forward


def _qkv(rng, b=2, h=2, tq=3, tk=4, d=5, dv=3):
    return (rng.normal(size=(b, h, tq, d)), rng.normal(size=(b, h, tk, d)),
            rng.normal(size=(b, h, tk, dv)))


# ---------------------------------------------------------------- attention

def test_attention_matches_naive_softmax_formula():
    rng = np.random.default_rng(0)
    q, k, v = _qkv(rng)
    out, cache = attention_forward(q, k, v)
    s = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])
    p = np.exp(s) / np.exp(s).sum(-1, keepdims=True)
    np.testing.assert_allclose(out, p @ v, rtol=1e-12)
    np.testing.assert_allclose(cache[3], p, rtol=1e-12)


def test_masked_keys_get_exactly_zero_weight():
    rng = np.random.default_rng(1)
    q, k, v = _qkv(rng, tk=4)
    keep = np.array([[True, True, False, False], [True, True, True, False]])
    _, cache = attention_forward(q, k, v, mask=keep[:, None, None, :])
    p = cache[3]
    assert np.all(p[0, :, :, 2:] == 0) and np.all(p[1, :, :, 3] == 0)
    np.testing.assert_allclose(p.sum(-1), 1.0)


def test_additive_mask_equals_boolean_mask():
    rng = np.random.default_rng(2)
    q, k, v = _qkv(rng, tq=4, tk=4)
    cm = causal_mask(4)
    out_b, _ = attention_forward(q, k, v, mask=cm)
    out_f, _ = attention_forward(q, k, v, mask=np.where(cm, 0.0, -np.inf))
    np.testing.assert_array_equal(out_b, out_f)


def test_causal_mask_makes_outputs_independent_of_future_values():
    rng = np.random.default_rng(3)
    q, k, v = _qkv(rng, tq=5, tk=5)
    out1, _ = attention_forward(q, k, v, mask=causal_mask(5))
    v2 = v.copy(); v2[..., 3:, :] += 100.0
    k2 = k.copy(); k2[..., 3:, :] -= 7.0
    out2, _ = attention_forward(q, k2, v2, mask=causal_mask(5))
    np.testing.assert_allclose(out1[..., :3, :], out2[..., :3, :], rtol=1e-12)


def test_fully_masked_row_gives_zeros_not_nan_and_zero_grads():
    rng = np.random.default_rng(4)
    q, k, v = _qkv(rng, b=1, h=1, tq=2, tk=3)
    mask = np.array([[True, False, True], [False, False, False]])
    out, cache = attention_forward(q, k, v, mask=mask)
    assert np.all(np.isfinite(out)) and np.all(out[..., 1, :] == 0)
    dq, dk, dv = attention_backward(np.ones_like(out), cache)
    assert np.all(np.isfinite(dq)) and np.all(dq[..., 1, :] == 0)


def test_causal_mask_with_more_keys_than_queries_is_shifted():
    np.testing.assert_array_equal(causal_mask(2, 4), [[1, 1, 1, 0], [1, 1, 1, 1]])


def test_padding_mask_shape_and_values():
    m = padding_mask(np.array([[4, 5, 0], [4, 0, 0]]), pad_id=0)
    assert m.shape == (2, 1, 1, 3)
    np.testing.assert_array_equal(m[:, 0, 0], [[1, 1, 0], [1, 0, 0]])


@pytest.mark.parametrize("masking", ["none", "padding", "causal", "additive", "dropout"])
def test_attention_backward_matches_finite_differences(masking):
    rng = np.random.default_rng(5)
    q, k, v = _qkv(rng, tq=4, tk=4)
    mask, dmask = None, None
    if masking == "padding":
        mask = padding_mask(np.array([[1, 1, 1, 0], [1, 1, 0, 0]]), pad_id=0)
    elif masking == "causal":
        mask = causal_mask(4)
    elif masking == "additive":
        mask = rng.normal(size=(4, 4))
    elif masking == "dropout":
        dmask = (rng.random((2, 2, 4, 4)) > 0.3) / 0.7
    w = rng.normal(size=(2, 2, 4, 3))                  # L = Σ w ⊙ out

    def loss():
        return float((attention_forward(q, k, v, mask, dmask)[0] * w).sum())

    out, cache = attention_forward(q, k, v, mask, dmask)
    dq, dk, dv = attention_backward(w, cache)
    assert_grad_close(dq, numerical_grad(loss, q))
    assert_grad_close(dk, numerical_grad(loss, k))
    assert_grad_close(dv, numerical_grad(loss, v))


def test_attention_keeps_float32():
    q = k = v = np.ones((1, 1, 2, 4), np.float32)
    out, cache = attention_forward(q, k, v, mask=causal_mask(2))
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in attention_backward(out, cache))


@pytest.mark.parametrize("bad, err", [
    (dict(k=np.ones((1, 2, 3, 6))), ValueError),                   # d mismatch
    (dict(v=np.ones((1, 2, 4, 5))), ValueError),                   # Tk mismatch
    (dict(mask=np.ones((3, 4), bool)), ValueError),                # wrong mask shape
    (dict(mask=np.ones((3, 3), np.int64)), TypeError),              # int mask
])
def test_attention_rejects_bad_input(bad, err):
    args = dict(q=np.ones((1, 2, 3, 5)), k=np.ones((1, 2, 3, 5)), v=np.ones((1, 2, 3, 5)))
    args.update(bad)
    with pytest.raises(err):
        attention_forward(**args)


# ---------------------------------------------------------------- layer norm

def test_layer_norm_output_has_zero_mean_unit_variance():
    x = np.random.default_rng(6).normal(3.0, 2.0, size=(4, 7, 16))
    y, _ = layer_norm_forward(x, np.ones(16), np.zeros(16), eps=1e-12)
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), 1, rtol=1e-9)


@pytest.mark.parametrize("shape", [(5, 6), (2, 3, 8)])
def test_layer_norm_backward_matches_finite_differences(shape):
    rng = np.random.default_rng(7)
    x = rng.normal(size=shape)
    gamma, beta = rng.normal(size=shape[-1]), rng.normal(size=shape[-1])
    w = rng.normal(size=shape)

    def loss():
        return float((layer_norm_forward(x, gamma, beta)[0] * w).sum())

    _, cache = layer_norm_forward(x, gamma, beta)
    dx, dg, db = layer_norm_backward(w, cache)
    assert_grad_close(dx, numerical_grad(loss, x))
    assert_grad_close(dg, numerical_grad(loss, gamma))
    assert_grad_close(db, numerical_grad(loss, beta))


def test_layer_norm_rejects_mismatched_gain():
    with pytest.raises(ValueError, match="gamma"):
        layer_norm_forward(np.ones((2, 4)), np.ones(3), np.zeros(4))


# ---------------------------------------------------------------- softmax cross-entropy

def test_cross_entropy_value_matches_definition():
    rng = np.random.default_rng(8)
    z, y = rng.normal(size=(6, 5)), rng.integers(0, 5, 6)
    loss, _ = softmax_cross_entropy_forward(z, y)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    assert loss == pytest.approx(-logp[np.arange(6), y].mean(), rel=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    loss, cache = softmax_cross_entropy_forward(np.array([[1000.0, -1000.0]]), np.array([1]))
    assert loss == pytest.approx(2000.0)
    assert np.all(np.isfinite(softmax_cross_entropy_backward(cache)))


def test_label_smoothing_value():
    z, y, eps = np.log(np.array([[0.5, 0.25, 0.25]])), np.array([0]), 0.3
    loss, _ = softmax_cross_entropy_forward(z, y, label_smoothing=eps)
    q = np.array([1 - eps + eps / 3, eps / 3, eps / 3])
    assert loss == pytest.approx(-(q * z[0]).sum(), rel=1e-12)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_backward_matches_finite_differences_with_ignored_rows(smoothing):
    rng = np.random.default_rng(9)
    z = rng.normal(size=(2, 4, 6))
    y = rng.integers(0, 6, (2, 4))
    y[0, 1] = y[1, 3] = -100

    def loss():
        return softmax_cross_entropy_forward(z, y, label_smoothing=smoothing)[0]

    _, cache = softmax_cross_entropy_forward(z, y, label_smoothing=smoothing)
    g = softmax_cross_entropy_backward(cache)
    assert np.all(g[0, 1] == 0) and np.all(g[1, 3] == 0)
    assert_grad_close(g, numerical_grad(loss, z))


def test_ignored_rows_do_not_change_the_mean():
    rng = np.random.default_rng(10)
    z, y = rng.normal(size=(4, 3)), np.array([0, 1, 2, 1])
    full, _ = softmax_cross_entropy_forward(z[:2], y[:2])
    y2 = y.copy(); y2[2:] = 7
    part, _ = softmax_cross_entropy_forward(z, y2, ignore_index=7)
    assert part == pytest.approx(full, rel=1e-12)


def test_all_rows_ignored_gives_zero_loss_and_gradient():
    loss, cache = softmax_cross_entropy_forward(np.ones((2, 3)), np.array([-100, -100]))
    assert loss == 0.0 and not softmax_cross_entropy_backward(cache).any()


@pytest.mark.parametrize("z, y, err, match", [
    (np.ones((2, 3)), np.array([0, 3]), ValueError, "outside"),
    (np.ones((2, 3)), np.array([0.0, 1.0]), TypeError, "integer"),
    (np.ones((2, 3)), np.array([0, 1, 2]), ValueError, "shape"),
    (np.ones((2, 3), np.int64), np.array([0, 1]), TypeError, "float"),
])
def test_cross_entropy_rejects_bad_targets(z, y, err, match):
    with pytest.raises(err, match=match):
        softmax_cross_entropy_forward(z, y)
