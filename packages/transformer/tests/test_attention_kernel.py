"""The attention kernel (`scaled_dot_product_attention`, one graph node): values against the
softmax formula and against the same function composed of primitive pmt.graph ops, gradients
against finite differences (float64), masks, dropout, broadcasting k/v batches, conventions."""
import numpy as np
import pytest
import pmt.graph as G
from pmt.graph import Tensor, gradcheck, gradcheck_against

from pmt.transformer.attention_kernel import causal_mask, padding_mask, scaled_dot_product_attention


def _qkv(rng, b=2, h=2, tq=3, tk=4, d=5, dv=3, kv_batch=None):
    kb = (b, h) if kv_batch is None else kv_batch
    return (Tensor(rng.normal(size=(b, h, tq, d)), requires_grad=True),
            Tensor(rng.normal(size=(*kb, tk, d)), requires_grad=True),
            Tensor(rng.normal(size=(*kb, tk, dv)), requires_grad=True))


def _attend(q, k, v, mask=None, dmask=None):
    return scaled_dot_product_attention(q, k, v, mask, dmask)[0]


def _composed(q, k, v, mask=None, dmask=None):
    """The same function from primitive graph ops: matmul, scale, masked_fill, softmax, mul, matmul."""
    s = (q @ k.transpose(*range(k.ndim - 2), k.ndim - 1, k.ndim - 2)) * (1 / np.sqrt(q.shape[-1]))
    if mask is not None:
        s = G.masked_fill(s, ~mask, -np.inf) if mask.dtype == bool else s + mask
    p = G.softmax(s)
    return (p * dmask if dmask is not None else p) @ v


def test_attention_matches_naive_softmax_formula():
    q, k, v = _qkv(np.random.default_rng(0))
    out, w = scaled_dot_product_attention(q, k, v)
    s = q.data @ k.data.swapaxes(-1, -2) / np.sqrt(q.shape[-1])
    p = np.exp(s) / np.exp(s).sum(-1, keepdims=True)
    np.testing.assert_allclose(out.data, p @ v.data, rtol=1e-12)
    np.testing.assert_allclose(w, p, rtol=1e-12)


@pytest.mark.parametrize("masking", ["none", "padding", "causal", "additive", "dropout"])
def test_fused_attention_equals_composition_of_primitive_ops(masking):
    rng = np.random.default_rng(5)
    q, k, v = _qkv(rng, tq=4, tk=4)
    mask = dmask = None
    if masking == "padding":
        mask = padding_mask(np.array([[1, 1, 1, 0], [1, 1, 0, 0]]), pad_id=0)
    elif masking == "causal":
        mask = causal_mask(4)
    elif masking == "additive":
        mask = rng.normal(size=(4, 4))
    elif masking == "dropout":
        dmask = G.dropout_mask((2, 2, 4, 4), 0.3, np.float64, rng)
    assert gradcheck_against(lambda *t: _attend(*t, mask, dmask), lambda *t: _composed(*t, mask, dmask), [q, k, v])
    assert gradcheck(lambda *t: _attend(*t, mask, dmask), [q, k, v])


@pytest.mark.parametrize("kv_batch", [(1, 2), (2, 1), (1, 1), (2,), ()])
def test_keys_and_values_shared_across_the_batch_get_summed_gradients(kv_batch):
    q, k, v = _qkv(np.random.default_rng(6), kv_batch=kv_batch)
    out = _attend(q, k, v, causal_mask(3, 4))
    out.backward(np.ones(out.shape))
    assert k.grad.shape == k.shape and v.grad.shape == v.shape and q.grad.shape == q.shape
    assert gradcheck_against(lambda *t: _attend(*t, causal_mask(3, 4)), lambda *t: _composed(*t, causal_mask(3, 4)),
                             [q, k, v])


def test_masked_keys_get_exactly_zero_weight():
    q, k, v = _qkv(np.random.default_rng(1), tk=4)
    keep = np.array([[True, True, False, False], [True, True, True, False]])
    _, p = scaled_dot_product_attention(q, k, v, mask=keep[:, None, None, :])
    assert np.all(p[0, :, :, 2:] == 0) and np.all(p[1, :, :, 3] == 0)
    np.testing.assert_allclose(p.sum(-1), 1.0)


def test_additive_mask_equals_boolean_mask():
    q, k, v = _qkv(np.random.default_rng(2), tq=4, tk=4)
    cm = causal_mask(4)
    np.testing.assert_array_equal(_attend(q, k, v, cm).data, _attend(q, k, v, np.where(cm, 0.0, -np.inf)).data)


def test_causal_mask_makes_outputs_independent_of_future_values():
    q, k, v = _qkv(np.random.default_rng(3), tq=5, tk=5)
    out1 = _attend(q, k, v, causal_mask(5)).data
    v.data[..., 3:, :] += 100.0
    k.data[..., 3:, :] -= 7.0
    np.testing.assert_allclose(_attend(q, k, v, causal_mask(5)).data[..., :3, :], out1[..., :3, :], rtol=1e-12)


def test_fully_masked_row_gives_zero_weights_output_and_gradients():
    q, k, v = _qkv(np.random.default_rng(4), b=1, h=1, tq=2, tk=3)
    mask = np.array([[True, False, True], [False, False, False]])
    out, p = scaled_dot_product_attention(q, k, v, mask=mask)
    assert np.all(p[..., 1, :] == 0) and np.all(out.data[..., 1, :] == 0)
    out.backward(np.ones(out.shape))
    assert np.all(np.isfinite(q.grad)) and np.all(q.grad[..., 1, :] == 0)


def test_causal_mask_with_more_keys_than_queries_is_shifted():
    np.testing.assert_array_equal(causal_mask(2, 4), [[1, 1, 1, 0], [1, 1, 1, 1]])


def test_padding_mask_shape_and_values():
    m = padding_mask(np.array([[4, 5, 0], [4, 0, 0]]), pad_id=0)
    assert m.shape == (2, 1, 1, 3)
    np.testing.assert_array_equal(m[:, 0, 0], [[1, 1, 0], [1, 0, 0]])


def test_attention_keeps_float32():
    q = k = v = Tensor(np.ones((1, 1, 2, 4), np.float32), requires_grad=True)
    out, _ = scaled_dot_product_attention(q, k, v, mask=causal_mask(2))
    out.backward(np.ones(out.shape, np.float32))
    assert out.dtype == np.float32 and q.grad.dtype == np.float32


@pytest.mark.parametrize("bad, err", [
    (dict(k=np.ones((1, 2, 3, 6))), ValueError),                   # d mismatch
    (dict(v=np.ones((1, 2, 4, 5))), ValueError),                   # Tk mismatch
    (dict(k=np.ones((3, 2, 3, 5)), v=np.ones((3, 2, 3, 5))), ValueError),   # batch does not broadcast
    (dict(mask=np.ones((3, 4), bool)), ValueError),                # wrong mask shape
    (dict(mask=np.ones((3, 3), np.int64)), TypeError),              # int mask
    (dict(dropout_mask=np.ones((3, 3))), ValueError),              # mis-shaped dropout mask
])
def test_attention_rejects_bad_input(bad, err):
    args = dict(q=np.ones((2, 2, 3, 5)), k=np.ones((2, 2, 3, 5)), v=np.ones((2, 2, 3, 5)))
    args.update(bad)
    for name in "qkv":
        args[name] = Tensor(args[name], requires_grad=True)
    with pytest.raises(err):
        scaled_dot_product_attention(**args)
