"""Question-order symmetry: random swaps while training, both orders averaged when evaluating."""
import numpy as np
import pytest

from pmt.graph import cross_entropy
from pmt.transformer.qqp.batching import PairBatches
from pmt.transformer.qqp.model import PairClassifier, PairClassifierConfig


def _pairs(n=40, width=7, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, 50, (n, width)).astype(np.int32)
    segs = np.zeros((n, width), np.int32)
    segs[:, 4:] = 1
    ids_sw = ids[:, ::-1].copy()            # any distinct array of the same shape will do
    segs_sw = 1 - segs
    lengths = rng.integers(3, width + 1, n)
    labels = rng.integers(0, 2, n)
    return ids, segs, ids_sw, segs_sw, lengths, labels


def test_random_swap_shows_each_pair_in_one_of_its_two_orders_and_redraws_per_epoch():
    ids, segs, ids_sw, segs_sw, lengths, labels = _pairs()
    b = PairBatches(ids, segs, lengths, labels, batch_size=8, seed=3, swapped=(ids_sw, segs_sw), swap="random")

    def flips(epoch):
        b.set_epoch(epoch)
        order = list(b.index)
        b.set_epoch(epoch)
        out = {}
        for idx, (x, s, y) in zip(order, b):
            w = x.shape[1]
            orig = np.all(x == ids[idx, :w], 1) & np.all(s == segs[idx, :w], 1)
            swp = np.all(x == ids_sw[idx, :w], 1) & np.all(s == segs_sw[idx, :w], 1)
            assert np.all(orig | swp) and np.array_equal(y, labels[idx])
            out.update(zip(idx.tolist(), swp.tolist()))
        return np.array([out[i] for i in range(len(ids))])

    e1, e1_again, e2 = flips(1), flips(1), flips(2)
    assert 0.2 < e1.mean() < 0.8                       # both orders occur
    assert np.array_equal(e1, e1_again)                # seeded: the same epoch gives the same swaps
    assert not np.array_equal(e1, e2)                  # a new epoch draws new ones


def test_both_mode_yields_the_two_orders_and_rejects_bad_arguments():
    ids, segs, ids_sw, segs_sw, lengths, labels = _pairs(n=10)
    batches = list(PairBatches(ids, segs, lengths, labels, batch_size=4, shuffle=False,
                               swapped=(ids_sw, segs_sw), swap="both"))
    assert len(batches) == 3 and all(len(b) == 5 for b in batches)
    w = batches[0][0].shape[1]
    np.testing.assert_array_equal(batches[0][2], ids_sw[:4, :w])
    with pytest.raises(ValueError, match="swap must be"):
        PairBatches(ids, segs, lengths, labels, swap="sometimes", swapped=(ids_sw, segs_sw))
    with pytest.raises(ValueError, match="needs swapped"):
        PairBatches(ids, segs, lengths, labels, swap="random")
    with pytest.raises(ValueError, match="shape of ids"):
        PairBatches(ids, segs, lengths, labels, swap="both", swapped=(ids_sw[:, :3], segs_sw))


def test_symmetric_prediction_is_the_mean_of_both_orders_and_order_free():
    cfg = PairClassifierConfig(vocab_size=50, d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=16, dropout=0.0)
    model = PairClassifier(cfg)
    model.eval()
    ids, segs, ids_sw, segs_sw, _, labels = _pairs(n=6)

    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    logp = model.symmetric_log_proba(ids, segs, ids_sw, segs_sw)
    want = (softmax(model(ids, segs).data) + softmax(model(ids_sw, segs_sw).data)) / 2
    np.testing.assert_allclose(np.exp(logp), want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(logp, model.symmetric_log_proba(ids_sw, segs_sw, ids, segs), rtol=1e-5, atol=1e-6)
    # eval_step on a two-order batch: the outputs above, and cross-entropy of the averaged probabilities
    loss, out = model.eval_step((ids, segs, ids_sw, segs_sw, labels), cross_entropy)
    np.testing.assert_allclose(out, logp)
    assert loss == pytest.approx(-np.log(want[np.arange(6), labels]).mean(), rel=1e-5)


def test_by_length_evaluation_order_covers_every_row_once_shortest_first_and_says_which_row_is_which():
    ids, segs, ids_sw, segs_sw, lengths, labels = _pairs(n=23)
    b = PairBatches(ids, segs, lengths, np.arange(23), batch_size=5, shuffle=False,
                    swapped=(ids_sw, segs_sw), swap="both", by_length=True)
    batches = list(b)
    rows = np.concatenate([batch[-1] for batch in batches])        # labels = row numbers here
    np.testing.assert_array_equal(rows, b.row_order)
    assert sorted(rows) == list(range(23))
    widths = [batch[0].shape[1] for batch in batches]
    assert widths == sorted(widths) and widths == [int(lengths[batch[-1]].max()) for batch in batches]
    for batch in batches:
        np.testing.assert_array_equal(batch[0], ids[batch[-1], :batch[0].shape[1]])
        np.testing.assert_array_equal(batch[2], ids_sw[batch[-1], :batch[0].shape[1]])
    with pytest.raises(ValueError, match="by_length"):
        PairBatches(ids, segs, lengths, labels, shuffle=True, by_length=True)


def test_predictions_come_back_in_the_rows_order_whatever_the_batching():
    from pmt.transformer.qqp.cli import predict_proba
    from pmt.transformer.tokenizer import Tokenizer
    q1 = ["how do i learn python", "why", "what is the capital of france and why is it paris", "where is it"]
    q2 = ["how can i learn python quickly", "why not", "where is paris", "is it here or is it there now"]
    tok = Tokenizer.train(q1 + q2, vocab_size=60)
    model = PairClassifier(PairClassifierConfig(vocab_size=tok.vocab_size, d_model=16, n_heads=2, d_ff=32,
                                                n_layers=1, max_len=32, dropout=0.0))
    model.eval()
    for symmetric in (True, False):
        one_by_one = [predict_proba(model, tok, [a], [b], 32, symmetric=symmetric)[0] for a, b in zip(q1, q2)]
        np.testing.assert_allclose(predict_proba(model, tok, q1, q2, 32, batch_size=3, symmetric=symmetric),
                                   one_by_one, rtol=1e-5, atol=1e-6)
