"""MultiHeadAttention module: projections, masking through the module, gradients, init, errors."""
import numpy as np
import pytest
from pmt.core import seed
from pmt.graph import Tensor, gradcheck
from finite_diff import to_float64

from pmt.transformer.attention import MultiHeadAttention
from pmt.transformer.attention_kernel import causal_mask, padding_mask


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
