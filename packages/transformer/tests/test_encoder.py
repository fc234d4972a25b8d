"""Encoder layer and stack: whole-layer gradient checks (pre- and post-LN), padding invariance."""
import numpy as np
import pytest
from pmt.core import seed
from pmt.graph import Tensor, gradcheck
from finite_diff import to_float64

from pmt.transformer.attention_kernel import padding_mask
from pmt.transformer.encoder import TransformerEncoder, TransformerEncoderLayer


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_layer_gradcheck_over_input_and_every_parameter(norm_first):
    seed(0)
    layer = to_float64(TransformerEncoderLayer(6, 2, 8, dropout=0.0, norm_first=norm_first))
    x = Tensor(np.random.default_rng(0).normal(size=(2, 3, 6)), requires_grad=True)
    mask = padding_mask(np.array([[1, 1, 0], [1, 1, 1]]), pad_id=0)
    assert gradcheck(lambda x, *ps: layer(x, mask=mask), [x, *layer.parameters()])


def test_encoder_outputs_at_real_positions_ignore_padding_content():
    seed(1)
    enc = TransformerEncoder(2, 8, 2, 16, dropout=0.1).eval()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 5, 8)).astype(np.float32)
    mask = padding_mask(np.array([[1, 1, 1, 0, 0]]), pad_id=0)
    y1 = enc(Tensor(x), mask=mask).data
    x[:, 3:] = rng.normal(size=(1, 2, 8)) * 10
    np.testing.assert_allclose(enc(Tensor(x), mask=mask).data[:, :3], y1[:, :3], rtol=1e-4, atol=1e-5)


def test_dropout_is_active_in_training_and_off_in_eval():
    seed(2)
    enc = TransformerEncoder(1, 8, 2, 16, dropout=0.5)
    x = Tensor(np.random.default_rng(2).normal(size=(2, 4, 8)))
    assert not np.allclose(enc(x).data, enc(x).data)
    enc.eval()
    np.testing.assert_array_equal(enc(x).data, enc(x).data)


def test_encoder_stack_has_layers_and_final_norm_only_when_pre_ln():
    pre, post = TransformerEncoder(3, 8, 2, 16), TransformerEncoder(3, 8, 2, 16, norm_first=False)
    assert len(pre.layers) == 3 and pre.norm is not None and post.norm is None
    assert len(pre.parameters()) == len(post.parameters()) + 2
    with pytest.raises(ValueError):
        TransformerEncoder(0, 8, 2, 16)
