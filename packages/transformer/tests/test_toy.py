"""The toy tasks: data generation is right, and the encoder-decoder learns to reverse sequences."""
import numpy as np
import pytest

from pmt.transformer.examples.toy import BOS, EOS, PAD, exact_match, make_batch, train_toy


def _rows(src, tgt_out):
    for s, t in zip(src, tgt_out):
        n = int((s != PAD).sum())
        yield list(s[:n]), list(t[:n]), t[n:]


@pytest.mark.parametrize("task, fn", [("reverse", lambda x: x[::-1]), ("sort", sorted), ("copy", list)])
def test_make_batch_targets_follow_the_task(task, fn):
    src, tgt_in, tgt_out = make_batch(task, 50, np.random.default_rng(0), 5, 20)
    assert src.shape == (50, 20) and tgt_in.shape == tgt_out.shape == (50, 21)
    lengths = (src != PAD).sum(1)
    assert lengths.min() >= 5 and lengths.max() <= 20 and src.max() < 33 and src[src != PAD].min() >= 3
    for x, y, rest in _rows(src, tgt_out):
        assert y == list(fn(x)) and rest[0] == EOS and np.all(rest[1:] == PAD)
    np.testing.assert_array_equal(tgt_in[:, 0], BOS)
    shifted = tgt_out[:, :-1].copy()
    shifted[shifted == EOS] = PAD
    np.testing.assert_array_equal(tgt_in[:, 1:], shifted)


def test_exact_match_counts_whole_sequences_and_ignores_trailing_padding():
    tgt = np.array([[5, 6, EOS, PAD], [7, EOS, PAD, PAD]])
    pred = np.array([[5, 6, EOS], [7, 8, EOS]])
    assert exact_match(pred, tgt) == 0.5


def test_make_batch_rejects_unknown_task():
    with pytest.raises(ValueError, match="task"):
        make_batch("shuffle", 2, np.random.default_rng(0))


def test_transformer_learns_to_reverse_short_sequences(tmp_path):
    # A reduced run (shorter sequences, small model) that fits the test budget; the full
    # 5-20 symbol task is `python -m pmt.transformer.examples.toy --task reverse`.
    r = train_toy("reverse", steps=600, batch_size=64, lr=3e-3, warmup=50, eval_every=200, n_eval=200,
                  min_len=3, max_len=8, seed=0, out_dir=tmp_path, progress=False,
                  model_kw=dict(d_model=32, n_heads=4, d_ff=64, layers=1))
    assert r["exact_match"] >= 0.95, r["history"]
    assert r["history"]["loss"][-1] < 0.2
    for k in ("checkpoint", "history_png", "attention_png"):
        assert r[k].exists() and r[k].stat().st_size > 0
