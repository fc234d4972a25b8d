"""The kernels wrapped as pmt.graph ops: values agree with the kernels, gradients with
finite differences (pmt.graph.gradcheck, float64), including masks and attention dropout."""
import numpy as np
import pytest
from pmt.graph import Tensor, gradcheck

from pmt.transformer.attention_kernel import attention_forward, causal_mask, padding_mask
from pmt.transformer.functional import cross_entropy, dense, layer_norm, multi_head_attention


def _t(rng, *shape):
    return Tensor(rng.normal(size=shape), requires_grad=True)


def _naive_mha(q, k, v, h, mask=None):
    """Reference: split heads by explicit reshapes, attention kernel per head, merge."""
    b, tq, d = q.shape
    split = lambda x: x.reshape(b, x.shape[1], h, d // h).transpose(0, 2, 1, 3)
    o, _ = attention_forward(split(q), split(k), split(v), mask)
    return o.transpose(0, 2, 1, 3).reshape(b, tq, d)


def test_fused_qkv_attention_equals_separate_heads():
    rng = np.random.default_rng(0)
    qkv = _t(rng, 2, 5, 3 * 8)
    out, w = multi_head_attention(qkv, None, n_heads=2, mask=causal_mask(5))
    q, k, v = np.split(qkv.data, 3, axis=-1)
    np.testing.assert_allclose(out.data, _naive_mha(q, k, v, 2, causal_mask(5)), rtol=1e-12)
    assert w.shape == (2, 2, 5, 5)


def test_cross_attention_equals_separate_heads():
    rng = np.random.default_rng(1)
    q, kv = _t(rng, 2, 3, 8), _t(rng, 2, 6, 16)
    mask = padding_mask(np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]), pad_id=0)
    out, _ = multi_head_attention(q, kv, n_heads=4, mask=mask, fused="q_kv")
    k, v = np.split(kv.data, 2, axis=-1)
    np.testing.assert_allclose(out.data, _naive_mha(q.data, k, v, 4, mask), rtol=1e-12)


@pytest.mark.parametrize("mask", [None, "causal", "padding"])
def test_self_attention_op_gradcheck(mask):
    rng = np.random.default_rng(2)
    qkv = _t(rng, 2, 4, 3 * 6)
    m = {None: None, "causal": causal_mask(4),
         "padding": padding_mask(np.array([[1, 1, 0, 0], [1, 1, 1, 0]]), pad_id=0)}[mask]
    assert gradcheck(lambda x: multi_head_attention(x, None, 3, mask=m)[0], [qkv])


def test_cross_attention_op_gradcheck_with_dropout():
    rng = np.random.default_rng(3)
    q, kv = _t(rng, 2, 3, 4), _t(rng, 2, 5, 8)
    mask = padding_mask(np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]), pad_id=0)

    def f(q, kv):  # the same dropout mask on every call: a fresh generator with a fixed seed
        return multi_head_attention(q, kv, 2, mask=mask, dropout=0.3, rng=np.random.default_rng(7),
                                    fused="q_kv")[0]
    assert gradcheck(f, [q, kv])


def test_attention_dropout_zeroes_some_weights_and_rescales():
    rng = np.random.default_rng(4)
    qkv = Tensor(np.zeros((1, 50, 3 * 4)))
    qkv.data[..., 8:] = 1.0                      # V = 1 everywhere, uniform weights 1/50
    out, _ = multi_head_attention(qkv, None, 1, dropout=0.5, rng=rng)
    # each output = (#kept / 50) / (1 - 0.5); averaged over 50 rows it is close to 1
    assert 0.8 < out.data.mean() < 1.2 and out.data.std() > 0


@pytest.mark.parametrize("bad", [dict(n_heads=5), dict(dropout=1.0), dict(fused="qk")])
def test_multi_head_attention_rejects_bad_arguments(bad):
    args = dict(n_heads=2, dropout=0.0, fused="qkv")
    args.update(bad)
    with pytest.raises(ValueError):
        multi_head_attention(Tensor(np.ones((1, 3, 12))), None, **args)


def test_layer_norm_op_gradcheck():
    rng = np.random.default_rng(5)
    assert gradcheck(layer_norm, [_t(rng, 2, 3, 5), _t(rng, 5), _t(rng, 5)])


def test_dense_op_gradcheck_and_value():
    rng = np.random.default_rng(6)
    x, w, b = _t(rng, 2, 3, 4), _t(rng, 4, 5), _t(rng, 5)
    np.testing.assert_allclose(dense(x, w, b).data, x.data @ w.data + b.data, rtol=1e-12)
    assert gradcheck(dense, [x, w, b])


def test_cross_entropy_op_gradcheck_with_padding_and_smoothing():
    rng = np.random.default_rng(7)
    z = _t(rng, 2, 3, 6)
    y = np.array([[1, 0, 5], [2, 0, 0]])
    assert gradcheck(lambda z: cross_entropy(z, y, ignore_index=0, label_smoothing=0.1), [z])


def test_cross_entropy_op_backward_scales_with_upstream_gradient():
    z = Tensor(np.zeros((1, 4)), requires_grad=True)
    (cross_entropy(z, np.array([2])) * 3.0).backward()
    np.testing.assert_allclose(z.grad, 3.0 * (np.full((1, 4), 0.25) - np.eye(4)[[2]]))
