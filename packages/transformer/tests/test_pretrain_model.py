import numpy as np
import pytest
from finite_diff import assert_grad_close, numerical_grad, to_float64

from pmt.core import AdamW, SparseRows, seed
from pmt.graph import Tensor, cross_entropy, gradcheck, linear, no_grad
from pmt.transformer.pretrain.masking import NOT_MASKED, mask_tokens
from pmt.transformer.pretrain.model import (MaskedLM, MaskedLMConfig, masked_accuracy, masked_perplexity,
                                            tied_logits)

V, T = 30, 12


def _model(dtype=np.float64, **kw):
    seed(0)
    model = MaskedLM(MaskedLMConfig(V, **{"d_model": 8, "n_heads": 2, "d_ff": 16, "n_layers": 1,
                                          "max_len": T, **kw}))
    return to_float64(model) if dtype == np.float64 else model


def _batch(rows=3, p=0.4, seed_=1):
    rng = np.random.default_rng(seed_)
    ids = rng.integers(7, V, (rows, T))
    ids[:, 0], ids[:, 5], ids[:, -1] = 2, 3, 3
    inputs, labels = mask_tokens(ids, V, rng, p)
    return inputs, (np.arange(T) > 5).astype(np.int64)[None].repeat(rows, 0), labels


def _dense(g, shape):
    return g.to_dense(shape) if isinstance(g, SparseRows) else (np.zeros(shape) if g is None else g)


def test_tied_logits_gradients_match_finite_differences_and_come_out_row_major():
    rng = np.random.default_rng(0)
    z, E, b = (Tensor(rng.standard_normal(s), requires_grad=True) for s in ((4, 3), (7, 3), (7,)))
    assert gradcheck(tied_logits, [z, E, b])
    tied_logits(z, E, b).sum().backward()
    assert E.grad.flags.c_contiguous
    np.testing.assert_allclose(tied_logits(z, E, b).data, z.data @ E.data.T + b.data)


def test_every_gradient_matches_finite_differences_including_the_tied_embedding():
    model, batch = _model(), _batch()
    model.train_step(batch, cross_entropy)
    # the tied table receives both parts: the lookup's sparse rows and the projection's dense matrix
    assert isinstance(model.tok_emb.weight.grad, np.ndarray)
    for name, p in model.named_parameters():
        numeric = numerical_grad(lambda: model.eval_step(batch, cross_entropy)[0], p.data)
        assert_grad_close(_dense(p.grad, p.shape), numeric, rtol=1e-5, atol=1e-8), name


def test_tied_gradient_is_the_sum_of_the_lookup_and_projection_parts():
    model, batch = _model(), _batch()
    ids, segs, labels = batch
    chosen = labels != NOT_MASKED
    E = model.tok_emb.weight
    # the same forward with the projection reading a detached copy of E: only the lookup part flows
    h = model.encode(ids, segs)
    z = model.mlm_head.norm(model.mlm_head.act(model.mlm_head.dense(h[chosen])))
    cross_entropy(linear(z, Tensor(E.data.copy()).T, model.mlm_head.bias), labels[chosen]).backward()
    lookup = _dense(E.grad, E.shape)
    model.zero_grad()
    model.train_step(batch, cross_entropy)
    both = E.grad
    model.zero_grad()
    with no_grad():
        z_const = Tensor(model.mlm_head.norm(model.mlm_head.act(model.mlm_head.dense(
            model.encode(ids, segs)[chosen]))).data)
    cross_entropy(linear(z_const, E.T, model.mlm_head.bias), labels[chosen]).backward()
    projection = E.grad
    assert np.abs(lookup).sum() > 0 and np.abs(projection).sum() > 0
    np.testing.assert_allclose(both, lookup + projection, rtol=1e-10, atol=1e-12)


def test_scoring_only_masked_rows_equals_scoring_every_position_then_selecting():
    model, (ids, segs, labels) = _model(), _batch()
    chosen = labels != NOT_MASKED
    with no_grad():
        all_rows = model.mlm_head(model.encode(ids, segs).reshape(-1, 8), model.tok_emb.weight).data
        picked = model(ids, segs, chosen).data
    np.testing.assert_allclose(picked, all_rows.reshape(len(ids), T, V)[chosen], rtol=1e-12)


def test_outputs_give_exact_accuracy_and_perplexity_over_masked_tokens():
    model, batch = _model(), _batch(rows=5)
    ids, segs, labels = batch
    chosen = labels != NOT_MASKED
    loss, stats = model.eval_step(batch, cross_entropy)
    with no_grad():
        logits = model(ids, segs, chosen).data
    logp = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - logits.max(1, keepdims=True)
    nll = -logp[np.arange(len(logp)), labels[chosen]]
    assert stats.shape == (5, 3)
    np.testing.assert_array_equal(stats[:, 0], chosen.sum(1))
    assert masked_accuracy(stats) == pytest.approx(np.mean(logits.argmax(1) == labels[chosen]))
    assert masked_perplexity(stats) == pytest.approx(np.exp(nll.mean()))
    assert loss == pytest.approx(nll.mean())


def test_adamw_steps_on_the_mixed_gradient_lower_the_loss_and_touch_every_embedding_row():
    model, batch = _model(np.float32), _batch(rows=8)
    opt = AdamW(model.parameters(), lr=1e-2)
    before = model.tok_emb.weight.data.copy()
    losses = []
    for _ in range(30):
        opt.zero_grad()
        losses.append(model.train_step(batch, cross_entropy)[0])
        opt.step()
    assert losses[-1] < 0.5 * losses[0]
    assert (np.abs(model.tok_emb.weight.data - before).sum(axis=1) > 0).all()   # dense part: every row


def test_output_bias_starts_at_log_unigram_frequencies():
    model = _model(np.float32)
    counts = np.zeros(V)
    counts[10], counts[11] = 300, 100
    model.init_output_bias(counts)
    p = np.exp(model.mlm_head.bias.data)
    assert p.sum() == pytest.approx(1, abs=1e-5) and p[10] / p[11] == pytest.approx(301 / 101, rel=1e-5)
    with pytest.raises(ValueError, match="counts"):
        model.init_output_bias(np.ones(V + 1))


def test_padding_is_masked_out_of_attention():
    model = _model()
    model.eval()
    ids, segs, _ = _batch(rows=1)
    with no_grad():
        h = model.encode(ids[:, :8], segs[:, :8]).data
        hp = model.encode(np.pad(ids[:, :8], ((0, 0), (0, 4))), np.pad(segs[:, :8], ((0, 0), (0, 4)))).data
    np.testing.assert_allclose(h, hp[:, :8], rtol=1e-10)
    with pytest.raises(ValueError, match="ids and segments"):
        model.encode(ids, segs[:, :4])
