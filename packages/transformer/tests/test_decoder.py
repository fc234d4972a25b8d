"""Decoder layer and stack: whole-layer gradient checks, causality, use of the memory."""
import numpy as np
import pytest
from pmt.core import seed
from pmt.graph import Tensor, gradcheck
from finite_diff import to_float64

from pmt.transformer.attention_kernel import causal_mask, padding_mask
from pmt.transformer.decoder import TransformerDecoder, TransformerDecoderLayer


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_layer_gradcheck_over_inputs_memory_and_every_parameter(norm_first):
    seed(0)
    layer = to_float64(TransformerDecoderLayer(4, 2, 6, dropout=0.0, norm_first=norm_first))
    rng = np.random.default_rng(0)
    y = Tensor(rng.normal(size=(2, 3, 4)), requires_grad=True)
    mem = Tensor(rng.normal(size=(2, 4, 4)), requires_grad=True)
    mmask = padding_mask(np.array([[1, 1, 1, 0], [1, 1, 1, 1]]), pad_id=0)
    fn = lambda y, mem, *ps: layer(y, mem, self_mask=causal_mask(3), memory_mask=mmask)
    assert gradcheck(fn, [y, mem, *layer.parameters()])


def test_decoder_is_causal_and_reads_the_memory():
    seed(1)
    dec = TransformerDecoder(2, 8, 2, 16).eval()
    rng = np.random.default_rng(1)
    y, mem = rng.normal(size=(1, 4, 8)).astype(np.float32), rng.normal(size=(1, 3, 8)).astype(np.float32)
    out = dec(Tensor(y), Tensor(mem), self_mask=causal_mask(4)).data
    y2 = y.copy(); y2[:, 2:] += 3.0
    out2 = dec(Tensor(y2), Tensor(mem), self_mask=causal_mask(4)).data
    np.testing.assert_allclose(out2[:, :2], out[:, :2], rtol=1e-4, atol=1e-5)
    out3 = dec(Tensor(y), Tensor(mem + 1.0), self_mask=causal_mask(4)).data
    assert not np.allclose(out3, out)


def test_decoder_keeps_cross_attention_weights_on_request():
    seed(2)
    dec = TransformerDecoder(1, 8, 2, 16).eval()
    dec.layers[0].cross_attn.keep_weights = True
    dec(Tensor(np.ones((2, 3, 8))), Tensor(np.ones((2, 5, 8))))
    assert dec.layers[0].cross_attn.weights.shape == (2, 2, 3, 5)
