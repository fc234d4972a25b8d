"""Feed-forward, positional encodings, Xavier init (layer norm and Linear are pmt.graph's, tested there)."""
import numpy as np
import pytest
from pmt.core import seed
from pmt.graph import Tensor, gradcheck
from finite_diff import to_float64

from pmt.transformer.layers import (LearnedPositionalEncoding, PositionwiseFeedForward, SinusoidalPositionalEncoding,
                                    sinusoidal_table, xavier_linear)


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_feed_forward_gradcheck(activation):
    seed(1)
    ff = to_float64(PositionwiseFeedForward(4, 8, activation=activation))
    x = Tensor(np.random.default_rng(1).normal(size=(2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda x, *ps: ff(x), [x, *ff.parameters()])


def test_feed_forward_acts_on_each_position_independently():
    seed(2)
    ff = PositionwiseFeedForward(4, 8).eval()
    x = np.random.default_rng(2).normal(size=(1, 3, 4)).astype(np.float32)
    whole = ff(Tensor(x)).data
    np.testing.assert_allclose(ff(Tensor(x[:, 1:2])).data, whole[:, 1:2], rtol=1e-6)


def test_sinusoidal_table_values_and_relative_position_property():
    pe = sinusoidal_table(50, 16).astype(np.float64)
    assert pe[0, 0::2].max() == 0 and np.all(pe[0, 1::2] == 1)
    assert pe[3, 0] == pytest.approx(np.sin(3.0), abs=1e-6)
    # PE[t] . PE[t+k] depends only on k: the model can read relative offsets
    dots = [pe[t] @ pe[t + 4] for t in (0, 10, 30)]
    np.testing.assert_allclose(dots, dots[0], rtol=1e-5)


def test_positional_encodings_add_rows_with_offset():
    x = Tensor(np.zeros((2, 3, 8)))
    pe = SinusoidalPositionalEncoding(8, max_len=10)
    np.testing.assert_allclose(pe(x, offset=2).data[1], sinusoidal_table(10, 8)[2:5])
    learned = LearnedPositionalEncoding(8, max_len=10)
    np.testing.assert_allclose(learned(x).data[0], learned.weight.data[:3])


def test_learned_positions_gradient_sums_over_batch():
    learned = to_float64(LearnedPositionalEncoding(3, max_len=6))
    x = Tensor(np.random.default_rng(3).normal(size=(2, 4, 3)), requires_grad=True)
    assert gradcheck(lambda x, w: learned(x, offset=1), [x, learned.weight])


def test_too_long_sequence_raises():
    with pytest.raises(ValueError, match="max_len"):
        SinusoidalPositionalEncoding(8, max_len=4)(Tensor(np.zeros((1, 5, 8))))
    with pytest.raises(ValueError, match="max_len"):
        LearnedPositionalEncoding(8, max_len=4)(Tensor(np.zeros((1, 3, 8))), offset=2)


@pytest.mark.parametrize("blocks", [1, 3])
def test_xavier_linear_draws_each_blocks_glorot_range_with_zero_bias(blocks):
    seed(5)
    lin = xavier_linear(200, 300, blocks=blocks)
    limit = np.sqrt(6 / (200 + 300 // blocks))
    w = lin.weight.data
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert w.std() == pytest.approx(limit / np.sqrt(3), rel=0.02)
    assert not lin.bias.data.any() and w.dtype == np.float32
    with pytest.raises(ValueError, match="blocks"):
        xavier_linear(4, 10, blocks=3)


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        PositionwiseFeedForward(4, 8, activation="tanh")
    with pytest.raises(ValueError):
        sinusoidal_table(10, 7)
