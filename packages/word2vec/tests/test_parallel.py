"""Hogwild training with worker processes sharing the tables (pmt.word2vec.parallel)."""
import numpy as np
import pytest

from pmt.word2vec import Word2Vec

from test_training import _planted_corpus


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_two_workers_learn_the_planted_groups(model):
    text, animals, vehicles = _planted_corpus()
    w2v = Word2Vec(model=model, dim=20, window=3, negative=5, sample=0, min_count=1, epochs=3, seed=3, workers=2)
    kv = w2v.fit(text)
    for group, other in ((animals, vehicles), (vehicles, animals)):
        within = np.mean([kv.similarity(a, b) for a in group for b in group if a != b])
        across = np.mean([kv.similarity(a, b) for a in group for b in other])
        assert within > across + 0.2, (model, within, across)
    assert len(w2v.history) == 3
    assert sum(h["trained_words"] for h in w2v.history) == 3 * len(w2v.vocab.encode(text)[0])  # sample=0
    assert w2v.history[-1]["alpha"] < 0.01 * w2v.config.alpha                               # decayed to ~0


def test_epoch_callback_sees_the_live_tables_and_the_result_is_an_ordinary_array():
    text, _, _ = _planted_corpus(3000)
    w2v = Word2Vec(dim=8, min_count=1, epochs=3, workers=2)
    w2v.build_vocab(text)
    table = w2v._tables                      # the model keeps its own array object
    snapshots = []
    w2v.train(w2v.vocab.encode(text)[0], epoch_callback=lambda e, m: snapshots.append((e, m.W_in.copy())))
    assert [e for e, _ in snapshots] == [0, 1, 2]
    assert not np.array_equal(snapshots[0][1], snapshots[2][1])       # training went on between epochs
    assert w2v._tables is table and np.array_equal(w2v.W_in, snapshots[2][1])
    assert np.isfinite(w2v.W_in).all()


def test_a_failing_worker_stops_training_with_its_traceback():
    text, _, _ = _planted_corpus(500)
    w2v = Word2Vec(dim=8, min_count=1, epochs=1, workers=2)
    w2v.build_vocab(text)
    w2v.vocab.counts[:] = 0                  # the workers' NegativeSampler refuses all-zero counts
    with pytest.raises(RuntimeError, match=r"worker \d failed: ValueError: NegativeSampler"):
        w2v.train(w2v.vocab.encode(text)[0])


def test_workers_must_be_a_positive_integer():
    with pytest.raises(ValueError, match="workers"):
        Word2Vec(workers=0)
    w2v = Word2Vec(dim=4, min_count=1, epochs=1)
    w2v.build_vocab("a b c a b c")
    with pytest.raises(ValueError, match="workers"):
        w2v.train(w2v.vocab.encode("a b c a b c")[0], workers=-1)


def test_ctrl_c_keeps_the_finished_epochs_and_resume_trains_the_rest(tmp_path):
    import os
    import signal
    text, _, _ = _planted_corpus(3000)
    w2v = Word2Vec(dim=8, min_count=1, epochs=3, workers=2)
    w2v.build_vocab(text)
    ids = w2v.vocab.encode(text)[0]
    w2v.train(ids, checkpoint_dir=tmp_path, epoch_callback=lambda e, m: os.kill(os.getpid(), signal.SIGINT))
    assert w2v.interrupted and len(w2v.history) == 1 and w2v.interrupt_checkpoint is None
    assert not (tmp_path / "interrupted.npz").exists()
    again = Word2Vec(dim=8, min_count=1, epochs=3, workers=2)
    again.build_vocab(text)
    again.train(ids, checkpoint_dir=tmp_path, resume=tmp_path)
    assert [h["epoch"] for h in again.history] == [1, 2, 3] and np.isfinite(again.W_in).all()
