import numpy as np
import pytest
from finite_diff import assert_grad_close, numerical_grad, to_float64

from pmt.core import SparseRows, seed
from pmt.graph import cross_entropy
from pmt.transformer.pretrain.batches import PretrainBatches, heldout_batches
from pmt.transformer.pretrain.electra import (Electra, build_pretraining_model, rtd_accuracy, rtd_baseline, rtd_f1,
                                              rtd_loss, sample_replacements)
from pmt.transformer.pretrain.masking import NOT_MASKED, mask_tokens
from pmt.transformer.pretrain.model import MaskedLM, MaskedLMConfig, masked_accuracy
from pmt.transformer.tokenizer import SPECIAL_TOKENS

V, T = 30, 12
N_SPECIAL = len(SPECIAL_TOKENS)


def _model(dtype=np.float64, **kw):
    seed(0)
    cfg = MaskedLMConfig(V, **{"d_model": 8, "n_heads": 2, "d_ff": 16, "n_layers": 2, "max_len": T,
                               "objective": "electra", **kw})
    model = build_pretraining_model(cfg)
    return to_float64(model) if dtype == np.float64 else model


def _batch(rows=3, p=0.4, seed_=1):
    rng = np.random.default_rng(seed_)
    ids = rng.integers(N_SPECIAL, V, (rows, T))
    ids[:, 0], ids[:, 5], ids[:, -1] = 2, 3, 3
    inputs, labels = mask_tokens(ids, V, rng, p)
    segments = (np.arange(T) > 5).astype(np.int64)[None].repeat(rows, 0)
    return inputs, segments, rng.random((rows, T)), labels


@pytest.mark.parametrize("V_, block", [(20, 8), (300, 16), (1000, 128)])
def test_samples_follow_the_softmax_and_never_give_a_special_token(V_, block):
    rng = np.random.default_rng(0)
    n = 200_000
    logits = np.repeat(2 * rng.standard_normal((1, V_)), n, axis=0).astype(np.float32)
    drawn = sample_replacements(logits, rng.random(n), block=block)
    p = np.exp(logits[0].astype(np.float64))
    p[:N_SPECIAL] = 0
    p /= p.sum()
    freq = np.bincount(drawn, minlength=V_) / n
    assert drawn.min() >= N_SPECIAL and drawn.max() < V_
    # every frequency within 5 standard errors of its probability
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12)


def test_inverse_cdf_ends_and_one_row_per_uniform():
    z = np.zeros((3, 20))
    np.testing.assert_array_equal(sample_replacements(z, np.array([0.0, 1 - 1e-12, 0.5]), block=8), [7, 19, 13])
    logits = np.full((2, 20), -50.0)
    logits[0, 11], logits[1, 16] = 50.0, 50.0                   # all mass on one token per row
    np.testing.assert_array_equal(sample_replacements(logits, np.array([0.3, 0.99]), block=8), [11, 16])


def test_every_gradient_matches_finite_differences():
    model, batch = _model(), _batch()
    model.train_step(batch, cross_entropy)
    assert isinstance(model.tok_emb.weight.grad, np.ndarray)      # lookups + the generator's tied projection
    for name, p in model.named_parameters():
        numeric = numerical_grad(lambda: model.eval_step(batch, cross_entropy)[0], p.data)
        g = p.grad.to_dense(p.shape) if isinstance(p.grad, SparseRows) else p.grad
        assert g is not None, name
        assert_grad_close(g, numeric, rtol=1e-5, atol=1e-8), name


def test_a_sample_equal_to_the_original_is_not_a_replacement():
    model, (inputs, segments, noise, labels) = _model(), _batch(rows=4)
    chosen = labels != NOT_MASKED
    labels = np.where(chosen, 9, labels)                           # every masked original is token 9 ...
    model.generator.mlm_head.bias.data[:] = -100.0
    model.generator.mlm_head.bias.data[9] = 100.0                  # ... and the generator always says 9
    _, stats = model.eval_step((inputs, segments, noise, labels), cross_entropy)
    assert stats[:, 0].sum() == chosen.sum() > 0
    assert stats[:, 1].sum() == chosen.sum()                       # generator right everywhere
    assert stats[:, 5].sum() == 0                                  # so nothing counts as replaced
    model.generator.mlm_head.bias.data[9] = -100.0
    model.generator.mlm_head.bias.data[10] = 100.0                 # now it always says 10: all replaced
    _, stats = model.eval_step((inputs, segments, noise, labels), cross_entropy)
    assert stats[:, 5].sum() == chosen.sum()


def test_detection_scores_count_what_they_say():
    stats = np.array([[2, 1, 0.5, 10, 9, 2, 1, 1, 3.0], [3, 3, 0.1, 10, 10, 1, 1, 1, 1.0]], dtype=float)
    assert rtd_accuracy(stats) == 19 / 20
    assert rtd_f1(stats) == 2 * 2 / (3 + 2)
    assert masked_accuracy(stats) == 4 / 5                         # the generator's, from the first columns
    assert rtd_f1(np.zeros((1, 9))) == 0.0
    assert rtd_loss(stats) == 4.0 / 20
    assert rtd_baseline(stats) == pytest.approx(-(0.15 * np.log(0.15) + 0.85 * np.log(0.85)))


def test_the_discriminator_body_has_the_masked_lm_names_and_the_heads_are_its_own():
    electra = _model()
    mlm = MaskedLM(MaskedLMConfig(V, d_model=8, n_heads=2, d_ff=16, n_layers=2, max_len=T))
    body = {k for k in mlm.state_dict() if not k.startswith("mlm_head.")}
    keys = set(electra.state_dict())
    assert body <= keys
    assert {k.split(".")[0] for k in keys - body} == {"generator", "rtd_head"}
    assert isinstance(electra, Electra) and electra.output_head is electra.generator.mlm_head
    with pytest.raises(ValueError, match="objective must be one of"):
        MaskedLMConfig(V, objective="gpt")


def test_batches_with_noise_draw_the_same_masks_and_add_uniforms():
    tokens = np.arange(10, 2010) % 90 + 10
    lines = np.array([0, 700, 2000])
    plain = PretrainBatches(tokens, lines, 32, 4, steps=3, vocab_size=100, seed=3)
    noisy = PretrainBatches(tokens, lines, 32, 4, steps=3, vocab_size=100, seed=3, noise=True)
    for (i, s, lab), (i2, s2, u, lab2) in zip(plain, noisy):
        for a, b in ((i, i2), (s, s2), (lab, lab2)):
            np.testing.assert_array_equal(a, b)
        assert u.shape == i.shape and u.dtype == np.float32 and 0 <= u.min() and u.max() < 1
    np.testing.assert_array_equal(noisy.batch(2)[2], noisy.batch(2)[2])       # a pure function of (seed, k)
    held = next(iter(heldout_batches(tokens, lines, 32, 8, 100, noise=True)))
    assert len(held) == 4
