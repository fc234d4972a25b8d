import numpy as np
import pytest

from pmt.word2vec import Word2Vec, Word2VecConfig, evaluate_analogies, read_text
from pmt.word2vec.epoch import cbow_step
from pmt.word2vec.sampling import window_extents


def _planted_corpus(n_sentences=6000, seed=0):
    """Sentences where animals and vehicles occur in different contexts, plus filler words."""
    rng = np.random.default_rng(seed)
    animals = ["cat", "dog", "horse", "cow", "sheep"]
    vehicles = ["car", "bus", "truck", "train", "tram"]
    a_ctx = ["eats", "grass", "barn", "sleeps", "farm"]
    v_ctx = ["drives", "road", "fuel", "garage", "wheels"]
    filler = ["the", "a", "on", "and", "with", "very"]
    lines = []
    for _ in range(n_sentences):
        if rng.random() < 0.5:
            w, ctx = rng.choice(animals), a_ctx
        else:
            w, ctx = rng.choice(vehicles), v_ctx
        words = [rng.choice(filler), w, *rng.choice(ctx, 2), rng.choice(filler), *rng.choice(ctx, 2)]
        lines.append(" ".join(words))
    return "\n".join(lines), animals, vehicles


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_planted_word_groups_are_learnt(model):
    text, animals, vehicles = _planted_corpus()
    w2v = Word2Vec(model=model, dim=20, window=3, negative=5, sample=0, min_count=1, epochs=3, seed=3)
    kv = w2v.fit(text)
    for group, other in ((animals, vehicles), (vehicles, animals)):
        within = np.mean([kv.similarity(a, b) for a in group for b in group if a != b])
        across = np.mean([kv.similarity(a, b) for a in group for b in other])
        assert within > across + 0.2, (model, within, across)
    top = [w for w, _ in kv.most_similar("cat", topn=4)]
    assert set(top) <= set(animals), top


def test_training_is_reproducible_with_a_seed():
    text, _, _ = _planted_corpus(500)
    kv1 = Word2Vec(dim=8, min_count=1, epochs=1, seed=5).fit(text)
    kv2 = Word2Vec(dim=8, min_count=1, epochs=1, seed=5).fit(text)
    assert np.array_equal(kv1.vectors, kv2.vectors)


def test_learning_rate_decays_linearly_to_the_floor():
    text, _, _ = _planted_corpus(300)
    w2v = Word2Vec(dim=8, min_count=1, epochs=2, alpha=0.1)
    w2v.fit(text)
    assert w2v.history[0]["alpha"] == pytest.approx(0.05, abs=0.01)
    assert w2v.history[1]["alpha"] < 0.1 * 0.01  # the last batch's rate: nearly 0 (floor 1e-4 * alpha)
    assert w2v.history[1]["alpha"] >= 0.1 * 1e-4


def test_corpus_with_unknown_words_empty_lines_and_non_ascii_trains():
    text = "\n\n".join(["café au lait naïve 東京 rarewordonce"] + ["café au lait naïve 東京"] * 50) + "\n\n\n"
    w2v = Word2Vec(dim=4, min_count=2, epochs=1)
    kv = w2v.fit(text)
    assert "rarewordonce" not in kv and "東京" in kv
    assert np.isfinite(kv.vectors).all()


def test_config_errors_name_the_value():
    with pytest.raises(ValueError, match="model must be one of"):
        Word2VecConfig(model="glove")
    with pytest.raises(ValueError, match="window must be a positive integer, got 0"):
        Word2VecConfig(window=0)
    with pytest.raises(ValueError, match="share_negatives must be a positive integer, got 0"):
        Word2VecConfig(model="cbow", share_negatives=0)
    w2v = Word2Vec(dim=4, min_count=1)
    w2v.build_vocab("a b c")
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 3\)"):
        w2v.train(np.array([0, 7]))


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_real_corpus_slice_beats_untrained_vectors_on_analogies(model):
    from pmt.core.testing import require_dataset
    corpus = require_dataset("gutenberg8")["gutenberg8.zip"]
    questions = require_dataset("analogy")["questions-words.txt"]
    text = read_text(corpus, max_chars=2_000_000)             # ~370k words of gutenberg8
    w2v = Word2Vec(model=model, dim=50, epochs=1, seed=1)
    w2v.build_vocab(text)
    untrained = evaluate_analogies(w2v.wv, questions).accuracy
    kv = w2v.fit(text)
    res = evaluate_analogies(kv, questions)
    assert res.attempted > 2000 and res.oov > 0
    # 370k words, one epoch: measured 0.49 % (skip-gram) and 0.26 % (CBOW); random vectors ~0.
    assert res.accuracy > 0.0015 > untrained


class _FixedNegatives:
    """A stand-in NegativeSampler returning given ids, so a batch can be replayed by hand."""

    def __init__(self, ids):
        self.ids = np.asarray(ids, dtype=np.int32)

    def sample(self, shape, rng):
        return self.ids.reshape(shape)


@pytest.mark.parametrize("share", [1, 2])
def test_cbow_batch_update_equals_per_centre_word2vec_updates(share):
    """One CBOW batch = the sum of word2vec's per-centre updates, all scored at the batch start."""
    rng = np.random.default_rng(0)
    V, D, W, K, alpha = 7, 5, 2, 3, 0.1
    w2v = Word2Vec(model="cbow", dim=D, window=W, negative=K, min_count=1, share_negatives=share)
    w2v.build_vocab(" ".join(f"w{i}" for i in range(V)))
    w2v.W_in[:] = rng.standard_normal((V, D))
    w2v.W_out[:] = rng.standard_normal((V, D))
    stream = rng.integers(0, V, 12).astype(np.int32)
    b = np.array([2, 1, 2, 2, 1, 2, 2, 2, 1, 2, 2, 1])
    left, right = window_extents(b, np.repeat([0, 1], [5, 7]))  # a line break before position 5
    s, e = 2, 10                                                # centres 2..9, 8 of them
    n = (e - s) // share
    negs = rng.integers(0, V, n * K)
    W_in, W_out = w2v.W_in.astype(np.float64), w2v.W_out.astype(np.float64)
    want_in, want_out = W_in.copy(), W_out.copy()
    sig = lambda x: 1 / (1 + np.exp(-x))
    for p in range(s, e):
        ctx = [j for j in range(p - left[p], p + right[p] + 1) if j != p]
        h = W_in[stream[ctx]].mean(axis=0)
        draw = negs[((p - s) % n) * K:((p - s) % n + 1) * K]  # centre p uses draw p mod n
        err = np.zeros(D)
        for word, label in [(stream[p], 1.0)] + [(k, 0.0) for k in draw]:
            grad = alpha * (label - sig(h @ W_out[word]))
            err += grad * W_out[word]
            want_out[word] += grad * h
        for j in ctx:
            want_in[stream[j]] += err
    cbow_step(w2v._tables, w2v.config, stream, left, right, s, e, alpha, _FixedNegatives(negs), rng)
    assert np.allclose(w2v.W_in, want_in, atol=1e-5)
    assert np.allclose(w2v.W_out, want_out, atol=1e-5)


# ----------------------------------------------------------------- checkpoints, Ctrl-C, resume
class _CtrlCAfter:
    """A GracefulInterrupt stand-in whose stop is requested once `n` batches have been checked."""

    def __init__(self, n):
        self.n = n

    @property
    def requested(self):
        self.n -= 1
        return self.n < 0


def _w2v(model, epochs=2):
    text, _, _ = _planted_corpus(300)
    w2v = Word2Vec(model=model, dim=8, window=3, min_count=1, epochs=epochs, seed=4, sample=0, batch=32)
    w2v.build_vocab(text)
    ids, starts = w2v.vocab.encode(text)
    return w2v, ids, starts


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
@pytest.mark.parametrize("after", [5, 150])         # 2,100 words in batches of 16: in epoch 1, in epoch 2
def test_ctrl_c_then_resume_is_bit_identical_with_one_worker(tmp_path, monkeypatch, model, after):
    import pmt.word2vec.training as training
    full, ids, starts = _w2v(model)
    full.train(ids, starts, checkpoint_dir=tmp_path / "full")
    cut, _, _ = _w2v(model)
    monkeypatch.setattr(training, "GracefulInterrupt", lambda: _Ctx(_CtrlCAfter(after)))
    cut.train(ids, starts, checkpoint_dir=tmp_path / "cut")
    monkeypatch.undo()
    assert cut.interrupted and (tmp_path / "cut" / "interrupted.npz").exists()
    assert len(cut.history) == (after > 132)                  # a finished epoch is kept
    resumed, _, _ = _w2v(model)
    resumed.train(ids, starts, checkpoint_dir=tmp_path / "cut", resume=tmp_path / "cut")
    assert np.array_equal(resumed._tables, full._tables)
    assert [h["alpha"] for h in resumed.history] == [h["alpha"] for h in full.history]
    assert not (tmp_path / "cut" / "interrupted.npz").exists()


class _Ctx:
    def __init__(self, stop):
        self.stop = stop

    def __enter__(self):
        return self.stop

    def __exit__(self, *exc):
        return False

    def check(self):
        pass


def test_resume_refuses_another_corpus(tmp_path):
    from pmt.core.checkpoint import CheckpointError
    w2v, ids, starts = _w2v("cbow", epochs=1)
    w2v.train(ids, starts, checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match="another corpus"):
        w2v.train(ids[:-5], None, resume=tmp_path)


def test_divergence_stops_before_anything_is_saved(tmp_path):
    from pmt.core import DivergenceError
    w2v, ids, starts = _w2v("skipgram", epochs=2)
    w2v.config.alpha = 1e30
    with pytest.raises(DivergenceError, match=r"diverged in epoch 1 \(learning rate 1e\+30.*vector table holds .* NaN/inf"):
        w2v.train(ids, starts, checkpoint_dir=tmp_path)
    assert not (tmp_path / "last.npz").exists()


@pytest.mark.parametrize("kw,match", [(dict(alpha=float("inf")), "finite"), (dict(alpha=float("nan")), "finite"),
                                      (dict(sample=-1.0), "sample"), (dict(max_vocab=0), "max_vocab"),
                                      (dict(epochs=True), "epochs")])
def test_config_refuses_non_finite_and_nonsense_numbers(kw, match):
    with pytest.raises(ValueError, match=match):
        Word2VecConfig(**kw)
