"""The encoder-decoder Transformer: shapes, embeddings, training step, state, greedy and beam decoding."""
import numpy as np
import pytest
from pmt.core import SparseRows, seed
from finite_diff import to_float64
from pmt.graph import gradcheck

from pmt.transformer.model import Transformer, TransformerConfig


def _small(**kw):
    seed(0)
    args = dict(d_model=16, n_heads=2, d_ff=32, n_encoder_layers=1, n_decoder_layers=1, max_len=12,
                dropout=0.0)
    args.update(kw)
    return Transformer(11, 11, **args)


def test_forward_shape_and_source_padding_is_ignored():
    m = _small().eval()
    src = np.array([[3, 4, 5, 0, 0]])
    tgt_in = np.array([[1, 6, 7]])
    out = m(src, tgt_in).data
    assert out.shape == (1, 3, 11)
    np.testing.assert_allclose(m(src[:, :3], tgt_in).data, out, rtol=1e-4, atol=1e-5)


def test_config_and_keyword_construction_build_the_same_model():
    cfg = TransformerConfig(11, 11, d_model=16, n_heads=2, d_ff=32, n_encoder_layers=1, n_decoder_layers=1,
                            max_len=12, dropout=0.0)
    seed(0)
    a = Transformer(cfg)
    b = _small()
    assert a.config == b.config and a.config.to_dict()["d_model"] == 16
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(va, vb)
    with pytest.raises(TypeError, match="not both"):
        Transformer(cfg, d_model=8)
    seed(0)
    c = Transformer(src_vocab=11, tgt_vocab=11, d_model=16, n_heads=2, d_ff=32, n_encoder_layers=1,
                    n_decoder_layers=1, max_len=12, dropout=0.0)
    assert c.config == cfg


def test_embedding_gradient_is_sparse_and_scaled():
    m = _small()
    m.train_step((np.array([[3, 4, 3]]), np.array([[1, 5]]), np.array([[5, 2]])))
    g = m.src_embed.weight.grad
    assert isinstance(g, SparseRows) and g.indices.tolist() == [3, 4]   # unique rows only


def test_embeddings_are_scaled_by_sqrt_d_model():
    m = _small().eval()
    assert m.embed_scale == pytest.approx(4.0)
    m.encoder.forward = lambda x, mask=None: x              # expose the encoder's input
    x, _ = m.encode(np.array([[3, 5]]))
    expected = 4.0 * m.src_embed.weight.data[[3, 5]] + m.src_pos.table[:2]
    np.testing.assert_allclose(x.data[0], expected, rtol=1e-6)


def test_shared_and_tied_embeddings_reduce_parameters_and_still_train():
    sep, shared = _small(), _small(share_embeddings=True, tie_output=True)
    assert shared.tgt_embed is None and shared.out_proj is None
    assert shared.num_parameters() == sep.num_parameters() - 2 * 11 * 16 - 11
    loss, logits = shared.train_step((np.array([[3, 4]]), np.array([[1, 4]]), np.array([[4, 3]])))
    assert logits.shape == (1, 2, 11) and shared.src_embed.weight.grad is not None
    with pytest.raises(ValueError, match="share_embeddings"):
        Transformer(10, 12, share_embeddings=True)


def test_whole_model_gradcheck_small():
    m = to_float64(_small(d_model=4, d_ff=6, n_heads=2, positional="learned"))
    src, tgt_in, tgt_out = np.array([[3, 4, 0]]), np.array([[1, 5]]), np.array([[5, 2]])
    ps = m.parameters()
    assert gradcheck(lambda *ps: m.loss(m(src, tgt_in), tgt_out), ps)


def test_train_step_fills_every_gradient_and_ignores_padding_targets():
    m = _small()
    batch = (np.array([[3, 4, 5]]), np.array([[1, 5, 4]]), np.array([[5, 4, 0]]))
    loss, _ = m.train_step(batch)
    assert all(p.grad is not None for p in m.parameters())
    assert loss == pytest.approx(m.eval_step(batch)[0], rel=1e-5)
    ev_loss, _ = m.eval_step((batch[0], batch[1][:, :2], batch[2][:, :2]))
    assert ev_loss == pytest.approx(loss, rel=1e-5)  # the padded third target adds nothing


def test_state_dict_round_trip_gives_identical_outputs():
    a = _small()
    seed(5)
    b = Transformer(11, 11, d_model=16, n_heads=2, d_ff=32, n_encoder_layers=1, n_decoder_layers=1,
                    max_len=12, dropout=0.0)
    src, tgt = np.array([[3, 4, 5]]), np.array([[1, 6]])
    assert not np.allclose(a.eval()(src, tgt).data, b.eval()(src, tgt).data)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(src, tgt).data, b(src, tgt).data)


def _memorise(m, src, tgt_out, steps=150):
    from pmt.core import Adam
    tgt_in = np.concatenate([np.ones((len(src), 1), np.int64), tgt_out[:, :-1]], axis=1)
    tgt_in[tgt_in == 2] = 0
    opt = Adam(m.parameters(), lr=3e-3)
    for _ in range(steps):
        opt.zero_grad()
        m.train_step((src, tgt_in, tgt_out))
        opt.step()


def test_greedy_and_beam_search_reproduce_memorised_targets():
    m = _small()
    src = np.array([[3, 4, 5, 6], [7, 8, 9, 0]])
    tgt_out = np.array([[6, 5, 4, 3, 2], [9, 8, 7, 2, 0]])
    _memorise(m, src, tgt_out)
    greedy = m.greedy_decode(src, bos_id=1, eos_id=2, max_len=6)
    np.testing.assert_array_equal(greedy[:, :5], tgt_out)
    assert np.all(greedy[:, 5:] == 0)
    beam = m.beam_search(src, bos_id=1, eos_id=2, beam_size=3, max_len=6)
    np.testing.assert_array_equal(beam[:, :5], tgt_out)


def test_beam_of_one_equals_greedy_and_decoding_restores_training_mode():
    m = _small(dropout=0.1)
    src = np.array([[3, 4, 5], [6, 7, 0]])
    g = m.greedy_decode(src, 1, 2, max_len=5)
    b = m.beam_search(src, 1, 2, beam_size=1, max_len=5, length_penalty=0.0)
    np.testing.assert_array_equal(g[:, :b.shape[1]], b[:, :g.shape[1]])
    assert m.training


def test_beam_search_score_is_at_least_greedy_score():
    m = _small()
    src = np.random.default_rng(3).integers(3, 11, (4, 5))

    def logp(out):
        tgt_in = np.concatenate([np.ones((len(out), 1), np.int64), out[:, :-1]], axis=1)
        tgt_in[tgt_in == 2] = 0
        z = m.eval()(src, tgt_in).data.astype(np.float64)
        lp = z - np.log(np.exp(z).sum(-1, keepdims=True))                       # log-softmax
        tok = np.take_along_axis(lp, out[..., None], -1)[..., 0]                # (n, L)
        after_eos = np.cumsum(out == 2, axis=1) - (out == 2) > 0
        return np.where(after_eos, 0.0, tok).sum(axis=1)
    g = m.greedy_decode(src, 1, 2, max_len=6)
    b = m.beam_search(src, 1, 2, beam_size=4, max_len=6, length_penalty=0.0)
    assert np.all(logp(b) >= logp(g) - 1e-4)


@pytest.mark.parametrize("call, match", [
    (lambda m: m(np.array([3, 4]), np.array([[1]])), "src"),
    (lambda m: m(np.array([[3, 40]]), np.array([[1]])), "index 40 is out of range"),
    (lambda m: m.beam_search(np.array([[3]]), 1, 2, beam_size=0), "beam_size"),
    (lambda m: m(np.array([[3.0]]), np.array([[1]])), "int"),
])
def test_bad_inputs_raise_value_errors(call, match):
    with pytest.raises((ValueError, TypeError, IndexError), match=match):
        call(_small())
