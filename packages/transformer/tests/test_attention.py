"""multi_head_attention (the op over projections) and the MultiHeadAttention module: heads split
as views agree with explicit per-head attention, gradients, masking, dropout, init, errors."""
import numpy as np
import pytest
from pmt.core import seed
from pmt.graph import Tensor, gradcheck
from finite_diff import to_float64

from pmt.transformer.attention import MultiHeadAttention, multi_head_attention
from pmt.transformer.attention_kernel import causal_mask, padding_mask, scaled_dot_product_attention


def _t(rng, *shape):
    return Tensor(rng.normal(size=shape), requires_grad=True)


def _naive_mha(q, k, v, h, mask=None):
    """Reference: split heads by explicit reshapes, attention per head, merge."""
    b, tq, d = q.shape
    split = lambda x: Tensor(x.reshape(b, x.shape[1], h, d // h).transpose(0, 2, 1, 3))
    o, _ = scaled_dot_product_attention(split(q), split(k), split(v), mask)
    return o.data.transpose(0, 2, 1, 3).reshape(b, tq, d)


def test_fused_qkv_attention_equals_separate_heads():
    qkv = _t(np.random.default_rng(0), 2, 5, 3 * 8)
    out, w = multi_head_attention(qkv, None, n_heads=2, mask=causal_mask(5))
    q, k, v = np.split(qkv.data, 3, axis=-1)
    np.testing.assert_allclose(out.data, _naive_mha(q, k, v, 2, causal_mask(5)), rtol=1e-12)
    assert w.shape == (2, 2, 5, 5)


def test_cross_attention_equals_separate_heads():
    rng = np.random.default_rng(1)
    q, kv = _t(rng, 2, 3, 8), _t(rng, 2, 6, 16)
    mask = padding_mask(np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]), pad_id=0)
    out, _ = multi_head_attention(q, kv, n_heads=4, mask=mask)
    k, v = np.split(kv.data, 2, axis=-1)
    np.testing.assert_allclose(out.data, _naive_mha(q.data, k, v, 4, mask), rtol=1e-12)


@pytest.mark.parametrize("mask", [None, "causal", "padding"])
def test_self_attention_op_gradcheck(mask):
    qkv = _t(np.random.default_rng(2), 2, 4, 3 * 6)
    m = {None: None, "causal": causal_mask(4),
         "padding": padding_mask(np.array([[1, 1, 0, 0], [1, 1, 1, 0]]), pad_id=0)}[mask]
    assert gradcheck(lambda x: multi_head_attention(x, None, 3, mask=m)[0], [qkv])


def test_cross_attention_op_gradcheck_with_dropout():
    rng = np.random.default_rng(3)
    q, kv = _t(rng, 2, 3, 4), _t(rng, 2, 5, 8)
    mask = padding_mask(np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]), pad_id=0)

    def f(q, kv):  # the same dropout mask on every call: a fresh generator with a fixed seed
        return multi_head_attention(q, kv, 2, mask=mask, dropout=0.3, rng=np.random.default_rng(7))[0]
    assert gradcheck(f, [q, kv])


def test_attention_dropout_zeroes_some_weights_and_rescales():
    qkv = Tensor(np.zeros((1, 50, 3 * 4)))
    qkv.data[..., 8:] = 1.0                      # V = 1 everywhere, uniform weights 1/50
    out, _ = multi_head_attention(qkv, None, 1, dropout=0.5, rng=np.random.default_rng(4))
    # each output = (#kept / 50) / (1 - 0.5); averaged over 50 rows it is close to 1
    assert 0.8 < out.data.mean() < 1.2 and out.data.std() > 0


@pytest.mark.parametrize("bad", [dict(n_heads=5), dict(dropout=1.0), dict(n_heads=0)])
def test_multi_head_attention_rejects_bad_arguments(bad):
    args = dict(n_heads=2, dropout=0.0)
    args.update(bad)
    with pytest.raises(ValueError):
        multi_head_attention(Tensor(np.ones((1, 3, 12))), None, **args)


def test_self_attention_output_shape_and_weights_kept_on_request():
    mha = MultiHeadAttention(16, 4)
    mha.keep_weights = True
    out = mha(Tensor(np.random.default_rng(0).normal(size=(2, 7, 16))))
    assert out.shape == (2, 7, 16) and mha.weights.shape == (2, 4, 7, 7)
    np.testing.assert_allclose(mha.weights.sum(-1), 1.0, rtol=1e-5)


def test_causal_self_attention_ignores_the_future():
    seed(1)
    mha = MultiHeadAttention(8, 2).eval()
    x = np.random.default_rng(1).normal(size=(1, 5, 8)).astype(np.float32)
    y1 = mha(Tensor(x), mask=causal_mask(5)).data
    x[:, 3:] += 5.0
    y2 = mha(Tensor(x), mask=causal_mask(5)).data
    np.testing.assert_allclose(y1[:, :3], y2[:, :3], rtol=1e-5)
    assert not np.allclose(y1[:, 3:], y2[:, 3:])


def test_padded_memory_positions_do_not_change_cross_attention():
    seed(2)
    mha = MultiHeadAttention(8, 2, cross=True).eval()
    rng = np.random.default_rng(2)
    x, mem = rng.normal(size=(1, 3, 8)), rng.normal(size=(1, 4, 8))
    mask = padding_mask(np.array([[5, 6, 0, 0]]), pad_id=0)
    y1 = mha(Tensor(x), Tensor(mem), mask=mask).data
    mem[:, 2:] = 100.0
    np.testing.assert_allclose(mha(Tensor(x), Tensor(mem), mask=mask).data, y1, rtol=1e-5)


@pytest.mark.parametrize("cross", [False, True])
def test_attention_module_gradcheck_including_parameters(cross):
    seed(3)
    mha = to_float64(MultiHeadAttention(6, 2, cross=cross))
    rng = np.random.default_rng(3)
    x = Tensor(rng.normal(size=(2, 3, 6)), requires_grad=True)
    mem = Tensor(rng.normal(size=(2, 4, 6)), requires_grad=True)
    if cross:
        mask = padding_mask(np.array([[1, 1, 1, 0], [1, 1, 1, 1]]), pad_id=0)
        fn = lambda x, mem, *ps: mha(x, mem, mask=mask)
    else:
        fn = lambda x, mem, *ps: mha(x, mask=causal_mask(3))
        mem.requires_grad = False
    assert gradcheck(fn, [x, mem, *mha.parameters()])


def test_projections_are_xavier_uniform_with_zero_bias():
    seed(4)
    mha = MultiHeadAttention(64, 4)
    w = mha.qkv_proj.weight.data
    limit = np.sqrt(6 / (64 + 64))            # per Q/K/V block, as separate projections would be
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit
    assert w.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)
    assert not mha.qkv_proj.bias.data.any() and w.dtype == np.float32


@pytest.mark.parametrize("kwargs", [dict(d_model=10, n_heads=4), dict(d_model=8, n_heads=2, dropout=1.5)])
def test_bad_configuration_raises(kwargs):
    with pytest.raises(ValueError):
        MultiHeadAttention(**kwargs)


def test_wrong_input_width_raises_value_error_naming_shapes():
    with pytest.raises(ValueError, match=r"\(batch, t, 8\)"):
        MultiHeadAttention(8, 2)(Tensor(np.ones((1, 3, 6))))
    with pytest.raises(ValueError, match="memory"):
        MultiHeadAttention(8, 2, cross=True)(Tensor(np.ones((1, 3, 8))))
